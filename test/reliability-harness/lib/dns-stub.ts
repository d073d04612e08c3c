/**
 * A DNS server on 127.0.0.1 (UDP) that answers every query NXDOMAIN, so that fuzzed domain
 * names (tls-check, domain verification, MX lookups) never leave loopback and fail at once.
 */
import { createSocket } from "node:dgram";

export interface DnsStub {
  /** `127.0.0.1:<port>`, for SEALPOST_DNS_SERVERS. */
  address: string;
  queries(): number;
  close(): Promise<void>;
}

export async function startNxdomainDns(): Promise<DnsStub> {
  const socket = createSocket("udp4");
  let queries = 0;
  socket.on("message", (msg, rinfo) => {
    if (msg.length < 12) return;
    queries++;
    // Header: same id, QR=1, opcode copied, RD copied, RA=1, RCODE=3 (NXDOMAIN); question echoed.
    const reply = Buffer.from(msg);
    const flags = msg.readUInt16BE(2);
    reply.writeUInt16BE(0x8000 | (flags & 0x7900) | 0x0080 | 3, 2);
    reply.writeUInt16BE(0, 6);
    reply.writeUInt16BE(0, 8);
    reply.writeUInt16BE(0, 10);
    // Keep only the question section (drop any EDNS additional record).
    let offset = 12;
    if (msg.readUInt16BE(4) >= 1) {
      while (offset < msg.length && msg[offset] !== 0) offset += (msg[offset] ?? 0) + 1;
      offset += 5;
    }
    socket.send(reply.subarray(0, Math.min(offset, reply.length)), rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", () => resolve()));
  return {
    address: `127.0.0.1:${socket.address().port}`,
    queries: () => queries,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}
