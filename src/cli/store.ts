import type { AuditLog } from "../audit/types.ts";
import { createAuditLog } from "../audit/writer.ts";
import type { Config } from "../config/schema.ts";
import { systemClock } from "../core/clock.ts";
import { Keyring } from "../core/keyring.ts";
import { type KeyWrapper, localKeyWrapper } from "../crypto/key-provider.ts";
import { loadConfiguredMasterKey } from "../crypto/master-key.ts";
import { createLogger } from "../logging/logger.ts";
import { type Db, openDb } from "../store/db.ts";
import { migrate } from "../store/migrations.ts";

/**
 * For CLI commands that work on the store directly: migrated, with the keyring and the
 * master-key wrapper (for instance keys: the key-hash pepper, JWT signing keys), and an
 * audit log for the operator's changes (ADR 0009), closed after: its entries are committed
 * before the store closes. Its warnings go to stderr, never into a command's output.
 */
export async function withStore<T>(
  config: Config,
  run: (db: Db, keyring: Keyring, wrapper: KeyWrapper, audit: AuditLog) => Promise<T>,
): Promise<T> {
  const wrapper = localKeyWrapper(loadConfiguredMasterKey(config));
  const db = openDb(config.database, config.dataDir, { poolSize: 2 });
  try {
    await migrate(db);
    const logger = createLogger({ level: "warn", destination: process.stderr });
    const audit = createAuditLog({ db, clock: systemClock, logger });
    try {
      return await run(db, new Keyring({ db, wrapper, clock: systemClock }), wrapper, audit);
    } finally {
      await audit.close();
    }
  } finally {
    await db.close();
  }
}
