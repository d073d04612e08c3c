/**
 * Used HMAC nonces (ADR 0008 §4): kept in `auth_nonces` on both stores until the
 * signature's window has passed, so a replay fails on every node and after a restart.
 * The claim is one `INSERT … ON CONFLICT DO NOTHING`: zero rows inserted means a replay.
 */
import { insertNonce, pruneNonces } from "../store/auth-state.ts";
import type { Db } from "../store/db.ts";

export interface Nonces {
  /** True when the nonce was unused and is now claimed; false for a replay. */
  claim(keyId: string, nonce: string, expiresAt: number): Promise<boolean>;
  /** Drops nonces whose expiry has passed. */
  prune(now: number): Promise<void>;
}

export function createNonces(db: Db): Nonces {
  return {
    claim: (keyId, nonce, expiresAt) => insertNonce(db, keyId, nonce, expiresAt),
    prune: (now) => pruneNonces(db, now),
  };
}
