import { bodyBuffer, type MessageBody } from "../core/body.ts";
import { newId } from "../core/ids.ts";
import { seal } from "../crypto/aead.ts";
import { addressDomain } from "../crypto/blind-index.ts";
import type { AttemptOutcome, TlsEvidence } from "../delivery/outcome.ts";
import type { Completion } from "../store/queue.ts";
import type { DeliveriesTable, EventsTable } from "../store/schema.ts";
import { retryDelay } from "./backoff.ts";
import type { PreparedMessage } from "./prepare.ts";
import type { ProtectionMode, ProtectionReason } from "./protect.ts";

/**
 * The worker's named steps after claim and prepare: route (sandbox or SMTP), deliver,
 * and record. Each returns values; only `record` turns them into rows.
 */
export interface DeliveryRequest {
  domain: string;
  from: string;
  to: string;
  raw: MessageBody;
  /** The message's mode: an SMTP deliverer refuses `test` (ADR 0008 §7). */
  mode: "live" | "test";
  /**
   * The content holds no PHI (a portal notice, an honoured allow_non_tls): it may go without
   * TLS to a server that offers none (ADR 0010 §7). Default false.
   */
  plaintextPermitted?: boolean;
  /** The org policy requires a verified MX certificate (ORed with the node's setting). */
  requireVerifiedCert?: boolean;
}

export interface Deliverer {
  deliver(req: DeliveryRequest): Promise<DeliveryResult>;
}

export interface DeliveryResult {
  outcome: AttemptOutcome;
  /** MTA-STS mode, policy id and MX mismatches (null when it did not apply). */
  mtaSts: object | null;
}

export type Route = { kind: "sandbox" } | { kind: "smtp"; domain: string };

export function chooseRoute(message: PreparedMessage, recipient: string): Route {
  if (message.mode === "test") return { kind: "sandbox" };
  return { kind: "smtp", domain: addressDomain(recipient) };
}

export function sandboxAad(deliveryId: string): string {
  return `sandbox:${deliveryId}`;
}

/** Evidence in the shape the API shows; built from the outcome by allow-list. */
export function evidenceJson(
  e: TlsEvidence | null,
  outcome: AttemptOutcome | null,
  extra: object = {},
): string {
  return JSON.stringify({
    ...(e === null
      ? {}
      : {
          mx_host: e.host,
          ip: e.ip,
          port: e.port,
          tls_version: e.tlsVersion,
          cipher: e.cipher,
          cert_verified: e.certVerified,
          cert_error: e.certError,
        }),
    ...(outcome?.reply == null
      ? {}
      : { reply_code: outcome.reply.code, enhanced_code: outcome.reply.enhanced, reply: outcome.reply.text }),
    ...extra,
  });
}

/** The protection a delivery got and why: `encryption` in its evidence, its `encryption` column. */
export interface Protection {
  mode: ProtectionMode;
  reason: ProtectionReason | null;
}

/** A portal notice that went out for the delivery (event `portal_notified`). */
export interface NoticeSent {
  linkId: string;
  expiresAt: number;
}

function protectionExtra(p: Protection | null): object {
  return p === null ? {} : { encryption: { mode: p.mode, reason: p.reason } };
}

interface RecordInput {
  delivery: DeliveriesTable;
  workerId: string;
  now: number;
  random?: (() => number) | undefined;
  schedule?: readonly number[] | undefined;
}

/**
 * What a delivery event (sent, delivered, deferred, bounced, failed) records in its own
 * columns for stats (ADR 0011 §4): the delivery's protection mode and the attempt's TLS version.
 */
interface EventFacts {
  protection: Protection | null;
  tls: TlsEvidence | null;
}

function event(
  d: DeliveriesTable,
  now: number,
  type: string,
  details: string,
  facts: EventFacts | null = null,
): EventsTable {
  return {
    id: newId("evt", now),
    org_id: d.org_id,
    message_id: d.message_id,
    delivery_id: d.id,
    type,
    created_at: now,
    details,
    encryption: facts?.protection?.mode ?? null,
    tls_version: facts?.tls?.tlsVersion ?? null,
  };
}

function base(
  input: RecordInput,
): Pick<Completion, "id" | "workerId" | "attempt" | "now" | "sandbox" | "suppression" | "encryption"> {
  return {
    id: input.delivery.id,
    workerId: input.workerId,
    attempt: input.delivery.attempts,
    now: input.now,
    sandbox: null,
    suppression: null,
    encryption: null,
  };
}

/** Step "check suppression": the address was suppressed after the message was queued. */
export function recordSuppressed(input: RecordInput): Completion {
  return {
    ...base(input),
    status: "suppressed",
    dueAt: null,
    reason: "suppressed",
    evidence: null,
    events: [event(input.delivery, input.now, "suppressed", "{}")],
  };
}

/**
 * Test mode: the sandbox keeps what would have been sent to this recipient (the signed
 * message, its encrypted form, or the portal notice), sealed with the message's key.
 */
export function recordSandbox(
  input: RecordInput,
  message: PreparedMessage,
  raw: MessageBody | null = message.raw,
  protection: Protection | null = null,
  notice: NoticeSent | null = null,
): Completion {
  const d = input.delivery;
  const evidence = JSON.stringify({ sandbox: true, ...protectionExtra(protection) });
  return {
    ...base(input),
    status: "delivered",
    dueAt: null,
    reason: null,
    evidence,
    encryption: protection?.mode ?? null,
    events: [
      ...(notice === null ? [] : [noticeEvent(d, input.now, notice)]),
      event(d, input.now, "sent", evidence, { protection, tls: null }),
      event(d, input.now, "delivered", evidence, { protection, tls: null }),
    ],
    sandbox: {
      delivery_id: d.id,
      org_id: d.org_id,
      message_id: d.message_id,
      created_at: input.now,
      raw: seal(message.dek, bodyBuffer(raw ?? Buffer.alloc(0)), sandboxAad(d.id)),
    },
  };
}

function noticeEvent(d: DeliveriesTable, now: number, notice: NoticeSent): EventsTable {
  return event(
    d,
    now,
    "portal_notified",
    JSON.stringify({ link_id: notice.linkId, expires_at: new Date(notice.expiresAt).toISOString() }),
  );
}

/**
 * The completion of an SMTP attempt (or of a refusal before one: no key, encryption failed,
 * portal forbidden). `protection` goes into the evidence and the delivery's `encryption`
 * column, also on a deferral, so a retry keeps the mode (a portal delivery resends its notice).
 */
export function recordOutcome(
  input: RecordInput,
  result: DeliveryResult,
  protection: Protection | null = null,
  notice: NoticeSent | null = null,
): Completion {
  const { outcome } = result;
  const sts = {
    ...(result.mtaSts === null ? {} : { mta_sts: result.mtaSts }),
    ...protectionExtra(protection),
  };
  const d = input.delivery;
  const now = input.now;
  const encryption = protection?.mode ?? null;
  const facts: EventFacts = { protection, tls: outcome.evidence };
  if (outcome.kind === "sent") {
    const evidence = evidenceJson(outcome.evidence, outcome, sts);
    return {
      ...base(input),
      status: "delivered",
      dueAt: null,
      reason: null,
      evidence,
      encryption,
      events: [
        ...(notice === null ? [] : [noticeEvent(d, now, notice)]),
        event(d, now, "sent", evidence, facts),
        event(d, now, "delivered", evidence, facts),
      ],
    };
  }
  // Retry until the window closes; the last retry is at the window's end, not before it.
  const retryAt = Math.min(now + retryDelay(d.attempts, input.random, input.schedule), d.expires_at);
  if (outcome.kind === "soft_fail" && now < d.expires_at) {
    const evidence = evidenceJson(outcome.evidence, outcome, {
      ...sts,
      reason: outcome.reason,
      retry_at: new Date(retryAt).toISOString(),
    });
    return {
      ...base(input),
      status: "deferred",
      dueAt: retryAt,
      reason: outcome.reason,
      evidence,
      encryption,
      events: [event(d, now, "deferred", evidence, facts)],
    };
  }
  const evidence = evidenceJson(outcome.evidence, outcome, {
    ...sts,
    reason: outcome.reason,
    ...(outcome.kind === "soft_fail" ? { gave_up: true } : {}),
  });
  // A 5xx from the receiving server is a bounce; anything else permanent is a failure.
  const status =
    outcome.kind === "hard_fail" && outcome.reason === "rejected_permanent" ? "bounced" : "failed";
  return {
    ...base(input),
    status,
    dueAt: null,
    reason: outcome.reason,
    evidence,
    encryption,
    events: [event(d, now, status, evidence, facts)],
  };
}

/** A message whose content was destroyed (crypto-shredded) can no longer be delivered. */
export function recordUnavailable(input: RecordInput): Completion {
  const evidence = JSON.stringify({ reason: "content_unavailable" });
  return {
    ...base(input),
    status: "failed",
    dueAt: null,
    reason: "content_unavailable",
    evidence,
    events: [event(input.delivery, input.now, "failed", evidence)],
  };
}
