import { createHash } from "node:crypto";
import { canonicalJson } from "../core/idempotency.ts";
import type { AuditLogTable } from "../store/schema.ts";

/**
 * The chain's hash (ADR 0009 §1): `hex(SHA-256(prev_hash + "\n" + canonical JSON of every
 * field but hash))`, seq and chain included, `details` as its stored JSON text. An auditor
 * can recompute it from an export with any SHA-256 and a sorted-key JSON encoder.
 */
export const GENESIS_HASH = "0".repeat(64);

export type UnhashedEntry = Omit<AuditLogTable, "hash">;

export function entryHash(prevHash: string, entry: UnhashedEntry): string {
  const fields: UnhashedEntry = {
    chain: entry.chain,
    seq: entry.seq,
    id: entry.id,
    at: entry.at,
    actor_type: entry.actor_type,
    actor_id: entry.actor_id,
    action: entry.action,
    target_type: entry.target_type,
    target_id: entry.target_id,
    outcome: entry.outcome,
    status: entry.status,
    source_ip: entry.source_ip,
    request_id: entry.request_id,
    details: entry.details,
    prev_hash: entry.prev_hash,
  };
  return createHash("sha256")
    .update(`${prevHash}\n${canonicalJson(fields)}`)
    .digest("hex");
}
