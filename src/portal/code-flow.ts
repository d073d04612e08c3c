import { consumeCode, countFailedCode, updateLink } from "../store/portal.ts";
import { CODE_TTL_MS, codeHash, newCode, normalizeCode, sameHash } from "./codes.ts";
import { anonymous, recordPortal } from "./events.ts";
import { sendCode } from "./mail.ts";
import { newSession, SESSION_TTL_MS, sessionHash } from "./session.ts";
import { lockedMinutes, type OpenLink } from "./state.ts";
import type { PortalActor, PortalDeps } from "./types.ts";

/**
 * The one-time code (ADR 0010 §6): asking for one stores its keyed hash with a 10-minute
 * expiry and mails it; each wrong code counts, and at the org's `portal_code_attempts` the
 * link locks for `portal_lock_minutes` (the count starts again after). A new code is mailed at
 * most once a minute. A right code takes the
 * code out of the link and opens a 30-minute session.
 */
const CODE_RESEND_MS = 60_000;

export type CodeRequest = { readonly kind: "sent" } | { readonly kind: "locked"; readonly minutes: number };

export type Verification =
  | { readonly kind: "verified"; readonly session: string }
  | { readonly kind: "wrong"; readonly left: number }
  | { readonly kind: "no_code" }
  | { readonly kind: "locked"; readonly minutes: number };

export async function requestCode(
  deps: PortalDeps,
  open: OpenLink,
  actor: PortalActor,
): Promise<CodeRequest> {
  const now = deps.clock.now();
  const minutes = lockedMinutes(open.link, now);
  if (minutes > 0) return { kind: "locked", minutes };
  // At most one code a minute: whoever holds the link cannot flood the recipient's inbox.
  // The code sent a moment ago is still good, so the page asks for it as usual.
  const sentAt = open.link.code_expires_at === null ? null : open.link.code_expires_at - CODE_TTL_MS;
  if (sentAt !== null && now - sentAt < CODE_RESEND_MS) return { kind: "sent" };
  const code = newCode();
  const { indexKey } = await deps.keyring.orgKeys(open.link.org_id);
  await updateLink(open.scope, open.link.id, {
    code_hash: codeHash(indexKey, open.link.id, code),
    code_expires_at: now + CODE_TTL_MS,
  });
  await sendCode(deps, open, code);
  await recordPortal(deps, open.link, "portal_code_sent", anonymous(actor));
  return { kind: "sent" };
}

export async function verifyCode(
  deps: PortalDeps,
  open: OpenLink,
  typed: string,
  actor: PortalActor,
): Promise<Verification> {
  const now = deps.clock.now();
  const link = open.link;
  const minutes = lockedMinutes(link, now);
  if (minutes > 0) return { kind: "locked", minutes };
  if (link.code_hash === null || link.code_expires_at === null || link.code_expires_at <= now)
    return { kind: "no_code" };
  const code = normalizeCode(typed);
  const { indexKey } = await deps.keyring.orgKeys(link.org_id);
  const hash = code === null ? null : codeHash(indexKey, link.id, code);
  if (hash !== null && sameHash(hash, link.code_hash)) {
    if (!(await consumeCode(open.scope, link.id, hash))) return { kind: "no_code" };
    const session = newSession();
    await updateLink(open.scope, link.id, {
      session_hash: sessionHash(session),
      session_expires_at: now + SESSION_TTL_MS,
      verified_at: now,
      failed_codes: 0,
    });
    return { kind: "verified", session };
  }
  const policy = await deps.submit.policies.get(link.org_id);
  const failed = await countFailedCode(open.scope, link.id);
  await recordPortal(deps, link, "portal_code_failed", anonymous(actor), { details: { failures: failed } });
  if (failed < policy.portal_code_attempts)
    return { kind: "wrong", left: policy.portal_code_attempts - failed };
  await updateLink(open.scope, link.id, {
    locked_until: now + policy.portal_lock_minutes * 60_000,
    failed_codes: 0,
    code_hash: null,
    code_expires_at: null,
  });
  await recordPortal(deps, link, "portal_locked", anonymous(actor));
  return { kind: "locked", minutes: policy.portal_lock_minutes };
}
