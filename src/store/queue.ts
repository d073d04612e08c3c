import { appendChains, type ChainDrafts } from "./audit.ts";
import type { Db } from "./db.ts";
import { chunks } from "./group-commit.ts";
import type {
  DeliveriesTable,
  DeliveryStatus,
  EventsTable,
  SandboxTable,
  SuppressionsTable,
  WebhookDeliveriesTable,
} from "./schema.ts";
import { insertOutbox } from "./webhooks.ts";

/**
 * The delivery queue is the deliveries table itself: a row is owed work while `due_at`
 * is set. A claim moves due rows to `sending`, stamps the worker as lease owner and
 * pushes `due_at` to the lease expiry; a worker that dies simply stops renewing, and the
 * rows become due again. Completions are fenced on (lease owner, attempt number), so a
 * worker whose lease was taken over cannot overwrite the new owner's result.
 * See docs/adr/0002-queue-claim.md.
 *
 * Cross-org on purpose (ADR 0008 allow-list): a worker claims, renews and records the
 * work of every org, and the bounce receiver learns the org from the delivery it names.
 * Every row it writes carries the org of the delivery it belongs to.
 */

export async function claimDue(
  db: Db,
  workerId: string,
  now: number,
  leaseMs: number,
  limit: number,
): Promise<DeliveriesTable[]> {
  const due = db.kysely
    .selectFrom("deliveries")
    .select("id")
    .where("due_at", "is not", null)
    .where("due_at", "<=", now)
    .orderBy("due_at")
    .limit(limit);
  return db.kysely
    .updateTable("deliveries")
    .set((eb) => ({
      status: "sending",
      lease_owner: workerId,
      due_at: now + leaseMs,
      attempts: eb("attempts", "+", 1),
      updated_at: now,
    }))
    .where("id", "in", db.dialect === "postgres" ? due.forUpdate().skipLocked() : due)
    .returningAll()
    .execute();
}

/** Extends the leases of everything this worker still holds. */
export async function renewLeases(db: Db, workerId: string, now: number, leaseMs: number): Promise<number> {
  const held = db.kysely
    .selectFrom("deliveries")
    .select("id")
    .where("lease_owner", "is not", null)
    .where("lease_owner", "=", workerId)
    .where("status", "=", "sending");
  // On PostgreSQL the rows are locked in id order, the order completeAttempts updates them
  // in, so a renewal and a completion of the same worker never deadlock.
  const res = await db.kysely
    .updateTable("deliveries")
    .set({ due_at: now + leaseMs })
    .where("id", "in", db.dialect === "postgres" ? held.orderBy("id").forUpdate() : held)
    .executeTakeFirst();
  return Number(res.numUpdatedRows);
}

export interface Completion {
  id: string;
  workerId: string;
  attempt: number;
  status: DeliveryStatus;
  dueAt: number | null;
  now: number;
  reason: string | null;
  evidence: string | null;
  events: EventsTable[];
  sandbox: SandboxTable | null;
  /** A hard bounce of a bad address adds it to the suppression list. */
  suppression: SuppressionsTable | null;
  /** The protection chosen for the recipient (ADR 0010 §4), kept for retries; null: unchanged. */
  encryption: string | null;
}

/** What a commit of completions wrote: for the audit trail, which happens after it. */
export interface Committed {
  /** The completions whose lease was still held; the others' results were discarded. */
  applied: Completion[];
  /** The suppressions added (an address already suppressed is not added again). */
  suppressions: SuppressionsTable[];
}

/**
 * Records the results of attempts in one transaction, with the webhook outbox rows of the
 * events recorded (`webhooks`: WebhookOutbox.rowsFor of all the items' events; the rows
 * of a completion whose lease was lost are dropped with its events), and the buffered
 * audit entries it carries (carryingAudit).
 */
export async function completeAttempts(
  db: Db,
  items: readonly Completion[],
  webhooks: readonly WebhookDeliveriesTable[] = [],
  audit: readonly ChainDrafts[] = [],
): Promise<Committed> {
  return db.kysely.transaction().execute(async (trx) => {
    const applied: Completion[] = [];
    const events: EventsTable[] = [];
    const sandbox: SandboxTable[] = [];
    const suppressions: SuppressionsTable[] = [];
    const added: SuppressionsTable[] = [];
    // In id order, like renewLeases, so concurrent transactions lock rows in one order.
    const ordered = [...items].sort((x, y) => (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
    for (const c of ordered) {
      const res = await trx
        .updateTable("deliveries")
        .set({
          status: c.status,
          due_at: c.dueAt,
          lease_owner: null,
          updated_at: c.now,
          last_reason: c.reason,
          evidence: c.evidence,
          ...(c.encryption === null ? {} : { encryption: c.encryption }),
        })
        .where("id", "=", c.id)
        .where("lease_owner", "=", c.workerId)
        .where("attempts", "=", c.attempt)
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) === 0) continue;
      applied.push(c);
      events.push(...c.events);
      if (c.sandbox !== null) sandbox.push(c.sandbox);
      if (c.suppression !== null) suppressions.push(c.suppression);
    }
    for (const part of chunks(events, 400)) await trx.insertInto("events").values(part).execute();
    const recorded = new Set(events.map((e) => e.id));
    await insertOutbox(
      trx,
      webhooks.filter((w) => w.event_id !== null && recorded.has(w.event_id)),
    );
    for (const part of chunks(sandbox, 100)) await trx.insertInto("sandbox_messages").values(part).execute();
    for (const row of suppressions) {
      const res = await trx
        .insertInto("suppressions")
        .values(row)
        .onConflict((oc) => oc.columns(["org_id", "address_bidx"]).doNothing())
        .executeTakeFirst();
      if (Number(res.numInsertedOrUpdatedRows ?? 0) > 0) added.push(row);
    }
    // The audit entries of earlier results, buffered meanwhile (carryingAudit): last, so on
    // PostgreSQL the chain heads are locked after the delivery rows, in one order everywhere.
    await appendChains({ ...db, kysely: trx }, audit);
    return { applied, suppressions: added };
  });
}

/** How much work is owed, by state: `due` now (any status), else what the rows are waiting for. */
export interface QueueDepth {
  due: number;
  /** Held until their send_at. */
  scheduled: number;
  /** Waiting for a retry. */
  deferred: number;
  /** Leased by a worker. */
  sending: number;
}

export async function queueDepth(db: Db, now: number): Promise<QueueDepth> {
  const rows = await db.kysely
    .selectFrom("deliveries")
    .select((eb) => [
      "status",
      eb.fn.countAll<number>().as("total"),
      eb.fn.sum<number>(eb.case().when("due_at", "<=", now).then(1).else(0).end()).as("due"),
    ])
    .where("due_at", "is not", null)
    .groupBy("status")
    .execute();
  const depth: QueueDepth = { due: 0, scheduled: 0, deferred: 0, sending: 0 };
  for (const row of rows) {
    const due = Number(row.due ?? 0);
    const waiting = Number(row.total) - due;
    depth.due += due;
    if (row.status === "scheduled") depth.scheduled += waiting;
    else if (row.status === "sending") depth.sending += waiting;
    else depth.deferred += waiting;
  }
  return depth;
}

/**
 * The delivery a DSN names by its VERP return path. Cross-org on purpose: the bounce
 * receiver knows only the delivery id (its VERP tag is checked with the row's org key).
 */
export async function findDeliveryForReport(db: Db, id: string): Promise<DeliveriesTable | undefined> {
  return db.kysely.selectFrom("deliveries").selectAll().where("id", "=", id).executeTakeFirst();
}

/**
 * Records what an asynchronous report (a DSN) says about a delivery: the event, an
 * optional new status (a later bounce overrides `delivered`), and a suppression.
 */
export async function recordReport(
  db: Db,
  r: {
    deliveryId: string;
    status: DeliveryStatus | null;
    reason: string | null;
    now: number;
    event: EventsTable;
    suppression: SuppressionsTable | null;
    /** The event's webhook outbox rows (WebhookOutbox.rowsFor). */
    webhooks?: readonly WebhookDeliveriesTable[];
  },
): Promise<void> {
  await db.kysely.transaction().execute(async (trx) => {
    if (r.status !== null)
      await trx
        .updateTable("deliveries")
        .set({ status: r.status, last_reason: r.reason, updated_at: r.now, due_at: null, lease_owner: null })
        .where("id", "=", r.deliveryId)
        .execute();
    await trx.insertInto("events").values(r.event).execute();
    await insertOutbox(trx, r.webhooks ?? []);
    if (r.suppression !== null)
      await trx
        .insertInto("suppressions")
        .values(r.suppression)
        .onConflict((oc) => oc.columns(["org_id", "address_bidx"]).doNothing())
        .execute();
  });
}
