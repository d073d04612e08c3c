import { deliveryEntry } from "../audit/delivery.ts";
import type { AuditLog } from "../audit/types.ts";
import { openJson } from "../crypto/aead.ts";
import type { PolicyCache } from "../policy/org-policy.ts";
import type { OrgPolicy } from "../policy/types.ts";
import type { Db } from "../store/db.ts";
import type { GroupCommitter } from "../store/group-commit.ts";
import type { SubmissionRows } from "../store/messages.ts";
import { type OrgScope, scopeOf } from "../store/scope.ts";
import type { TemplateCache } from "../templates/engine.ts";
import { applyTemplate } from "../templates/render-step.ts";
import type { Clock } from "./clock.ts";
import { isSealpostError, SealpostError } from "./errors.ts";
import {
  batchRow,
  checkIdempotencyKey,
  type Idem,
  idempotencyOf,
  isUniqueViolation,
  replayBatch,
  replayMessage,
} from "./idempotency.ts";
import type { Keyring } from "./keyring.ts";
import type { Limits, StoredContent, ValidatedMessage } from "./message.ts";
import { applyPhiPolicy } from "./phi-step.ts";
import { type Principal, senderPermitted } from "./principal.ts";
import { acceptedResult, buildRows, contentAad } from "./submit-rows.ts";
import { validateRequest } from "./validate.ts";

export { contentAad, recipientAad } from "./submit-rows.ts";

/**
 * The one submit path. Every entry point (REST, SMTP submission, the Paubox-compatible
 * API) translates its input and calls submitMessage: validate → policy → template → phi → encrypt at
 * rest → enqueue (durable group commit) → answer. Nothing is acknowledged before the commit.
 */
export interface SubmitDeps {
  db: Db;
  keyring: Keyring;
  clock: Clock;
  committer: GroupCommitter<SubmissionRows>;
  limits: Limits;
  maxDeliveryMs: number;
  /** Whether the org may send live mail from this (ASCII) domain: a verified sending domain. */
  senderVerified: (scope: OrgScope, domain: string) => Promise<boolean>;
  /** Wakes local workers after a commit. */
  notify: () => void;
  /** Records `delivery.queued|scheduled|suppressed` after the commit (ADR 0009 §2). */
  audit: AuditLog;
  /** The org policies (ADR 0010 §1), read once per request for the step "phi". */
  policies: PolicyCache;
  /** Compiled template versions for the step "template" (ADR 0011 §1). */
  templates: TemplateCache;
}

/** The submit-time events of committed messages, buffered: the answer does not wait for them. */
function auditSubmitted(deps: SubmitDeps, principal: Principal, committed: readonly SubmissionRows[]): void {
  const actor = { actorType: "key", actorId: principal.keyId } as const;
  for (const rows of committed) for (const e of rows.events) deps.audit.record(deliveryEntry(actor, e));
}

export interface SubmitResult {
  id: string;
  /** `scheduled` when the message is held until `send_at`. */
  status: "queued" | "scheduled";
  created_at: string;
  send_at: string | null;
  deliveries: { id: string; to: string; kind: "to" | "cc" | "bcc"; status: string }[];
}

/** One item of a batch, in request order: the submit answer, or the coded error of that item. */
export type BatchItemResult =
  | { index: number; result: SubmitResult }
  | { index: number; error: SealpostError };

export const MAX_BATCH_MESSAGES = 500;

/**
 * Step "policy": a key restricted to sender domains sends only From those (test keys
 * too); live mail only from the org's verified domains (test mode is exempt).
 */
async function checkPolicy(
  deps: SubmitDeps,
  principal: Principal,
  msg: ValidatedMessage,
  verified: (domain: string) => Promise<boolean> = (d) => deps.senderVerified(scopeOf(deps.db, principal), d),
): Promise<void> {
  if (!senderPermitted(principal, msg.from.asciiDomain))
    throw new SealpostError("sender_not_allowed", { field: "from" });
  const live = principal.mode === "live" && !msg.sandbox;
  if (live && !(await verified(msg.from.asciiDomain)))
    throw new SealpostError("domain_not_verified", { field: "from" });
}

export async function submitMessage(
  deps: SubmitDeps,
  principal: Principal,
  input: unknown,
  opts: { idempotencyKey?: string | undefined } = {},
): Promise<SubmitResult> {
  const key = opts.idempotencyKey;
  checkIdempotencyKey(key);
  // A replay answers first: the body was valid when it was accepted, even if its send_at
  // has passed or its domain changed since.
  let idem: Idem | null = null;
  if (key !== undefined) {
    idem = await idempotencyOf(deps, principal, "idempotency", key, input);
    const replay = await replayMessage(deps, principal, idem);
    if (replay !== null) return replay;
  }
  const { message: valid, template } = validateRequest(input, deps.limits, deps.clock.now());
  await checkPolicy(deps, principal, valid);
  const rendered = await applyTemplate(deps, scopeOf(deps.db, principal), valid, template);
  const msg = applyPhiPolicy(await deps.policies.get(principal.orgId), rendered.message, rendered.marked);
  const rows = await buildRows(deps, principal, msg, idem);
  try {
    await deps.committer.submit(rows);
  } catch (err) {
    if (idem !== null && isUniqueViolation(err)) {
      const replay = await replayMessage(deps, principal, idem);
      if (replay !== null) return replay;
    }
    throw err;
  }
  deps.notify();
  auditSubmitted(deps, principal, [rows]);
  return acceptedResult(rows, msg);
}

/** Whole-request checks of a batch body; an error here fails the request, not an item. */
function batchItems(input: unknown): unknown[] {
  if (typeof input !== "object" || input === null || Array.isArray(input))
    throw new SealpostError("invalid_type", { detail: "The body must be a JSON object." });
  for (const k of Object.keys(input))
    if (k !== "messages")
      throw new SealpostError("unknown_field", {
        field: /^[A-Za-z_][A-Za-z0-9_]{0,31}$/.test(k) ? k : "?",
        detail: "A batch body has one field, messages.",
      });
  const { messages } = input as { messages?: unknown };
  if (messages === undefined) throw new SealpostError("missing_field", { field: "messages" });
  if (!Array.isArray(messages))
    throw new SealpostError("invalid_type", { field: "messages", detail: "messages must be a list." });
  if (messages.length === 0)
    throw new SealpostError("invalid_value", {
      field: "messages",
      detail: "messages must hold at least one message.",
    });
  if (messages.length > MAX_BATCH_MESSAGES)
    throw new SealpostError("batch_too_large", {
      field: "messages",
      detail: `messages must hold at most ${MAX_BATCH_MESSAGES} messages.`,
    });
  return messages;
}

/**
 * A batch (`{ "messages": [...] }`, up to 500): each item goes through the same
 * validation, policy, phi and row building as submitMessage and succeeds or fails on its own;
 * every accepted item is written in one durable commit. Results come back in request
 * order. With an Idempotency-Key the per-item outcome is recorded in the same commit and a
 * replay returns it (ADR 0004).
 */
export async function submitBatch(
  deps: SubmitDeps,
  principal: Principal,
  input: unknown,
  opts: { idempotencyKey?: string | undefined } = {},
): Promise<BatchItemResult[]> {
  const key = opts.idempotencyKey;
  checkIdempotencyKey(key);
  const list = batchItems(input);
  let idem: Idem | null = null;
  if (key !== undefined) {
    idem = await idempotencyOf(deps, principal, "idempotency-batch", key, input);
    const replay = await replayBatch(deps, principal, idem);
    if (replay !== null) return replay;
  }
  const now = deps.clock.now();
  const verified = new Map<string, Promise<boolean>>();
  const verifiedOnce = (domain: string): Promise<boolean> => {
    let p = verified.get(domain);
    if (p === undefined) {
      p = deps.senderVerified(scopeOf(deps.db, principal), domain);
      verified.set(domain, p);
    }
    return p;
  };
  const outcomes: ({ rows: SubmissionRows; msg: ValidatedMessage } | SealpostError)[] = [];
  let policy: OrgPolicy | null = null;
  for (const item of list) {
    try {
      const { message: valid, template } = validateRequest(item, deps.limits, now);
      await checkPolicy(deps, principal, valid, verifiedOnce);
      const rendered = await applyTemplate(deps, scopeOf(deps.db, principal), valid, template);
      policy ??= await deps.policies.get(principal.orgId);
      const msg = applyPhiPolicy(policy, rendered.message, rendered.marked);
      outcomes.push({ rows: await buildRows(deps, principal, msg, null), msg });
    } catch (err) {
      // A coded error belongs to this item; anything else (a bug, the store) fails the request.
      if (!isSealpostError(err)) throw err;
      outcomes.push(err);
    }
  }
  const accepted = outcomes.flatMap((o) => (isSealpostError(o) ? [] : [o.rows]));
  const first = accepted[0];
  if (idem !== null && first !== undefined)
    first.batch = batchRow(
      principal,
      idem,
      now,
      outcomes.map((o) => (isSealpostError(o) ? o : o.rows.message.id)),
    );
  try {
    await deps.committer.submitAll(accepted);
  } catch (err) {
    if (idem !== null && isUniqueViolation(err)) {
      const replay = await replayBatch(deps, principal, idem);
      if (replay !== null) return replay;
    }
    throw err;
  }
  if (accepted.length > 0) deps.notify();
  auditSubmitted(deps, principal, accepted);
  return outcomes.map((o, index) =>
    isSealpostError(o) ? { index, error: o } : { index, result: acceptedResult(o.rows, o.msg) },
  );
}

/** Decrypts a stored message's content (for the worker and the content-scoped API). */
export function openContent(dek: Buffer, messageId: string, sealed: Uint8Array): StoredContent {
  return openJson<StoredContent>(dek, Buffer.from(sealed), contentAad(messageId));
}
