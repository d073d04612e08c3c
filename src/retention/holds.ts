import { type AuditActor, changeEntry } from "../audit/entries.ts";
import type { AuditLog } from "../audit/types.ts";
import { parseBareAddress } from "../core/address.ts";
import type { Clock } from "../core/clock.ts";
import { SealpostError } from "../core/errors.ts";
import { newId } from "../core/ids.ts";
import type { Keyring } from "../core/keyring.ts";
import { normalizeAddress } from "../crypto/blind-index.ts";
import type { Db } from "../store/db.ts";
import { findMessage } from "../store/messages.ts";
import { findHold, insertHold, releaseHold } from "../store/retention.ts";
import type { LegalHoldsTable } from "../store/schema.ts";
import type { OrgScope } from "../store/scope.ts";

/**
 * Legal holds (ADR 0009 §4): while a hold is active, the purge neither shreds nor deletes
 * what it covers — one message, every message to one recipient address, or the whole org.
 * A recipient is held by its blind index; the address itself is not stored.
 */
export type HoldRequest =
  | { readonly kind: "message"; readonly messageId: string; readonly reason: string }
  | { readonly kind: "recipient"; readonly address: string; readonly reason: string }
  | { readonly kind: "org"; readonly reason: string };

export interface HoldDeps {
  db: Db;
  keyring: Keyring;
  clock: Clock;
  audit: AuditLog;
}

export const HOLD_KINDS = ["message", "recipient", "org"] as const;
export const DEFAULT_REASON = "legal";
/** A short code or ticket reference: it must not be able to carry PHI. */
export const REASON = /^[A-Za-z0-9._:-]{1,64}$/;
const HOLD_ID = /^hold_[0-9a-z]{26}$/;

function holdDetails(row: LegalHoldsTable) {
  return { kind: row.kind, message_id: row.message_id, reason: row.reason };
}

/** The recipient's blind index, as deliveries store it. */
async function recipientIndex(keyring: Keyring, orgId: string, raw: string): Promise<string> {
  const parsed = parseBareAddress(raw.trim());
  if (parsed === null) throw new SealpostError("invalid_address", { field: "address" });
  return keyring.addressIndex(orgId, normalizeAddress(parsed.address));
}

/** Places a hold and records `legal_hold.create`; a message of another org is not_found. */
export async function createHold(
  deps: HoldDeps,
  scope: OrgScope,
  req: HoldRequest,
  actor: AuditActor,
): Promise<LegalHoldsTable> {
  let messageId: string | null = null;
  let recipientBidx: string | null = null;
  if (req.kind === "message") {
    if ((await findMessage(scope, req.messageId)) === undefined) throw new SealpostError("not_found");
    messageId = req.messageId;
  } else if (req.kind === "recipient") {
    recipientBidx = await recipientIndex(deps.keyring, scope.orgId, req.address);
  }
  const now = deps.clock.now();
  const row: LegalHoldsTable = {
    id: newId("hold", now),
    org_id: scope.orgId,
    kind: req.kind,
    message_id: messageId,
    recipient_bidx: recipientBidx,
    reason: req.reason,
    created_at: now,
    created_by: actor.actorId ?? actor.actorType,
    released_at: null,
  };
  await insertHold(scope, row);
  await deps.audit.recordNow(
    changeEntry(actor, scope.orgId, "legal_hold.create", { type: "hold", id: row.id }, holdDetails(row)),
  );
  return row;
}

/**
 * Releases an active hold and records `legal_hold.release`. Unknown (or another org's)
 * ids are not_found; a hold released already is invalid_state.
 */
export async function releaseHoldById(
  deps: HoldDeps,
  scope: OrgScope,
  id: string,
  actor: AuditActor,
): Promise<LegalHoldsTable> {
  const row = HOLD_ID.test(id) ? await findHold(scope, id) : undefined;
  if (row === undefined) throw new SealpostError("not_found");
  const now = deps.clock.now();
  if (!(await releaseHold(scope, id, now)))
    throw new SealpostError("invalid_state", { detail: "The hold was released already." });
  await deps.audit.recordNow(
    changeEntry(actor, scope.orgId, "legal_hold.release", { type: "hold", id }, holdDetails(row)),
  );
  return { ...row, released_at: now };
}

/** The public JSON of a hold (never the recipient's index). */
export function holdView(row: LegalHoldsTable) {
  return {
    id: row.id,
    object: "legal_hold" as const,
    kind: row.kind,
    message_id: row.message_id,
    reason: row.reason,
    created_at: new Date(row.created_at).toISOString(),
    created_by: row.created_by,
    released_at: row.released_at === null ? null : new Date(row.released_at).toISOString(),
  };
}
