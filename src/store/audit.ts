import { entryHash, GENESIS_HASH, type UnhashedEntry } from "../audit/hash.ts";
import type { Db } from "./db.ts";
import { chunks } from "./group-commit.ts";
import type { AuditCheckpointsTable, AuditHeadsTable, AuditLogTable } from "./schema.ts";

/**
 * The audit log's store (ADR 0009 §1). Chains are not org-scoped tables: the audit chain of
 * an org is named by its id, and readers are given the chain by the caller (the API passes
 * the caller's own org). Appends are the only writes; nothing here updates or deletes an
 * entry.
 */

/** An entry before it is chained: everything but seq, prev_hash and hash. */
export type AuditDraft = Omit<AuditLogTable, "seq" | "prev_hash" | "hash">;

export interface ChainHead {
  seq: number;
  hash: string;
}

/** 16 columns a row: 200 rows stay well under both databases' parameter limits. */
const INSERT_CHUNK = 200;

/**
 * Appends `drafts` to `chain` in one transaction, after the chain's head, which is locked
 * for the duration: `SELECT … FOR UPDATE` on PostgreSQL (any number of nodes append in
 * turn), and on SQLite a write as the first statement, which takes the database's one
 * write lock before the head is read. Returns the rows as stored.
 */
export async function appendEntries(
  db: Db,
  chain: string,
  drafts: readonly AuditDraft[],
): Promise<AuditLogTable[]> {
  if (drafts.length === 0) return [];
  return db.kysely.transaction().execute((trx) => appendIn({ ...db, kysely: trx }, chain, drafts));
}

/** Entries of one chain, for a transaction that appends to several. */
export interface ChainDrafts {
  chain: string;
  drafts: readonly AuditDraft[];
}

/**
 * Appends to several chains inside `tx`, a transaction of the caller's (a submission or
 * delivery commit carrying buffered entries). Heads are locked in chain order, so two such
 * transactions on two nodes cannot wait on each other.
 */
export async function appendChains(tx: Db, chains: readonly ChainDrafts[]): Promise<void> {
  const ordered = [...chains].sort((a, b) => (a.chain < b.chain ? -1 : a.chain > b.chain ? 1 : 0));
  for (const { chain, drafts } of ordered) if (drafts.length > 0) await appendIn(tx, chain, drafts);
}

async function appendIn(tx: Db, chain: string, drafts: readonly AuditDraft[]): Promise<AuditLogTable[]> {
  const head = await lockHead(tx, chain);
  const rows: AuditLogTable[] = [];
  let prev = head;
  for (const d of drafts) {
    const unhashed: UnhashedEntry = { ...d, chain, seq: prev.seq + 1, prev_hash: prev.hash };
    const row: AuditLogTable = { ...unhashed, hash: entryHash(prev.hash, unhashed) };
    rows.push(row);
    prev = { seq: row.seq, hash: row.hash };
  }
  for (const part of chunks(rows, INSERT_CHUNK))
    await tx.kysely.insertInto("audit_log").values(part).execute();
  await tx.kysely
    .updateTable("audit_heads")
    .set({ seq: prev.seq, hash: prev.hash })
    .where("chain", "=", chain)
    .execute();
  return rows;
}

/** The head row, locked; created (seq 0, the genesis hash) on the chain's first append. */
async function lockHead(tx: Db, chain: string): Promise<ChainHead> {
  const insertFirst = () =>
    tx.kysely
      .insertInto("audit_heads")
      .values({ chain, seq: 0, hash: GENESIS_HASH })
      .onConflict((oc) => oc.column("chain").doNothing())
      .execute();
  const select = () => {
    const q = tx.kysely.selectFrom("audit_heads").select(["seq", "hash"]).where("chain", "=", chain);
    return (tx.dialect === "postgres" ? q.forUpdate() : q).executeTakeFirst();
  };
  if (tx.dialect === "sqlite") {
    await insertFirst();
    const head = await select();
    if (head === undefined) throw new Error("audit head row missing after insert");
    return head;
  }
  const existing = await select();
  if (existing !== undefined) return existing;
  // First use: two nodes may both get here; one insert wins, both then wait on the row lock.
  await insertFirst();
  const head = await select();
  if (head === undefined) throw new Error("audit head row missing after insert");
  return head;
}

export async function findHead(db: Db, chain: string): Promise<ChainHead | undefined> {
  return db.kysely
    .selectFrom("audit_heads")
    .select(["seq", "hash"])
    .where("chain", "=", chain)
    .executeTakeFirst();
}

/** Every chain that has a head: the orgs that have entries, and `instance`. */
export async function listChains(db: Db): Promise<string[]> {
  const rows = await db.kysely.selectFrom("audit_heads").select("chain").orderBy("chain").execute();
  return rows.map((r) => r.chain);
}

export async function listHeads(db: Db): Promise<AuditHeadsTable[]> {
  return db.kysely.selectFrom("audit_heads").selectAll().orderBy("chain").execute();
}

/** The highest seq stored for the chain (0 when empty), whatever the head says. */
export async function maxSeq(db: Db, chain: string): Promise<number> {
  const row = await db.kysely
    .selectFrom("audit_log")
    .select((eb) => eb.fn.max("seq").as("max"))
    .where("chain", "=", chain)
    .executeTakeFirst();
  return row?.max === null || row?.max === undefined ? 0 : Number(row.max);
}

export interface AuditFilter {
  /** Epoch ms, inclusive. */
  from?: number;
  /** Epoch ms, exclusive. */
  to?: number;
  action?: string;
  actorId?: string;
  outcome?: string;
  /** Entries after this seq (the cursor). */
  afterSeq?: number;
  /** Entries up to this seq (a verifier stops at the head it read). */
  throughSeq?: number;
}

/** One page of a chain in seq order. */
export async function listEntries(
  db: Db,
  chain: string,
  filter: AuditFilter,
  limit: number,
): Promise<AuditLogTable[]> {
  let q = db.kysely.selectFrom("audit_log").selectAll().where("chain", "=", chain);
  if (filter.afterSeq !== undefined) q = q.where("seq", ">", filter.afterSeq);
  if (filter.throughSeq !== undefined) q = q.where("seq", "<=", filter.throughSeq);
  if (filter.from !== undefined) q = q.where("at", ">=", filter.from);
  if (filter.to !== undefined) q = q.where("at", "<", filter.to);
  if (filter.action !== undefined) q = q.where("action", "=", filter.action);
  if (filter.actorId !== undefined) q = q.where("actor_id", "=", filter.actorId);
  if (filter.outcome !== undefined) q = q.where("outcome", "=", filter.outcome);
  return q.orderBy("seq").limit(limit).execute();
}

/** The matching entries of a chain in seq order, read a page at a time. */
export async function* streamEntries(
  db: Db,
  chain: string,
  filter: AuditFilter = {},
  pageSize = 1000,
): AsyncGenerator<AuditLogTable> {
  let after = filter.afterSeq;
  for (;;) {
    const page = await listEntries(
      db,
      chain,
      { ...filter, ...(after === undefined ? {} : { afterSeq: after }) },
      pageSize,
    );
    yield* page;
    const last = page.at(-1);
    if (last === undefined || page.length < pageSize) return;
    after = last.seq;
  }
}

export async function insertCheckpoint(db: Db, row: AuditCheckpointsTable): Promise<void> {
  await db.kysely
    .insertInto("audit_checkpoints")
    .values(row)
    .onConflict((oc) => oc.columns(["chain", "seq"]).doNothing())
    .execute();
}

export async function listCheckpoints(db: Db, chain: string): Promise<AuditCheckpointsTable[]> {
  return db.kysely
    .selectFrom("audit_checkpoints")
    .selectAll()
    .where("chain", "=", chain)
    .orderBy("seq")
    .execute();
}
