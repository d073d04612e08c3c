/**
 * Seeds a backlog straight into the database: `rows` messages with one delivery each,
 * deferred until tomorrow (due_at in the future), so nothing is delivered during the run but
 * every row sits in the queue index. Content columns are small dummy blobs (they are never
 * opened). Generated in SQL, in batches: INSERT … SELECT over a recursive CTE on SQLite, over
 * generate_series on PostgreSQL. Column lists follow src/store/schema.ts.
 */
import { DatabaseSync } from "node:sqlite";
import pg from "pg";

const BATCH = 100_000;
const DAY_MS = 86_400_000;

export interface SeedResult {
  rows: number;
  seconds: number;
}

/** Ids that sort before any real one (real ids start with the time), 26 characters after the prefix. */
function idSql(prefix: string, n: string, dialect: "sqlite" | "postgres"): string {
  return dialect === "sqlite"
    ? `'${prefix}_0' || printf('%025d', ${n})`
    : `'${prefix}_0' || lpad(${n}::text, 25, '0')`;
}

export function seedSqlite(path: string, orgId: string, dataKeyId: string, rows: number): SeedResult {
  const started = performance.now();
  const db = new DatabaseSync(path);
  try {
    db.exec("PRAGMA journal_mode = WAL");
    db.exec("PRAGMA busy_timeout = 10000");
    const now = Date.now();
    const messages = db.prepare(`
      WITH RECURSIVE seq(n) AS (SELECT ? UNION ALL SELECT n + 1 FROM seq WHERE n < ?)
      INSERT INTO messages (id, org_id, mode, created_at, api_key_id, from_domain, encryption, allow_non_tls,
        tags, recipient_count, attachment_count, size_bytes, content, data_key, data_key_id,
        idempotency_hash, request_hash)
      SELECT ${idSql("msg", "n", "sqlite")}, ?, 'live', ? - n, NULL, 'bench.example', 'auto', 0,
        '[]', 1, 0, 2048, randomblob(64), randomblob(60), ?, NULL, NULL
      FROM seq`);
    const deliveries = db.prepare(`
      WITH RECURSIVE seq(n) AS (SELECT ? UNION ALL SELECT n + 1 FROM seq WHERE n < ?)
      INSERT INTO deliveries (id, message_id, org_id, kind, recipient, recipient_bidx, domain_bidx, status,
        due_at, lease_owner, attempts, expires_at, created_at, updated_at, last_reason, evidence)
      SELECT ${idSql("dlv", "n", "sqlite")}, ${idSql("msg", "n", "sqlite")}, ?, 'to', randomblob(48),
        substr(hex(randomblob(20)), 1, 27), 'backlog-domain', 'deferred',
        ? + (n * 7919) % ?, NULL, 1, ? + 3 * ?, ? - n, ? - n, 'tls_unavailable', NULL
      FROM seq`);
    for (let lo = 1; lo <= rows; lo += BATCH) {
      const hi = Math.min(rows, lo + BATCH - 1);
      db.exec("BEGIN");
      messages.run(lo, hi, orgId, now, dataKeyId);
      deliveries.run(lo, hi, orgId, now + DAY_MS, DAY_MS, now, DAY_MS, now, now);
      db.exec("COMMIT");
    }
    db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  } finally {
    db.close();
  }
  return { rows, seconds: Math.round((performance.now() - started) / 100) / 10 };
}

export async function seedPostgres(
  url: string,
  orgId: string,
  dataKeyId: string,
  rows: number,
): Promise<SeedResult> {
  const started = performance.now();
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const now = Date.now();
    for (let lo = 1; lo <= rows; lo += BATCH) {
      const hi = Math.min(rows, lo + BATCH - 1);
      await client.query("BEGIN");
      await client.query(
        `INSERT INTO messages (id, org_id, mode, created_at, api_key_id, from_domain, encryption, allow_non_tls,
           tags, recipient_count, attachment_count, size_bytes, content, data_key, data_key_id,
           idempotency_hash, request_hash)
         SELECT ${idSql("msg", "n", "postgres")}, $3, 'live', $4::bigint - n, NULL, 'bench.example', 'auto', 0,
           '[]', 1, 0, 2048, decode(md5(n::text) || md5((n + 1)::text) || md5((n + 2)::text) || md5((n + 3)::text), 'hex'),
           decode(md5((-n)::text) || md5((-n - 1)::text) || md5((-n - 2)::text), 'hex'), $5, NULL, NULL
         FROM generate_series($1::bigint, $2::bigint) AS n`,
        [lo, hi, orgId, now, dataKeyId],
      );
      await client.query(
        `INSERT INTO deliveries (id, message_id, org_id, kind, recipient, recipient_bidx, domain_bidx, status,
           due_at, lease_owner, attempts, expires_at, created_at, updated_at, last_reason, evidence)
         SELECT ${idSql("dlv", "n", "postgres")}, ${idSql("msg", "n", "postgres")}, $3, 'to',
           decode(md5(n::text) || md5((n * 3)::text) || md5((n * 5)::text), 'hex'),
           substr(md5((n * 7)::text), 1, 27), 'backlog-domain', 'deferred',
           $4::bigint + (n * 7919) % $5::bigint, NULL, 1, $6::bigint + 3 * $5::bigint, $6::bigint - n,
           $6::bigint - n, 'tls_unavailable', NULL
         FROM generate_series($1::bigint, $2::bigint) AS n`,
        [lo, hi, orgId, now + DAY_MS, DAY_MS, now],
      );
      await client.query("COMMIT");
    }
    // What autovacuum would do shortly after such a load; makes the plan deterministic.
    await client.query("VACUUM ANALYZE messages");
    await client.query("VACUUM ANALYZE deliveries");
  } finally {
    await client.end();
  }
  return { rows, seconds: Math.round((performance.now() - started) / 100) / 10 };
}
