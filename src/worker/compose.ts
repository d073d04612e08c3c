import type { Resolver } from "node:dns/promises";
import type { AuditLog } from "../audit/types.ts";
import type { Config } from "../config/schema.ts";
import type { Clock } from "../core/clock.ts";
import type { Keyring } from "../core/keyring.ts";
import { createSmtpDeliverer } from "../delivery/deliverer.ts";
import { createSigner } from "../domains/sign-pool.ts";
import { SigningKeyCache } from "../domains/signing-cache.ts";
import type { Logger } from "../logging/logger.ts";
import { PolicyCache } from "../policy/org-policy.ts";
import { purgeJob } from "../retention/job.ts";
import type { Db } from "../store/db.ts";
import { webhookDispatcher } from "../webhooks/dispatcher.ts";
import { WebhookOutbox } from "../webhooks/outbox.ts";
import { urlPolicyOf } from "../webhooks/ssrf.ts";
import type { Deliverer } from "./steps.ts";
import { Worker } from "./worker.ts";

/**
 * The worker role's dependencies, built in one place for both ways it runs: on the
 * process's own event loop (a worker-only node, tests) or on a thread of its own beside
 * the API (see thread-host.ts). `signerThreads` 0 signs on the worker's own loop (tests,
 * one-core machines).
 */
export interface DeliveryWorkerDeps {
  config: Config;
  db: Db;
  keyring: Keyring;
  clock: Clock;
  logger: Logger;
  resolver: Resolver;
  ca: string | undefined;
  hostname: string;
  /** The audit trail: delivery events and purges (ADR 0009 §2); this thread's own writer. */
  audit: AuditLog;
  /** Where portal links point (issuerOf in config/public-url.ts: SEALPOST_PUBLIC_URL or the API's address). */
  publicUrl: string;
  /** Org policies; on the API's event loop the API's own cache, so a change applies at once. */
  policies?: PolicyCache;
  signerThreads?: number;
  /** Replaces SMTP delivery (tests of the queue only). */
  deliverer?: Deliverer;
  leaseMs?: number;
  pollMs?: number;
  /** The node's webhook outbox (on the API's event loop the API's own, so its invalidations apply). */
  webhooks?: WebhookOutbox;
  /** Delays between webhook attempts (tests shorten them); default WEBHOOK_RETRY_SCHEDULE. */
  webhookSchedule?: readonly number[];
}

export interface DeliveryWorker {
  worker: Worker;
  /** Stops the worker if started, then its SMTP sessions and signer threads. */
  close(): Promise<void>;
}

export function createDeliveryWorker(deps: DeliveryWorkerDeps): DeliveryWorker {
  const { config, db, keyring, clock, logger, resolver } = deps;
  const signer = createSigner(deps.signerThreads);
  const smtpOut = createSmtpDeliverer({ config, logger, resolver, db, clock, ca: deps.ca });
  const worker = new Worker({
    db,
    keyring,
    clock,
    logger,
    deliverer: deps.deliverer ?? smtpOut,
    audit: deps.audit,
    signing: new SigningKeyCache({ db, keyring, clock, resolver, hostname: deps.hostname }),
    signer,
    policies: deps.policies ?? new PolicyCache({ db }),
    publicUrl: deps.publicUrl,
    requireVerifiedCerts: config.requireVerifiedCerts,
    concurrency: config.workerConcurrency,
    leaseMs: deps.leaseMs ?? config.leaseSeconds * 1000,
    retrySchedule: config.retrySchedule,
    webhooks: deps.webhooks ?? new WebhookOutbox({ db, clock }),
    jobs: [
      purgeJob({ db, clock, logger, audit: deps.audit }),
      // Webhook deliveries (ADR 0011 §3), polled like the queue but never faster than 20 per second.
      webhookDispatcher({
        db,
        keyring,
        clock,
        logger,
        audit: deps.audit,
        policy: urlPolicyOf(config),
        ca: deps.ca,
        ...(deps.pollMs === undefined ? {} : { pollMs: Math.max(50, deps.pollMs) }),
        ...(deps.webhookSchedule === undefined ? {} : { schedule: deps.webhookSchedule }),
      }),
    ],
    ...(deps.pollMs === undefined ? {} : { pollMs: deps.pollMs }),
  });
  let closed = false;
  return {
    worker,
    async close() {
      if (closed) return;
      closed = true;
      await worker.stop();
      await smtpOut.close();
      await signer.close();
    },
  };
}
