import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type JsonWebKey,
  type KeyObject,
  randomBytes,
  sign as signBytes,
  verify as verifyBytes,
} from "node:crypto";
import type { Clock } from "../core/clock.ts";
import { SealpostError } from "../core/errors.ts";
import type { KeyWrapper } from "../crypto/key-provider.ts";
import type { Db } from "../store/db.ts";
import {
  findActiveInstanceKey,
  insertFirstInstanceKey,
  listRecentInstanceKeys,
  replaceInstanceKey,
} from "../store/instance-keys.ts";
import type { InstanceKeysTable } from "../store/schema.ts";
import { type InstanceKeyDeps, newInstanceKeyRow, unwrapInstanceKey } from "./instance-keys.ts";

/**
 * OAuth access tokens (ADR 0008 §4): RFC 9068 JWTs signed with ES256 by `node:crypto`.
 * Signing keys are `jwt_es256` instance keys; the row id is the `kid`, and the wrapped
 * secret is the 32-byte private scalar (the public half is in `public_jwk`). Verification
 * pins the algorithm and type and accepts only our issuer, audience and keys.
 */

export interface AccessClaims {
  readonly iss: string;
  readonly aud: string;
  /** The API key id; equal to client_id. */
  readonly sub: string;
  readonly client_id: string;
  readonly org: string;
  readonly mode: "live" | "test";
  /** Space-separated scopes. */
  readonly scope: string;
  /** secretBinding of the key secret the token was minted with (auth/tokens.ts). */
  readonly kh: string;
  /** Epoch seconds. */
  readonly iat: number;
  readonly exp: number;
  readonly jti: string;
}

export type VerifyResult =
  | { readonly ok: true; readonly claims: AccessClaims }
  | { readonly ok: false; readonly code: "unauthorized" | "token_expired" };

export interface JwtKeysDeps {
  readonly db: Db;
  readonly wrapper: KeyWrapper;
  readonly clock: Clock;
  /** SEALPOST_PUBLIC_URL: both `iss` and `aud`. */
  readonly issuer: string;
  /** SEALPOST_OAUTH_TOKEN_SECONDS. */
  readonly ttlSeconds: number;
}

const ALG = "ES256";
const TYP = "at+jwt";
const RELOAD_MS = 60_000;
const UNKNOWN_KID_RELOAD_MS = 10_000;
/** A retired key stays published and trusted this long past the token lifetime. */
const RETIRED_GRACE_MS = 300_000;
const IAT_LEEWAY_MS = 60_000;
const SEGMENT_RE = /^[A-Za-z0-9_-]+$/;
const FAIL: VerifyResult = { ok: false, code: "unauthorized" };

interface KeyState {
  readonly signing: { readonly kid: string; readonly key: KeyObject } | undefined;
  readonly verifying: ReadonlyMap<string, KeyObject>;
}

export class JwtKeys {
  readonly #deps: JwtKeysDeps;
  #state: KeyState = { signing: undefined, verifying: new Map() };
  #ready: Promise<void> | undefined;
  #reloading: Promise<void> | undefined;
  #lastUnknownKidReload = Number.NEGATIVE_INFINITY;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  /** Unwrapped private keys by kid, so a reload does not unwrap (a KMS call) again. */
  readonly #privateKeys = new Map<string, KeyObject>();

  constructor(deps: JwtKeysDeps) {
    this.#deps = deps;
  }

  /** Creates the first signing key if there is none, loads the keys and starts the 60 s reload. */
  init(): Promise<void> {
    if (this.#ready === undefined) {
      const ready = this.#init();
      this.#ready = ready;
      // A failed start (database down, wrong master key) is retried by the next call.
      ready.catch(() => {
        if (this.#ready === ready) this.#ready = undefined;
      });
    }
    return this.#ready;
  }

  async #init(): Promise<void> {
    if ((await findActiveInstanceKey(this.#deps.db, "jwt_es256")) === undefined) {
      await insertFirstInstanceKey(this.#deps.db, await newSigningKeyRow(this.#deps));
    }
    await this.#reload();
    if (this.#timer === undefined && !this.#closed) {
      this.#timer = setInterval(() => {
        // A failed periodic reload keeps the keys we have; the next tick tries again.
        this.#reload().catch(() => {});
      }, RELOAD_MS);
      this.#timer.unref();
    }
  }

  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  async sign(c: {
    sub: string;
    org: string;
    mode: "live" | "test";
    scope: string;
    kh: string;
  }): Promise<{ token: string; expiresIn: number }> {
    await this.init();
    const signing = this.#state.signing;
    if (signing === undefined) throw new Error("no active JWT signing key");
    const iat = Math.floor(this.#deps.clock.now() / 1000);
    const claims: AccessClaims = {
      iss: this.#deps.issuer,
      aud: this.#deps.issuer,
      sub: c.sub,
      client_id: c.sub,
      org: c.org,
      mode: c.mode,
      scope: c.scope,
      kh: c.kh,
      iat,
      exp: iat + this.#deps.ttlSeconds,
      jti: randomBytes(16).toString("base64url"),
    };
    const input = `${encodeJson({ alg: ALG, typ: TYP, kid: signing.kid })}.${encodeJson(claims)}`;
    const signature = signBytes("sha256", Buffer.from(input), {
      key: signing.key,
      dsaEncoding: "ieee-p1363",
    });
    return { token: `${input}.${signature.toString("base64url")}`, expiresIn: this.#deps.ttlSeconds };
  }

  /**
   * Checks a token. `token_expired` only for a token that is ours in every other respect,
   * so the code tells nothing to a forger; every other defect is `unauthorized`.
   */
  async verify(jwt: string): Promise<VerifyResult> {
    await this.init();
    const parts = jwt.split(".");
    if (parts.length !== 3 || !parts.every((p) => SEGMENT_RE.test(p))) return FAIL;
    const [headerPart = "", payloadPart = "", signaturePart = ""] = parts;
    const header = decodeJson(headerPart);
    if (header === undefined || !isOurHeader(header)) return FAIL;
    const key = await this.#verifyingKey(header.kid);
    if (key === undefined) return FAIL;
    const signature = Buffer.from(signaturePart, "base64url");
    if (signature.length !== 64) return FAIL;
    const input = Buffer.from(`${headerPart}.${payloadPart}`);
    if (!verifyBytes("sha256", input, { key, dsaEncoding: "ieee-p1363" }, signature)) return FAIL;
    const claims = decodeJson(payloadPart);
    if (claims === undefined || !isAccessClaims(claims)) return FAIL;
    if (claims.iss !== this.#deps.issuer || claims.aud !== this.#deps.issuer) return FAIL;
    const now = this.#deps.clock.now();
    if (claims.iat * 1000 > now + IAT_LEEWAY_MS) return FAIL;
    if (claims.exp * 1000 <= now) return { ok: false, code: "token_expired" };
    return { ok: true, claims };
  }

  /** The public keys for `/.well-known/jwks.json`: the active key and recently retired ones, read fresh. */
  async jwks(): Promise<{ keys: object[] }> {
    await this.init();
    const rows = await this.#recentRows();
    return { keys: rows.map((row) => ({ ...publicJwk(row), kid: row.id, alg: ALG, use: "sig" })) };
  }

  /** Inserts a new signing key and retires the active one, in one transaction. */
  async rotate(): Promise<{ kid: string }> {
    await this.init();
    const rotated = await rotateSigningKey(this.#deps);
    await this.#freshReload();
    return { kid: rotated.kid };
  }

  #recentRows(): Promise<InstanceKeysTable[]> {
    const cutoff = this.#deps.clock.now() - (this.#deps.ttlSeconds * 1000 + RETIRED_GRACE_MS);
    return listRecentInstanceKeys(this.#deps.db, "jwt_es256", cutoff);
  }

  /** The key for `kid`, reloading (at most every 10 s) when it is not known yet, e.g. made on another node. */
  async #verifyingKey(kid: string): Promise<KeyObject | undefined> {
    const known = this.#state.verifying.get(kid);
    if (known !== undefined) return known;
    const now = this.#deps.clock.now();
    if (now - this.#lastUnknownKidReload < UNKNOWN_KID_RELOAD_MS) return undefined;
    this.#lastUnknownKidReload = now;
    await this.#freshReload();
    return this.#state.verifying.get(kid);
  }

  /** Reloads the keys; concurrent callers share one reload. */
  #reload(): Promise<void> {
    this.#reloading ??= this.#load().finally(() => {
      this.#reloading = undefined;
    });
    return this.#reloading;
  }

  /** A reload that starts now: one already running may have read the rows too early. */
  async #freshReload(): Promise<void> {
    await this.#reloading?.catch(() => {});
    await this.#reload();
  }

  async #load(): Promise<void> {
    const rows = await this.#recentRows();
    const verifying = new Map<string, KeyObject>();
    for (const row of rows) verifying.set(row.id, createPublicKey({ key: publicJwk(row), format: "jwk" }));
    const active = rows.find((row) => row.retired_at === null);
    const signing =
      active === undefined ? undefined : { kid: active.id, key: await this.#privateKey(active) };
    for (const kid of this.#privateKeys.keys()) if (kid !== signing?.kid) this.#privateKeys.delete(kid);
    this.#state = { signing, verifying };
  }

  async #privateKey(row: InstanceKeysTable): Promise<KeyObject> {
    const cached = this.#privateKeys.get(row.id);
    if (cached !== undefined) return cached;
    const d = (await unwrapInstanceKey(this.#deps.wrapper, row)).toString("base64url");
    const key = createPrivateKey({ key: { ...publicJwk(row), d }, format: "jwk" });
    this.#privateKeys.set(row.id, key);
    return key;
  }
}

/**
 * Inserts a new signing key and retires the active one (if any) in one transaction; other
 * nodes pick it up within 60 s, or at once on a token with its kid. Used by `rotate()` and
 * by `sealpost jwks rotate`, which has no issuer.
 */
export async function rotateSigningKey(
  deps: InstanceKeyDeps,
): Promise<{ kid: string; retired: string | undefined }> {
  const row = await newSigningKeyRow(deps);
  try {
    const retired = await replaceInstanceKey(deps.db, row, deps.clock.now());
    return { kid: row.id, retired };
  } catch (err) {
    // Two rotations at once: one wins the unique index on the active key; the other is told so.
    const active = await findActiveInstanceKey(deps.db, "jwt_es256");
    if (active !== undefined && active.id !== row.id)
      throw new SealpostError("invalid_state", {
        detail: "Another signing-key rotation happened at the same time.",
      });
    throw err;
  }
}

/** A new P-256 key: the wrapped secret is the 32-byte private scalar, the public half is `public_jwk`. */
async function newSigningKeyRow(deps: InstanceKeyDeps): Promise<InstanceKeysTable> {
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const { kty, crv, x, y, d } = privateKey.export({ format: "jwk" });
  const secret = Buffer.from(d ?? "", "base64url");
  if (secret.length !== 32) throw new Error("unexpected P-256 private key length");
  return newInstanceKeyRow(deps, "jwt_es256", secret, JSON.stringify({ kty, crv, x, y }));
}

function publicJwk(row: InstanceKeysTable): JsonWebKey {
  if (row.public_jwk === null) throw new Error("JWT signing key has no public key");
  const { kty, crv, x, y } = JSON.parse(row.public_jwk) as JsonWebKey;
  return { kty, crv, x, y };
}

function encodeJson(value: object): string {
  return Buffer.from(JSON.stringify(value)).toString("base64url");
}

function decodeJson(segment: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, "base64url").toString("utf8"));
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** Exactly `{alg: "ES256", typ: "at+jwt", kid}`: no `crit`, `jku` or anything else we would ignore. */
function isOurHeader(h: Record<string, unknown>): h is { alg: string; typ: string; kid: string } {
  return (
    Object.keys(h).length === 3 && h.alg === ALG && h.typ === TYP && typeof h.kid === "string" && h.kid !== ""
  );
}

function isAccessClaims(c: Record<string, unknown>): c is Record<string, unknown> & AccessClaims {
  const strings = ["iss", "aud", "sub", "client_id", "org", "scope", "kh", "jti"] as const;
  return (
    strings.every((name) => typeof c[name] === "string") &&
    c.client_id === c.sub &&
    (c.mode === "live" || c.mode === "test") &&
    Number.isSafeInteger(c.iat) &&
    Number.isSafeInteger(c.exp)
  );
}
