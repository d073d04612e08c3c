/**
 * The receiving server, run as its own process (forked by sink/client.ts) so that its CPU
 * shows separately: smtp-server with STARTTLS that counts and discards every message. It
 * exits when the bench goes away (IPC disconnect).
 */
import type { TLSSocket } from "node:tls";
import { SMTPServer } from "smtp-server";
import { emptyStats, type SinkReply, type SinkRequest, type SinkStats } from "./protocol.ts";

const HEADER_SCAN_LIMIT = 64 * 1024;
let stats: SinkStats = emptyStats();
let server: SMTPServer | null = null;

function send(reply: SinkReply): void {
  process.send?.(reply);
}

/** Counts the DKIM signatures of one message from its header block. */
function scanHeader(head: string): void {
  const end = head.indexOf("\r\n\r\n");
  const header = end >= 0 ? head.slice(0, end) : head;
  // One entry per header field (continuation lines start with white space).
  for (const field of header.split(/\r\n(?![ \t])/)) {
    if (!/^dkim-signature:/i.test(field)) continue;
    const algorithm = /(?:^|[;\s])a=([a-z0-9-]+)/i.exec(field.slice(15))?.[1]?.toLowerCase();
    if (algorithm === "rsa-sha256") stats.dkimRsa++;
    else if (algorithm === "ed25519-sha256") stats.dkimEd25519++;
  }
}

function start(cert: string, key: string): void {
  const protocolOf = new Map<string, string>();
  server = new SMTPServer({
    secure: false,
    key,
    cert,
    minVersion: "TLSv1.2",
    authOptional: true,
    disableReverseLookup: true,
    hideSTARTTLS: false,
    maxClients: 2000,
    socketTimeout: 120_000,
    closeTimeout: 1000,
    logger: false,
    onConnect(_session, callback) {
      stats.connections++;
      callback();
    },
    onSecure(socket, session, callback) {
      protocolOf.set(session.id, (socket as TLSSocket).getProtocol?.() ?? "unknown");
      callback();
    },
    onClose(session) {
      protocolOf.delete(session.id);
    },
    onData(stream, session, callback) {
      let head = "";
      let size = 0;
      stream.on("data", (chunk: Buffer) => {
        size += chunk.length;
        if (head.length < HEADER_SCAN_LIMIT && !head.includes("\r\n\r\n"))
          head += chunk.toString("latin1", 0, Math.min(chunk.length, HEADER_SCAN_LIMIT));
      });
      stream.on("end", () => {
        const now = Date.now();
        if (stats.firstAt === 0) stats.firstAt = now;
        stats.lastAt = now;
        stats.messages++;
        stats.recipients += session.envelope.rcptTo.length;
        stats.bytes += size;
        if (session.secure) {
          stats.tls++;
          const p = protocolOf.get(session.id) ?? "unknown";
          stats.protocols[p] = (stats.protocols[p] ?? 0) + 1;
        } else stats.plaintext++;
        scanHeader(head);
        callback(null, "2.0.0 Ok: discarded");
      });
    },
  });
  server.on("error", () => {});
  server.listen(0, "127.0.0.1", () => {
    const address = server?.server.address();
    if (address === null || address === undefined || typeof address === "string")
      return send({ type: "error", message: "no port" });
    send({ type: "ready", port: address.port });
  });
}

process.on("message", (raw: SinkRequest) => {
  switch (raw.type) {
    case "start":
      start(raw.cert, raw.key);
      break;
    case "stats":
      send({ type: "stats", seq: raw.seq, stats });
      break;
    case "reset":
      stats = emptyStats();
      send({ type: "stats", seq: raw.seq, stats });
      break;
    case "stop":
      server?.close(() => process.exit(0));
      setTimeout(() => process.exit(0), 2000).unref();
      break;
  }
});
process.on("disconnect", () => process.exit(0));
