import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type JsonWebKey,
  type KeyObject,
  sign,
  verify,
} from "node:crypto";
import { type InstanceKeyDeps, newInstanceKeyRow, unwrapInstanceKey } from "../auth/instance-keys.ts";
import { findHead, insertCheckpoint, listCheckpoints } from "../store/audit.ts";
import type { Db } from "../store/db.ts";
import { findActiveInstanceKey, findInstanceKey, insertFirstInstanceKey } from "../store/instance-keys.ts";
import type { AuditCheckpointsTable, InstanceKeysTable } from "../store/schema.ts";
import type { CheckpointClaim } from "./verify.ts";

/**
 * Signed checkpoints (ADR 0009 §1), optional: an Ed25519 signature over
 * `chain\nseq\nhash\nat` by the instance key of purpose `audit_ed25519` (its 32-byte private
 * seed wrapped by the master key like every instance key; the public JWK beside it). The
 * public key, as PEM, is what an operator hands to an auditor: with it and an export, the
 * auditor can check that the log they were given is the one the instance signed.
 */
const PURPOSE = "audit_ed25519";

export function checkpointMessage(c: Pick<AuditCheckpointsTable, "chain" | "seq" | "hash" | "at">): Buffer {
  return Buffer.from(`${c.chain}\n${c.seq}\n${c.hash}\n${c.at}`, "utf8");
}

function publicKeyOf(row: InstanceKeysTable): KeyObject {
  if (row.public_jwk === null) throw new Error("audit signing key has no public key");
  const { kty, crv, x } = JSON.parse(row.public_jwk) as JsonWebKey;
  return createPublicKey({ key: { kty, crv, x }, format: "jwk" });
}

/** The active audit signing key, created on first use (two nodes settle on one row). */
export async function auditSigningKey(deps: InstanceKeyDeps): Promise<InstanceKeysTable> {
  const existing = await findActiveInstanceKey(deps.db, PURPOSE);
  if (existing !== undefined) return existing;
  const { privateKey } = generateKeyPairSync("ed25519");
  const { kty, crv, x, d } = privateKey.export({ format: "jwk" });
  const seed = Buffer.from(d ?? "", "base64url");
  if (seed.length !== 32) throw new Error("unexpected Ed25519 private key length");
  const row = await newInstanceKeyRow(deps, PURPOSE, seed, JSON.stringify({ kty, crv, x }));
  return insertFirstInstanceKey(deps.db, row);
}

/** The audit signing key's public half, PEM (SPKI). */
export async function auditPublicKeyPem(deps: InstanceKeyDeps): Promise<string> {
  return publicKeyOf(await auditSigningKey(deps))
    .export({ type: "spki", format: "pem" })
    .toString();
}

/** Signs the chain's current head; null when the chain has no entries. */
export async function writeCheckpoint(
  deps: InstanceKeyDeps,
  chain: string,
): Promise<AuditCheckpointsTable | null> {
  const head = await findHead(deps.db, chain);
  if (head === undefined || head.seq === 0) return null;
  const key = await auditSigningKey(deps);
  const seed = await unwrapInstanceKey(deps.wrapper, key);
  const { kty, crv, x } = JSON.parse(key.public_jwk ?? "{}") as JsonWebKey;
  const privateKey = createPrivateKey({ key: { kty, crv, x, d: seed.toString("base64url") }, format: "jwk" });
  const unsigned = { chain, seq: head.seq, hash: head.hash, at: deps.clock.now() };
  const row: AuditCheckpointsTable = {
    ...unsigned,
    key_id: key.id,
    signature: sign(null, checkpointMessage(unsigned), privateKey).toString("base64"),
  };
  await insertCheckpoint(deps.db, row);
  return row;
}

/** Whether a checkpoint's signature verifies with the instance key it names. */
export function checkpointSignatureOk(
  row: AuditCheckpointsTable,
  key: InstanceKeysTable | undefined,
): boolean {
  if (key === undefined || key.purpose !== PURPOSE) return false;
  try {
    return verify(null, checkpointMessage(row), publicKeyOf(key), Buffer.from(row.signature, "base64"));
  } catch {
    return false;
  }
}

/** The chain's checkpoints with their signatures checked, for the verifier. */
export async function checkpointClaims(db: Db, chain: string): Promise<CheckpointClaim[]> {
  const rows = await listCheckpoints(db, chain);
  const keys = new Map<string, InstanceKeysTable | undefined>();
  const claims: CheckpointClaim[] = [];
  for (const row of rows) {
    if (!keys.has(row.key_id)) keys.set(row.key_id, await findInstanceKey(db, row.key_id));
    claims.push({
      seq: row.seq,
      hash: row.hash,
      signatureOk: checkpointSignatureOk(row, keys.get(row.key_id)),
    });
  }
  return claims;
}
