import { createHash, randomBytes } from "node:crypto";
import type { Db } from "../store/db.ts";
import { findApiKeyByHash, insertApiKey } from "../store/orgs.ts";
import type { Clock } from "./clock.ts";
import { newId } from "./ids.ts";
import { ALL_SCOPES, type AuthMethod, type Principal, type Scope } from "./principal.ts";

/**
 * API keys. The token is shown once; only its SHA-256 is stored. Lookup is by that hash,
 * so no stored secret is ever compared byte by byte (nothing to time). Tokens look like
 * `sp_live_<32 base62>` / `sp_test_…`; the bootstrap key may be any string of 32+ chars.
 */
export function hashToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

function base62(bytes: Buffer): string {
  let out = "";
  for (const b of bytes) out += BASE62[b % 62];
  return out;
}

export function parseScopes(raw: string): Scope[] | null {
  const list = raw
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  if (list.length === 0 || !list.every((s) => (ALL_SCOPES as readonly string[]).includes(s))) return null;
  return list as Scope[];
}

export interface CreatedKey {
  id: string;
  token: string;
  mode: "live" | "test";
  scopes: Scope[];
  orgId: string;
}

export async function createApiKey(
  db: Db,
  clock: Clock,
  opts: { orgId: string; name: string; mode: "live" | "test"; scopes: Scope[]; token?: string },
): Promise<CreatedKey> {
  const id = newId("key", clock.now());
  // Rejection sampling is unnecessary: 62/256 bias on 32 chars still leaves > 180 bits.
  const token = opts.token ?? `sp_${opts.mode}_${base62(randomBytes(32))}`;
  await insertApiKey(db, {
    id,
    org_id: opts.orgId,
    name: opts.name,
    secret_hash: hashToken(token),
    scopes: JSON.stringify(opts.scopes),
    mode: opts.mode,
    created_at: clock.now(),
    expires_at: null,
    revoked_at: null,
    hash_alg: "sha256",
    prev_secret_hash: null,
    prev_expires_at: null,
    signing_key: null,
    prev_signing_key: null,
    signing_key_by: null,
    sender_domains: null,
    allowed_ips: null,
    auth_methods: null,
    rate_limit: null,
    created_by: opts.name === "bootstrap" ? "bootstrap" : null,
  });
  return { id, token, mode: opts.mode, scopes: opts.scopes, orgId: opts.orgId };
}

export async function authenticate(
  db: Db,
  clock: Clock,
  token: string,
  method: AuthMethod = "bearer",
): Promise<Principal | null> {
  if (token.length < 32 || token.length > 256) return null;
  const row = await findApiKeyByHash(db, hashToken(token));
  if (row === undefined || row.revoked_at !== null) return null;
  if (row.expires_at !== null && row.expires_at <= clock.now()) return null;
  return {
    orgId: row.org_id,
    keyId: row.id,
    mode: row.mode,
    scopes: JSON.parse(row.scopes) as Scope[],
    senderDomains: null,
    method,
  };
}
