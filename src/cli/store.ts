import type { Config } from "../config/schema.ts";
import { systemClock } from "../core/clock.ts";
import { Keyring } from "../core/keyring.ts";
import { type KeyWrapper, localKeyWrapper } from "../crypto/key-provider.ts";
import { loadConfiguredMasterKey } from "../crypto/master-key.ts";
import { type Db, openDb } from "../store/db.ts";
import { migrate } from "../store/migrations.ts";

/**
 * For CLI commands that work on the store directly: migrated, with the keyring and the
 * master-key wrapper (for instance keys: the key-hash pepper, JWT signing keys), closed after.
 */
export async function withStore<T>(
  config: Config,
  run: (db: Db, keyring: Keyring, wrapper: KeyWrapper) => Promise<T>,
): Promise<T> {
  const wrapper = localKeyWrapper(loadConfiguredMasterKey(config));
  const db = openDb(config.database, config.dataDir, { poolSize: 2 });
  try {
    await migrate(db);
    return await run(db, new Keyring({ db, wrapper, clock: systemClock }), wrapper);
  } finally {
    await db.close();
  }
}
