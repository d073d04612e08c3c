/** Shared pieces of the delivery tests (not a test file itself). */
import { connect, createServer, type Socket } from "node:net";
import type { DeliverOptions } from "../../src/delivery/smtp-client.ts";
import { type SmtpSink, type SmtpSinkOptions, startSmtpSink } from "../helpers/smtp-sink.ts";

export const SENDER = "sender@clinic.example";
export const RECIPIENT = "patient.jones@hospital.example";
export const ENVELOPE = { from: SENDER, to: RECIPIENT };
export const RAW = Buffer.from(
  `From: <${SENDER}>\r\nTo: <${RECIPIENT}>\r\nSubject: Appointment\r\nMessage-ID: <t1@clinic.example>\r\n\r\nSee you at 10.\r\n`,
);

export const BASE_OPTS: DeliverOptions = {
  heloName: "sealpost.test",
  requireVerifiedCert: false,
  timeoutMs: 2000,
};

/** A port on 127.0.0.1 with nothing listening (bound, then closed). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

/**
 * Two sinks on the same port, `first` on 127.0.0.1 and `second` on ::1, standing in for two MX
 * hosts behind one delivery port. Retries a few times when ::1 has the port taken.
 */
export async function sinkPair(
  first: SmtpSinkOptions,
  second: SmtpSinkOptions,
): Promise<[SmtpSink, SmtpSink]> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const a = await startSmtpSink({ ...first, host: "127.0.0.1" });
    try {
      const b = await startSmtpSink({ ...second, host: "::1", port: a.port });
      return [a, b];
    } catch {
      await a.close();
    }
  }
  throw new Error("no free port pair for two sinks");
}

/**
 * A TCP proxy on 127.0.0.1 in front of a server: counts connections and can break them the
 * way a network or a server does, TLS passing through untouched.
 */
export interface TcpProxy {
  port: number;
  /** Connections accepted so far. */
  connections(): number;
  /** Chunks (reads) received from clients so far: each is one batch of commands or data. */
  clientChunks(): number;
  /** Connections open now, and the most that were open at once. */
  open(): number;
  peak(): number;
  /** Closes every open connection now (a server ending idle sessions). */
  dropAll(): void;
  /**
   * On every connection open now, the next bytes the client sends are not forwarded and the
   * connection is reset: the server had gone away while the session sat idle.
   */
  dropOnNextClientData(): void;
  /**
   * On every connection open now: once the client has sent more than `bytes` further bytes,
   * those are forwarded and then the connection is cut (mid message data).
   */
  cutAfterClientBytes(bytes: number): void;
  close(): Promise<void>;
}

interface ProxiedPair {
  client: Socket;
  server: Socket;
  onClientData: ((chunk: Buffer) => boolean) | null;
}

export async function startProxy(targetPort: number): Promise<TcpProxy> {
  const pairs = new Set<ProxiedPair>();
  let total = 0;
  let peak = 0;
  let chunks = 0;
  const server = createServer((client) => {
    total++;
    const upstream = connect(targetPort, "127.0.0.1");
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    const pair: ProxiedPair = { client, server: upstream, onClientData: null };
    pairs.add(pair);
    peak = Math.max(peak, pairs.size);
    const end = (): void => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on("error", end);
    upstream.on("error", end);
    client.on("close", end);
    upstream.on("close", end);
    upstream.on("data", (chunk: Buffer) => client.write(chunk));
    client.on("data", (chunk: Buffer) => {
      chunks++;
      const forward = pair.onClientData?.(chunk) ?? true;
      if (forward) upstream.write(chunk);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no port");
  return {
    port: address.port,
    connections: () => total,
    clientChunks: () => chunks,
    open: () => pairs.size,
    peak: () => peak,
    dropAll() {
      for (const p of pairs) {
        p.client.destroy();
        p.server.destroy();
      }
    },
    dropOnNextClientData() {
      for (const p of pairs) {
        p.onClientData = () => {
          p.client.resetAndDestroy();
          p.server.destroy();
          return false;
        };
      }
    },
    cutAfterClientBytes(bytes) {
      for (const p of pairs) {
        let seen = 0;
        p.onClientData = (chunk) => {
          seen += chunk.length;
          if (seen <= bytes) return true;
          p.server.end(chunk, () => p.server.destroy());
          p.client.destroy();
          return false;
        };
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const p of pairs) {
          p.client.destroy();
          p.server.destroy();
        }
        server.close(() => resolve());
      }),
  };
}
