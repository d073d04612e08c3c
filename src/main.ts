import type { Resolver } from "node:dns/promises";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { buildApi } from "./api/server.ts";
import type { Config } from "./config/schema.ts";
import { ensureBootstrapKey, ensureOrg } from "./core/bootstrap.ts";
import { type Clock, systemClock } from "./core/clock.ts";
import { Keyring } from "./core/keyring.ts";
import { DEFAULT_LIMITS } from "./core/message.ts";
import { createMetrics } from "./core/metrics.ts";
import type { SubmitDeps } from "./core/submit.ts";
import { localKeyWrapper } from "./crypto/key-provider.ts";
import { loadConfiguredMasterKey } from "./crypto/master-key.ts";
import { ensureDevCertificate } from "./crypto/tls-cert.ts";
import { createDnsResolver, extraCa } from "./delivery/from-config.ts";
import type { DomainDeps } from "./domains/service.ts";
import { createLogger, type Logger } from "./logging/logger.ts";
import { createSubmissionServers, type SubmissionServers } from "./smtp/server.ts";
import { type Db, openDb } from "./store/db.ts";
import { findDomainByName } from "./store/domains.ts";
import { GroupCommitter } from "./store/group-commit.ts";
import { insertSubmissions, type SubmissionRows } from "./store/messages.ts";
import { migrate } from "./store/migrations.ts";
import type { TlsCheckDeps } from "./tools/tls-check.ts";
import { createDeliveryWorker } from "./worker/compose.ts";
import type { Deliverer } from "./worker/steps.ts";
import { startWorkerThread, type WorkerThread } from "./worker/thread-host.ts";
import type { Worker } from "./worker/worker.ts";

/**
 * The composition root: builds every dependency once from the validated config and
 * starts the roles asked for. Nothing else constructs databases, loggers or keys.
 */
export type Role = "api" | "smtp" | "worker";
export const ALL_ROLES: readonly Role[] = ["api", "smtp", "worker"];

export interface SealpostOptions {
  clock?: Clock;
  logger?: Logger;
  /** Replaces SMTP delivery (tests of the queue only). */
  deliverer?: Deliverer;
  /** Trust anchors for delivery TLS verification (tests). */
  deliveryCa?: string;
  leaseMs?: number;
  pollMs?: number;
  /**
   * Deliver on a thread of its own (the start command, SEALPOST_WORKER_THREAD): the
   * environment `config` was loaded from, which the thread validates again.
   */
  workerThread?: { env: Readonly<Record<string, string | undefined>> };
  /** The worker thread died: this node no longer delivers (the start command exits). */
  onWorkerFatal?: (err: unknown) => void;
}

export interface Sealpost {
  config: Config;
  db: Db;
  keyring: Keyring;
  logger: Logger;
  clock: Clock;
  submit: SubmitDeps;
  api: FastifyInstance;
  /** The in-process worker; null when it runs on a thread of its own. */
  worker: Worker | null;
  defaultOrgId: string;
  /** True when the bootstrap key was created by this start. */
  bootstrapCreated: boolean;
  masterKeySource: string;
  listen(): Promise<string>;
  /** Starts SMTP submission (587 STARTTLS, 465 implicit TLS); returns the bound ports. */
  listenSmtp(): Promise<{ smtp: number; smtps: number; inbound: number }>;
  startWorker(): void;
  close(): Promise<void>;
}

export { createDnsResolver, extraCa };

/** What the TLS tools need; also used by the CLI without a database. */
export function toolDeps(
  config: Config,
  resolver: Resolver = createDnsResolver(config),
  ca = extraCa(config),
): TlsCheckDeps {
  return {
    resolver,
    port: config.deliveryPort,
    heloName: config.hostname,
    timeoutMs: Math.min(config.deliveryTimeoutSeconds, 15) * 1000,
    ca,
    now: () => Date.now(),
    mtaSts: { httpsPort: config.mtaStsPort, timeoutMs: 15_000, ...(ca === undefined ? {} : { ca }) },
  };
}

export async function createSealpost(config: Config, opts: SealpostOptions = {}): Promise<Sealpost> {
  const clock = opts.clock ?? systemClock;
  const logger = opts.logger ?? createLogger({ level: config.logLevel });
  const master = loadConfiguredMasterKey(config);
  const db = openDb(config.database, config.dataDir);
  try {
    await migrate(db);
  } catch (err) {
    await db.close();
    throw err;
  }
  const keyring = new Keyring({ db, wrapper: localKeyWrapper(master), clock });
  const org = await ensureOrg(db, keyring, clock, "default");
  const bootstrapCreated =
    config.bootstrapKey === undefined
      ? false
      : await ensureBootstrapKey(db, clock, org.id, config.bootstrapKey);

  const resolver = createDnsResolver(config);
  const domains: DomainDeps = { db, keyring, clock, resolver, hostname: config.hostname };
  // The worker role: on this event loop, or (workerThread) on a thread of its own,
  // started by startWorker().
  const inline = opts.workerThread
    ? null
    : createDeliveryWorker({
        config,
        db,
        keyring,
        clock,
        logger,
        resolver,
        ca: opts.deliveryCa ?? extraCa(config),
        hostname: config.hostname,
        ...(opts.deliverer === undefined ? {} : { deliverer: opts.deliverer }),
        ...(opts.leaseMs === undefined ? {} : { leaseMs: opts.leaseMs }),
        ...(opts.pollMs === undefined ? {} : { pollMs: opts.pollMs }),
      });
  let threads: WorkerThread[] = [];
  const metrics = createMetrics(db, clock);
  const committer = new GroupCommitter<SubmissionRows>(async (items) => {
    await insertSubmissions(db, items);
    for (const i of items) metrics.accepted.inc({ mode: i.message.mode });
  });
  const submit: SubmitDeps = {
    db,
    keyring,
    clock,
    committer,
    limits: DEFAULT_LIMITS,
    maxDeliveryMs: config.maxDeliveryHours * 3_600_000,
    senderVerified: async (orgId, domain) =>
      (await findDomainByName(db, orgId, domain))?.status === "verified",
    notify: () => {
      inline?.worker.notify();
      for (const t of threads) t.notify();
    },
  };
  let ready = false;
  const https =
    config.tlsCert === undefined || config.tlsKey === undefined
      ? null
      : { cert: readFileSync(config.tlsCert), key: readFileSync(config.tlsKey) };
  const api = await buildApi({
    https,
    db,
    keyring,
    clock,
    logger,
    submit,
    domains,
    tlsCheck: toolDeps(config, resolver, opts.deliveryCa ?? extraCa(config)),
    bodyLimit: config.maxMessageBytes,
    ready: () => ready,
    metrics: () => metrics.render(),
  });
  let smtp: SubmissionServers | null = null;
  return {
    config,
    db,
    keyring,
    logger,
    clock,
    submit,
    api,
    worker: inline?.worker ?? null,
    defaultOrgId: org.id,
    bootstrapCreated,
    masterKeySource: master.source,
    async listen() {
      const address = await api.listen({ host: config.httpHost, port: config.httpPort });
      ready = true;
      return address;
    },
    async listenSmtp() {
      let tls: { cert: Buffer; key: Buffer };
      if (https !== null) tls = https;
      else {
        const dev = await ensureDevCertificate(config.dataDir);
        tls = { cert: Buffer.from(dev.cert), key: Buffer.from(dev.key) };
      }
      smtp = createSubmissionServers({
        db,
        clock,
        logger,
        submit,
        hostname: config.hostname,
        tls,
        maxMessageBytes: config.maxMessageBytes,
        maxRecipients: DEFAULT_LIMITS.maxRecipients,
        maxClients: config.smtpMaxClients,
        idleTimeoutMs: config.smtpTimeoutSeconds * 1000,
      });
      const ports = await smtp.listen({
        smtp: config.smtpPort,
        smtps: config.smtpsPort,
        host: config.smtpHost,
        inbound: config.inboundPort,
        inboundHost: config.inboundHost,
      });
      ready = true;
      return ports;
    },
    startWorker() {
      const env = opts.workerThread?.env;
      if (env === undefined) inline?.worker.start();
      else if (threads.length === 0)
        threads = Array.from({ length: config.workerThreads }, () =>
          startWorkerThread(env, logger, (err) => {
            ready = false;
            opts.onWorkerFatal?.(err);
          }),
        );
      ready = true;
    },
    async close() {
      ready = false;
      await api.close();
      await smtp?.close();
      await Promise.all(threads.map((t) => t.stop()));
      await inline?.close();
      await committer.flushed();
      await db.close();
    },
  };
}

export function dataPath(config: Config, name: string): string {
  return join(config.dataDir, name);
}
