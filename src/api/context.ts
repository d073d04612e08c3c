import type { AuditLog } from "../audit/types.ts";
import type { JwtKeys } from "../auth/jwt.ts";
import type { KeyDeps } from "../auth/keys.ts";
import type { OAuthService } from "../auth/oauth.ts";
import type { Clock } from "../core/clock.ts";
import type { Keyring } from "../core/keyring.ts";
import type { SubmitDeps } from "../core/submit.ts";
import type { DomainDeps } from "../domains/service.ts";
import type { Logger } from "../logging/logger.ts";
import type { Db } from "../store/db.ts";
import type { TlsCheckDeps } from "../tools/tls-check.ts";
import type { WebhookApi } from "../webhooks/service.ts";
import type { AuthnDeps } from "./authn-hook.ts";

/** Everything a route may use, built once in main.ts and passed to every register function. */
export interface ApiDeps {
  db: Db;
  keyring: Keyring;
  clock: Clock;
  logger: Logger;
  submit: SubmitDeps;
  domains: DomainDeps;
  tlsCheck: TlsCheckDeps;
  bodyLimit: number;
  /** Serve HTTPS with this pair (SEALPOST_TLS_CERT/KEY); null for plain HTTP on loopback. */
  https: { cert: Buffer; key: Buffer } | null;
  /** Readiness: false while starting or shutting down. */
  ready: () => boolean;
  metrics: () => Promise<string>;
  /** Authentication of every protected route (api/authn-hook.ts). */
  authn: AuthnDeps;
  /** The API-key service behind /v1/api-keys and the first key of a new org. */
  keys: KeyDeps;
  /** POST /oauth/token. */
  oauth: OAuthService;
  /** Access-token signing keys: the JWKS and their rotation. */
  jwt: JwtKeys;
  /** The OAuth issuer (SEALPOST_PUBLIC_URL, else http(s)://host:port), without a trailing slash. */
  issuer: string;
  /** Fastify's trustProxy: the proxies whose X-Forwarded-For names the client (auth/source.ts). */
  trustProxy: false | ((address: string, hop: number) => boolean);
  /** The audit trail (ADR 0009): the onResponse hook and audited changes record through it. */
  audit: AuditLog;
  /**
   * The webhook outbox (every event writer inserts its events' webhook rows with them) and
   * which webhook URLs are allowed (ADR 0011 §3).
   */
  webhooks: WebhookApi;
}
