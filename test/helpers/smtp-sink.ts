/**
 * A receiving SMTP server for tests, on smtp-server, listening on loopback port 0.
 *
 *   const sink = await startSmtpSink();               // STARTTLS offered, test certificate
 *   ... deliver to sink.host:sink.port ...
 *   await sink.waitFor(1);
 *   sink.messages[0].tlsProtocol                       // "TLSv1.3"
 *   sink.dataCount()                                   // DATA/BDAT commands seen, accepted or not
 *   await sink.close();
 *
 * Variants:
 * - `starttls: false`: STARTTLS is neither advertised nor accepted (the command is disabled,
 *   a client that sends it anyway gets `500`).
 * - `tls: { minVersion: "TLSv1", maxVersion: "TLSv1.1", ciphers: "DEFAULT@SECLEVEL=0" }`: a
 *   legacy server; OpenSSL 3 refuses TLS 1.0/1.1 at the default security level, so SECLEVEL=0
 *   is what makes the server really negotiate them.
 * - `implicitTls: true`: TLS from the first byte (port-465 style), no STARTTLS.
 * - `rejectRcpt(address)`: return a reply code (e.g. 550, 451) to refuse that recipient; the
 *   reply text then echoes the address on purpose, so tests can prove it is sanitized.
 *
 * Faults (each can be changed later with `sink.setFaults(...)`, which applies from the next
 * greeting or message on, so a test can "fix" the server between two attempts):
 * - `greeting: { code: 421 }`: refuse the session in the greeting, then close.
 * - `greeting: { delayMs: 3000 }`: send the 220 greeting only after that delay.
 * - `rejectData(message)`: return a reply code (e.g. 552) to refuse the message after DATA.
 * - `dropMidData: true`: destroy the connection once part of the message body has arrived,
 *   without a reply; nothing is recorded in `messages`.
 *
 * `plaintextDataCount()` counts DATA/BDAT commands that arrived on a session without TLS;
 * sealpost must never send one, so every delivery test can assert it stays 0.
 *
 * - `host: "::1"`, `port`: listen on IPv6 loopback, or on a given port (two sinks on the same
 *   port, one per address, stand in for two MX hosts behind one delivery port).
 *
 * Authentication is optional and any client is accepted. The server uses the process-wide
 * test certificate from `certs.ts`.
 */
import type { Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import { SMTPServer, type SMTPServerOptions } from "smtp-server";
import { testCertificate } from "./certs.ts";

export interface SinkMessage {
  from: string;
  to: string[];
  raw: Buffer;
  /** True when the message arrived over TLS. */
  secure: boolean;
  /** Negotiated protocol, e.g. "TLSv1.3"; null without TLS. */
  tlsProtocol: string | null;
}

export interface SmtpSinkOptions {
  /** Offer STARTTLS. Default true. */
  starttls?: boolean;
  /** TLS settings of the server (both STARTTLS and implicit TLS). */
  tls?: { minVersion?: string; maxVersion?: string; ciphers?: string };
  /** TLS from the start of the connection instead of STARTTLS. Default false. */
  implicitTls?: boolean;
  /** Reply code to refuse a recipient with, or null to accept it. */
  rejectRcpt?: (address: string) => number | null;
  /** Loopback address to listen on. Default "127.0.0.1". */
  host?: "127.0.0.1" | "::1";
  /** Port to listen on. Default 0 (any free port); set it to pair a 127.0.0.1 and a ::1 sink. */
  port?: number;
  /** Fault: refuse the session in the greeting with `code` (then close), or greet after `delayMs`. */
  greeting?: { code: number } | { delayMs: number };
  /** Fault: reply code to refuse a received message with after DATA (e.g. 552), or null to accept. */
  rejectData?: (message: SinkMessage) => number | null;
  /** Fault: destroy the connection after part of the message body arrived, without a reply. */
  dropMidData?: boolean;
}

export interface SmtpSink {
  port: number;
  host: string;
  /** Accepted messages, in order of arrival. */
  messages: SinkMessage[];
  /** How many DATA or BDAT commands reached the server at all, accepted or refused. */
  dataCount(): number;
  /** How many TCP connections the server accepted so far. */
  connections(): number;
  /** How many DATA or BDAT commands arrived on a session without TLS (must stay 0 for sealpost). */
  plaintextDataCount(): number;
  /** Replaces the fault options from the next greeting or message on; `{}` clears them all. */
  setFaults(faults: SinkFaults): void;
  /** Resolves once `messages.length >= n`; rejects after `timeoutMs` (default 5000). */
  waitFor(n: number, timeoutMs?: number): Promise<void>;
  /** Stops listening and ends open sessions (after at most 500 ms). */
  close(): Promise<void>;
}

/** The fault options `setFaults` replaces. */
export type SinkFaults = Pick<SmtpSinkOptions, "greeting" | "rejectData" | "dropMidData">;

type TlsVersion = "TLSv1" | "TLSv1.1" | "TLSv1.2" | "TLSv1.3";
const TLS_VERSIONS: readonly string[] = ["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"];

function tlsVersion(value: string | undefined): TlsVersion | undefined {
  if (value === undefined) return undefined;
  if (!TLS_VERSIONS.includes(value)) throw new TypeError("unknown TLS version");
  return value as TlsVersion;
}

function rejection(code: number, address: string): Error & { responseCode: number } {
  const enhanced = code >= 500 ? "5.1.1" : "4.2.1";
  const err = new Error(`${enhanced} Recipient ${address} rejected: <${address}> not accepted here`);
  return Object.assign(err, { responseCode: code });
}

function refusal(code: number, text: string): Error & { responseCode: number } {
  return Object.assign(new Error(text), { responseCode: code });
}

function dataRejection(code: number): Error & { responseCode: number } {
  if (code === 552) return refusal(code, "5.3.4 Message too big for system");
  return refusal(code, code >= 500 ? "5.7.1 Message refused" : "4.3.0 Try again later");
}

function socketKey(address: string | undefined, port: number | undefined): string {
  return `${(address ?? "").replace(/^::ffff:/, "")}|${port ?? 0}`;
}

/** Starts a sink on `opts.host`, port `opts.port` (default 0); rejects when the port is taken. */
export async function startSmtpSink(opts: SmtpSinkOptions = {}): Promise<SmtpSink> {
  const { cert, key } = await testCertificate();
  const host = opts.host ?? "127.0.0.1";
  const messages: SinkMessage[] = [];
  const protocols = new Map<string, string | null>();
  const waiters = new Set<() => void>();
  let dataCommands = 0;
  let faults: SinkFaults = {
    greeting: opts.greeting,
    rejectData: opts.rejectData,
    dropMidData: opts.dropMidData,
  };
  // Session ids (smtp-server's `cid`) that completed TLS, and the DATA/BDAT seen outside them.
  const secureSessions = new Set<string>();
  let plaintextData = 0;
  // Raw sockets by remote address and port, so a session can be dropped from onData.
  const sockets = new Map<string, Socket>();
  const greetingTimers = new Set<NodeJS.Timeout>();

  // smtp-server logs every command it receives (before any checks) through its logger;
  // counting DATA/BDAT there catches a command even when the server refuses it.
  const countCommand = (entry: unknown): void => {
    if (typeof entry !== "object" || entry === null) return;
    const { tnx, command, cid } = entry as { tnx?: unknown; command?: unknown; cid?: unknown };
    if (tnx === "command" && (command === "DATA" || command === "BDAT")) {
      dataCommands++;
      if (typeof cid !== "string" || !secureSessions.has(cid)) plaintextData++;
    }
  };
  const noop = (): void => {};

  const options: SMTPServerOptions = {
    secure: opts.implicitTls === true,
    key,
    cert,
    minVersion: tlsVersion(opts.tls?.minVersion) ?? "TLSv1.2",
    maxVersion: tlsVersion(opts.tls?.maxVersion),
    ciphers: opts.tls?.ciphers,
    authOptional: true,
    disableReverseLookup: true,
    disabledCommands: opts.starttls === false || opts.implicitTls === true ? ["STARTTLS"] : [],
    closeTimeout: 500,
    socketTimeout: 10_000,
    logger: { debug: countCommand, info: noop, warn: noop, error: noop, trace: noop, fatal: noop },
    onConnect(_session, callback) {
      const greeting = faults.greeting;
      if (greeting === undefined) return callback();
      if ("code" in greeting)
        return callback(refusal(greeting.code, "Service not available, closing channel"));
      const timer = setTimeout(() => {
        greetingTimers.delete(timer);
        callback();
      }, greeting.delayMs);
      greetingTimers.add(timer);
    },
    onSecure(socket, session, callback) {
      secureSessions.add(session.id);
      protocols.set(session.id, (socket as TLSSocket).getProtocol?.() ?? null);
      callback();
    },
    onRcptTo(address, _session, callback) {
      const code = opts.rejectRcpt?.(address.address) ?? null;
      callback(code === null ? null : rejection(code, address.address));
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      if (faults.dropMidData === true) {
        // Never answered: the connection goes away with the first part of the body.
        stream.on("error", noop);
        stream.once("data", () =>
          sockets.get(socketKey(session.remoteAddress, session.remotePort))?.destroy(),
        );
        return;
      }
      const rejectData = faults.rejectData;
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("end", () => {
        const from = session.envelope.mailFrom === false ? "" : session.envelope.mailFrom.address;
        const message: SinkMessage = {
          from,
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks),
          secure: session.secure,
          tlsProtocol: session.secure ? (protocols.get(session.id) ?? null) : null,
        };
        const refused = rejectData?.(message) ?? null;
        if (refused !== null) return callback(dataRejection(refused));
        messages.push(message);
        for (const wake of waiters) wake();
        callback(null, "2.0.0 Queued as SINK1");
      });
    },
  };
  if (options.maxVersion === undefined) delete options.maxVersion;
  if (options.ciphers === undefined) delete options.ciphers;

  const server = new SMTPServer(options);
  server.on("error", noop);
  await new Promise<void>((resolve, reject) => {
    server.server.once("error", reject);
    server.listen(opts.port ?? 0, host, () => {
      server.server.off("error", reject);
      resolve();
    });
  });
  const address = server.server.address();
  if (address === null || typeof address === "string") throw new Error("sink has no port");
  let connectionCount = 0;
  server.server.on("connection", () => {
    connectionCount++;
  });
  server.server.on("connection", (socket: Socket) => {
    const key = socketKey(socket.remoteAddress, socket.remotePort);
    sockets.set(key, socket);
    socket.once("close", () => sockets.delete(key));
  });

  return {
    port: address.port,
    host,
    messages,
    dataCount: () => dataCommands,
    connections: () => connectionCount,
    plaintextDataCount: () => plaintextData,
    setFaults(next) {
      faults = { ...next };
    },
    waitFor(n, timeoutMs = 5000) {
      if (messages.length >= n) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const wake = (): void => {
          if (messages.length < n) return;
          clearTimeout(timer);
          waiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(() => {
          waiters.delete(wake);
          reject(new Error(`sink: expected ${n} message(s), got ${messages.length}`));
        }, timeoutMs);
        waiters.add(wake);
      });
    },
    close: () => {
      for (const timer of greetingTimers) clearTimeout(timer);
      greetingTimers.clear();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
