/**
 * Connections and pacing: several messages per SMTP session to one destination, at most
 * `maxPerDestination` connections to it at once, an optional rate limit per recipient domain.
 *
 * A destination is one target (host, address, port) with one set of TLS requirements (HELO
 * name, certificate verification, server name, trust anchors): sessions are only shared
 * between sends that would have opened the very same connection. Every session is opened by
 * `openSession`, which runs the TLS gate of `deliverOnce`; a connection that does not pass it
 * is closed and never carries a message. Its evidence is read once and copied into the outcome
 * of every message sent through it.
 *
 * `send` takes the most recently used idle session, else opens one while the destination is
 * under its cap, else waits in line (first come, first served; at most `timeoutMs`). After a
 * message the session goes to the next caller in line or idles; it is closed (QUIT) after
 * `maxMessagesPerSession` messages or `idleMs` without one, and dropped after any error, a 421
 * or a connection the server closed. A refused message (4xx/5xx to MAIL FROM, RCPT TO or the
 * data) does not break the session: RSET, then the next one.
 *
 * A session that sat idle may have been dropped by the server without us noticing yet. When a
 * reused session fails before the server answered anything (or with 421 to MAIL FROM), the
 * message is sent once more on a fresh connection; never after the server answered MAIL FROM
 * with a 2xx, and so never after message data was sent.
 */
import { createHash } from "node:crypto";
import { bodyLength, type MessageBody } from "../core/body.ts";
import type { Logger } from "../logging/logger.ts";
import { type AttemptOutcome, type FailedOutcome, hardFail, softFail } from "./outcome.ts";
import { RateLimiter } from "./pacing.ts";
import {
  closeSession,
  type DeliverOptions,
  type DeliveryEnvelope,
  type DeliveryTarget,
  openSession,
  resetSession,
  type SmtpSession,
  type Transaction,
  transact,
  validEnvelope,
} from "./smtp-client.ts";
import { emptyEvidence } from "./tls-check.ts";

export const DEFAULT_MAX_PER_DESTINATION = 8;
export const DEFAULT_MAX_MESSAGES_PER_SESSION = 100;
export const DEFAULT_IDLE_MS = 5000;
/** How long a QUIT may take before the socket is closed. */
const QUIT_GRACE_MS = 2000;

export interface SessionPoolOptions {
  /** Connections open (or being opened) to one destination at once; default 8. */
  maxPerDestination?: number;
  /** Messages sent over one connection before it is closed; default 100. */
  maxMessagesPerSession?: number;
  /** An idle connection is closed (QUIT) after this long; default 5000 ms. */
  idleMs?: number;
  /** Messages per second to one recipient domain; 0 (default) is no limit. */
  ratePerDomain?: number;
  /** Session opened/closed lines at debug level (host and counts only). */
  logger?: Logger;
  /** Clock of the rate limit (tests). */
  now?: () => number;
}

export interface PoolStats {
  /** Connections opened since the pool was created, those refused at the TLS gate included. */
  opened: number;
  /** Connections open or being opened now. */
  open: number;
  idle: number;
  /** Callers waiting for a session. */
  waiting: number;
  /** The most connections one destination ever had open or being opened at once. */
  peakPerDestination: number;
}

interface PooledSession {
  dest: Destination;
  smtp: SmtpSession;
  /** Transactions started on it. */
  used: number;
  state: "busy" | "idle" | "closing" | "closed";
  idleTimer: NodeJS.Timeout | null;
}

type Lease =
  | { kind: "session"; session: PooledSession; reused: boolean }
  | { kind: "failed"; outcome: FailedOutcome };

interface Waiter {
  target: DeliveryTarget;
  opts: DeliverOptions;
  resolve: (lease: Lease) => void;
  timer: NodeJS.Timeout;
}

interface Destination {
  key: string;
  /** Connections open or being opened: what the cap counts. */
  count: number;
  /** Most recently used last. */
  idle: PooledSession[];
  waiters: Waiter[];
}

function positive(value: number | undefined, fallback: number, name: string): number {
  const v = value ?? fallback;
  if (!Number.isFinite(v) || v < 1) throw new RangeError(`${name} must be >= 1`);
  return Math.floor(v);
}

export class SessionPool {
  readonly #max: number;
  readonly #maxMessages: number;
  readonly #idleMs: number;
  readonly #rate: RateLimiter;
  readonly #logger: Logger | undefined;
  readonly #destinations = new Map<string, Destination>();
  readonly #drained = new Set<() => void>();
  #closed = false;
  #opened = 0;
  #peak = 0;
  #caKey: { ca: string | Buffer; id: string } | null = null;

  constructor(opts: SessionPoolOptions = {}) {
    this.#max = positive(opts.maxPerDestination, DEFAULT_MAX_PER_DESTINATION, "maxPerDestination");
    this.#maxMessages = positive(
      opts.maxMessagesPerSession,
      DEFAULT_MAX_MESSAGES_PER_SESSION,
      "maxMessagesPerSession",
    );
    this.#idleMs = positive(opts.idleMs, DEFAULT_IDLE_MS, "idleMs");
    this.#rate = new RateLimiter({
      ratePerSecond: opts.ratePerDomain ?? 0,
      ...(opts.now ? { now: opts.now } : {}),
    });
    this.#logger = opts.logger;
  }

  /**
   * Waits for the rate limit of `domain` (once per message, before its first target); false
   * when the wait would be longer than `maxWaitMs`: the message should be deferred.
   */
  pace(domain: string, maxWaitMs: number): Promise<boolean> {
    return this.#rate.take(domain.toLowerCase(), maxWaitMs);
  }

  /** Delivers `raw` to one recipient at `target` over a pooled session. Never throws. */
  async send(
    target: DeliveryTarget,
    envelope: DeliveryEnvelope,
    raw: MessageBody,
    opts: DeliverOptions,
  ): Promise<AttemptOutcome> {
    const evidence = emptyEvidence(target.host, target.ip ?? null, target.port);
    if (!validEnvelope(envelope) || bodyLength(raw) === 0) return hardFail("protocol_error", evidence);
    if (this.#closed) return softFail("connection_failed", evidence);
    const dest = this.#destination(target, opts);
    let lease = await this.#acquire(dest, target, opts);
    let retried = false;
    for (;;) {
      if (lease.kind === "failed") return lease.outcome;
      const { session, reused } = lease;
      session.used++;
      const result: Transaction = await transact(session.smtp, envelope, raw, opts);
      if (result.next === "discard" && result.stale && reused && !retried) {
        // A connection the server had dropped while idle: once more, on a new one.
        retried = true;
        lease = await this.#replace(session, target, opts);
        continue;
      }
      // RSET before the outcome is returned, so the session is free for the caller's next message.
      const clean = result.next !== "reset" || (await resetSession(session.smtp, opts.timeoutMs));
      this.#release(session, result.next === "discard" || !clean ? "discard" : "reuse");
      return result.outcome;
    }
  }

  stats(): PoolStats {
    let open = 0;
    let idle = 0;
    let waiting = 0;
    for (const d of this.#destinations.values()) {
      open += d.count;
      idle += d.idle.length;
      waiting += d.waiters.length;
    }
    return { opened: this.#opened, open, idle, waiting, peakPerDestination: this.#peak };
  }

  /**
   * Stops taking messages, fails the callers still waiting, and ends every session (QUIT): idle
   * ones now, busy ones once their message is done. Resolves when all are closed.
   */
  close(): Promise<void> {
    this.#closed = true;
    for (const dest of [...this.#destinations.values()]) {
      for (const w of dest.waiters.splice(0)) {
        clearTimeout(w.timer);
        w.resolve({ kind: "failed", outcome: softFail("connection_failed") });
      }
      for (const s of [...dest.idle]) this.#retire(s);
      this.#forget(dest);
    }
    if (this.#destinations.size === 0) return Promise.resolve();
    return new Promise<void>((resolve) => this.#drained.add(resolve));
  }

  #destination(target: DeliveryTarget, opts: DeliverOptions): Destination {
    const key = JSON.stringify([
      target.host.toLowerCase(),
      target.ip ?? "",
      target.port,
      opts.heloName,
      opts.requireVerifiedCert,
      opts.servername ?? "",
      this.#caId(opts.ca),
    ]);
    let dest = this.#destinations.get(key);
    if (dest === undefined) {
      dest = { key, count: 0, idle: [], waiters: [] };
      this.#destinations.set(key, dest);
    }
    return dest;
  }

  /** A short fingerprint of the trust anchors, so sessions checked against other CAs differ. */
  #caId(ca: string | Buffer | undefined): string {
    if (ca === undefined) return "";
    if (this.#caKey?.ca === ca) return this.#caKey.id;
    const id = createHash("sha256").update(ca).digest("hex").slice(0, 16);
    this.#caKey = { ca, id };
    return id;
  }

  #acquire(dest: Destination, target: DeliveryTarget, opts: DeliverOptions): Promise<Lease> {
    for (let s = dest.idle.pop(); s !== undefined; s = dest.idle.pop()) {
      this.#stopIdle(s);
      if (!s.smtp.alive()) {
        this.#remove(s, false);
        continue;
      }
      s.state = "busy";
      return Promise.resolve({ kind: "session", session: s, reused: true });
    }
    if (dest.count < this.#max && dest.waiters.length === 0) return this.#open(dest, target, opts);
    const lease = new Promise<Lease>((resolve) => {
      const waiter: Waiter = {
        target,
        opts,
        resolve,
        timer: setTimeout(() => {
          const i = dest.waiters.indexOf(waiter);
          if (i >= 0) dest.waiters.splice(i, 1);
          const evidence = emptyEvidence(target.host, target.ip ?? null, target.port);
          resolve({ kind: "failed", outcome: softFail("timeout", evidence) });
          this.#forget(dest);
        }, opts.timeoutMs),
      };
      dest.waiters.push(waiter);
    });
    // Nothing open or opening would ever hand a session to the line: open one for it.
    if (dest.count === 0) this.#serve(dest, true);
    return lease;
  }

  /** Opens a connection in a slot of `dest` (counted at once, before any await). */
  async #open(dest: Destination, target: DeliveryTarget, opts: DeliverOptions): Promise<Lease> {
    dest.count++;
    this.#opened++;
    this.#peak = Math.max(this.#peak, dest.count);
    const opened = await openSession(target, opts);
    if (opened.kind === "refused") {
      dest.count--;
      if (dest.count === 0) {
        // Nothing else is open or opening: the destination is down for everyone in line too.
        for (const w of dest.waiters.splice(0)) {
          clearTimeout(w.timer);
          const evidence = opened.outcome.evidence === null ? null : { ...opened.outcome.evidence };
          w.resolve({ kind: "failed", outcome: { ...opened.outcome, evidence } });
        }
      }
      // With sessions still open (the server may limit connections), they serve the line.
      this.#serve(dest, false);
      this.#forget(dest);
      return { kind: "failed", outcome: opened.outcome };
    }
    const session: PooledSession = { dest, smtp: opened.session, used: 0, state: "busy", idleTimer: null };
    session.smtp.onGone(() => this.#gone(session));
    this.#logger?.debug({ mxHost: target.host, count: dest.count }, "delivery session opened");
    return { kind: "session", session, reused: false };
  }

  /** Drops a stale session and opens a fresh one in its slot, ahead of anyone in line. */
  #replace(session: PooledSession, target: DeliveryTarget, opts: DeliverOptions): Promise<Lease> {
    session.smtp.conn.close();
    this.#remove(session, false);
    return this.#open(session.dest, target, opts);
  }

  #release(session: PooledSession, next: "reuse" | "discard"): void {
    if (next === "discard" || !session.smtp.alive()) {
      session.smtp.conn.close();
      this.#remove(session, true);
      return;
    }
    if (this.#closed || session.used >= this.#maxMessages) {
      this.#retire(session);
      return;
    }
    const dest = session.dest;
    const waiter = dest.waiters.shift();
    if (waiter !== undefined) {
      clearTimeout(waiter.timer);
      waiter.resolve({ kind: "session", session, reused: true });
      return;
    }
    session.state = "idle";
    dest.idle.push(session);
    session.idleTimer = setTimeout(() => {
      session.idleTimer = null;
      if (session.state === "idle") this.#retire(session);
    }, this.#idleMs);
    session.idleTimer.unref();
  }

  /** Hands idle sessions to callers in line, and opens for them while under the cap. */
  #serve(dest: Destination, mayOpen: boolean): void {
    while (dest.waiters.length > 0) {
      const idle = dest.idle.pop();
      const waiter =
        idle !== undefined || (mayOpen && dest.count < this.#max) ? dest.waiters.shift() : undefined;
      if (waiter === undefined) return;
      clearTimeout(waiter.timer);
      if (idle !== undefined) {
        this.#stopIdle(idle);
        idle.state = "busy";
        waiter.resolve({ kind: "session", session: idle, reused: true });
      } else {
        void this.#open(dest, waiter.target, waiter.opts).then(waiter.resolve);
      }
    }
  }

  /** QUIT, then free the slot. */
  #retire(session: PooledSession): void {
    if (session.state === "closing" || session.state === "closed") return;
    this.#stopIdle(session);
    this.#unidle(session);
    session.state = "closing";
    this.#logger?.debug(
      { mxHost: session.smtp.evidence.host, count: session.used },
      "delivery session closed",
    );
    void closeSession(session.smtp.conn, QUIT_GRACE_MS).then(() => this.#remove(session, true));
  }

  /** The connection failed or the server closed it. A busy session is left to its sender. */
  #gone(session: PooledSession): void {
    if (session.state === "idle") this.#remove(session, true);
  }

  /**
   * Frees the slot of a session that is closed or about to be. `settle`: serve the line and
   * drop the destination when it is unused; without it the caller takes the slot at once.
   */
  #remove(session: PooledSession, settle: boolean): void {
    if (session.state === "closed") return;
    this.#stopIdle(session);
    this.#unidle(session);
    session.state = "closed";
    const dest = session.dest;
    dest.count--;
    if (!settle) return;
    if (!this.#closed) this.#serve(dest, true);
    this.#forget(dest);
  }

  #unidle(session: PooledSession): void {
    const i = session.dest.idle.indexOf(session);
    if (i >= 0) session.dest.idle.splice(i, 1);
  }

  #stopIdle(session: PooledSession): void {
    if (session.idleTimer !== null) clearTimeout(session.idleTimer);
    session.idleTimer = null;
  }

  /** Drops a destination with nothing open and nobody waiting; resolves close() at the end. */
  #forget(dest: Destination): void {
    if (dest.count > 0 || dest.waiters.length > 0) return;
    if (this.#destinations.get(dest.key) === dest) this.#destinations.delete(dest.key);
    if (this.#closed && this.#destinations.size === 0) {
      for (const resolve of this.#drained) resolve();
      this.#drained.clear();
    }
  }
}
