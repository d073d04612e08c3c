/**
 * Seeding for the compliance report tests: messages through the real API (on a fake clock),
 * audit rows and legal holds inserted directly (their hashes do not matter to the report),
 * and delivery rows given realistic evidence. Audit seeds use seq numbers far above any the
 * real writer reaches in a test, so the two never collide in a chain.
 */
import assert from "node:assert/strict";
import { ensureOrg } from "../../src/core/orgs.ts";
import { addDomain } from "../../src/domains/service.ts";
import { createDnsResolver, type Sealpost } from "../../src/main.ts";
import { updateDomainCheck } from "../../src/store/domains.ts";
import type { AuditLogTable, DeliveriesTable, LegalHoldsTable } from "../../src/store/schema.ts";
import { systemScope } from "../../src/store/scope.ts";
import { auth, eventually } from "../helpers/app.ts";

export const DAY = 86_400_000;
/** A subject no report may ever contain (without PHI: a subject with PHI is refused by default). */
export const CANARY_SUBJECT = "Results for Jane Canary";

export interface MessageSpec {
  day: number;
  encryption?: "auto" | "tls";
  to: string[];
  cc?: string[];
  bcc?: string[];
  sandbox?: boolean;
  /** Hold it until this day (a scheduled message). */
  sendAtDay?: number;
  from?: string;
}

export async function send(
  app: Sealpost,
  token: string,
  spec: MessageSpec,
  start: number,
): Promise<{ id: string; deliveries: { id: string }[] }> {
  const res = await app.api.inject({
    method: "POST",
    url: "/v1/messages",
    headers: auth(token),
    payload: {
      from: spec.from ?? "clinic@example.com",
      to: spec.to,
      ...(spec.cc === undefined ? {} : { cc: spec.cc }),
      ...(spec.bcc === undefined ? {} : { bcc: spec.bcc }),
      subject: CANARY_SUBJECT,
      text: "Your results are ready.",
      ...(spec.encryption === undefined ? {} : { encryption: spec.encryption }),
      ...(spec.sandbox === true ? { sandbox: true } : {}),
      ...(spec.sendAtDay === undefined
        ? {}
        : { send_at: new Date(start + spec.sendAtDay * DAY).toISOString() }),
    },
  });
  assert.equal(res.statusCode, 202, res.body);
  return res.json();
}

export function recipientsOf(spec: MessageSpec): number {
  return spec.to.length + (spec.cc?.length ?? 0) + (spec.bcc?.length ?? 0);
}

/** Waits until no delivery of the instance is queued or being sent. */
export async function settled(app: Sealpost): Promise<void> {
  await eventually(async () => {
    const row = await app.db.kysely
      .selectFrom("deliveries")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where("status", "in", ["queued", "sending"])
      .executeTakeFirstOrThrow();
    return Number(row.n) === 0 ? true : undefined;
  }, 60_000);
}

export async function deliveriesOfMessage(app: Sealpost, messageId: string): Promise<DeliveriesTable[]> {
  return app.db.kysely
    .selectFrom("deliveries")
    .selectAll()
    .where("message_id", "=", messageId)
    .orderBy("id")
    .execute();
}

export async function setDelivery(
  app: Sealpost,
  id: string,
  set: { status: DeliveriesTable["status"]; last_reason: string | null; evidence: object; due_at?: number },
): Promise<void> {
  await app.db.kysely
    .updateTable("deliveries")
    .set({
      status: set.status,
      last_reason: set.last_reason,
      evidence: JSON.stringify(set.evidence),
      due_at: set.due_at ?? null,
    })
    .where("id", "=", id)
    .execute();
}

export interface AuditSeed {
  chain: string;
  at: number;
  action: string;
  outcome: string;
  status?: number;
  details?: Record<string, unknown>;
}

let seq = 1_000_000_000;

export async function insertAudit(app: Sealpost, seeds: readonly AuditSeed[]): Promise<void> {
  const rows: AuditLogTable[] = seeds.map((s) => {
    seq++;
    return {
      chain: s.chain,
      seq,
      id: `aud_seed${String(seq).padStart(22, "0")}`,
      at: s.at,
      actor_type: "key",
      actor_id: "key_seed",
      action: s.action,
      target_type: null,
      target_id: null,
      outcome: s.outcome,
      status: s.status ?? null,
      source_ip: "192.0.2.1",
      request_id: null,
      details: JSON.stringify(s.details ?? {}),
      prev_hash: "0".repeat(64),
      hash: "0".repeat(64),
    };
  });
  for (const row of rows) await app.db.kysely.insertInto("audit_log").values(row).execute();
}

export async function insertHold(
  app: Sealpost,
  hold: Pick<LegalHoldsTable, "org_id" | "kind" | "created_at" | "released_at"> & { n: number },
): Promise<void> {
  await app.db.kysely
    .insertInto("legal_holds")
    .values({
      id: `hold_seed${String(hold.n).padStart(21, "0")}`,
      org_id: hold.org_id,
      kind: hold.kind,
      message_id: hold.kind === "message" ? `msg_seed${hold.n}` : null,
      recipient_bidx: hold.kind === "recipient" ? `bidx${hold.n}` : null,
      reason: "LIT-1",
      created_at: hold.created_at,
      created_by: "key_seed",
      released_at: hold.released_at,
    })
    .execute();
}

/** A second org with a verified sending domain, and a key of its own. */
export async function otherOrg(
  app: Sealpost,
  key: (scopes: ["messages:send", "audit:read"], mode: "live", orgId: string) => Promise<string>,
): Promise<{ id: string; token: string }> {
  const org = await ensureOrg(app.db, app.keyring, app.clock, "other");
  const scope = systemScope(app.db, org.id, "admin");
  const deps = {
    db: app.db,
    keyring: app.keyring,
    clock: app.clock,
    resolver: createDnsResolver(app.config),
    hostname: "sealpost.test",
  };
  const domain = await addDomain(deps, scope, "other.example");
  await updateDomainCheck(scope, domain.id, {
    status: "verified",
    verified_at: app.clock.now(),
    last_check: "{}",
  });
  return { id: org.id, token: await key(["messages:send", "audit:read"], "live", org.id) };
}

/** The org's content is kept for 10 years: no purge job run can touch the seeded period. */
export async function keepContent(app: Sealpost, orgId: string): Promise<void> {
  await app.db.kysely
    .updateTable("orgs")
    .set({ content_retention_days: 3650 })
    .where("id", "=", orgId)
    .execute();
}
