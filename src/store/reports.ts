import { sql } from "kysely";
import type { DeliveryStatus, LegalHoldsTable } from "./schema.ts";
import { type OrgScope, selectOrg } from "./scope.ts";

/**
 * The compliance report's reads (ADR 0009 §5): aggregates of one org's messages,
 * deliveries, legal holds and audit chain over a period `[from, to)`. Counting happens in
 * SQL (GROUP BY); the JSON columns (delivery evidence, audit details) are read in pages of
 * at most `limit` rows for the caller to parse. The audit log has no `org_id`: an org's
 * entries are its chain, named by the org id, so it is read with `chain = scope.orgId`.
 */
export interface Span {
  readonly from: number;
  readonly to: number;
}

const DAY_MS_SQL = sql.raw("86400000");

export async function messageCounts(
  scope: OrgScope,
  span: Span,
): Promise<{ mode: "live" | "test"; encryption: string; n: number }[]> {
  const rows = await selectOrg(scope, "messages")
    .select(["messages.mode", "messages.encryption", (eb) => eb.fn.countAll<number>().as("n")])
    .where("messages.created_at", ">=", span.from)
    .where("messages.created_at", "<", span.to)
    .groupBy(["messages.mode", "messages.encryption"])
    .execute();
  return rows.map((r) => ({ ...r, n: Number(r.n) }));
}

/**
 * The PHI summaries (`messages.phi`, JSON counts) of the messages created in the span, one
 * row per distinct summary with how many messages had it; messages without PHI are left out.
 * Summaries repeat a lot, so grouping in SQL keeps the rows few.
 */
export async function phiSummaryCounts(scope: OrgScope, span: Span): Promise<{ phi: string; n: number }[]> {
  const rows = await selectOrg(scope, "messages")
    .select(["messages.phi", (eb) => eb.fn.countAll<number>().as("n")])
    .where("messages.created_at", ">=", span.from)
    .where("messages.created_at", "<", span.to)
    .where("messages.phi", "is not", null)
    .groupBy("messages.phi")
    .execute();
  return rows.flatMap((r) => (r.phi === null ? [] : [{ phi: r.phi, n: Number(r.n) }]));
}

/** Recipients (deliveries) of the messages created in the span, by encryption, status and reason. */
export async function recipientCounts(
  scope: OrgScope,
  span: Span,
): Promise<{ encryption: string; status: DeliveryStatus; last_reason: string | null; n: number }[]> {
  const rows = await selectOrg(scope, "deliveries")
    .innerJoin("messages", "messages.id", "deliveries.message_id")
    .select([
      "messages.encryption",
      "deliveries.status",
      "deliveries.last_reason",
      (eb) => eb.fn.countAll<number>().as("n"),
    ])
    .where("messages.created_at", ">=", span.from)
    .where("messages.created_at", "<", span.to)
    .groupBy(["messages.encryption", "deliveries.status", "deliveries.last_reason"])
    .execute();
  return rows.map((r) => ({ ...r, n: Number(r.n) }));
}

/** Where a page of messages ends: the next page starts after it, in (created_at, id) order. */
export interface MessageCursor {
  readonly createdAt: number;
  readonly id: string;
}

/** One page of the ids of the messages created in the span, oldest first (the org's created_at index). */
export async function messagePage(
  scope: OrgScope,
  span: Span,
  after: MessageCursor | null,
  limit: number,
): Promise<{ id: string; created_at: number }[]> {
  let q = selectOrg(scope, "messages")
    .select(["messages.id", "messages.created_at"])
    .where("messages.created_at", ">=", span.from)
    .where("messages.created_at", "<", span.to);
  if (after !== null)
    q = q.where((eb) =>
      eb.or([
        eb("messages.created_at", ">", after.createdAt),
        eb.and([eb("messages.created_at", "=", after.createdAt), eb("messages.id", ">", after.id)]),
      ]),
    );
  return q.orderBy("messages.created_at").orderBy("messages.id").limit(limit).execute();
}

/** The status and evidence of these messages' recipients that have evidence. */
export async function evidenceOf(
  scope: OrgScope,
  messageIds: readonly string[],
): Promise<{ status: DeliveryStatus; evidence: string | null }[]> {
  if (messageIds.length === 0) return [];
  return selectOrg(scope, "deliveries")
    .select(["deliveries.status", "deliveries.evidence"])
    .where("deliveries.message_id", "in", [...messageIds])
    .where("deliveries.evidence", "is not", null)
    .execute();
}

/** Messages per UTC day (days since the epoch) in the span. */
export async function dailyMessageCounts(scope: OrgScope, span: Span): Promise<{ day: number; n: number }[]> {
  const day = sql<number>`${sql.ref("messages.created_at")} / ${DAY_MS_SQL}`;
  const rows = await selectOrg(scope, "messages")
    .select([day.as("day"), (eb) => eb.fn.countAll<number>().as("n")])
    .where("messages.created_at", ">=", span.from)
    .where("messages.created_at", "<", span.to)
    .groupBy(day)
    .execute();
  return rows.map((r) => ({ day: Number(r.day), n: Number(r.n) }));
}

/** How many of the org's audit entries in the span have each of these actions and outcomes. */
export async function auditCounts(
  scope: OrgScope,
  span: Span,
  actions: readonly string[],
  outcomes: readonly string[] | null,
): Promise<{ action: string; outcome: string; n: number }[]> {
  if (actions.length === 0 || outcomes?.length === 0) return [];
  let q = scope.db.kysely
    .selectFrom("audit_log")
    .select(["action", "outcome", (eb) => eb.fn.countAll<number>().as("n")])
    .where("chain", "=", scope.orgId)
    .where("at", ">=", span.from)
    .where("at", "<", span.to)
    .where("action", "in", [...actions]);
  if (outcomes !== null) q = q.where("outcome", "in", [...outcomes]);
  const rows = await q.groupBy(["action", "outcome"]).execute();
  return rows.map((r) => ({ ...r, n: Number(r.n) }));
}

/** One page, by seq, of the `details` of the org's audit entries in the span with `action` and outcome ok. */
export async function auditDetailsPage(
  scope: OrgScope,
  span: Span,
  action: string,
  afterSeq: number,
  limit: number,
): Promise<{ seq: number; details: string }[]> {
  return scope.db.kysely
    .selectFrom("audit_log")
    .select(["seq", "details"])
    .where("chain", "=", scope.orgId)
    .where("at", ">=", span.from)
    .where("at", "<", span.to)
    .where("action", "=", action)
    .where("outcome", "=", "ok")
    .where("seq", ">", afterSeq)
    .orderBy("seq")
    .limit(limit)
    .execute();
}

export interface LegalHoldCounts {
  created: { kind: LegalHoldsTable["kind"]; n: number }[];
  released: number;
  activeAtEnd: number;
}

export async function legalHoldCounts(scope: OrgScope, span: Span): Promise<LegalHoldCounts> {
  const created = await selectOrg(scope, "legal_holds")
    .select(["legal_holds.kind", (eb) => eb.fn.countAll<number>().as("n")])
    .where("legal_holds.created_at", ">=", span.from)
    .where("legal_holds.created_at", "<", span.to)
    .groupBy("legal_holds.kind")
    .execute();
  const released = await selectOrg(scope, "legal_holds")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .where("legal_holds.released_at", ">=", span.from)
    .where("legal_holds.released_at", "<", span.to)
    .executeTakeFirst();
  const active = await selectOrg(scope, "legal_holds")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .where("legal_holds.created_at", "<", span.to)
    .where((eb) =>
      eb.or([eb("legal_holds.released_at", "is", null), eb("legal_holds.released_at", ">=", span.to)]),
    )
    .executeTakeFirst();
  return {
    created: created.map((r) => ({ kind: r.kind, n: Number(r.n) })),
    released: Number(released?.n ?? 0),
    activeAtEnd: Number(active?.n ?? 0),
  };
}
