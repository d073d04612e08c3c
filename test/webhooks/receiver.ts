/**
 * A webhook receiver for tests: a real HTTP server on 127.0.0.1, port 0, that records
 * every request (headers and body) and answers what `respond` says (default 204).
 */
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import type { TestContext } from "node:test";

export interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  /** The status this request was answered with. */
  status: number;
}

export interface Receiver {
  url: string;
  port: number;
  received: Received[];
  /** Sets how the next requests are answered (by their index among all requests). */
  respond: (answer: (index: number) => number) => void;
  close(): Promise<void>;
}

export async function startReceiver(t: TestContext | undefined, path = "/hook"): Promise<Receiver> {
  const received: Received[] = [];
  let answer: (index: number) => number = () => 204;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const status = answer(received.length);
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8"), status });
      res.statusCode = status;
      res.end(status === 204 ? undefined : "answer");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  const close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  t?.after(close);
  return {
    url: `http://127.0.0.1:${port}${path}`,
    port,
    received,
    respond(a) {
      answer = a;
    },
    close,
  };
}
