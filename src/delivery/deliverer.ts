import type { Resolver } from "node:dns/promises";
import type { Config } from "../config/schema.ts";
import type { Clock } from "../core/clock.ts";
import type { Logger } from "../logging/logger.ts";
import type { Db } from "../store/db.ts";
import { dbMtaStsCache } from "../store/mta-sts-cache.ts";
import type { Deliverer } from "../worker/steps.ts";
import { type MtaStsOptions, mtaStsFetchBackoff } from "./mta-sts.ts";
import { hardFail } from "./outcome.ts";
import { SessionPool } from "./pool.ts";
import { deliverToDomain } from "./route.ts";

/**
 * The worker's SMTP deliverer, built once from the config: relay / transport map / MX
 * routing, MTA-STS with its database cache, reused sessions per destination, pacing.
 */
export interface SmtpDelivererDeps {
  config: Config;
  logger: Logger;
  resolver: Resolver;
  db: Db;
  clock: Clock;
  /** Extra trust anchors for MX, relay and policy-host certificates. */
  ca: string | undefined;
}

export function createSmtpDeliverer(deps: SmtpDelivererDeps): Deliverer & { close(): Promise<void> } {
  const { config, logger, resolver, ca } = deps;
  const pool = new SessionPool({
    maxPerDestination: config.maxConnectionsPerDestination,
    ratePerDomain: config.ratePerDomain,
    logger,
  });
  const mtaSts: MtaStsOptions | undefined = config.mtaSts
    ? {
        resolver,
        cache: dbMtaStsCache(deps.db),
        now: () => deps.clock.now(),
        backoff: mtaStsFetchBackoff(),
        timeoutMs: Math.min(config.deliveryTimeoutSeconds, 30) * 1000,
        httpsPort: config.mtaStsPort,
        ...(ca === undefined ? {} : { ca }),
      }
    : undefined;
  return {
    async deliver(req) {
      // The last of four layers (ADR 0008 §7): whatever routed it here, a test-mode message
      // never reaches the internet. It fails for good, with its reason, instead of retrying.
      if (req.mode !== "live") return { outcome: hardFail("test_mode_message"), mtaSts: null };
      const result = await deliverToDomain(req.domain, { from: req.from, to: req.to }, req.raw, {
        relay: config.relay,
        transportMap: config.transportMap,
        resolver,
        deliveryPort: config.deliveryPort,
        heloName: config.hostname,
        // A message that may go in plaintext may also go over unverified TLS (better than none).
        requireVerifiedCert:
          req.plaintextPermitted !== true &&
          (config.requireVerifiedCerts || req.requireVerifiedCert === true),
        plaintextPermitted: req.plaintextPermitted === true,
        timeoutMs: config.deliveryTimeoutSeconds * 1000,
        logger,
        pool,
        ...(mtaSts === undefined ? {} : { mtaSts }),
        ...(ca === undefined ? {} : { ca }),
      });
      return { outcome: result.outcome, mtaSts: result.mtaSts };
    },
    close: () => pool.close(),
  };
}
