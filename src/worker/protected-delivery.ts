/**
 * Carrying out step "protect" (ADR 0010 §4, §7) for one recipient: choose the plan, compose
 * what the recipient gets (the signed message, its S/MIME or PGP form signed after
 * encryption, or a portal notice), and deliver it over SMTP or capture it in the sandbox.
 * The only path that permits plaintext is here: a portal notice (no PHI) and an honoured
 * allow_non_tls message, each only to a server that does not offer STARTTLS.
 */
import type { MessageBody } from "../core/body.ts";
import type { Keyring } from "../core/keyring.ts";
import { hardFail } from "../delivery/outcome.ts";
import { encryptMessage } from "../encryption/encrypt.ts";
import type { PolicyCache } from "../policy/org-policy.ts";
import type { OrgPolicy } from "../policy/types.ts";
import { portalNotice } from "../portal/notice.ts";
import { keysForIndex } from "../recipient-keys/lookup.ts";
import type { Db } from "../store/db.ts";
import type { DeliveriesTable } from "../store/schema.ts";
import type { PreparedMessage } from "./prepare.ts";
import { afterTlsFailure, chooseProtection, type Plan, type ProtectionReason } from "./protect.ts";
import type { Deliverer, DeliveryResult, NoticeSent, Protection, Route } from "./steps.ts";

export interface ProtectDeps {
  db: Db;
  keyring: Keyring;
  policies: PolicyCache;
  /** SEALPOST_PUBLIC_URL (or the API's own address): portal links start with it. */
  publicUrl: string;
  deliverer: Deliverer;
  /** DKIM for what is composed per recipient (MessageCache.sign). */
  sign(orgId: string, fromDomain: string, raw: MessageBody): Promise<Buffer[]>;
  /** SEALPOST_REQUIRE_VERIFIED_CERTS, ORed with the org's require_verified_certs. */
  requireVerifiedCerts: boolean;
  now(): number;
}

/** What one attempt produced, for the record step. */
export type ProtectedAttempt =
  | { kind: "sandbox"; raw: MessageBody; protection: Protection; notice: NoticeSent | null }
  | { kind: "smtp"; result: DeliveryResult; protection: Protection; notice: NoticeSent | null };

export interface ProtectRequest {
  message: PreparedMessage;
  delivery: DeliveriesTable;
  recipient: string;
  route: Route;
  /** The envelope sender (the delivery's VERP address); unused in the sandbox. */
  from: string;
}

/** The previous attempt's mode (deliveries.encryption) and the reason its evidence gave. */
export function previousProtection(
  delivery: DeliveriesTable,
): { mode: string; reason: string | null } | null {
  if (delivery.encryption === null) return null;
  let reason: string | null = null;
  try {
    const e = JSON.parse(delivery.evidence ?? "null") as { encryption?: { reason?: unknown } } | null;
    if (typeof e?.encryption?.reason === "string") reason = e.encryption.reason;
  } catch {
    // Evidence we cannot read: the reason is unknown, the mode still holds.
  }
  return { mode: delivery.encryption, reason };
}

export async function deliverProtected(deps: ProtectDeps, req: ProtectRequest): Promise<ProtectedAttempt> {
  const { message, delivery } = req;
  const policy = await deps.policies.get(message.orgId);
  // The delivery row carries the recipient's blind index (computed at submit): no second HMAC.
  const keys = await keysForIndex(
    { db: deps.db, keyring: deps.keyring },
    message.orgId,
    delivery.recipient_bidx,
    deps.now(),
  );
  const plan = chooseProtection({
    requested: message.encryption,
    keys,
    policy,
    previous: previousProtection(delivery),
    allowNonTls: message.allowNonTls,
  });
  return carryOut(deps, req, policy, plan);
}

function failed(plan: Extract<Plan, { fail: string }>, result?: DeliveryResult): ProtectedAttempt {
  return {
    kind: "smtp",
    result: {
      outcome: hardFail(plan.fail, result?.outcome.evidence ?? null),
      mtaSts: result?.mtaSts ?? null,
    },
    protection: { mode: plan.mode, reason: plan.reason },
    notice: null,
  };
}

async function carryOut(
  deps: ProtectDeps,
  req: ProtectRequest,
  policy: OrgPolicy,
  plan: Plan,
): Promise<ProtectedAttempt> {
  const { message } = req;
  if ("fail" in plan) return failed(plan);
  const protection: Protection = { mode: plan.mode, reason: plan.reason };
  const sandbox = req.route.kind === "sandbox";
  const send = (raw: MessageBody, plaintextPermitted: boolean): Promise<DeliveryResult> =>
    deps.deliverer.deliver({
      domain: req.route.kind === "smtp" ? req.route.domain : "",
      from: req.from,
      to: req.recipient,
      raw,
      mode: message.mode,
      plaintextPermitted,
      requireVerifiedCert: policy.require_verified_certs,
    });

  switch (plan.mode) {
    case "smime":
    case "pgp": {
      let encrypted: Buffer;
      try {
        encrypted = await encryptMessage(message.unsigned ?? Buffer.alloc(0), plan.key);
      } catch {
        // An unusable key: failed for good, never sent in clear. The error names nothing.
        return {
          kind: "smtp",
          result: { outcome: hardFail("encryption_failed"), mtaSts: null },
          protection,
          notice: null,
        };
      }
      const signed = await deps.sign(message.orgId, message.fromDomain, encrypted);
      if (sandbox) return { kind: "sandbox", raw: signed, protection, notice: null };
      return { kind: "smtp", result: await send(signed, false), protection, notice: null };
    }
    case "portal":
      return notify(deps, req, policy, plan.reason, send);
    case "none": {
      const raw = message.raw ?? [];
      if (sandbox) return { kind: "sandbox", raw, protection, notice: null };
      const result = await send(raw, true);
      // The server offered TLS after all: the evidence says what protected the message.
      const tls = result.outcome.kind === "sent" && result.outcome.evidence.tlsVersion !== null;
      return {
        kind: "smtp",
        result,
        protection: tls ? { mode: "tls", reason: "tls_available" } : protection,
        notice: null,
      };
    }
    case "tls": {
      const raw = message.raw ?? [];
      // Test mode: TLS counts as available (ADR 0010 §4).
      if (sandbox) return { kind: "sandbox", raw, protection, notice: null };
      const result = await send(raw, false);
      if (result.outcome.kind === "sent" || !plan.portalOnTlsFailure)
        return { kind: "smtp", result, protection, notice: null };
      const enforced = (result.mtaSts as { mode?: unknown } | null)?.mode === "enforce";
      const next = afterTlsFailure(
        result.outcome,
        req.delivery.last_reason,
        deps.requireVerifiedCerts || policy.require_verified_certs || enforced,
        policy,
      );
      if (next === null) return { kind: "smtp", result, protection, notice: null };
      if ("fail" in next) return failed(next, result);
      return notify(deps, req, policy, next.reason, send);
    }
  }
}

/** The portal notice for the recipient, signed, sent with plaintext permitted (it holds no PHI). */
async function notify(
  deps: ProtectDeps,
  req: ProtectRequest,
  policy: OrgPolicy,
  reason: ProtectionReason,
  send: (raw: MessageBody, plaintextPermitted: boolean) => Promise<DeliveryResult>,
): Promise<ProtectedAttempt> {
  const { message, delivery } = req;
  const notice = await portalNotice(
    { db: deps.db, keyring: deps.keyring, publicUrl: deps.publicUrl },
    policy,
    {
      orgId: message.orgId,
      messageId: message.id,
      deliveryId: delivery.id,
      recipient: req.recipient,
      fromDomain: message.fromDomain,
      now: deps.now(),
    },
  );
  const signed = await deps.sign(message.orgId, message.fromDomain, notice.raw);
  const protection: Protection = { mode: "portal", reason };
  const sent: NoticeSent = { linkId: notice.linkId, expiresAt: notice.expiresAt };
  if (req.route.kind === "sandbox") return { kind: "sandbox", raw: signed, protection, notice: sent };
  const result = await send(signed, true);
  return { kind: "smtp", result, protection, notice: result.outcome.kind === "sent" ? sent : null };
}
