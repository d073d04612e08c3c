/**
 * Builds a real sealpost for a test: a temporary data dir, and the store the suite runs
 * on (SEALPOST_TEST_STORE=sqlite|postgres; on postgres a fresh database per app, dropped
 * afterwards). Nothing is mocked; pass `clock`, `env` or a `logger` to control it.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestContext } from "node:test";
import pg from "pg";
import { createKey, operatorGrantor } from "../../src/auth/keys.ts";
import { loadConfig } from "../../src/config/load.ts";
import type { Config } from "../../src/config/schema.ts";
import type { Clock } from "../../src/core/clock.ts";
import type { Scope } from "../../src/core/principal.ts";
import { addDomain } from "../../src/domains/service.ts";
import { type Logger, silentLogger } from "../../src/logging/logger.ts";
import { createDnsResolver, createSealpost, type Sealpost } from "../../src/main.ts";
import { updateDomainCheck } from "../../src/store/domains.ts";
import { systemScope } from "../../src/store/scope.ts";
import type { Deliverer } from "../../src/worker/steps.ts";
import { postgresUrl } from "./tools.ts";

export const BOOTSTRAP_KEY = "test-bootstrap-key-0123456789abcdefghijklmnopqrstuv";

export function testStore(): "sqlite" | "postgres" {
  return process.env.SEALPOST_TEST_STORE === "postgres" ? "postgres" : "sqlite";
}

export interface TestDatabase {
  url: string | undefined;
  drop(): Promise<void>;
}

/** A fresh database for the store (default: the suite's); undefined URL means SQLite in the data dir. */
export async function createTestDatabase(store: "sqlite" | "postgres" = testStore()): Promise<TestDatabase> {
  if (store === "sqlite") return { url: undefined, drop: async () => {} };
  const admin = postgresUrl() ?? "postgres://postgres@127.0.0.1:5432/postgres";
  const name = `sealpost_t_${randomBytes(6).toString("hex")}`;
  const client = new pg.Client({ connectionString: admin });
  await client.connect();
  await client.query(`CREATE DATABASE ${name}`);
  await client.end();
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: admin });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

export function tempDir(prefix = "sealpost-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export interface TestNode {
  dataDir: string;
  database: TestDatabase;
  /** SEALPOST_* for a node on loopback with ephemeral ports, the bootstrap key and quiet logs, plus `extra`. */
  env: Record<string, string>;
  /** Drops the database and removes the data dir (after whatever runs on them has stopped). */
  remove(): Promise<void>;
}

/** A data dir, a fresh database of the suite's store and the environment of a test node. */
export async function testNode(extra: Record<string, string> = {}): Promise<TestNode> {
  const dataDir = tempDir();
  const database = await createTestDatabase();
  return {
    dataDir,
    database,
    env: {
      SEALPOST_DATA_DIR: dataDir,
      SEALPOST_BOOTSTRAP_KEY: BOOTSTRAP_KEY,
      SEALPOST_HTTP_PORT: "0",
      SEALPOST_SMTP_PORT: "0",
      SEALPOST_SMTPS_PORT: "0",
      SEALPOST_INBOUND_PORT: "0",
      SEALPOST_HOSTNAME: "sealpost.test",
      SEALPOST_LOG_LEVEL: "silent",
      // Tests of other features send in bursts; the limits have tests of their own.
      SEALPOST_RATE_LIMIT_KEY: "100000/s",
      SEALPOST_RATE_LIMIT_ORG: "100000/s",
      ...(database.url === undefined ? {} : { SEALPOST_DATABASE_URL: database.url }),
      ...extra,
    },
    async remove() {
      await database.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface TestApp {
  app: Sealpost;
  config: Config;
  dataDir: string;
  env: Record<string, string>;
  /** Bearer token of the default org's admin key. */
  adminKey: string;
  /** A key with only the given scopes and mode. */
  key(scopes: Scope[], mode?: "live" | "test", orgId?: string): Promise<string>;
  close(): Promise<void>;
}

export interface TestAppOptions {
  env?: Record<string, string>;
  clock?: Clock;
  logger?: Logger;
  deliverer?: Deliverer;
  deliveryCa?: string;
  worker?: boolean;
  pollMs?: number;
  leaseMs?: number;
  /** Delays between webhook attempts (webhook tests shorten them). */
  webhookSchedule?: readonly number[];
  /** Sending domains added and marked verified; default example.com and clinic.example. */
  verifiedDomains?: readonly string[];
}

export async function startTestApp(t: TestContext | undefined, opts: TestAppOptions = {}): Promise<TestApp> {
  const node = await testNode(opts.env);
  const { dataDir, env } = node;
  const config = loadConfig(env);
  const app = await createSealpost(config, {
    logger: opts.logger ?? silentLogger(),
    ...(opts.clock === undefined ? {} : { clock: opts.clock }),
    ...(opts.deliverer === undefined ? {} : { deliverer: opts.deliverer }),
    ...(opts.deliveryCa === undefined ? {} : { deliveryCa: opts.deliveryCa }),
    pollMs: opts.pollMs ?? 20,
    ...(opts.leaseMs === undefined ? {} : { leaseMs: opts.leaseMs }),
    ...(opts.webhookSchedule === undefined ? {} : { webhookSchedule: opts.webhookSchedule }),
  });
  await verifyDomainsForTest(app, opts.verifiedDomains ?? ["example.com", "clinic.example"]);
  if (opts.worker !== false) app.startWorker();
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await app.close();
    await node.remove();
  };
  t?.after(close);
  return {
    app,
    config,
    dataDir,
    env,
    adminKey: BOOTSTRAP_KEY,
    async key(scopes, mode = "live", orgId = app.defaultOrgId) {
      const scope = systemScope(app.db, orgId, "admin");
      return (await createKey(app.keys, scope, operatorGrantor("cli"), { name: "test", mode, scopes })).token;
    },
    close,
  };
}

/** Polls `check` until it returns a value other than undefined (bounded). */
export async function eventually<T>(
  check: () => Promise<T | undefined>,
  timeoutMs = 10_000,
  everyMs = 25,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export function auth(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}

/**
 * Adds sending domains and marks them verified without DNS (tests of other features
 * send live mail from these). Domain verification itself is tested with a real DNS server.
 */
export async function verifyDomainsForTest(app: Sealpost, names: readonly string[]): Promise<void> {
  const deps = {
    db: app.db,
    keyring: app.keyring,
    clock: app.clock,
    resolver: createDnsResolver(app.config),
    hostname: "sealpost.test",
  };
  const scope = systemScope(app.db, app.defaultOrgId, "admin");
  for (const name of names) {
    const domain = await addDomain(deps, scope, name);
    await updateDomainCheck(scope, domain.id, {
      status: "verified",
      verified_at: app.clock.now(),
      last_check: "{}",
    });
  }
}
