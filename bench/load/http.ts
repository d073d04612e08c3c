/**
 * Closed-loop REST load: `clients` keep-alive connections, each POSTing the next message as
 * soon as the previous one was answered, until `total` were sent or the deadline passed.
 */
import { type Agent, request } from "node:http";
import { RawHttpPool } from "./raw-http.ts";

export interface HttpLoadOptions {
  baseUrl: string;
  token: string;
  total: number;
  clients: number;
  body: (i: number) => Buffer;
  /** Stop sending new requests after this (epoch ms). */
  deadline: number;
}

export interface LoadResult {
  sent: number;
  accepted: number;
  errors: number;
  /** Status or error code → count, for everything that was not accepted. */
  failures: Record<string, number>;
  /** Epoch ms: first request sent, first and last acceptance. */
  startAt: number;
  firstAcceptAt: number;
  lastAcceptAt: number;
}

export interface PostResult {
  status: number;
  body: string;
}

export function postJson(
  agent: Agent,
  baseUrl: string,
  path: string,
  token: string,
  body: Buffer,
  timeoutMs = 30_000,
): Promise<PostResult> {
  const url = new URL(path, baseUrl);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: "POST",
        agent,
        headers: {
          authorization: `Bearer ${token}`,
          "content-type": "application/json",
          "content-length": body.length,
        },
        timeout: timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(Object.assign(new Error("timeout"), { code: "ETIMEDOUT" })));
    req.on("error", reject);
    req.end(body);
  });
}

export function getJson(agent: Agent, baseUrl: string, path: string, token: string): Promise<PostResult> {
  const url = new URL(path, baseUrl);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: "GET", agent, headers: { authorization: `Bearer ${token}` }, timeout: 30_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end();
  });
}

export async function runHttpLoad(opts: HttpLoadOptions): Promise<LoadResult> {
  const pool = new RawHttpPool(opts.baseUrl, opts.clients);
  const result: LoadResult = {
    sent: 0,
    accepted: 0,
    errors: 0,
    failures: {},
    startAt: Date.now(),
    firstAcceptAt: 0,
    lastAcceptAt: 0,
  };
  let next = 0;
  const fail = (key: string): void => {
    result.errors++;
    result.failures[key] = (result.failures[key] ?? 0) + 1;
  };
  const client = async (): Promise<void> => {
    while (next < opts.total && Date.now() < opts.deadline) {
      const i = next++;
      result.sent++;
      try {
        const res = await pool.request(pool.post("/v1/messages", opts.token, opts.body(i)));
        if (res.status === 202) {
          const now = Date.now();
          if (result.firstAcceptAt === 0) result.firstAcceptAt = now;
          result.lastAcceptAt = now;
          result.accepted++;
        } else fail(String(res.status));
      } catch (err) {
        fail((err as { code?: string }).code ?? "error");
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: opts.clients }, client));
  } finally {
    pool.close();
  }
  return result;
}
