import { createHash, createHmac } from "node:crypto";
import { open, openJson, seal, sealJson } from "../crypto/aead.ts";
import { normalizeAddress } from "../crypto/blind-index.ts";
import type { Db } from "../store/db.ts";
import type { GroupCommitter } from "../store/group-commit.ts";
import { deliveriesOf, findByIdempotency, type SubmissionRows } from "../store/messages.ts";
import type { DeliveriesTable, EventsTable } from "../store/schema.ts";
import { suppressedAmong } from "../store/suppressions.ts";
import type { Clock } from "./clock.ts";
import { SealpostError } from "./errors.ts";
import { newId } from "./ids.ts";
import type { Keyring } from "./keyring.ts";
import type { Limits, StoredContent, ValidatedMessage } from "./message.ts";
import type { Principal } from "./principal.ts";
import { validateMessage } from "./validate.ts";

/**
 * The one submit path. Every entry point (REST, SMTP submission, the Paubox-compatible
 * API) translates its input and calls submitMessage: validate → policy → encrypt at rest
 * → enqueue (durable group commit) → answer. Nothing is acknowledged before the commit.
 */
export interface SubmitDeps {
  db: Db;
  keyring: Keyring;
  clock: Clock;
  committer: GroupCommitter<SubmissionRows>;
  limits: Limits;
  maxDeliveryMs: number;
  /** Whether the org may send live mail from this (ASCII) domain: a verified sending domain. */
  senderVerified: (orgId: string, domain: string) => Promise<boolean>;
  /** Wakes local workers after a commit. */
  notify: () => void;
}

export interface SubmitResult {
  id: string;
  status: "queued";
  created_at: string;
  deliveries: { id: string; to: string; kind: "to" | "cc" | "bcc"; status: string }[];
}

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

export function recipientAad(deliveryId: string): string {
  return `rcpt:${deliveryId}`;
}
export function contentAad(messageId: string): string {
  return `content:${messageId}`;
}
export function attachmentAad(messageId: string, idx: number): string {
  return `att:${messageId}:${idx}`;
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (typeof value === "object" && value !== null)
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`)
      .join(",")}}`;
  return JSON.stringify(value) ?? "null";
}

function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  const errcode = (err as { errcode?: unknown }).errcode;
  return code === "23505" || errcode === 2067 || errcode === 1555;
}

export async function submitMessage(
  deps: SubmitDeps,
  principal: Principal,
  input: unknown,
  opts: { idempotencyKey?: string | undefined } = {},
): Promise<SubmitResult> {
  const key = opts.idempotencyKey;
  if (key !== undefined && !IDEMPOTENCY_KEY.test(key))
    throw new SealpostError("invalid_idempotency_key", {
      field: "Idempotency-Key",
      detail: "Idempotency-Key must be 1-255 printable ASCII characters.",
    });
  const msg = validateMessage(input, deps.limits);
  // Step "policy": live mail only from the org's verified domains (test mode is exempt).
  const live = principal.mode === "live" && !msg.sandbox;
  if (live && !(await deps.senderVerified(principal.orgId, msg.from.asciiDomain)))
    throw new SealpostError("domain_not_verified", { field: "from" });
  const orgKeys = await deps.keyring.orgKeys(principal.orgId);
  let idem: { hash: string; request: string } | null = null;
  if (key !== undefined) {
    idem = {
      hash: createHmac("sha256", orgKeys.indexKey).update(`idempotency\0${key}`).digest("base64url"),
      request: createHash("sha256").update(canonical(input)).digest("base64url"),
    };
    const replay = await replayIdempotent(deps, principal, idem);
    if (replay !== null) return replay;
  }
  const rows = await buildRows(deps, principal, msg, idem);
  try {
    await deps.committer.submit(rows);
  } catch (err) {
    if (idem !== null && isUniqueViolation(err)) {
      const replay = await replayIdempotent(deps, principal, idem);
      if (replay !== null) return replay;
    }
    throw err;
  }
  deps.notify();
  return {
    id: rows.message.id,
    status: "queued",
    created_at: new Date(rows.message.created_at).toISOString(),
    deliveries: rows.deliveries.map((d, i) => ({
      id: d.id,
      to: msg.recipients[i]?.address ?? "",
      kind: d.kind,
      status: d.status,
    })),
  };
}

async function replayIdempotent(
  deps: SubmitDeps,
  principal: Principal,
  idem: { hash: string; request: string },
): Promise<SubmitResult | null> {
  const existing = await findByIdempotency(deps.db, principal.orgId, idem.hash);
  if (existing === undefined) return null;
  if (existing.request_hash !== idem.request)
    throw new SealpostError("idempotency_conflict", { field: "Idempotency-Key" });
  const dek =
    existing.data_key === null
      ? null
      : await deps.keyring.openMessageKey(
          existing.org_id,
          existing.id,
          existing.data_key,
          existing.data_key_id,
        );
  const deliveries = await deliveriesOf(deps.db, principal.orgId, [existing.id]);
  return {
    id: existing.id,
    status: "queued",
    created_at: new Date(existing.created_at).toISOString(),
    deliveries: deliveries.map((d) => ({
      id: d.id,
      to: dek === null ? "" : open(dek, Buffer.from(d.recipient), recipientAad(d.id)).toString("utf8"),
      kind: d.kind,
      // The first answer, as it was: every delivery had just been queued (or suppressed).
      status: d.status === "suppressed" ? "suppressed" : "queued",
    })),
  };
}

async function buildRows(
  deps: SubmitDeps,
  principal: Principal,
  msg: ValidatedMessage,
  idem: { hash: string; request: string } | null,
): Promise<SubmissionRows> {
  const now = deps.clock.now();
  const messageId = newId("msg", now);
  const dek = await deps.keyring.newMessageKey(principal.orgId, messageId);
  const content: StoredContent = {
    v: 1,
    from: { name: msg.from.name, address: msg.from.address },
    to: msg.recipients
      .filter((r) => r.kind === "to")
      .map((r) => (r.name ? `${r.name} <${r.address}>` : r.address)),
    cc: msg.recipients
      .filter((r) => r.kind === "cc")
      .map((r) => (r.name ? `${r.name} <${r.address}>` : r.address)),
    replyTo: msg.replyTo.map((r) => (r.name ? `${r.name} <${r.address}>` : r.address)),
    subject: msg.subject,
    text: msg.text,
    html: msg.html,
    headers: msg.headers,
    metadata: msg.metadata,
    attachments: msg.attachments.map((a) => ({
      filename: a.filename,
      contentType: a.contentType,
      contentId: a.contentId,
      size: a.content.length,
    })),
  };
  const size =
    msg.attachments.reduce((n, a) => n + a.content.length, 0) +
    Buffer.byteLength(msg.text ?? "") +
    Buffer.byteLength(msg.html ?? "");
  const deliveries: DeliveriesTable[] = [];
  const events: EventsTable[] = [];
  const bidxs = await Promise.all(
    msg.recipients.map((r) => deps.keyring.addressIndex(principal.orgId, normalizeAddress(r.address))),
  );
  // Step "suppression": a suppressed address gets a final `suppressed` delivery, no attempt.
  const suppressed = await suppressedAmong(deps.db, principal.orgId, bidxs);
  for (const [i, r] of msg.recipients.entries()) {
    const id = newId("dlv", now);
    const bidx = bidxs[i] ?? "";
    const blocked = suppressed.has(bidx);
    deliveries.push({
      id,
      message_id: messageId,
      org_id: principal.orgId,
      kind: r.kind,
      recipient: seal(dek.key, Buffer.from(r.address, "utf8"), recipientAad(id)),
      recipient_bidx: bidx,
      domain_bidx: await deps.keyring.domainIndex(principal.orgId, r.asciiDomain),
      status: blocked ? "suppressed" : "queued",
      due_at: blocked ? null : now,
      lease_owner: null,
      attempts: 0,
      expires_at: now + deps.maxDeliveryMs,
      created_at: now,
      updated_at: now,
      last_reason: blocked ? "suppressed" : null,
      evidence: null,
    });
    for (const type of blocked ? ["queued", "suppressed"] : ["queued"])
      events.push({
        id: newId("evt", now),
        org_id: principal.orgId,
        message_id: messageId,
        delivery_id: id,
        type,
        created_at: now,
        details: "{}",
      });
  }
  return {
    message: {
      id: messageId,
      org_id: principal.orgId,
      mode: principal.mode === "test" || msg.sandbox ? "test" : "live",
      created_at: now,
      api_key_id: principal.keyId,
      from_domain: msg.from.asciiDomain,
      encryption: msg.encryption,
      allow_non_tls: msg.allowNonTls ? 1 : 0,
      tags: JSON.stringify(msg.tags),
      recipient_count: msg.recipients.length,
      attachment_count: msg.attachments.length,
      size_bytes: size,
      content: sealJson(dek.key, content, contentAad(messageId)),
      data_key: dek.wrapped,
      data_key_id: dek.keyId,
      idempotency_hash: idem?.hash ?? null,
      request_hash: idem?.request ?? null,
    },
    attachments: msg.attachments.map((a, idx) => ({
      message_id: messageId,
      idx,
      content: seal(dek.key, a.content, attachmentAad(messageId, idx)),
    })),
    deliveries,
    events,
  };
}

/** Decrypts a stored message's content (for the worker and the content-scoped API). */
export function openContent(dek: Buffer, messageId: string, sealed: Uint8Array): StoredContent {
  return openJson<StoredContent>(dek, Buffer.from(sealed), contentAad(messageId));
}
