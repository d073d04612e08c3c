import { type AuditActor, changeEntry } from "../audit/entries.ts";
import type { AuditLog } from "../audit/types.ts";
import { parseBareAddress } from "../core/address.ts";
import type { Clock } from "../core/clock.ts";
import { SealpostError } from "../core/errors.ts";
import { newId } from "../core/ids.ts";
import type { Keyring } from "../core/keyring.ts";
import { normalizeAddress } from "../crypto/blind-index.ts";
import type { Db } from "../store/db.ts";
import {
  deleteRecipientKey,
  findRecipientKey,
  findSameRecipientKey,
  insertRecipientKey,
  listRecipientKeys,
} from "../store/recipient-keys.ts";
import type { RecipientKeysTable } from "../store/schema.ts";
import type { OrgScope } from "../store/scope.ts";
import { addressAad, materialAad, openRk, sealRk } from "./sealed.ts";
import { type RecipientKeyKind, validateRecipientKey } from "./validate.ts";

/**
 * Recipient keys on file (ADR 0010 §3): validate a submitted certificate or public key for
 * an address, store it sealed under the org key and findable by the address's blind
 * index, list, show and delete them. Creates and deletes are audited with the key's kind,
 * id and algorithm only: never the address.
 */
export interface RecipientKeyDeps {
  db: Db;
  keyring: Keyring;
  clock: Clock;
  audit: AuditLog;
}

export interface RecipientKeyRequest {
  readonly address: string;
  readonly kind: RecipientKeyKind;
  /** The submitted certificate or armored public key. */
  readonly text: string;
}

/** A stored key with its address opened (never its material). */
export interface RecipientKeyRecord {
  readonly row: RecipientKeysTable;
  readonly address: string;
}

const RK_ID = /^rk_[0-9a-z]{26}$/;

/** The address as submitted (for matching the key) and its normalised form (for the index). */
export function recipientAddress(raw: string): { address: string; normalized: string } {
  const parsed = parseBareAddress(raw.trim());
  if (parsed === null) throw new SealpostError("invalid_address", { field: "address" });
  return { address: parsed.address, normalized: normalizeAddress(parsed.address) };
}

export async function addressIndexOf(keyring: Keyring, orgId: string, raw: string): Promise<string> {
  return keyring.addressIndex(orgId, recipientAddress(raw).normalized);
}

function details(row: RecipientKeysTable) {
  return { kind: row.kind, key_id: row.key_id, algorithm: row.algorithm };
}

/**
 * Validates and stores a key. `created` is false when the same key (kind, address and
 * fingerprint) is on file already: that one is answered, nothing changes.
 */
export async function createRecipientKey(
  deps: RecipientKeyDeps,
  scope: OrgScope,
  req: RecipientKeyRequest,
  actor: AuditActor,
): Promise<RecipientKeyRecord & { created: boolean }> {
  const { address, normalized } = recipientAddress(req.address);
  const now = deps.clock.now();
  const key = await validateRecipientKey(req.kind, req.text, address, now);
  const bidx = await deps.keyring.addressIndex(scope.orgId, normalized);
  const same = { kind: key.kind, address_bidx: bidx, fingerprint: key.fingerprint };
  const existing = await findSameRecipientKey(scope, same);
  if (existing !== undefined) return { row: existing, address: normalized, created: false };
  const id = newId("rk", now);
  const row: RecipientKeysTable = {
    id,
    org_id: scope.orgId,
    kind: key.kind,
    address_bidx: bidx,
    address: await sealRk(deps.keyring, scope.orgId, normalized, addressAad(id)),
    material: await sealRk(deps.keyring, scope.orgId, key.material, materialAad(id)),
    key_id: key.keyId,
    fingerprint: key.fingerprint,
    algorithm: key.algorithm,
    not_after: key.notAfter,
    created_at: now,
    created_by: actor.actorId ?? actor.actorType,
  };
  if (!(await insertRecipientKey(scope, row))) {
    // A concurrent request stored the same key first.
    const raced = await findSameRecipientKey(scope, same);
    if (raced === undefined)
      throw new SealpostError("invalid_state", {
        detail: "The key changed concurrently; send the request again.",
      });
    return { row: raced, address: normalized, created: false };
  }
  await deps.audit.recordNow(
    changeEntry(actor, scope.orgId, "recipient_key.create", { type: "recipient_key", id }, details(row)),
  );
  return { row, address: normalized, created: true };
}

async function opened(deps: { keyring: Keyring }, row: RecipientKeysTable): Promise<RecipientKeyRecord> {
  return { row, address: await openRk(deps.keyring, row.org_id, row.address, addressAad(row.id)) };
}

/** One key of the org; another org's or an unknown id is not_found. */
export async function getRecipientKey(
  deps: { keyring: Keyring },
  scope: OrgScope,
  id: string,
): Promise<RecipientKeyRecord> {
  const row = RK_ID.test(id) ? await findRecipientKey(scope, id) : undefined;
  if (row === undefined) throw new SealpostError("not_found");
  return opened(deps, row);
}

/** A page of the org's keys, newest first, optionally of one address. */
export async function listKeys(
  deps: { keyring: Keyring },
  scope: OrgScope,
  f: { address: string | undefined; before: string | undefined; limit: number },
): Promise<RecipientKeyRecord[]> {
  const addressBidx =
    f.address === undefined ? undefined : await addressIndexOf(deps.keyring, scope.orgId, f.address);
  const rows = await listRecipientKeys(scope, { addressBidx, before: f.before, limit: f.limit });
  return Promise.all(rows.map((r) => opened(deps, r)));
}

/** Deletes a key and records `recipient_key.delete`; another org's or an unknown id is not_found. */
export async function removeRecipientKey(
  deps: RecipientKeyDeps,
  scope: OrgScope,
  id: string,
  actor: AuditActor,
): Promise<void> {
  const row = RK_ID.test(id) ? await findRecipientKey(scope, id) : undefined;
  if (row === undefined || !(await deleteRecipientKey(scope, id))) throw new SealpostError("not_found");
  await deps.audit.recordNow(
    changeEntry(actor, scope.orgId, "recipient_key.delete", { type: "recipient_key", id }, details(row)),
  );
}

/** The public JSON of a key: never its material. */
export function recipientKeyView(rec: RecipientKeyRecord) {
  const { row } = rec;
  return {
    object: "recipient_key" as const,
    id: row.id,
    kind: row.kind,
    address: rec.address,
    key_id: row.key_id,
    fingerprint: row.fingerprint,
    algorithm: row.algorithm,
    not_after: row.not_after === null ? null : new Date(row.not_after).toISOString(),
    created_at: new Date(row.created_at).toISOString(),
  };
}
