/**
 * Where the CPU went during one measured window: sealpost, the receiving server, the bench's
 * own load generator (and the tools it ran, e.g. smtp-source), Postfix, the PostgreSQL
 * backends of the run's database, and the rest of the machine (other users included).
 */
import pg from "pg";
import { cpuCount, procTimes, systemCpu, type TreeSnapshot, treeDelta, treeSnapshot } from "./proc.ts";

export interface CpuShare {
  /** CPU seconds. */
  seconds: number;
  /** Percent of the machine's capacity (all cores) over the window. */
  percentOfMachine: number;
}

export interface CpuReport {
  wallSeconds: number;
  cores: number;
  parts: Record<string, CpuShare>;
}

export interface CpuMeterTargets {
  /** Named process trees (the root and its children), e.g. sealpost, sink, postfix master. */
  trees: Record<string, number>;
  /** PostgreSQL backends of this database are counted as "postgres". */
  postgres?: { adminUrl: string; database: string };
}

interface PgSampler {
  stop(): Promise<number>;
}

/** Polls pg_stat_activity each second and sums the CPU each backend used since first seen. */
async function samplePostgres(adminUrl: string, database: string): Promise<PgSampler> {
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 5000 });
  await client.connect();
  const first = new Map<number, number>();
  const last = new Map<number, number>();
  const sample = async (initial: boolean): Promise<void> => {
    const res = await client.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE datname = $1", [
      database,
    ]);
    for (const { pid } of res.rows) {
      const t = procTimes(pid);
      if (t === null) continue;
      if (!first.has(pid)) first.set(pid, initial ? t.self : 0);
      last.set(pid, t.self);
    }
  };
  await sample(true);
  let running = true;
  let busy: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    if (running) busy = sample(false).catch(() => undefined);
  }, 1000);
  return {
    async stop() {
      running = false;
      clearInterval(timer);
      await busy;
      await sample(false).catch(() => undefined);
      await client.end().catch(() => undefined);
      let sum = 0;
      for (const [pid, v] of last) sum += v - (first.get(pid) ?? 0);
      return sum;
    },
  };
}

function ownTimes(): { self: number; children: number } {
  const t = procTimes(process.pid);
  return t === null ? { self: 0, children: 0 } : { self: t.self, children: t.children };
}

export interface CpuMeter {
  stop(): Promise<CpuReport>;
}

export async function startCpuMeter(targets: CpuMeterTargets): Promise<CpuMeter> {
  const startedAt = performance.now();
  const sys0 = systemCpu();
  const own0 = ownTimes();
  const trees0 = new Map<string, TreeSnapshot | null>();
  for (const [name, pid] of Object.entries(targets.trees)) trees0.set(name, treeSnapshot(pid));
  const pgs =
    targets.postgres === undefined
      ? null
      : await samplePostgres(targets.postgres.adminUrl, targets.postgres.database).catch(() => null);
  return {
    async stop() {
      const wallSeconds = (performance.now() - startedAt) / 1000;
      const cores = cpuCount();
      const capacity = wallSeconds * cores;
      const share = (seconds: number): CpuShare => ({
        seconds: Math.round(seconds * 100) / 100,
        percentOfMachine: capacity > 0 ? Math.round((seconds / capacity) * 1000) / 10 : 0,
      });
      const parts: Record<string, CpuShare> = {};
      let known = 0;
      for (const [name, pid] of Object.entries(targets.trees)) {
        const s = treeDelta(trees0.get(name) ?? null, treeSnapshot(pid));
        parts[name] = share(s);
        known += s;
      }
      const own1 = ownTimes();
      const driver = own1.self - own0.self;
      const tools = own1.children - own0.children;
      parts["bench driver"] = share(driver);
      known += driver;
      if (tools > 0) {
        parts["bench tools (smtp-source)"] = share(tools);
        known += tools;
      }
      if (pgs !== null) {
        const p = await pgs.stop();
        parts["postgres backends"] = share(p);
        known += p;
      }
      const sys1 = systemCpu();
      const busy = sys1.busy - sys0.busy;
      parts["machine busy (all)"] = share(busy);
      parts["other (rest of machine)"] = share(Math.max(0, busy - known));
      return { wallSeconds: Math.round(wallSeconds * 100) / 100, cores, parts };
    },
  };
}
