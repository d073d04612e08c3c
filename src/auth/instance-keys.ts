import { randomBytes } from "node:crypto";
import type { Clock } from "../core/clock.ts";
import { newId } from "../core/ids.ts";
import type { KeyWrapper } from "../crypto/key-provider.ts";
import type { Db } from "../store/db.ts";
import { toBuffer } from "../store/db.ts";
import {
  findActiveInstanceKey,
  type InstanceKeyPurpose,
  insertFirstInstanceKey,
  listAllInstanceKeys,
  updateInstanceKeyWrapping,
} from "../store/instance-keys.ts";
import type { InstanceKeysTable } from "../store/schema.ts";

/**
 * Instance keys (ADR 0008 §2, §4): secrets of the whole instance, wrapped by the master
 * key with AAD `instkey:<id>:<purpose>` so a wrapped secret cannot be moved to another row
 * or purpose. The pepper keys API-key hashes and is never rotated; JWT signing keys are
 * in auth/jwt.ts.
 */

export interface InstanceKeyDeps {
  readonly db: Db;
  readonly wrapper: KeyWrapper;
  readonly clock: Clock;
}

export const PEPPER_BYTES = 32;

export function instanceKeyAad(id: string, purpose: InstanceKeyPurpose): string {
  return `instkey:${id}:${purpose}`;
}

/** A new row holding `secret` wrapped by the master key; not yet stored. */
export async function newInstanceKeyRow(
  deps: InstanceKeyDeps,
  purpose: InstanceKeyPurpose,
  secret: Buffer,
  publicJwk: string | null = null,
): Promise<InstanceKeysTable> {
  const now = deps.clock.now();
  const id = newId("ikey", now);
  return {
    id,
    purpose,
    wrapped: await deps.wrapper.wrap(secret, instanceKeyAad(id, purpose)),
    master_key_id: deps.wrapper.keyId,
    public_jwk: publicJwk,
    created_at: now,
    retired_at: null,
  };
}

export async function unwrapInstanceKey(wrapper: KeyWrapper, row: InstanceKeysTable): Promise<Buffer> {
  return wrapper.unwrap(toBuffer(row.wrapped), instanceKeyAad(row.id, row.purpose));
}

const peppers = new WeakMap<Db, Promise<Buffer>>();

/**
 * The 32-byte API-key hash pepper, created on first use. Two nodes starting together
 * settle on one row (see insertFirstInstanceKey). Memoized per `Db`; a failure is not.
 */
export function loadPepper(deps: InstanceKeyDeps): Promise<Buffer> {
  let pepper = peppers.get(deps.db);
  if (pepper === undefined) {
    pepper = readOrCreatePepper(deps);
    peppers.set(deps.db, pepper);
    pepper.catch(() => peppers.delete(deps.db));
  }
  return pepper;
}

async function readOrCreatePepper(deps: InstanceKeyDeps): Promise<Buffer> {
  let row = await findActiveInstanceKey(deps.db, "key_hash");
  if (row === undefined) {
    const fresh = await newInstanceKeyRow(deps, "key_hash", randomBytes(PEPPER_BYTES));
    row = await insertFirstInstanceKey(deps.db, fresh);
  }
  const pepper = await unwrapInstanceKey(deps.wrapper, row);
  if (pepper.length !== PEPPER_BYTES) throw new Error("instance key-hash pepper has the wrong length");
  return pepper;
}

/**
 * Re-wraps every instance key still wrapped by `from` under `to` (master-key rotation,
 * ADR 0003): the secrets themselves do not change. Returns how many rows were re-wrapped.
 */
export async function rewrapInstanceKeys(db: Db, from: KeyWrapper, to: KeyWrapper): Promise<number> {
  let count = 0;
  for (const row of await listAllInstanceKeys(db)) {
    if (row.master_key_id !== from.keyId) continue;
    const secret = await unwrapInstanceKey(from, row);
    const aad = instanceKeyAad(row.id, row.purpose);
    await updateInstanceKeyWrapping(db, row.id, await to.wrap(secret, aad), to.keyId);
    count++;
  }
  return count;
}
