import type { Config } from "../config/schema.ts";
import { systemClock } from "../core/clock.ts";
import { Keyring } from "../core/keyring.ts";
import { localKeyWrapper } from "../crypto/key-provider.ts";
import { loadConfiguredMasterKey } from "../crypto/master-key.ts";
import { type Db, openDb } from "../store/db.ts";
import { migrate } from "../store/migrations.ts";

/** For CLI commands that work on the store directly: migrated, with the keyring, closed after. */
export async function withStore<T>(
  config: Config,
  run: (db: Db, keyring: Keyring) => Promise<T>,
): Promise<T> {
  const master = loadConfiguredMasterKey(config);
  const db = openDb(config.database, config.dataDir, { poolSize: 2 });
  try {
    await migrate(db);
    return await run(db, new Keyring({ db, wrapper: localKeyWrapper(master), clock: systemClock }));
  } finally {
    await db.close();
  }
}
