import type { AuthMethod } from "../core/principal.ts";
import { HMAC_SCHEME, parseHmacAuthorization } from "./hmac.ts";
import { TOKEN_MAX } from "./tokens.ts";
import type { Credentials } from "./types.ts";

/**
 * The `Authorization` header of a request, parsed but not checked (ADR 0008 §4, step 1):
 *
 *   Bearer <token | JWT>                 a JWT is three base64url segments starting `eyJ`
 *   Basic base64(<key id> ":" <token>)   RFC 7617
 *   SP1-HMAC-SHA256 KeyId=…, …           auth/hmac.ts
 *   Token token=<token>                  Paubox routes only
 *
 * No header is `none`; anything else is `malformed`. Lengths are bounded before any work.
 */

/** Longer headers are refused unread: a JWT of ours is well under 2 KiB. */
const MAX_HEADER = 4096;
const MALFORMED: Credentials = { kind: "malformed", code: "unauthorized" };
const SCHEME_RE = /^([A-Za-z0-9!#$%&'*+.^_`|~-]+)(?:[ \t]+([\s\S]*))?$/;
const TOKEN_CHARS = /^[\x21-\x7e]+$/;
const JWT_RE = /^eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
/** Paubox's `Token token=<key>` (quoted or not, options after a comma) and `Token <key>`. */
const PAUBOX_RE = /^(?:token=(?:"([\x21\x23-\x7e]+)"|([^\s",]+))|(?!token=)([^\s",]+))\s*(?:,.*)?$/i;
/** A key id, or anything else a client puts as the user: bounded, printable. */
const USER_RE = /^[\x21-\x7e]{1,64}$/;

export type AuthScheme = "sealpost" | "paubox";

export function parseCredentials(authorization: string | undefined, scheme: AuthScheme): Credentials {
  if (authorization === undefined) return { kind: "none" };
  if (authorization.length > MAX_HEADER) return MALFORMED;
  const m = SCHEME_RE.exec(authorization.trim());
  if (m === null) return MALFORMED;
  const name = (m[1] ?? "").toLowerCase();
  const value = (m[2] ?? "").trim();
  if (name === "bearer") return bearer(value);
  if (name === "basic") return basic(value);
  if (name === HMAC_SCHEME.toLowerCase()) return parseHmacAuthorization(value);
  if (name === "token" && scheme === "paubox") return pauboxToken(value);
  return MALFORMED;
}

function bearer(value: string): Credentials {
  if (value === "" || !TOKEN_CHARS.test(value)) return MALFORMED;
  if (JWT_RE.test(value)) return { kind: "jwt", jwt: value };
  return token(value);
}

/** A key's secret: the only shape a hash lookup is ever made for. */
function token(value: string): Credentials {
  return value.length >= 1 && value.length <= TOKEN_MAX && TOKEN_CHARS.test(value)
    ? { kind: "token", token: value }
    : MALFORMED;
}

function basic(value: string): Credentials {
  if (value === "" || !BASE64_RE.test(value)) return MALFORMED;
  const decoded = Buffer.from(value, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon <= 0) return MALFORMED;
  const keyId = decoded.slice(0, colon);
  const secret = token(decoded.slice(colon + 1));
  if (!USER_RE.test(keyId) || secret.kind !== "token") return MALFORMED;
  return { kind: "basic", keyId, token: secret.token };
}

function pauboxToken(value: string): Credentials {
  const m = PAUBOX_RE.exec(value);
  if (m === null) return MALFORMED;
  return token(m[1] ?? m[2] ?? m[3] ?? "");
}

/** The method credentials arrived by, as a key's `auth_methods` names it (a JWT is OAuth's). */
export function credentialMethod(creds: Credentials): AuthMethod {
  if (creds.kind === "basic") return "basic";
  if (creds.kind === "hmac") return "hmac";
  if (creds.kind === "jwt") return "oauth";
  return "bearer";
}
