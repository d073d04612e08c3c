import type { AuthMethod, Principal } from "../core/principal.ts";
import type { RateLimit } from "../core/rate-limit.ts";

/**
 * The contracts between the parts of authentication (ADR 0008 §4–6): what a request's
 * credentials parse to, what authenticating them yields, and the admission state
 * (lockout, rate limits, HMAC nonces) kept in memory on SQLite and in tables on PostgreSQL.
 */

/** The credentials of one request or SMTP AUTH, parsed but not yet checked. */
export type Credentials =
  | { readonly kind: "none" }
  /** Bearer (not a JWT), Paubox `Token token=`, or an SMTP password. */
  | { readonly kind: "token"; readonly token: string }
  /** A Bearer value of three base64url segments starting `eyJ`. */
  | { readonly kind: "jwt"; readonly jwt: string }
  /** RFC 7617 Basic, or SMTP AUTH with a username: `keyId` is the user. */
  | { readonly kind: "basic"; readonly keyId: string; readonly token: string }
  | {
      readonly kind: "hmac";
      readonly keyId: string;
      readonly timestamp: number;
      readonly nonce: string;
      /** Lower-case hex. */
      readonly signature: string;
    }
  /** Something was sent and could not be parsed; `code` is the 401 to answer. */
  | { readonly kind: "malformed"; readonly code: "unauthorized" | "signature_malformed" };

/** What an HMAC signature covers besides its own parameters (ADR 0008 §4). */
export interface SignedRequest {
  readonly method: string;
  /** The request target exactly as sent (`request.raw.url`). */
  readonly url: string;
  /** The Content-Digest header value; null when absent (a refusal). */
  readonly contentDigest: string | null;
}

export interface AuthContext {
  /** The client address (after trusted proxies), normalized: see auth/source.ts. */
  readonly address: string;
  /** The method the credentials arrived by (basic, bearer, hmac, oauth for a JWT, smtp). */
  readonly method: AuthMethod;
  /** For HMAC credentials. */
  readonly request?: SignedRequest;
  /** false: check the key without charging the rate limits (SMTP AUTH; each MAIL FROM charges). */
  readonly charge?: boolean;
}

/** A rate-limit bucket to charge: `k:<key id>` or `o:<org id>`. */
export interface BucketSpec {
  readonly name: "key" | "org";
  readonly bucket: string;
  readonly limit: RateLimit;
}

/** The state of one charged bucket, for the RateLimit headers (draft-ietf-httpapi-ratelimit-headers). */
export interface BucketState {
  readonly name: "key" | "org";
  readonly quota: number;
  readonly windowMs: number;
  /** Requests left in the window after this one. */
  readonly remaining: number;
  /** Milliseconds until the bucket is full again. */
  readonly resetMs: number;
}

export interface Charge {
  readonly allowed: boolean;
  /** Buckets with a limit (`off` ones are left out). */
  readonly buckets: readonly BucketState[];
  /** When refused: milliseconds until a retry can succeed. */
  readonly retryAfterMs: number;
}

/**
 * Lockout, rate limits and nonces, shared by every node of an instance. Times are the
 * injected clock's. `source` is an address as given; the implementation groups IPv6 by /64
 * and honours SEALPOST_AUTH_LOCKOUT_EXEMPT.
 */
export interface Admission {
  /** Epoch ms until which `source` is locked out; null when it is not. */
  lockedUntil(source: string, now: number): Promise<number | null>;
  /** Counts one failed authentication; returns the failures in the window and any lock it caused. */
  recordFailure(source: string, now: number): Promise<{ failures: number; lockedUntil: number | null }>;
  /** Charges every bucket (GCRA); one statement on PostgreSQL. */
  charge(buckets: readonly BucketSpec[], now: number): Promise<Charge>;
  /** Records a used HMAC nonce; false when it was already used (a replay). */
  claimNonce(keyId: string, nonce: string, expiresAt: number): Promise<boolean>;
  /** Drops expired nonces and idle buckets and failure rows. */
  prune(now: number): Promise<void>;
}

/** An authenticated caller and what its request cost. */
export interface Authenticated {
  readonly principal: Principal;
  readonly charge: Charge;
  /** Which secret of the key authenticated (tokens and Basic): OAuth binds its access tokens to it. */
  readonly binding?: string | null;
}

/**
 * Resolves credentials to a principal, in the order of ADR 0008 §4: locked source,
 * key, key state, nonce, rate limits. Throws a SealpostError with the refusal's code
 * (`unauthorized`, `key_revoked`, …, `auth_locked`); a refused charge is not thrown but
 * returned (`charge.allowed === false`) so the caller can send the RateLimit headers.
 */
export interface Authenticator {
  authenticate(creds: Credentials, ctx: AuthContext): Promise<Authenticated>;
}
