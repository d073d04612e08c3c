/**
 * One delivery attempt to one host: connect, EHLO, STARTTLS (always), check the TLS session,
 * then MAIL FROM / RCPT TO / DATA, then QUIT. Built on nodemailer's SMTPConnection.
 *
 * The TLS gate: SMTPConnection with `requireTLS` calls the connect() callback only after the
 * STARTTLS handshake and the EHLO that follows it, and sends nothing more on its own; MAIL FROM
 * is only written when we call send(). So the callback is the point between STARTTLS and MAIL
 * FROM: there the session socket must be a TLSSocket that negotiated TLS 1.2/1.3 (and, when
 * required, verified the certificate), otherwise send() is never called and no envelope or
 * message byte goes out. `minVersion: "TLSv1.2"` and `rejectUnauthorized` on the handshake are
 * a second, independent layer of the same rule.
 *
 * Sessions for the pool (pool.ts): `openSession` runs the same connect and the same gate once
 * and hands back a session that passed it; `transact` sends one message over it (RSET between
 * transactions after a refusal: `resetSession`; nodemailer pipelines MAIL FROM, RCPT TO and
 * DATA when the server offers PIPELINING). A session that did not pass the gate is never
 * returned, so no envelope or message byte can go out over it.
 */
import { isAscii } from "node:buffer";
import { isIP } from "node:net";
import { Readable } from "node:stream";
import { type ConnectionOptions, TLSSocket } from "node:tls";
import SMTPConnection from "nodemailer/lib/smtp-connection";
import { bodyLength, bodyParts, type MessageBody } from "../core/body.ts";
import { classifySmtpError, type SessionState } from "./classify.ts";
import { type AttemptOutcome, type FailedOutcome, hardFail, softFail, type TlsEvidence } from "./outcome.ts";
import { parseReply } from "./reply.ts";
import { checkTlsSession, emptyEvidence } from "./tls-check.ts";

/** Where to connect. `ip`, when given, is connected to; `host` is the name TLS is checked against. */
export interface DeliveryTarget {
  host: string;
  port: number;
  ip?: string;
}

export interface DeliveryEnvelope {
  /** Envelope sender; "" for the null sender (bounces). */
  from: string;
  to: string;
}

export interface DeliverOptions {
  /** Name sent with EHLO. */
  heloName: string;
  /** Refuse (soft `cert_invalid`) a certificate that does not verify for the host name. */
  requireVerifiedCert: boolean;
  /**
   * Limit for each step: connecting, the greeting, the TLS handshake, and any silence on
   * the socket. The whole attempt is also capped (see `attemptDeadlineMs`).
   */
  timeoutMs: number;
  /** TLS server name (SNI and certificate check); defaults to `target.host` unless it is an IP. */
  servername?: string;
  /** Trust anchors replacing the system ones (tests, private relays). */
  ca?: string | Buffer;
  /**
   * ADR 0010 §7: the message holds no PHI (a portal notice, an honoured allow_non_tls), so
   * it may go on without TLS, but only when the server does not advertise STARTTLS. A refused
   * STARTTLS, a failed handshake or TLS below 1.2 stay failures. Default false.
   */
  plaintextPermitted?: boolean;
}

/** Safety net for a whole attempt: ten steps' worth, plus 10 ms per KB of message (100 KB/s). */
export function attemptDeadlineMs(timeoutMs: number, messageBytes: number): number {
  return timeoutMs * 10 + Math.ceil(messageBytes / 100);
}

const FORBIDDEN_IN_ADDRESS = /[\r\n<>\s]/;

export function validEnvelope(envelope: DeliveryEnvelope): boolean {
  return (
    !FORBIDDEN_IN_ADDRESS.test(envelope.from) &&
    envelope.to.length > 0 &&
    !FORBIDDEN_IN_ADDRESS.test(envelope.to) &&
    envelope.from.length <= 512 &&
    envelope.to.length <= 512
  );
}

/**
 * The message as a stream of 64 KB views of the shared parts: nodemailer dot-stuffs
 * and writes it with backpressure, so sending a large message to many recipients at once
 * does not make a full copy per recipient (a plain Buffer is transformed in one piece).
 */
function chunked(raw: MessageBody): Readable {
  return Readable.from(
    (function* () {
      for (const part of bodyParts(raw))
        for (let i = 0; i < part.length; i += 65_536) yield part.subarray(i, i + 65_536);
    })(),
    { objectMode: false },
  );
}

function hasEightBit(raw: MessageBody): boolean {
  return bodyParts(raw).some((part) => !isAscii(part));
}

/** A client for one connection to `target`, STARTTLS required, TLS 1.2+ on the handshake. */
function connectionFor(target: DeliveryTarget, opts: DeliverOptions): SMTPConnection {
  const servername = opts.servername ?? (isIP(target.host) === 0 ? target.host : undefined);
  // A message without PHI (ADR 0010 §7) takes whatever TLS the server has, old versions too:
  // TLS 1.0 beats the plaintext it could otherwise go in. Everything else: TLS 1.2+.
  const tls: ConnectionOptions =
    opts.plaintextPermitted === true
      ? { minVersion: "TLSv1", ciphers: "DEFAULT@SECLEVEL=0", rejectUnauthorized: false }
      : { minVersion: "TLSv1.2", rejectUnauthorized: opts.requireVerifiedCert };
  if (servername !== undefined) tls.servername = servername;
  if (opts.ca !== undefined) tls.ca = opts.ca;

  return new SMTPConnection({
    host: target.ip ?? target.host,
    port: target.port,
    secure: false,
    // Without requireTLS nodemailer still upgrades whenever STARTTLS is advertised and fails
    // the connection when that upgrade fails (opportunisticTLS stays off): only a server that
    // does not offer STARTTLS at all reaches the gate without TLS.
    requireTLS: opts.plaintextPermitted !== true,
    ignoreTLS: false,
    opportunisticTLS: false,
    name: opts.heloName,
    servername,
    tls,
    connectionTimeout: opts.timeoutMs,
    greetingTimeout: opts.timeoutMs,
    socketTimeout: opts.timeoutMs,
    dnsTimeout: opts.timeoutMs,
    socketCloseTimeout: Math.min(opts.timeoutMs, 2000),
    allowInternalNetworkInterfaces: true,
    // nodemailer's logs carry addresses and reply texts: never enabled.
    logger: false,
    debug: false,
    transactionLog: false,
  });
}

/**
 * Ends the session: QUIT when the connection is still usable (nodemailer has not torn it down
 * after an error), then waits, at most `graceMs`, until the socket is closed.
 */
export function closeSession(conn: SMTPConnection, graceMs: number): Promise<void> {
  return new Promise<void>((resolve) => {
    // Run after nodemailer's own error handling, which closes a broken connection itself.
    setImmediate(() => {
      if (conn.destroyed) return resolve();
      const timer = setTimeout(() => {
        conn.close();
        resolve();
      }, graceMs);
      conn.once("end", () => {
        clearTimeout(timer);
        resolve();
      });
      conn.quit();
    });
  });
}

/** `sent` when the server took the message for the recipient; a reply we cannot read is 250. */
function sentOutcome(
  info: SMTPConnection.SentMessageInfo | undefined,
  envelope: DeliveryEnvelope,
  evidence: TlsEvidence,
): AttemptOutcome {
  if (info === undefined || !info.accepted.includes(envelope.to)) return softFail("protocol_error", evidence);
  const reply = parseReply(info.response) ?? { code: 250, enhanced: null, text: "" };
  return { kind: "sent", evidence, reply };
}

/**
 * THE GATE: whether the message may go out on this session. A message without PHI (portal
 * notice, honoured allow_non_tls) passes on any session: TLS of any version when the server
 * offered STARTTLS (nodemailer upgrades or fails the connection), plaintext only when it did
 * not; the evidence records which. Every other message needs TLS 1.2+ (and a verified
 * certificate when required).
 */
function gate(conn: SMTPConnection, opts: DeliverOptions, evidence: TlsEvidence): FailedOutcome | null {
  if (opts.plaintextPermitted !== true)
    return checkTlsSession(conn._socket, conn.secure, opts.requireVerifiedCert, evidence);
  if (conn._socket instanceof TLSSocket) checkTlsSession(conn._socket, conn.secure, false, evidence);
  return null;
}

/** Delivers `raw` to one recipient at one host. Never throws; every failure is an outcome. */
export function deliverOnce(
  target: DeliveryTarget,
  envelope: DeliveryEnvelope,
  raw: MessageBody,
  opts: DeliverOptions,
): Promise<AttemptOutcome> {
  const evidence: TlsEvidence = emptyEvidence(target.host, target.ip ?? null, target.port);
  if (!validEnvelope(envelope) || bodyLength(raw) === 0) {
    return Promise.resolve(hardFail("protocol_error", evidence));
  }
  const conn = connectionFor(target, opts);
  let envelopeStarted = false;
  const snapshot = (): SessionState => ({
    upgrading: conn.upgrading === true,
    secure: conn.secure,
    envelopeStarted,
  });
  const graceMs = Math.min(opts.timeoutMs, 2000);

  return new Promise<AttemptOutcome>((resolve) => {
    let settled = false;
    const finish = (outcome: AttemptOutcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      void closeSession(conn, graceMs).then(() => resolve(outcome));
    };
    const fail = (err: unknown): void => finish(classifySmtpError(err, snapshot(), evidence));
    const deadline = setTimeout(
      () => finish(softFail("timeout", evidence)),
      attemptDeadlineMs(opts.timeoutMs, bodyLength(raw)),
    );

    conn.on("error", fail);
    conn.once("end", () => finish(softFail("connection_failed", evidence)));
    conn.connect((err) => {
      if (err) return fail(err);
      // THE GATE: nothing but EHLO/STARTTLS has been sent so far; MAIL FROM only after this.
      const refused = gate(conn, opts, evidence);
      if (refused !== null) return finish(refused);
      const socket = conn._socket;
      if (evidence.ip === null && socket && typeof socket.remoteAddress === "string")
        evidence.ip = socket.remoteAddress;
      envelopeStarted = true;
      conn.send(
        { from: envelope.from, to: [envelope.to], size: bodyLength(raw), use8BitMime: hasEightBit(raw) },
        chunked(raw),
        (sendErr, info) => (sendErr ? fail(sendErr) : finish(sentOutcome(info, envelope, evidence))),
      );
    });
  });
}

/** A connection that passed the TLS gate, ready for one transaction after another. */
export interface SmtpSession {
  readonly conn: SMTPConnection;
  /** What the gate read from the TLS socket; every outcome sent through the session copies it. */
  readonly evidence: Readonly<TlsEvidence>;
  /** False once the connection failed or was closed by either side. */
  alive(): boolean;
  /** Bytes received from the server since the gate (tells whether it answered anything). */
  received(): number;
  /** Runs `listener` once when the connection fails or closes; returns an unsubscribe. */
  onGone(listener: () => void): () => void;
}

function sessionOf(conn: SMTPConnection, socket: TLSSocket, evidence: TlsEvidence): SmtpSession {
  let gone = false;
  let bytes = 0;
  const listeners = new Set<() => void>();
  const markGone = (): void => {
    if (gone) return;
    gone = true;
    for (const listener of listeners) listener();
    listeners.clear();
  };
  // An 'error' listener stays for the life of the connection (an unhandled one would throw).
  conn.on("error", markGone);
  conn.once("end", markGone);
  // Counted before nodemailer's own handler sees the chunk, which may complete a send at once.
  socket.prependListener("data", (chunk: Buffer) => {
    bytes += chunk.length;
  });
  return {
    conn,
    evidence,
    alive: () => !gone && !conn.destroyed,
    received: () => bytes,
    onGone(listener) {
      if (gone) {
        listener();
        return () => {};
      }
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

export type OpenedSession =
  | { kind: "ready"; session: SmtpSession }
  | { kind: "refused"; outcome: FailedOutcome };

/**
 * Connects, EHLO, STARTTLS, EHLO, and runs the TLS gate, exactly as `deliverOnce` does before
 * MAIL FROM. A connection that fails or does not pass the gate is closed and its outcome
 * returned (with the evidence read so far); only a session that passed is handed back.
 */
export function openSession(target: DeliveryTarget, opts: DeliverOptions): Promise<OpenedSession> {
  const evidence = emptyEvidence(target.host, target.ip ?? null, target.port);
  const conn = connectionFor(target, opts);
  return new Promise<OpenedSession>((resolve) => {
    let settled = false;
    const refuse = (outcome: FailedOutcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      void closeSession(conn, Math.min(opts.timeoutMs, 2000)).then(() =>
        resolve({ kind: "refused", outcome }),
      );
    };
    const fail = (err: unknown): void =>
      refuse(
        classifySmtpError(
          err,
          { upgrading: conn.upgrading === true, secure: conn.secure, envelopeStarted: false },
          evidence,
        ),
      );
    const ended = (): void => refuse(softFail("connection_failed", evidence));
    // Connect, greeting and STARTTLS are bounded by nodemailer's own timers; this is a safety net.
    const deadline = setTimeout(() => refuse(softFail("timeout", evidence)), opts.timeoutMs * 3);

    conn.on("error", fail);
    conn.once("end", ended);
    conn.connect((err) => {
      if (err) return fail(err);
      if (settled) return;
      // THE GATE, as in deliverOnce: nothing but EHLO/STARTTLS has been sent on this connection.
      const socket = conn._socket;
      const refused = checkTlsSession(socket, conn.secure, opts.requireVerifiedCert, evidence);
      if (refused !== null || !(socket instanceof TLSSocket))
        return refuse(refused ?? softFail("tls_unavailable", evidence));
      settled = true;
      clearTimeout(deadline);
      const session = sessionOf(conn, socket, evidence);
      conn.off("error", fail);
      conn.off("end", ended);
      resolve({ kind: "ready", session });
    });
  });
}

/** How one transaction on a session went, and what the session is good for afterwards. */
export interface Transaction {
  outcome: AttemptOutcome;
  /** `reuse` as is, `reset` (RSET) before the next transaction, or `discard` the connection. */
  next: "reuse" | "reset" | "discard";
  /**
   * True when the server accepted nothing of this transaction and no message byte went out: it
   * answered nothing at all (a connection it had already dropped), or 421 to MAIL FROM. Only
   * then may the message be tried again on another connection.
   */
  stale: boolean;
}

function field(err: unknown, name: string): unknown {
  return typeof err === "object" && err !== null ? (err as Record<string, unknown>)[name] : undefined;
}

/** Sends `raw` to one recipient over `session`. Never throws; every failure is an outcome. */
export function transact(
  session: SmtpSession,
  envelope: DeliveryEnvelope,
  raw: MessageBody,
  opts: DeliverOptions,
): Promise<Transaction> {
  const evidence: TlsEvidence = { ...session.evidence };
  if (!session.alive()) {
    return Promise.resolve({
      outcome: softFail("connection_failed", evidence),
      next: "discard",
      stale: true,
    });
  }
  const { conn } = session;
  const receivedBefore = session.received();
  return new Promise<Transaction>((resolve) => {
    let settled = false;
    const finish = (result: Transaction): void => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      resolve(result);
    };
    const deadline = setTimeout(
      () => {
        conn.close();
        finish({ outcome: softFail("timeout", evidence), next: "discard", stale: false });
      },
      attemptDeadlineMs(opts.timeoutMs, bodyLength(raw)),
    );

    conn.send(
      { from: envelope.from, to: [envelope.to], size: bodyLength(raw), use8BitMime: hasEightBit(raw) },
      chunked(raw),
      (err, info) => {
        if (!err) {
          const outcome = sentOutcome(info, envelope, evidence);
          return finish({ outcome, next: outcome.kind === "sent" ? "reuse" : "discard", stale: false });
        }
        const state = { upgrading: false, secure: true, envelopeStarted: true };
        const outcome = classifySmtpError(err, state, evidence);
        const code = field(err, "code");
        const replyCode = field(err, "responseCode");
        // A refusal (MAIL FROM, RCPT TO, the message) leaves the connection usable after RSET;
        // 421 means the server is closing it, anything else broke the session.
        const refusal = (code === "EENVELOPE" || code === "EMESSAGE") && replyCode !== 421;
        const silent = session.received() === receivedBefore;
        const closing421 = field(err, "command") === "MAIL FROM" && replyCode === 421;
        finish({
          outcome,
          next: refusal && session.alive() ? "reset" : "discard",
          stale: outcome.kind === "soft_fail" && (silent || closing421),
        });
      },
    );
  });
}

/** RSET, so the next transaction starts clean; false (and the connection closed) when it failed. */
export function resetSession(session: SmtpSession, timeoutMs: number): Promise<boolean> {
  if (!session.alive()) return Promise.resolve(false);
  return new Promise<boolean>((resolve) => {
    let settled = false;
    const finish = (ok: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      unsubscribe();
      if (!ok) session.conn.close();
      resolve(ok);
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    const unsubscribe = session.onGone(() => finish(false));
    session.conn.reset((err) => finish(!err));
  });
}
