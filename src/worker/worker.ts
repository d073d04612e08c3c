import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { AuditLog } from "../audit/types.ts";
import { carryingAudit } from "../audit/writer.ts";
import type { Clock } from "../core/clock.ts";
import type { Keyring } from "../core/keyring.ts";
import { isAddressFailure, suppressionRow } from "../core/suppressions.ts";
import { verpAddress } from "../core/verp.ts";
import type { Signer } from "../domains/sign-pool.ts";
import type { SigningKeyCache } from "../domains/signing-cache.ts";
import type { Logger } from "../logging/logger.ts";
import type { PolicyCache } from "../policy/org-policy.ts";
import type { Db } from "../store/db.ts";
import { GroupCommitter } from "../store/group-commit.ts";
import { type Completion, claimDue, completeAttempts, renewLeases } from "../store/queue.ts";
import type { DeliveriesTable } from "../store/schema.ts";
import { systemScope } from "../store/scope.ts";
import { suppressedAmong } from "../store/suppressions.ts";
import type { WebhookOutbox } from "../webhooks/outbox.ts";
import { auditCommitted } from "./audit.ts";
import { MessageCache, openRecipient } from "./prepare.ts";
import { deliverProtected } from "./protected-delivery.ts";
import {
  chooseRoute,
  type Deliverer,
  recordOutcome,
  recordSandbox,
  recordSuppressed,
  recordUnavailable,
} from "./steps.ts";

/**
 * A delivery worker: claim → prepare → route → protect → deliver → record, for up to
 * `concurrency` deliveries at once. Leases are renewed while work is in flight, so a
 * worker that dies loses its claims after one lease period and another takes over.
 */
export interface WorkerDeps {
  db: Db;
  keyring: Keyring;
  clock: Clock;
  logger: Logger;
  deliverer: Deliverer;
  /** Delivery events are audited after their results are committed (worker/audit.ts). */
  audit: AuditLog;
  signing?: SigningKeyCache | null;
  signer?: Signer | null;
  /** Org policies (ADR 0010 §1), read per delivery through their short cache. */
  policies: PolicyCache;
  /** Where portal links point: SEALPOST_PUBLIC_URL, else the API's own address. */
  publicUrl: string;
  /** SEALPOST_REQUIRE_VERIFIED_CERTS (ORed with each org's policy). */
  requireVerifiedCerts?: boolean;
  concurrency: number;
  leaseMs?: number;
  pollMs?: number;
  retrySchedule?: readonly number[];
  random?: () => number;
  /** The webhook outbox: the rows of recorded events are written with them (ADR 0011 §3). */
  webhooks?: WebhookOutbox;
  /** Periodic jobs of a worker node (the retention purge): started and stopped with the worker. */
  jobs?: readonly { start(): void; stop(): Promise<void> }[];
}

export class Worker {
  readonly id = `${hostname()}:${process.pid}:${randomBytes(4).toString("hex")}`;
  readonly #deps: WorkerDeps;
  readonly #leaseMs: number;
  readonly #pollMs: number;
  readonly #cache: MessageCache;
  readonly #completions: GroupCommitter<Completion>;
  readonly #inflight = new Set<Promise<void>>();
  #running = false;
  #wake: (() => void) | null = null;
  #loop: Promise<void> | null = null;
  #renewTimer: NodeJS.Timeout | null = null;

  constructor(deps: WorkerDeps) {
    this.#deps = deps;
    this.#leaseMs = deps.leaseMs ?? 60_000;
    this.#pollMs = deps.pollMs ?? 250;
    this.#cache = new MessageCache({
      db: deps.db,
      keyring: deps.keyring,
      signing: deps.signing ?? null,
      signer: deps.signer ?? null,
      now: () => deps.clock.now(),
      policies: deps.policies,
      publicUrl: deps.publicUrl,
    });
    this.#completions = new GroupCommitter(
      async (items) => {
        const hooks = (await deps.webhooks?.rowsFor(items.flatMap((i) => i.events))) ?? [];
        const committed = await carryingAudit(deps.audit, (entries) =>
          completeAttempts(deps.db, items, hooks, entries),
        );
        auditCommitted(deps.audit, deps.logger, committed);
      },
      512,
      10,
    );
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#loop = this.#run();
    this.#renewTimer = setInterval(
      () => {
        renewLeases(this.#deps.db, this.id, this.#deps.clock.now(), this.#leaseMs).catch((err: unknown) =>
          this.#deps.logger.error({ err, workerId: this.id }, "lease renewal failed"),
        );
      },
      Math.max(1000, Math.floor(this.#leaseMs / 3)),
    );
    this.#renewTimer.unref();
    for (const job of this.#deps.jobs ?? []) job.start();
  }

  /** Called after a local commit so new work starts without waiting for the poll. */
  notify(): void {
    this.#wake?.();
  }

  /** Stops claiming, waits for in-flight deliveries and their records. */
  async stop(): Promise<void> {
    this.#running = false;
    this.notify();
    await Promise.all((this.#deps.jobs ?? []).map((job) => job.stop()));
    await this.#loop;
    await Promise.allSettled([...this.#inflight]);
    await this.#completions.flushed();
    if (this.#renewTimer !== null) clearInterval(this.#renewTimer);
  }

  async #sleep(): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, this.#pollMs);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = done;
    });
    this.#wake = null;
  }

  async #run(): Promise<void> {
    const { concurrency } = this.#deps;
    // Claim in batches: every claim is a write transaction (a sync to disk), so refilling
    // one slot at a time would cost a commit per delivery.
    const batch = Math.max(1, Math.floor(concurrency / 4));
    while (this.#running) {
      const room = concurrency - this.#inflight.size;
      if (room <= 0 || (room < batch && this.#inflight.size > 0)) {
        await Promise.race(this.#inflight);
        continue;
      }
      let claimed: DeliveriesTable[] = [];
      try {
        claimed = await claimDue(this.#deps.db, this.id, this.#deps.clock.now(), this.#leaseMs, room);
      } catch (err) {
        this.#deps.logger.error({ err, workerId: this.id }, "claim failed");
      }
      if (claimed.length === 0) {
        await this.#sleep();
        continue;
      }
      await this.#cache.preload(claimed).catch(() => undefined);
      const suppressed = await this.#suppressedOf(claimed);
      for (const delivery of claimed) {
        const p = this.#process(delivery, suppressed.has(delivery.id)).finally(() =>
          this.#inflight.delete(p),
        );
        this.#inflight.add(p);
      }
    }
  }

  /** Ids of claimed deliveries whose address is now suppressed (one query per org). */
  async #suppressedOf(claimed: readonly DeliveriesTable[]): Promise<Set<string>> {
    const out = new Set<string>();
    const byOrg = Map.groupBy(claimed, (d) => d.org_id);
    for (const [orgId, rows] of byOrg) {
      const hit = await suppressedAmong(
        systemScope(this.#deps.db, orgId, "worker"),
        rows.map((d) => d.recipient_bidx),
      ).catch(() => new Set<string>());
      for (const d of rows) if (hit.has(d.recipient_bidx)) out.add(d.id);
    }
    return out;
  }

  async #process(delivery: DeliveriesTable, suppressed: boolean): Promise<void> {
    const { clock, logger, deliverer } = this.#deps;
    const input = {
      delivery,
      workerId: this.id,
      random: this.#deps.random,
      schedule: this.#deps.retrySchedule,
    };
    let completion: Completion;
    try {
      const message = await this.#cache.get(delivery);
      if (suppressed) {
        completion = recordSuppressed({ ...input, now: clock.now() });
      } else if (message.raw === null || message.content === null) {
        completion = recordUnavailable({ ...input, now: clock.now() });
      } else {
        const recipient = openRecipient(message.dek, delivery);
        const route = chooseRoute(message, recipient);
        // Step "protect": S/MIME, PGP, TLS, the portal or (honoured allow_non_tls) none.
        const attempt = await deliverProtected(
          {
            db: this.#deps.db,
            keyring: this.#deps.keyring,
            policies: this.#deps.policies,
            publicUrl: this.#deps.publicUrl,
            deliverer,
            sign: (orgId, domain, raw) => this.#cache.sign(orgId, domain, raw),
            requireVerifiedCerts: this.#deps.requireVerifiedCerts ?? false,
            now: () => clock.now(),
          },
          {
            message,
            delivery,
            recipient,
            route,
            // Step "return path": a VERP address, so a later DSN names this delivery.
            from:
              route.kind === "sandbox"
                ? ""
                : verpAddress(
                    (await this.#deps.keyring.orgKeys(delivery.org_id)).indexKey,
                    delivery.id,
                    message.fromDomain,
                  ),
          },
        );
        if (attempt.kind === "sandbox") {
          completion = recordSandbox(
            { ...input, now: clock.now() },
            message,
            attempt.raw,
            attempt.protection,
            attempt.notice,
          );
        } else {
          const result = attempt.result;
          const outcome = result.outcome;
          completion = recordOutcome(
            { ...input, now: clock.now() },
            result,
            attempt.protection,
            attempt.notice,
          );
          if (
            completion.status === "bounced" ||
            (completion.status === "failed" && outcome.kind === "hard_fail")
          ) {
            const reply = outcome.kind === "sent" ? null : outcome.reply;
            if (isAddressFailure(reply?.code ?? null, reply?.enhanced ?? null, completion.reason ?? ""))
              completion.suppression = await suppressionRow(
                this.#deps.keyring,
                clock,
                delivery.org_id,
                recipient,
                "hard_bounce",
                delivery.id,
              );
          }
        }
      }
    } catch (err) {
      // A bug or an unreachable store: leave the lease to expire so the row is retried.
      logger.error({ err, deliveryId: delivery.id }, "delivery attempt crashed");
      return;
    }
    try {
      await this.#completions.submit(completion);
      logger.debug({ deliveryId: delivery.id, outcome: completion.status }, "delivery recorded");
    } catch (err) {
      logger.error({ err, deliveryId: delivery.id }, "recording a delivery failed");
    }
  }
}
