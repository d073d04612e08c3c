import { setTimeout as sleep } from "node:timers/promises";
import { addressIn, blockListOf } from "../core/cidr.ts";
import type { Clock } from "../core/clock.ts";
import { type ErrorCode, SealpostError } from "../core/errors.ts";
import type { Keyring } from "../core/keyring.ts";
import {
  type AuthMethod,
  hasScope,
  type Principal,
  type Scope,
  TEST_MODE_SCOPES,
} from "../core/principal.ts";
import { parseRateLimit, type RateLimit } from "../core/rate-limit.ts";
import type { AuthKeyRow } from "../store/api-keys.ts";
import type { Db } from "../store/db.ts";
import { credentialMethod } from "./credentials.ts";
import { HMAC_WINDOW_MS, type HmacCredentials } from "./hmac.ts";
import type { JwtKeys } from "./jwt.ts";
import { keyAllowedIps, keyAuthMethods, keyScopes, keySenderDomains } from "./keys.ts";
import { failureDelayMs } from "./lockout.ts";
import { type Resolution, resolveHmac, resolveJwt, resolveToken } from "./resolve.ts";
import type {
  Admission,
  AuthContext,
  Authenticated,
  Authenticator,
  BucketSpec,
  Charge,
  Credentials,
} from "./types.ts";

/**
 * The one authenticator of HTTP, SMTP and OAuth (ADR 0008 §4), in this order: (1) the
 * credentials, already parsed; (2) a locked source; (3) the key, found and verified;
 * (4) its state: revoked, expired, method, address; (5) the HMAC nonce; (6) the rate
 * limits. (7) The scope is the caller's to check. A 401 of steps 3–4 counts against the
 * source and, from the 4th failure, waits before it answers. Key rows are read on every
 * call, never cached, so a revocation holds at once on every node.
 */

export interface AuthenticatorDeps {
  readonly db: Db;
  readonly keyring: Keyring;
  readonly clock: Clock;
  readonly admission: Admission;
  readonly jwt: Pick<JwtKeys, "verify">;
  /** The key-hash pepper (auth/instance-keys.ts loadPepper). */
  readonly pepper: Buffer;
  /** SEALPOST_RATE_LIMIT_KEY and _ORG, for keys and orgs without a limit of their own. */
  readonly limits: { readonly key: RateLimit; readonly org: RateLimit };
}

export interface KeyAuthenticator extends Authenticator {
  /**
   * OAuth client authentication (client id = key id, client secret = the token), with the
   * method `oauth`: an address outside the key's allowlist counts as a failure here, since
   * the token endpoint answers it as `invalid_client` like any other.
   */
  verifyClient(input: { clientId: string; clientSecret: string; address: string }): Promise<Authenticated>;
}

/**
 * A refusal that tells when to try again: `auth_locked` (the source is locked out) or
 * `rate_limited`. `retryAfterSeconds` is what goes into `Retry-After`.
 */
export class RetryAfterError extends SealpostError {
  readonly retryAfterMs: number;
  constructor(code: "auth_locked" | "rate_limited", retryAfterMs: number) {
    super(code);
    this.retryAfterMs = Math.max(0, retryAfterMs);
  }
  get retryAfterSeconds(): number {
    return Math.max(1, Math.ceil(this.retryAfterMs / 1000));
  }
}

/** The method credentials arrived by; SMTP and OAuth are channels whatever the kind. */
function methodOf(creds: Credentials, ctx: AuthContext): AuthMethod {
  return ctx.method === "smtp" || ctx.method === "oauth" ? ctx.method : credentialMethod(creds);
}

/** What a key may do: a JWT narrows it to the token's scopes; a test key never holds more than messages:*. */
function effectiveScopes(row: AuthKeyRow, tokenScopes: readonly Scope[] | null): Scope[] {
  const held = keyScopes(row);
  let scopes = tokenScopes === null ? held : tokenScopes.filter((s) => hasScope({ scopes: held }, s));
  if (row.mode === "test") scopes = TEST_MODE_SCOPES.filter((s) => hasScope({ scopes }, s));
  return scopes;
}

/** Step 4: the state of a verified key. */
function stateRefusal(
  row: AuthKeyRow,
  method: AuthMethod,
  address: string,
  now: number,
): { code: ErrorCode; status: 401 | 403 } | null {
  if (row.revoked_at !== null) return { code: "key_revoked", status: 401 };
  if (row.expires_at !== null && row.expires_at <= now) return { code: "key_expired", status: 401 };
  const methods = keyAuthMethods(row);
  if (methods !== null && !methods.includes(method)) return { code: "auth_method_not_allowed", status: 403 };
  const ips = keyAllowedIps(row);
  if (ips !== null && !addressIn(blockListOf(ips), address)) return { code: "ip_not_allowed", status: 403 };
  return null;
}

function limitOf(raw: string | null, fallback: RateLimit): RateLimit {
  return (raw === null ? null : parseRateLimit(raw)) ?? fallback;
}

function bucketsOf(row: AuthKeyRow, limits: AuthenticatorDeps["limits"]): BucketSpec[] {
  return [
    { name: "key", bucket: `k:${row.id}`, limit: limitOf(row.rate_limit, limits.key) },
    { name: "org", bucket: `o:${row.org_id}`, limit: limitOf(row.org_rate_limit, limits.org) },
  ];
}

function hmacTimestampOk(creds: HmacCredentials, now: number): boolean {
  return Math.abs(creds.timestamp * 1000 - now) <= HMAC_WINDOW_MS;
}

export function createAuthenticator(deps: AuthenticatorDeps): KeyAuthenticator {
  const { admission, clock } = deps;

  /** Counts a failure against the source, waits as the count asks, then refuses. */
  async function fail(code: ErrorCode, address: string, now: number, counted: boolean): Promise<never> {
    if (counted) {
      const { failures } = await admission.recordFailure(address, now);
      const wait = failureDelayMs(failures);
      if (wait > 0) await sleep(wait, undefined, { ref: false });
    }
    throw new SealpostError(code);
  }

  function resolve(creds: Credentials, ctx: AuthContext, now: number): Promise<Resolution> {
    const resolveDeps = { db: deps.db, keyring: deps.keyring, pepper: deps.pepper, jwt: deps.jwt };
    switch (creds.kind) {
      case "token":
        return resolveToken(resolveDeps, creds.token, null, now);
      case "basic":
        return resolveToken(resolveDeps, creds.token, creds.keyId, now);
      case "hmac":
        return resolveHmac(resolveDeps, creds, ctx.request, now);
      case "jwt":
        return resolveJwt(resolveDeps, creds.jwt, now);
      default:
        return Promise.resolve({ ok: false, code: "unauthorized", counted: false });
    }
  }

  const UNCHARGED: Charge = { allowed: true, buckets: [], retryAfterMs: 0 };

  async function run(creds: Credentials, ctx: AuthContext, countIpRefusal: boolean): Promise<Authenticated> {
    if (creds.kind === "none") throw new SealpostError("unauthorized");
    if (creds.kind === "malformed") throw new SealpostError(creds.code);
    const now = clock.now();
    const method = methodOf(creds, ctx);
    const fresh = creds.kind !== "hmac" || hmacTimestampOk(creds, now);
    // The key is read while the lock is: two round trips become one.
    const resolution = fresh ? resolve(creds, ctx, now) : null;
    resolution?.catch(() => {});
    const lockedUntil = await admission.lockedUntil(ctx.address, now);
    if (lockedUntil !== null && lockedUntil > now)
      throw new RetryAfterError("auth_locked", lockedUntil - now);
    if (resolution === null) throw new SealpostError("signature_expired");
    const found = await resolution;
    if (!found.ok) return fail(found.code, ctx.address, now, found.counted);
    const { row } = found;
    const refusal = stateRefusal(row, method, ctx.address, now);
    if (refusal !== null) {
      const counted = refusal.status === 401 || (countIpRefusal && refusal.code === "ip_not_allowed");
      return fail(refusal.code, ctx.address, now, counted);
    }
    if (
      creds.kind === "hmac" &&
      !(await admission.claimNonce(row.id, creds.nonce, creds.timestamp * 1000 + HMAC_WINDOW_MS))
    )
      throw new SealpostError("nonce_reused");
    const principal: Principal = {
      orgId: row.org_id,
      keyId: row.id,
      mode: row.mode,
      scopes: effectiveScopes(row, found.tokenScopes),
      senderDomains: keySenderDomains(row),
      method,
    };
    const charge =
      ctx.charge === false ? UNCHARGED : await admission.charge(bucketsOf(row, deps.limits), now);
    return { principal, charge, binding: found.binding };
  }

  return {
    authenticate: (creds, ctx) => run(creds, ctx, false),
    verifyClient: ({ clientId, clientSecret, address }) =>
      run({ kind: "basic", keyId: clientId, token: clientSecret }, { address, method: "oauth" }, true),
  };
}
