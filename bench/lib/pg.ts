/** A fresh PostgreSQL database per run, dropped afterwards. */
import { randomBytes } from "node:crypto";
import pg from "pg";

export interface BenchDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Null when PostgreSQL does not answer at `adminUrl`. */
export async function postgresVersion(adminUrl: string): Promise<string | null> {
  try {
    return await withClient(adminUrl, async (c) => {
      const res = await c.query<{ server_version: string }>("SHOW server_version");
      return res.rows[0]?.server_version ?? "unknown";
    });
  } catch {
    return null;
  }
}

export async function createDatabase(adminUrl: string): Promise<BenchDatabase> {
  const name = `sealpost_bench_${randomBytes(5).toString("hex")}`;
  await withClient(adminUrl, (c) => c.query(`CREATE DATABASE ${name}`));
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  let dropped = false;
  return {
    name,
    url: url.toString(),
    async drop() {
      if (dropped) return;
      dropped = true;
      await withClient(adminUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}

/** Backend process ids connected to `database` (their CPU is counted as PostgreSQL's share). */
export async function backendPids(adminUrl: string, database: string): Promise<number[]> {
  return withClient(adminUrl, async (c) => {
    const res = await c.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE datname = $1", [
      database,
    ]);
    return res.rows.map((r) => r.pid);
  });
}
