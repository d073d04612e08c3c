/**
 * Helpers of the audit tests: a writer on a test database, entries to append, and the
 * tampering an attacker with write access to the database could do.
 */
import { entryHash } from "../../src/audit/hash.ts";
import type { AuditEntryInput, AuditLog } from "../../src/audit/types.ts";
import { createAuditLog } from "../../src/audit/writer.ts";
import { type Clock, ManualClock } from "../../src/core/clock.ts";
import { type Logger, silentLogger } from "../../src/logging/logger.ts";
import type { Db } from "../../src/store/db.ts";
import type { AuditLogTable } from "../../src/store/schema.ts";

export function writer(db: Db, opts: { clock?: Clock; logger?: Logger } = {}): AuditLog {
  return createAuditLog({
    db,
    clock: opts.clock ?? new ManualClock(),
    logger: opts.logger ?? silentLogger(),
  });
}

export function entry(chain: string, i: number): AuditEntryInput {
  return {
    chain,
    actorType: "system",
    actorId: "worker",
    action: "delivery.delivered",
    targetType: "delivery",
    targetId: `dlv_${String(i).padStart(26, "0")}`,
    outcome: "ok",
    status: 250,
    details: { attempt: 1, tls_version: "TLSv1.3" },
  };
}

/** Appends `n` entries to `chain` through the writer and waits for their commit. */
export async function appendN(audit: AuditLog, chain: string, n: number): Promise<void> {
  for (let i = 1; i <= n; i++) audit.record(entry(chain, i));
  await audit.flush();
}

export async function rows(db: Db, chain: string): Promise<AuditLogTable[]> {
  return db.kysely.selectFrom("audit_log").selectAll().where("chain", "=", chain).orderBy("seq").execute();
}

export async function row(db: Db, chain: string, seq: number): Promise<AuditLogTable> {
  const r = await db.kysely
    .selectFrom("audit_log")
    .selectAll()
    .where("chain", "=", chain)
    .where("seq", "=", seq)
    .executeTakeFirstOrThrow();
  return r;
}

type Fields = Omit<AuditLogTable, "chain" | "seq">;

function fieldsOf(r: AuditLogTable): Fields {
  const { chain: _c, seq: _s, ...fields } = r;
  return fields;
}

export async function setFields(db: Db, chain: string, seq: number, fields: Partial<Fields>): Promise<void> {
  await db.kysely
    .updateTable("audit_log")
    .set(fields)
    .where("chain", "=", chain)
    .where("seq", "=", seq)
    .execute();
}

/** Swaps the contents of two rows, each keeping its seq. */
export async function swapRows(db: Db, chain: string, a: number, b: number): Promise<void> {
  const [ra, rb] = [await row(db, chain, a), await row(db, chain, b)];
  await setFields(db, chain, a, fieldsOf(rb));
  await setFields(db, chain, b, fieldsOf(ra));
}

/**
 * Slips a forged entry in at `seq`, hashed to follow the entry before it, and moves the
 * later entries one seq up (the primary key allows nothing else). Returns the forged id.
 */
export async function insertForged(db: Db, chain: string, seq: number): Promise<string> {
  const later = (await rows(db, chain)).filter((r) => r.seq >= seq);
  await db.kysely.deleteFrom("audit_log").where("chain", "=", chain).where("seq", ">=", seq).execute();
  for (const r of later)
    await db.kysely
      .insertInto("audit_log")
      .values({ ...r, seq: r.seq + 1 })
      .execute();
  const before = await row(db, chain, seq - 1);
  const forged = {
    ...fieldsOf(before),
    chain,
    seq,
    id: "aud_00000000000000000000000000",
    action: "key.create",
    prev_hash: before.hash,
  };
  const { hash: _h, ...unhashed } = forged;
  await db.kysely
    .insertInto("audit_log")
    .values({ ...forged, hash: entryHash(before.hash, unhashed) })
    .execute();
  return forged.id;
}
