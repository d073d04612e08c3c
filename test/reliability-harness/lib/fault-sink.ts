/**
 * A receiving SMTP server for the reliability harness that misbehaves per connection and per
 * message, and counts what it got by Message-ID instead of keeping every message in memory.
 *
 * A front TCP listener on 127.0.0.1 decides each new connection's fate first
 * (`connectionFault`), then hands the socket to one of three smtp-server instances:
 *
 * - `drop`: the connection is closed at once, before any greeting;
 * - `greeting421`: `421` instead of a greeting, then closed;
 * - `stall`: never says anything (closed after `stallMs` or at close());
 * - `noStarttls`: a server that does not offer STARTTLS (sealpost must not send anything);
 * - `legacyTls`: a server that only speaks TLS 1.0/1.1 (sealpost must refuse it);
 * - `none`: the normal server (STARTTLS, TLS 1.2+), where per-message faults apply:
 *   `rcptFault(address)` answers RCPT TO with a code, and `dataFault()` decides what happens
 *   to a message: `data4xx`/`data5xx` after its data, `dropMidData` (connection closed when
 *   the first part of the body arrives), `dropAfterData` (whole body read, connection closed
 *   without a reply), `stallAfterData` (whole body read, never answered).
 *
 * `accepted` counts the messages answered with 250, by Message-ID; `swallowed` those that
 * arrived whole but were never answered (the sender cannot know they arrived: the
 * at-least-once case). `plaintextData` counts DATA/BDAT commands on sessions without TLS and
 * `legacyData` any on the TLS 1.0/1.1 server: sealpost must keep both at 0.
 */
import { createServer, type Server, type Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import { SMTPServer, type SMTPServerOptions } from "smtp-server";
import { testCertificate } from "../../helpers/certs.ts";

export type ConnectionFault = "none" | "drop" | "greeting421" | "stall" | "noStarttls" | "legacyTls";
export type DataFault = "none" | "data4xx" | "data5xx" | "dropMidData" | "dropAfterData" | "stallAfterData";

export interface FaultSinkOptions {
  /** The fault of the n-th connection (1-based); default none. */
  connectionFault?: (n: number) => ConnectionFault;
  /** Reply code for RCPT TO of `address`, or null to accept; default accept. */
  rcptFault?: (address: string) => number | null;
  /** What happens to the next message on the normal server; default none. */
  dataFault?: (recipients: readonly string[]) => DataFault;
  /** How long a stalled connection or reply is held before the socket is closed; default 30 s. */
  stallMs?: number;
}

export interface FaultSinkStats {
  connections: number;
  connectionFaults: Record<string, number>;
  dataFaults: Record<string, number>;
  rcptRefusals: Record<string, number>;
  /** DATA/BDAT commands seen by any of the servers. */
  dataCommands: number;
  /** DATA/BDAT commands on a session without TLS (must stay 0). */
  plaintextData: number;
  /** DATA/BDAT commands that reached the TLS 1.0/1.1-only server at all (must stay 0). */
  legacyData: number;
  /** Messages answered 250 (duplicates included). */
  acceptedTotal: number;
  /** Messages answered 250 on a session without TLS (must stay 0). */
  acceptedWithoutTls: number;
  /** Negotiated TLS versions of the sessions that were secured. */
  tlsVersions: Record<string, number>;
}

export interface FaultSink {
  port: number;
  /** Message-ID → how many times it was answered 250. */
  accepted: Map<string, number>;
  /** Message-ID → how many times it arrived whole but was never answered. */
  swallowed: Map<string, number>;
  stats(): FaultSinkStats;
  /** Resolves once `n` distinct Message-IDs were accepted; rejects after `timeoutMs`. */
  waitForDistinct(n: number, timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

const MESSAGE_ID = /^Message-ID:[ \t]*<([^>\r\n]{1,250})>/im;
const HEADER_SCAN_BYTES = 32 * 1024;

function bump(record: Record<string, number>, key: string): void {
  record[key] = (record[key] ?? 0) + 1;
}

function replyError(code: number, text: string): Error & { responseCode: number } {
  return Object.assign(new Error(text), { responseCode: code });
}

function noop(): void {}

export async function startFaultSink(opts: FaultSinkOptions = {}): Promise<FaultSink> {
  const { cert, key } = await testCertificate();
  const stallMs = opts.stallMs ?? 30_000;
  const accepted = new Map<string, number>();
  const swallowed = new Map<string, number>();
  const stats: FaultSinkStats = {
    connections: 0,
    connectionFaults: {},
    dataFaults: {},
    rcptRefusals: {},
    dataCommands: 0,
    plaintextData: 0,
    legacyData: 0,
    acceptedTotal: 0,
    acceptedWithoutTls: 0,
    tlsVersions: {},
  };
  const sockets = new Map<number, Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const secureSessions = new Set<string>();
  const waiters = new Set<() => void>();

  const later = (ms: number, fn: () => void): void => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      fn();
    }, ms);
    timers.add(timer);
  };

  const counter =
    (legacy: boolean) =>
    (entry: unknown): void => {
      if (typeof entry !== "object" || entry === null) return;
      const { tnx, command, cid } = entry as { tnx?: unknown; command?: unknown; cid?: unknown };
      if (tnx !== "command" || (command !== "DATA" && command !== "BDAT")) return;
      stats.dataCommands++;
      if (legacy) stats.legacyData++;
      if (typeof cid !== "string" || !secureSessions.has(cid)) stats.plaintextData++;
    };

  const serverOptions = (variant: "main" | "noStarttls" | "legacy"): SMTPServerOptions => ({
    secure: false,
    key,
    cert,
    minVersion: variant === "legacy" ? "TLSv1" : "TLSv1.2",
    ...(variant === "legacy" ? { maxVersion: "TLSv1.1", ciphers: "DEFAULT@SECLEVEL=0" } : {}),
    authOptional: true,
    disableReverseLookup: true,
    disabledCommands: variant === "noStarttls" ? ["STARTTLS"] : [],
    hideSTARTTLS: variant === "noStarttls",
    closeTimeout: 500,
    socketTimeout: 30_000,
    logger: {
      debug: counter(variant === "legacy"),
      info: noop,
      warn: noop,
      error: noop,
      trace: noop,
      fatal: noop,
    },
    onSecure(socket, session, callback) {
      secureSessions.add(session.id);
      bump(stats.tlsVersions, (socket as TLSSocket).getProtocol?.() ?? "unknown");
      callback();
    },
    onRcptTo(address, _session, callback) {
      const code = opts.rcptFault?.(address.address) ?? null;
      if (code === null) return callback();
      bump(stats.rcptRefusals, String(code));
      callback(replyError(code, code >= 500 ? "5.1.1 Recipient refused" : "4.2.1 Try this recipient later"));
    },
    onData(stream, session, callback) {
      const fault: DataFault =
        variant === "main"
          ? (opts.dataFault?.(session.envelope.rcptTo.map((r) => r.address)) ?? "none")
          : "none";
      bump(stats.dataFaults, fault);
      const socket = sockets.get(session.remotePort);
      stream.on("error", noop);
      if (fault === "dropMidData") {
        stream.once("data", () => socket?.destroy());
        stream.resume();
        return;
      }
      const head: Buffer[] = [];
      let headBytes = 0;
      stream.on("data", (chunk: Buffer) => {
        if (headBytes < HEADER_SCAN_BYTES) {
          head.push(chunk);
          headBytes += chunk.length;
        }
      });
      stream.on("end", () => {
        const id = MESSAGE_ID.exec(Buffer.concat(head).toString("latin1"))?.[1] ?? "(none)";
        if (fault === "dropAfterData" || fault === "stallAfterData") {
          swallowed.set(id, (swallowed.get(id) ?? 0) + 1);
          if (fault === "dropAfterData") socket?.destroy();
          else later(stallMs, () => socket?.destroy());
          return;
        }
        if (fault === "data4xx") return callback(replyError(451, "4.3.0 Try again later"));
        if (fault === "data5xx") return callback(replyError(554, "5.7.1 Message refused"));
        stats.acceptedTotal++;
        if (!session.secure) stats.acceptedWithoutTls++;
        accepted.set(id, (accepted.get(id) ?? 0) + 1);
        for (const wake of waiters) wake();
        callback(null, "2.0.0 Queued as FAULTSINK");
      });
    },
  });

  const main = new SMTPServer(serverOptions("main"));
  const plain = new SMTPServer(serverOptions("noStarttls"));
  const legacy = new SMTPServer(serverOptions("legacy"));
  for (const s of [main, plain, legacy]) s.on("error", noop);

  const front: Server = createServer((socket) => {
    stats.connections++;
    const fault = opts.connectionFault?.(stats.connections) ?? "none";
    bump(stats.connectionFaults, fault);
    socket.on("error", noop);
    const port = socket.remotePort ?? 0;
    sockets.set(port, socket);
    socket.once("close", () => {
      if (sockets.get(port) === socket) sockets.delete(port);
    });
    switch (fault) {
      case "drop":
        socket.destroy();
        return;
      case "greeting421":
        socket.end("421 4.3.2 Service not available, closing channel\r\n");
        return;
      case "stall":
        socket.resume();
        later(stallMs, () => socket.destroy());
        return;
      case "noStarttls":
        plain.server.emit("connection", socket);
        return;
      case "legacyTls":
        legacy.server.emit("connection", socket);
        return;
      case "none":
        main.server.emit("connection", socket);
        return;
    }
  });
  await new Promise<void>((resolve, reject) => {
    front.once("error", reject);
    front.listen(0, "127.0.0.1", () => {
      front.off("error", reject);
      resolve();
    });
  });
  const address = front.address();
  if (address === null || typeof address === "string") throw new Error("fault sink has no port");

  return {
    port: address.port,
    accepted,
    swallowed,
    stats: () => structuredClone(stats),
    waitForDistinct(n, timeoutMs) {
      if (accepted.size >= n) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const wake = (): void => {
          if (accepted.size < n) return;
          clearTimeout(timer);
          waiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(() => {
          waiters.delete(wake);
          reject(new Error(`fault sink: expected ${n} distinct messages, got ${accepted.size}`));
        }, timeoutMs);
        waiters.add(wake);
      });
    },
    async close() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      const closed = new Promise<void>((resolve) => front.close(() => resolve()));
      for (const socket of sockets.values()) socket.destroy();
      sockets.clear();
      await closed;
      await Promise.all(
        [main, plain, legacy].map((s) => new Promise<void>((resolve) => s.close(() => resolve()))),
      );
    },
  };
}
