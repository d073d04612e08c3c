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
 */
import { isIP } from "node:net";
import type { ConnectionOptions } from "node:tls";
import SMTPConnection from "nodemailer/lib/smtp-connection";
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
}

/** Safety net for a whole attempt: ten steps' worth, plus 10 ms per KB of message (100 KB/s). */
export function attemptDeadlineMs(timeoutMs: number, messageBytes: number): number {
  return timeoutMs * 10 + Math.ceil(messageBytes / 100);
}

const FORBIDDEN_IN_ADDRESS = /[\r\n<>\s]/;

function validEnvelope(envelope: DeliveryEnvelope): boolean {
  return (
    !FORBIDDEN_IN_ADDRESS.test(envelope.from) &&
    envelope.to.length > 0 &&
    !FORBIDDEN_IN_ADDRESS.test(envelope.to) &&
    envelope.from.length <= 512 &&
    envelope.to.length <= 512
  );
}

function hasEightBit(raw: Buffer): boolean {
  return raw.some((b) => b > 0x7f);
}

/**
 * Ends the session: QUIT when the connection is still usable (nodemailer has not torn it down
 * after an error), then waits, at most `graceMs`, until the socket is closed.
 */
function closeSession(conn: SMTPConnection, graceMs: number): Promise<void> {
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

/** Delivers `raw` to one recipient at one host. Never throws; every failure is an outcome. */
export function deliverOnce(
  target: DeliveryTarget,
  envelope: DeliveryEnvelope,
  raw: Buffer,
  opts: DeliverOptions,
): Promise<AttemptOutcome> {
  const evidence: TlsEvidence = emptyEvidence(target.host, target.ip ?? null, target.port);
  if (!validEnvelope(envelope) || raw.length === 0) {
    return Promise.resolve(hardFail("protocol_error", evidence));
  }
  const servername = opts.servername ?? (isIP(target.host) === 0 ? target.host : undefined);
  const tls: ConnectionOptions = { minVersion: "TLSv1.2", rejectUnauthorized: opts.requireVerifiedCert };
  if (servername !== undefined) tls.servername = servername;
  if (opts.ca !== undefined) tls.ca = opts.ca;

  const conn = new SMTPConnection({
    host: target.ip ?? target.host,
    port: target.port,
    secure: false,
    requireTLS: true,
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
      attemptDeadlineMs(opts.timeoutMs, raw.length),
    );

    conn.on("error", fail);
    conn.once("end", () => finish(softFail("connection_failed", evidence)));
    conn.connect((err) => {
      if (err) return fail(err);
      // THE GATE: nothing but EHLO/STARTTLS has been sent so far; MAIL FROM only after this.
      const refused: FailedOutcome | null = checkTlsSession(
        conn._socket,
        conn.secure,
        opts.requireVerifiedCert,
        evidence,
      );
      if (refused !== null) return finish(refused);
      envelopeStarted = true;
      conn.send(
        { from: envelope.from, to: [envelope.to], size: raw.length, use8BitMime: hasEightBit(raw) },
        raw,
        (sendErr, info) => {
          if (sendErr) return fail(sendErr);
          if (info === undefined || !info.accepted.includes(envelope.to)) {
            return finish(softFail("protocol_error", evidence));
          }
          const reply = parseReply(info.response) ?? { code: 250, enhanced: null, text: "" };
          finish({ kind: "sent", evidence, reply });
        },
      );
    });
  });
}
