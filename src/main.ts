import type { Resolver } from "node:dns/promises";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { buildApi } from "./api/server.ts";
import type { AuditLog } from "./audit/types.ts";
import { carryingAudit, createAuditLog } from "./audit/writer.ts";
import { createAdmission, startAdmissionPruning } from "./auth/admission.ts";
import { createAuthenticator, type KeyAuthenticator } from "./auth/authenticate.ts";
import { loadPepper } from "./auth/instance-keys.ts";
import { JwtKeys } from "./auth/jwt.ts";
import type { KeyDeps } from "./auth/keys.ts";
import { OAuthService } from "./auth/oauth.ts";
import { trustProxyOption } from "./auth/source.ts";
import type { Authenticator } from "./auth/types.ts";
import { issuerOf } from "./config/public-url.ts";
import type { Config } from "./config/schema.ts";
import { ensureBootstrapKey } from "./core/bootstrap.ts";
import { type Clock, systemClock } from "./core/clock.ts";
import { Keyring } from "./core/keyring.ts";
import { DEFAULT_LIMITS } from "./core/message.ts";
import { createMetrics } from "./core/metrics.ts";
import { ensureOrg } from "./core/orgs.ts";
import type { SubmitDeps } from "./core/submit.ts";
import { type KeyWrapper, localKeyWrapper } from "./crypto/key-provider.ts";
import { loadConfiguredMasterKey } from "./crypto/master-key.ts";
import { ensureDevCertificate } from "./crypto/tls-cert.ts";
import { createDnsResolver, extraCa } from "./delivery/from-config.ts";
import { type DomainDeps, senderDomainVerified } from "./domains/service.ts";
import { createLogger, type Logger } from "./logging/logger.ts";
import { PolicyCache } from "./policy/org-policy.ts";
import { createSubmissionServers, type SubmissionServers } from "./smtp/server.ts";
import { type Db, openDb } from "./store/db.ts";
import { GroupCommitter } from "./store/group-commit.ts";
import { insertSubmissions, type SubmissionRows } from "./store/messages.ts";
import { migrate } from "./store/migrations.ts";
import { TemplateCache } from "./templates/engine.ts";
import type { TlsCheckDeps } from "./tools/tls-check.ts";
import { WebhookOutbox } from "./webhooks/outbox.ts";
import { urlPolicyOf } from "./webhooks/ssrf.ts";
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
  /** Delays between webhook attempts (tests shorten them; ADR 0011 §3). */
  webhookSchedule?: readonly number[];
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
  /** What the API-key service needs (the CLI and tests make keys with it). */
  keys: KeyDeps;
  /** The one authenticator of HTTP and SMTP. */
  authenticator: Authenticator;
  /** OAuth access-token signing keys. */
  jwt: JwtKeys;
  /** The audit trail (ADR 0009): this node's group-committing writer. */
  audit: AuditLog;
  /** The OAuth issuer and audience: SEALPOST_PUBLIC_URL, else http(s)://host:port. */
  issuer: string;
  masterKeySource: string;
  listen(): Promise<string>;
  /** Starts SMTP submission (587 STARTTLS, 465 implicit TLS); returns the bound ports. */
  listenSmtp(): Promise<{ smtp: number; smtps: number; inbound: number }>;
  startWorker(): void;
  close(): Promise<void>;
}

export { createDnsResolver, extraCa, issuerOf };

interface AccessControl {
  keys: KeyDeps;
  authenticator: KeyAuthenticator;
  oauth: OAuthService;
  /** Stops the admission pruning timer. */
  stop(): void;
}

/**
 * Authentication (ADR 0008 §4–6): the key-hash pepper, the first JWT signing key, lockout
 * and rate limits (with their pruning timer), the one authenticator and the OAuth service.
 */
async function createAccessControl(
  config: Config,
  deps: { db: Db; wrapper: KeyWrapper; keyring: Keyring; clock: Clock; logger: Logger; jwt: JwtKeys },
): Promise<AccessControl> {
  const { db, wrapper, keyring, clock, jwt } = deps;
  const keys: KeyDeps = { db, keyring, clock, pepper: await loadPepper({ db, wrapper, clock }) };
  await jwt.init();
  if (config.behindProxy && config.trustedProxies.length === 0)
    deps.logger.warn(
      { setting: "SEALPOST_TRUSTED_PROXIES" },
      "SEALPOST_BEHIND_PROXY is set without SEALPOST_TRUSTED_PROXIES: every request seems to come from the proxy, so IP allowlists, lockout and rate limits see one client",
    );
  const admission = createAdmission({
    db,
    maxFailures: config.authMaxFailures,
    failureWindowMs: config.authFailureWindowSeconds * 1000,
    lockoutMs: config.authLockoutSeconds * 1000,
    exempt: config.authLockoutExempt,
  });
  const authenticator = createAuthenticator({
    db,
    keyring,
    clock,
    admission,
    jwt,
    pepper: keys.pepper,
    limits: { key: config.rateLimitKey, org: config.rateLimitOrg },
  });
  return {
    keys,
    authenticator,
    oauth: new OAuthService({ authenticator, jwt }),
    stop: startAdmissionPruning(admission, clock),
  };
}

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
  const wrapper = localKeyWrapper(master);
  const keyring = new Keyring({ db, wrapper, clock });
  const https =
    config.tlsCert === undefined || config.tlsKey === undefined
      ? null
      : { cert: readFileSync(config.tlsCert), key: readFileSync(config.tlsKey) };
  const issuer = issuerOf(config);
  const jwt = new JwtKeys({ db, wrapper, clock, issuer, ttlSeconds: config.oauthTokenSeconds });
  let access: AccessControl;
  let org: Awaited<ReturnType<typeof ensureOrg>>;
  let bootstrapCreated: boolean;
  try {
    access = await createAccessControl(config, { db, wrapper, keyring, clock, logger, jwt });
    org = await ensureOrg(db, keyring, clock, "default");
    bootstrapCreated =
      config.bootstrapKey === undefined
        ? false
        : await ensureBootstrapKey(access.keys, org.id, config.bootstrapKey);
  } catch (err) {
    jwt.close();
    await db.close();
    throw err;
  }
  const { keys, authenticator } = access;

  const audit = createAuditLog({ db, clock, logger });
  const resolver = createDnsResolver(config);
  const domains: DomainDeps = { db, keyring, clock, resolver, hostname: config.hostname };
  // Org policies for submit and delivery; wall time, not the (possibly fixed) app clock:
  // the cache's 5 s are real seconds.
  const policies = new PolicyCache({ db });
  // Every event writer of this process inserts its events' webhook rows from this outbox.
  const webhookOutbox = new WebhookOutbox({ db, clock });
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
        audit,
        publicUrl: issuer,
        policies,
        ...(opts.deliverer === undefined ? {} : { deliverer: opts.deliverer }),
        ...(opts.leaseMs === undefined ? {} : { leaseMs: opts.leaseMs }),
        ...(opts.pollMs === undefined ? {} : { pollMs: opts.pollMs }),
        webhooks: webhookOutbox,
        ...(opts.webhookSchedule === undefined ? {} : { webhookSchedule: opts.webhookSchedule }),
      });
  let threads: WorkerThread[] = [];
  const metrics = createMetrics(db, clock);
  const committer = new GroupCommitter<SubmissionRows>(async (items) => {
    const hooks = await webhookOutbox.rowsFor(items.flatMap((i) => i.events));
    await carryingAudit(audit, (entries) => insertSubmissions(db, items, hooks, entries));
    for (const i of items) metrics.accepted.inc({ mode: i.message.mode });
  });
  const submit: SubmitDeps = {
    db,
    keyring,
    clock,
    committer,
    limits: DEFAULT_LIMITS,
    maxDeliveryMs: config.maxDeliveryHours * 3_600_000,
    senderVerified: senderDomainVerified,
    audit,
    policies,
    templates: new TemplateCache(),
    notify: () => {
      inline?.worker.notify();
      for (const t of threads) t.notify();
    },
  };
  let ready = false;
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
    authn: { authenticator },
    keys,
    oauth: access.oauth,
    jwt,
    issuer,
    trustProxy: trustProxyOption(config.trustedProxies),
    audit,
    webhooks: {
      outbox: webhookOutbox,
      policy: urlPolicyOf(config),
    },
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
    keys,
    authenticator,
    jwt,
    issuer,
    audit,
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
        authenticator,
        hostname: config.hostname,
        tls,
        maxMessageBytes: config.maxMessageBytes,
        maxRecipients: DEFAULT_LIMITS.maxRecipients,
        maxClients: config.smtpMaxClients,
        idleTimeoutMs: config.smtpTimeoutSeconds * 1000,
        audit,
        webhooks: webhookOutbox,
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
      // After every role has stopped recording: the last entries are committed before the pool closes.
      await audit.close();
      access.stop();
      jwt.close();
      await db.close();
    },
  };
}

export function dataPath(config: Config, name: string): string {
  return join(config.dataDir, name);
}
