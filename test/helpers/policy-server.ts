/**
 * An HTTPS server on 127.0.0.1 (port 0) that serves MTA-STS policies (RFC 8461 section 3.2)
 * by Host header: a request for `https://mta-sts.<domain>/.well-known/mta-sts.txt` gets the
 * policy set for `<domain>` as `text/plain`; anything else gets 404.
 *
 *   const ca = await testCa();                                        // test/helpers/test-ca.ts
 *   const server = await startPolicyServer({
 *     ...(await ca.issue(["mta-sts.example.test"])),
 *     policies: { "example.test": "version: STSv1\nmode: enforce\nmx: mx.example.test\nmax_age: 86400\n" },
 *   });
 *   server.set("example.test", { body: "...", contentType: "text/html" });   // misbehave
 *   server.requests("example.test");                                          // fetch count
 *   await server.close();
 *
 * A response can be a plain string (200, text/plain) or a `PolicyResponse` to test a
 * misbehaving host: another status (with `location` for a redirect), another content type,
 * or a body sent without Content-Length (chunked).
 */
import { createServer, type Server } from "node:https";
import type { Socket } from "node:net";

export interface PolicyResponse {
  body: string;
  /** Default 200. */
  status?: number;
  /** Default "text/plain; charset=utf-8". */
  contentType?: string;
  /** Sent as the Location header (for 3xx tests). */
  location?: string;
  /** Leave out Content-Length and send the body in chunks. */
  chunked?: boolean;
}

export interface PolicyServerOptions {
  cert: string;
  key: string;
  /** Domain (not the `mta-sts.` host) → policy text or response. */
  policies: Record<string, string | PolicyResponse>;
}

export interface PolicyServer {
  port: number;
  /** Replaces the policy served for `domain`. */
  set(domain: string, policy: string | PolicyResponse): void;
  /** Stops serving `domain` (404). */
  remove(domain: string): void;
  /** How many requests for `domain`'s policy path arrived (served or not). */
  requests(domain: string): number;
  close(): Promise<void>;
}

const POLICY_PATH = "/.well-known/mta-sts.txt";
const CHUNK = 4096;

function norm(name: string): string {
  return name.trim().toLowerCase().replace(/\.$/, "");
}

/** The domain a Host header asks for: `mta-sts.<domain>[:port]` → `<domain>`, else null. */
function domainOf(host: string | undefined): string | null {
  if (host === undefined) return null;
  const name = norm(host.replace(/:\d+$/, ""));
  return name.startsWith("mta-sts.") ? name.slice("mta-sts.".length) : null;
}

export async function startPolicyServer(opts: PolicyServerOptions): Promise<PolicyServer> {
  const policies = new Map<string, PolicyResponse>();
  const counts = new Map<string, number>();
  const toResponse = (p: string | PolicyResponse): PolicyResponse =>
    typeof p === "string" ? { body: p } : p;
  for (const [domain, p] of Object.entries(opts.policies)) policies.set(norm(domain), toResponse(p));

  const sockets = new Set<Socket>();
  const server: Server = createServer({ cert: opts.cert, key: opts.key }, (req, res) => {
    const domain = domainOf(req.headers.host);
    const path = (req.url ?? "").split("?")[0];
    if (domain === null || path !== POLICY_PATH || req.method !== "GET") {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
      return;
    }
    counts.set(domain, (counts.get(domain) ?? 0) + 1);
    const policy = policies.get(domain);
    if (policy === undefined) {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
      return;
    }
    const body = Buffer.from(policy.body, "utf8");
    res.statusCode = policy.status ?? 200;
    res.setHeader("content-type", policy.contentType ?? "text/plain; charset=utf-8");
    if (policy.location !== undefined) res.setHeader("location", policy.location);
    if (policy.chunked !== true) {
      res.setHeader("content-length", body.length);
      res.end(body);
      return;
    }
    // Chunked: the client has to count the bytes itself (and may hang up part way).
    for (let i = 0; i < body.length; i += CHUNK) {
      if (res.destroyed) return;
      res.write(body.subarray(i, i + CHUNK));
    }
    res.end();
  });
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  server.on("tlsClientError", () => {});
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("policy server: no port");

  return {
    port: address.port,
    set: (domain, p) => void policies.set(norm(domain), toResponse(p)),
    remove: (domain) => void policies.delete(norm(domain)),
    requests: (domain) => counts.get(norm(domain)) ?? 0,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
}
