import type { ErrorCode } from "../core/errors.ts";
import type { Keyring } from "../core/keyring.ts";
import { ALL_SCOPES, type Scope } from "../core/principal.ts";
import { type AuthKeyRow, findAuthKeyById, findAuthKeysByHash, upgradeLegacyKey } from "../store/api-keys.ts";
import type { Db } from "../store/db.ts";
import { type HmacCredentials, verifySignature } from "./hmac.ts";
import type { JwtKeys } from "./jwt.ts";
import { openSigningKeys, secretColumns } from "./key-secrets.ts";
import {
  hashesEqual,
  hashToken,
  legacyHashToken,
  parseToken,
  secretBinding,
  tokenLengthOk,
} from "./tokens.ts";
import type { SignedRequest } from "./types.ts";

/**
 * Step 3 of authentication (ADR 0008 §4): find the key the credentials name and verify
 * them against it, in constant time where a secret is compared. A refusal is returned, not
 * thrown, with whether it counts against the source (a guessed secret does; an expired
 * access token, proof of a key once held, does not).
 */

export interface ResolveDeps {
  readonly db: Db;
  readonly keyring: Keyring;
  readonly pepper: Buffer;
  readonly jwt: Pick<JwtKeys, "verify">;
}

export type Resolution =
  | {
      readonly ok: true;
      readonly row: AuthKeyRow;
      readonly tokenScopes: readonly Scope[] | null;
      /** For a token or Basic secret: secretBinding of the stored hash it matched. */
      readonly binding: string | null;
    }
  | { readonly ok: false; readonly code: ErrorCode; readonly counted: boolean };

const UNKNOWN: Resolution = { ok: false, code: "unauthorized", counted: true };

function found(
  row: AuthKeyRow,
  tokenScopes: readonly Scope[] | null = null,
  binding: string | null = null,
): Resolution {
  return { ok: true, row, tokenScopes, binding };
}

/** The binding of the secret `match` names (a legacy match is upgraded to the keyed hash). */
function bindingOf(row: AuthKeyRow, match: "current" | "legacy" | "previous", keyed: string): string {
  return secretBinding(match === "previous" ? (row.prev_secret_hash ?? "") : keyed);
}

function previousValid(row: AuthKeyRow, now: number): boolean {
  return row.prev_secret_hash !== null && row.prev_expires_at !== null && row.prev_expires_at > now;
}

/** Which secret of `row` the token is: its current one, the previous one, or neither. */
function matchSecret(
  row: AuthKeyRow,
  keyed: string,
  legacy: string,
  now: number,
): "current" | "legacy" | "previous" | null {
  if (row.hash_alg === "hmac-sha256" && hashesEqual(row.secret_hash, keyed)) return "current";
  if (row.hash_alg === "sha256" && hashesEqual(row.secret_hash, legacy)) return "legacy";
  if (previousValid(row, now)) {
    const prev = row.prev_secret_hash ?? "";
    // A rotated legacy key keeps its unkeyed hash as the previous one.
    if (hashesEqual(prev, keyed) || hashesEqual(prev, legacy)) return "previous";
  }
  return null;
}

/**
 * A token (Bearer, Paubox, SMTP) or Basic `keyId:token`. A new-format token is read by the
 * key id it carries; any other (the bootstrap key, keys made before 0006) through the index
 * on its keyed or legacy hash. A legacy match upgrades the row in place, once.
 */
export async function resolveToken(
  deps: ResolveDeps,
  token: string,
  claimedId: string | null,
  now: number,
): Promise<Resolution> {
  if (!tokenLengthOk(token)) return UNKNOWN;
  const parsed = parseToken(token);
  if (parsed !== null && claimedId !== null && parsed.keyId !== claimedId) return UNKNOWN;
  const keyed = hashToken(deps.pepper, token);
  const legacy = legacyHashToken(token);
  if (parsed !== null) {
    const row = await findAuthKeyById(deps.db, parsed.keyId);
    if (row !== undefined) {
      const match = matchSecret(row, keyed, legacy, now);
      return match === null ? UNKNOWN : found(row, null, bindingOf(row, match, keyed));
    }
  }
  for (const row of await findAuthKeysByHash(deps.db, [keyed, legacy])) {
    if (claimedId !== null && row.id !== claimedId) continue;
    const match = matchSecret(row, keyed, legacy, now);
    if (match === "legacy") await upgrade(deps, row, token, legacy);
    if (match !== null) return found(row, null, bindingOf(row, match, keyed));
  }
  return UNKNOWN;
}

async function upgrade(deps: ResolveDeps, row: AuthKeyRow, token: string, legacy: string): Promise<void> {
  const org = await deps.keyring.orgKeys(row.org_id);
  await upgradeLegacyKey(deps.db, row.id, legacy, secretColumns(deps.pepper, org, row.id, token));
}

/** SP1-HMAC-SHA256: the signature under the key's current, then its previous, signing key. */
export async function resolveHmac(
  deps: ResolveDeps,
  creds: HmacCredentials,
  request: SignedRequest | undefined,
  now: number,
): Promise<Resolution> {
  if (request === undefined) return { ok: false, code: "signature_malformed", counted: false };
  const row = await findAuthKeyById(deps.db, creds.keyId);
  if (row === undefined) return UNKNOWN;
  const { current, previous } = await openSigningKeys(deps.keyring, row);
  try {
    if (current === null && previous === null) return UNKNOWN;
    if (current !== null && verifySignature(current, creds, request)) return found(row);
    if (previous !== null && previousValid(row, now) && verifySignature(previous, creds, request))
      return found(row);
    return { ok: false, code: "signature_mismatch", counted: true };
  } finally {
    current?.fill(0);
    previous?.fill(0);
  }
}

/** An access token of ours: then its key, read now, for its state and current scopes. */
export async function resolveJwt(deps: ResolveDeps, jwt: string, now: number): Promise<Resolution> {
  const verified = await deps.jwt.verify(jwt);
  if (!verified.ok) return { ok: false, code: verified.code, counted: verified.code !== "token_expired" };
  const { claims } = verified;
  const row = await findAuthKeyById(deps.db, claims.sub);
  if (row === undefined || row.org_id !== claims.org || row.mode !== claims.mode) return UNKNOWN;
  // Minted with a secret that has since been rotated out: dead with it. Not a guess, so not counted.
  const current = claims.kh === secretBinding(row.secret_hash);
  const previous = previousValid(row, now) && claims.kh === secretBinding(row.prev_secret_hash ?? "");
  if (!current && !previous) return { ok: false, code: "unauthorized", counted: false };
  const scopes = claims.scope
    .split(" ")
    .filter((s): s is Scope => (ALL_SCOPES as readonly string[]).includes(s));
  return found(row, scopes);
}
