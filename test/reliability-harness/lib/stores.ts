/**
 * Where the harness keeps state: a temporary data dir, and for PostgreSQL a fresh database
 * dropped afterwards. PostgreSQL comes from SEALPOST_TEST_DATABASE_URL (default: the local
 * server on 127.0.0.1:5432, as `npm test` uses); when it does not answer, a part that needs
 * it skips, or fails under CI / SEALPOST_REQUIRE_TOOLS=1 (see test/helpers/tools.ts).
 */
import { rmSync } from "node:fs";
import type { TestContext } from "node:test";
import { loadConfig } from "../../../src/config/load.ts";
import { silentLogger } from "../../../src/logging/logger.ts";
import { createSealpost } from "../../../src/main.ts";
import { type Db, openDb } from "../../../src/store/db.ts";
import { BOOTSTRAP_KEY, createTestDatabase, tempDir, verifyDomainsForTest } from "../../helpers/app.ts";
import { requireTool } from "../../helpers/tools.ts";

export type Store = "sqlite" | "postgres";

const DEFAULT_PG = "postgres://postgres@127.0.0.1:5432/postgres";

/** True when PostgreSQL can be used; otherwise skips `t` (or throws under CI). */
export function havePostgres(t: TestContext): boolean {
  if ((process.env.SEALPOST_TEST_DATABASE_URL ?? "") === "")
    process.env.SEALPOST_TEST_DATABASE_URL = DEFAULT_PG;
  if (process.env.CI === "true" || process.env.CI === "1") process.env.SEALPOST_REQUIRE_TOOLS ??= "1";
  return requireTool(t, "postgres");
}

export interface Scratch {
  dataDir: string;
  /** undefined: SQLite in the data dir. */
  databaseUrl: string | undefined;
  cleanup(): Promise<void>;
}

/** A data dir, and on PostgreSQL a fresh database; `cleanup` removes both. */
export async function createScratch(store: Store): Promise<Scratch> {
  const dataDir = tempDir("sealpost-reliability-");
  const database = await createTestDatabase(store);
  return {
    dataDir,
    databaseUrl: database.url,
    async cleanup() {
      await database.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** The environment of a `sealpost start` child: loopback, ports chosen by the OS, quiet logs. */
export function nodeEnv(opts: {
  dataDir: string;
  databaseUrl: string | undefined;
  relayPort: number;
  extra?: Record<string, string>;
}): Record<string, string> {
  return {
    SEALPOST_DATA_DIR: opts.dataDir,
    SEALPOST_BOOTSTRAP_KEY: BOOTSTRAP_KEY,
    SEALPOST_HTTP_PORT: "0",
    SEALPOST_SMTP_PORT: "0",
    SEALPOST_SMTPS_PORT: "0",
    SEALPOST_INBOUND_PORT: "0",
    SEALPOST_RELAY: `smtp://127.0.0.1:${opts.relayPort}`,
    SEALPOST_LOG_LEVEL: "warn",
    SEALPOST_HOSTNAME: "sealpost.test",
    // The harness drives load and garbage from loopback: the limits and the lockout have
    // tests of their own, and here would only turn its answers into 429s.
    SEALPOST_RATE_LIMIT_KEY: "100000/s",
    SEALPOST_RATE_LIMIT_ORG: "100000/s",
    SEALPOST_AUTH_LOCKOUT_EXEMPT: "127.0.0.0/8,::1",
    ...(opts.databaseUrl === undefined ? {} : { SEALPOST_DATABASE_URL: opts.databaseUrl }),
    ...opts.extra,
  };
}

/** Creates the org, the bootstrap key and the verified sending domain, as an operator would. */
export async function prepareSealpost(
  env: Record<string, string>,
  domains: readonly string[],
): Promise<void> {
  const setup = await createSealpost(loadConfig(env), { logger: silentLogger() });
  try {
    await verifyDomainsForTest(setup, domains);
  } finally {
    await setup.close();
  }
}

/** Opens sealpost's store from the test process (read-mostly checks while or after it runs). */
export function openStore(env: Record<string, string>): Db {
  const config = loadConfig(env);
  return openDb(config.database, config.dataDir, { poolSize: 2 });
}

export interface StatusCounts {
  total: number;
  byStatus: Record<string, number>;
  /** Deliveries claimed by a worker and not yet recorded (`sending`). */
  sending: number;
}

export async function deliveryStatusCounts(db: Db): Promise<StatusCounts> {
  const rows = await db.kysely
    .selectFrom("deliveries")
    .select(["status", (eb) => eb.fn.countAll<number>().as("n")])
    .groupBy("status")
    .execute();
  const byStatus: Record<string, number> = {};
  let total = 0;
  for (const r of rows) {
    byStatus[r.status] = Number(r.n);
    total += Number(r.n);
  }
  return { total, byStatus, sending: byStatus.sending ?? 0 };
}

export function formatCounts(byStatus: Record<string, number>): string {
  return Object.entries(byStatus)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${v}`)
    .join(" ");
}
