/**
 * An authoritative test DNS server on 127.0.0.1 (UDP, and TCP on the same port), on dns2.
 *
 *   const dns = await startDnsServer({
 *     "example.test": [{ type: "MX", value: "mx1.example.test", priority: 10 }],
 *     "mx1.example.test": [{ type: "A", value: "127.0.0.1" }],
 *   });
 *   const resolver = createResolver([dns.address], 1000);   // src/delivery/dns.ts
 *   dns.set("other.test", [{ type: "TXT", value: "v=STSv1; id=1" }]);
 *   await dns.close();
 *
 * Semantics: an unknown name answers NXDOMAIN; a known name without records of the asked type
 * answers NOERROR with no records (NODATA); a name with a CNAME answers the CNAME plus the
 * target's records of the asked type (followed up to 8 hops), as a recursive resolver would.
 * Names are case-insensitive, a trailing dot is ignored. A null MX is `{ type: "MX", value:
 * ".", priority: 0 }`. `set(name, [])` keeps the name (NODATA for every type).
 */
import type { Socket } from "node:net";
import { createTCPServer, createUDPServer, Packet } from "dns2";

export type DnsRecordType = "MX" | "A" | "AAAA" | "TXT" | "CNAME";

export interface DnsRecord {
  type: DnsRecordType;
  /** Address (A/AAAA), host name (MX exchange, CNAME target) or text (TXT). */
  value: string;
  /** MX preference; default 10. */
  priority?: number;
  /** Default 60. */
  ttl?: number;
}

export interface DnsTestServer {
  /** "127.0.0.1:port", ready for `Resolver.setServers`. */
  address: string;
  /** Replaces the records of `name` (creating it). */
  set(name: string, records: DnsRecord[]): void;
  /** Removes `name`, which then answers NXDOMAIN. */
  remove(name: string): void;
  close(): Promise<void>;
}

type Resource = Packet["answers"][number];

const TYPE_CODES: Record<DnsRecordType, number> = {
  A: Packet.TYPE.A,
  AAAA: Packet.TYPE.AAAA,
  MX: Packet.TYPE.MX,
  TXT: Packet.TYPE.TXT,
  CNAME: Packet.TYPE.CNAME,
};
const MAX_CNAME_HOPS = 8;
const RCODE_NXDOMAIN = 3;

function norm(name: string): string {
  return name.trim().toLowerCase().replace(/\.$/, "");
}

function toResource(name: string, r: DnsRecord): Resource {
  const base = { name, type: TYPE_CODES[r.type], class: Packet.CLASS.IN, ttl: r.ttl ?? 60 };
  switch (r.type) {
    case "A":
    case "AAAA":
      return { ...base, address: r.value } as Resource;
    case "MX":
      return { ...base, exchange: r.value === "." ? "" : r.value, priority: r.priority ?? 10 } as Resource;
    case "CNAME":
      return { ...base, domain: r.value } as Resource;
    case "TXT":
      return { ...base, data: r.value } as Resource;
  }
}

/** Starts the server; `zone` maps names to their records. */
export async function startDnsServer(zone: Record<string, DnsRecord[]>): Promise<DnsTestServer> {
  const records = new Map<string, DnsRecord[]>();
  for (const [name, list] of Object.entries(zone)) records.set(norm(name), [...list]);

  const answer = (request: Packet): Packet => {
    const response = Packet.createResponseFromRequest(request);
    response.header.aa = 1;
    const question = request.questions[0];
    if (question === undefined) return response;
    let name = norm(question.name);
    if (!records.has(name)) {
      response.header.rcode = RCODE_NXDOMAIN;
      return response;
    }
    for (let hop = 0; hop <= MAX_CNAME_HOPS; hop++) {
      const list = records.get(name);
      if (list === undefined) return response;
      const exact = list.filter((r) => TYPE_CODES[r.type] === question.type);
      const cname = list.find((r) => r.type === "CNAME");
      if (exact.length > 0 || cname === undefined) {
        for (const r of exact) response.answers.push(toResource(name, r));
        return response;
      }
      response.answers.push(toResource(name, cname));
      name = norm(cname.value);
    }
    return response;
  };
  const handle = (request: Packet, send: (r: Packet) => unknown) => {
    void Promise.resolve(send(answer(request))).catch(() => {});
  };

  // UDP on port 0, then TCP on the same port (for truncated answers); retried when the TCP
  // port happens to be taken.
  for (let attempt = 0; attempt < 5; attempt++) {
    const udp = createUDPServer(handle);
    udp.on("error", () => {});
    await udp.listen(0, "127.0.0.1");
    const port = udp.address().port;
    const tcp = createTCPServer(handle);
    const tcpSockets = new Set<Socket>();
    tcp.on("connection", (socket: Socket) => {
      tcpSockets.add(socket);
      socket.once("close", () => tcpSockets.delete(socket));
    });
    const tcpOk = await new Promise<boolean>((resolve) => {
      tcp.once("error", () => resolve(false));
      tcp.listen(port, "127.0.0.1", () => resolve(true));
    });
    if (!tcpOk) {
      await new Promise<void>((resolve) => udp.close(() => resolve()));
      continue;
    }
    tcp.on("error", () => {});
    return {
      address: `127.0.0.1:${port}`,
      set: (name, list) => void records.set(norm(name), [...list]),
      remove: (name) => void records.delete(norm(name)),
      close: async () => {
        await Promise.all([
          new Promise<void>((resolve) => udp.close(() => resolve())),
          new Promise<void>((resolve) => {
            tcp.close(() => resolve());
            // DNS-over-TCP clients may keep the connection open; end those too.
            for (const socket of tcpSockets) socket.destroy();
          }),
        ]);
      },
    };
  }
  throw new Error("dns test server: no free port pair");
}
