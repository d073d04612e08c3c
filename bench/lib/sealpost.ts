/**
 * One sealpost under test: a temporary data dir and store (SQLite, or a fresh PostgreSQL
 * database), the verified sending domain `bench.example` set up in-process as an operator
 * would (which also creates its DKIM keys), then `node bin/sealpost.js start` as a real
 * child process delivering everything to the receiving server through SEALPOST_RELAY.
 */

import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { compiledIsCurrent } from "../../bin/source-stamp.js";
import { loadConfig } from "../../src/config/load.ts";
import { silentLogger } from "../../src/logging/logger.ts";
import { createSealpost } from "../../src/main.ts";
import { verifyDomainsForTest } from "../../test/helpers/app.ts";
import { killOnOrphan, onCleanup, watchdog } from "./cleanup.ts";
import { type BenchDatabase, createDatabase } from "./pg.ts";
import { memoryStatus } from "./proc.ts";

export const BIN = fileURLToPath(new URL("../../bin/sealpost.js", import.meta.url));
const REPO = fileURLToPath(new URL("../..", import.meta.url));
export const BENCH_KEY = "bench-bootstrap-key-0123456789abcdefghijklmnopqrstuvwxyz";
export const SENDING_DOMAIN = "bench.example";

export type Store = "sqlite" | "postgres";

export interface InstanceOptions {
  store: Store;
  sinkPort: number;
  postgresUrl: string;
  /** SEALPOST_* passed through from the bench's environment (tuning); the bench's own win. */
  passthrough: Record<string, string>;
  /** Extra settings for this scenario. */
  env?: Record<string, string>;
}

export interface PreparedInstance {
  store: Store;
  dataDir: string;
  env: Record<string, string>;
  database: BenchDatabase | null;
  /** Path of the SQLite file (SQLite only). */
  sqlitePath: string | null;
  /** The default org and its active data key id (for seeding rows directly). */
  orgId: string;
  dataKeyId: string;
  dispose(): Promise<void>;
}

export interface RunningInstance {
  pid: number;
  baseUrl: string;
  smtpPort: number;
  /** Peak resident memory so far (VmHWM), kB. */
  peakRssKb(): number;
  rssKb(): number;
  output(): string;
  stop(): Promise<void>;
}

export async function prepareInstance(opts: InstanceOptions): Promise<PreparedInstance> {
  const dataDir = mkdtempSync(join(tmpdir(), "sealpost-bench-"));
  const database = opts.store === "postgres" ? await createDatabase(opts.postgresUrl) : null;
  const env: Record<string, string> = {
    ...opts.passthrough,
    SEALPOST_DATA_DIR: dataDir,
    SEALPOST_BOOTSTRAP_KEY: BENCH_KEY,
    SEALPOST_HTTP_HOST: "127.0.0.1",
    SEALPOST_HTTP_PORT: "0",
    SEALPOST_SMTP_PORT: "0",
    SEALPOST_SMTPS_PORT: "0",
    SEALPOST_INBOUND_PORT: "0",
    SEALPOST_RELAY: `smtp://127.0.0.1:${opts.sinkPort}`,
    SEALPOST_HOSTNAME: "sealpost.bench",
    // Limits high enough never to refuse, so the bench prices the charge without being capped by it.
    SEALPOST_RATE_LIMIT_KEY: "100000/s",
    SEALPOST_RATE_LIMIT_ORG: "100000/s",
    SEALPOST_LOG_LEVEL: opts.passthrough.SEALPOST_LOG_LEVEL ?? "warn",
    ...(database === null ? {} : { SEALPOST_DATABASE_URL: database.url }),
    ...opts.env,
  };
  if (database === null) delete env.SEALPOST_DATABASE_URL;
  const unregister = onCleanup(`data dir ${dataDir}`, () => disposeFiles(dataDir, database));
  // If the bench is killed outright: remove the data dir and drop the database anyway.
  const stopWatchdog = watchdog(
    'sleep 2; rm -rf "$1"; [ -n "$3" ] && psql "$2" -qc "DROP DATABASE IF EXISTS $3 WITH (FORCE)" >/dev/null 2>&1',
    [dataDir, opts.postgresUrl, database?.name ?? ""],
  );
  const setup = await createSealpost(loadConfig(env), { logger: silentLogger() });
  let orgId: string;
  let dataKeyId: string;
  try {
    await verifyDomainsForTest(setup, [SENDING_DOMAIN]);
    orgId = setup.defaultOrgId;
    const key = await setup.db.kysely
      .selectFrom("org_keys")
      .select("id")
      .where("org_id", "=", orgId)
      .where("purpose", "=", "data")
      .where("active", "=", 1)
      .executeTakeFirstOrThrow();
    dataKeyId = key.id;
  } finally {
    await setup.close();
  }
  return {
    store: opts.store,
    dataDir,
    env,
    database,
    sqlitePath: database === null ? join(dataDir, "sealpost.db") : null,
    orgId,
    dataKeyId,
    async dispose() {
      unregister();
      await disposeFiles(dataDir, database);
      stopWatchdog();
    },
  };
}

async function disposeFiles(dataDir: string, database: BenchDatabase | null): Promise<void> {
  rmSync(dataDir, { recursive: true, force: true });
  await database?.drop();
}

/** Starts `sealpost start` (roles api, smtp, worker); `nodeArgs` e.g. ["--cpu-prof", ...]. */
export async function startInstance(
  prepared: PreparedInstance,
  nodeArgs: readonly string[] = [],
): Promise<RunningInstance> {
  // bin/sealpost.js runs dist/ only while it matches the sources: a tree edited during a run
  // silently switches the later runs to the sources, which need more memory.
  if (process.env.SEALPOST_FROM_SOURCE !== "1" && !compiledIsCurrent(REPO))
    process.stderr.write(
      "[bench] warning: dist/ is stale (sources changed): this instance runs the TypeScript sources; its memory figures are not comparable\n",
    );
  // BENCH_SEALPOST_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") reach every instance.
  const extra = (process.env.BENCH_SEALPOST_NODE_ARGS ?? "").split(" ").filter((a) => a !== "");
  const child: ChildProcess = spawn(process.execPath, [...extra, ...nodeArgs, BIN, "start"], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...prepared.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const pid = child.pid ?? 0;
  const stopWatchdog = killOnOrphan(pid);
  let out = "";
  const keep = (d: Buffer): void => {
    out += d.toString();
    if (out.length > 200_000) out = out.slice(-100_000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  let peak = 0;
  const sampler = setInterval(() => {
    const m = memoryStatus(pid);
    if (m !== null) peak = Math.max(peak, m.hwmKb);
  }, 200);
  const stop = async (): Promise<void> => {
    clearInterval(sampler);
    const m = memoryStatus(pid);
    if (m !== null) peak = Math.max(peak, m.hwmKb);
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
      await exited;
      clearTimeout(timer);
    }
    stopWatchdog();
    unregister();
  };
  const unregister = onCleanup(`sealpost ${pid}`, stop);

  const deadline = Date.now() + 60_000;
  let http: RegExpExecArray | null = null;
  let smtp: RegExpExecArray | null = null;
  while (http === null || smtp === null) {
    http = /HTTP API listening on (http:\/\/[\d.]+:\d+)/.exec(out);
    smtp = /SMTP submission on [\d.]+:(\d+) \(STARTTLS\)/.exec(out);
    if (child.exitCode !== null) throw new Error(`sealpost exited (${child.exitCode}):\n${out.slice(-2000)}`);
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`sealpost did not start in 60 s:\n${out.slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    pid,
    baseUrl: http[1] ?? "",
    smtpPort: Number(smtp[1]),
    peakRssKb: () => Math.max(peak, memoryStatus(pid)?.hwmKb ?? 0),
    rssKb: () => memoryStatus(pid)?.rssKb ?? 0,
    output: () => out,
    stop,
  };
}

/** The .cpuprofile files in `dir` (one per thread of the profiled process). */
export function profileFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".cpuprofile"))
    .sort()
    .map((f) => join(dir, f));
}
