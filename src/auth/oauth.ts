import { isSealpostError } from "../core/errors.ts";
import { ALL_SCOPES, hasScope, type Principal, type Scope } from "../core/principal.ts";
import { type KeyAuthenticator, RetryAfterError } from "./authenticate.ts";
import type { JwtKeys } from "./jwt.ts";

/**
 * OAuth 2.0 client credentials (RFC 6749 §4.4, ADR 0008 §4): an API key (client id = key
 * id, client secret = the whole token) gets a short-lived RFC 9068 access token. The
 * client authentication is the authenticator's, with the method `oauth`, so lockout, key
 * state, allowlists and rate limits are the same as for any other request.
 */

export type OAuthErrorCode =
  | "invalid_request"
  | "invalid_client"
  | "unauthorized_client"
  | "unsupported_grant_type"
  | "invalid_scope";

/** An RFC 6749 §5.2 error; `message` is a fixed description (never a value from the request). */
export class OAuthError extends Error {
  readonly code: OAuthErrorCode;
  readonly status: 400 | 401;
  constructor(code: OAuthErrorCode, description: string) {
    super(description);
    this.name = "OAuthError";
    this.code = code;
    this.status = code === "invalid_client" ? 401 : 400;
  }
}

export interface TokenRequest {
  /** How the client authenticated: HTTP Basic, form fields, both (refused) or neither. */
  clientAuth: "basic" | "post" | "both" | "none";
  clientId?: string | undefined;
  clientSecret?: string | undefined;
  grantType?: string | undefined;
  /** Space-separated; default every scope of the key. */
  scope?: string | undefined;
  /** The client address (after trusted proxies). */
  address: string;
}

export interface TokenResponse {
  access_token: string;
  token_type: "Bearer";
  expires_in: number;
  scope: string;
}

export interface OAuthDeps {
  readonly authenticator: Pick<KeyAuthenticator, "verifyClient">;
  readonly jwt: Pick<JwtKeys, "sign">;
}

const CLIENT_REFUSED = "Client authentication failed.";

export class OAuthService {
  readonly #deps: OAuthDeps;

  constructor(deps: OAuthDeps) {
    this.#deps = deps;
  }

  /**
   * Throws OAuthError for the RFC's refusals, and RetryAfterError (`auth_locked`,
   * `rate_limited`) when the source is locked out or the key's bucket is empty.
   */
  async issue(input: TokenRequest): Promise<TokenResponse> {
    if (input.clientAuth === "both")
      throw new OAuthError("invalid_request", "Use one client authentication method, not two.");
    if (input.clientAuth === "none" || input.clientId === undefined || input.clientSecret === undefined)
      throw new OAuthError("invalid_client", CLIENT_REFUSED);
    if (input.grantType === undefined) throw new OAuthError("invalid_request", "grant_type is required.");
    const { principal, binding } = await this.#client(input.clientId, input.clientSecret, input.address);
    if (input.grantType !== "client_credentials")
      throw new OAuthError("unsupported_grant_type", "Only grant_type=client_credentials is supported.");
    const scopes = requestedScopes(input.scope, principal);
    const { token, expiresIn } = await this.#deps.jwt.sign({
      sub: principal.keyId,
      org: principal.orgId,
      mode: principal.mode,
      scope: scopes.join(" "),
      kh: binding,
    });
    return { access_token: token, token_type: "Bearer", expires_in: expiresIn, scope: scopes.join(" ") };
  }

  async #client(
    clientId: string,
    clientSecret: string,
    address: string,
  ): Promise<{ principal: Principal; binding: string }> {
    let authenticated: Awaited<ReturnType<KeyAuthenticator["verifyClient"]>>;
    try {
      authenticated = await this.#deps.authenticator.verifyClient({ clientId, clientSecret, address });
    } catch (err) {
      if (!isSealpostError(err) || err.code === "auth_locked" || err.status >= 500) throw err;
      if (err.code === "auth_method_not_allowed")
        throw new OAuthError("unauthorized_client", "This key may not use OAuth.");
      throw new OAuthError("invalid_client", CLIENT_REFUSED);
    }
    const { principal, charge, binding } = authenticated;
    if (!charge.allowed) throw new RetryAfterError("rate_limited", charge.retryAfterMs);
    if (typeof binding !== "string") throw new OAuthError("invalid_client", CLIENT_REFUSED);
    return { principal, binding };
  }
}

/** The scopes asked for, each held by the key; none asked for: all of the key's. */
function requestedScopes(raw: string | undefined, principal: Principal): Scope[] {
  const asked = (raw ?? "").split(" ").filter((s) => s !== "");
  if (asked.length === 0) return [...principal.scopes];
  const known = (s: string): s is Scope => (ALL_SCOPES as readonly string[]).includes(s);
  if (!asked.every((s) => known(s) && hasScope(principal, s)))
    throw new OAuthError("invalid_scope", "A requested scope is unknown or not held by this key.");
  return [...new Set(asked as Scope[])];
}
