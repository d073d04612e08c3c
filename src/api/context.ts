import type { Clock } from "../core/clock.ts";
import type { Keyring } from "../core/keyring.ts";
import type { SubmitDeps } from "../core/submit.ts";
import type { DomainDeps } from "../domains/service.ts";
import type { Logger } from "../logging/logger.ts";
import type { Db } from "../store/db.ts";
import type { TlsCheckDeps } from "../tools/tls-check.ts";

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
}
