/**
 * A minimal HTTP/1.1 keep-alive client for the load generators: pre-built request bytes on
 * plain sockets, answers parsed only as far as status and Content-Length. It costs the bench
 * several times less CPU per request than node:http, which matters on a 2-core machine where
 * the generator shares the cores with the server it measures. One request at a time per
 * connection (no pipelining); requests wait in a FIFO line for a free connection.
 */
import { connect, type Socket } from "node:net";

export interface RawResponse {
  status: number;
  body: Buffer;
}

interface Pending {
  bytes: Buffer;
  resolve: (r: RawResponse) => void;
  reject: (e: Error) => void;
}

interface Conn {
  socket: Socket;
  current: Pending | null;
  buffer: Buffer;
  dead: boolean;
}

const HEADER_END = Buffer.from("\r\n\r\n");

export class RawHttpPool {
  readonly #host: string;
  readonly #port: number;
  readonly #max: number;
  readonly #timeoutMs: number;
  readonly #conns = new Set<Conn>();
  readonly #idle: Conn[] = [];
  readonly #queue: Pending[] = [];
  #closed = false;
  opened = 0;

  constructor(baseUrl: string, maxConnections: number, timeoutMs = 30_000) {
    const url = new URL(baseUrl);
    this.#host = url.hostname;
    this.#port = Number(url.port);
    this.#max = maxConnections;
    this.#timeoutMs = timeoutMs;
  }

  /** The bytes of a POST with a JSON body. */
  post(path: string, token: string, body: Buffer): Buffer {
    const head =
      `POST ${path} HTTP/1.1\r\nHost: ${this.#host}:${this.#port}\r\nAuthorization: Bearer ${token}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`;
    return Buffer.concat([Buffer.from(head, "latin1"), body]);
  }

  request(bytes: Buffer): Promise<RawResponse> {
    if (this.#closed) return Promise.reject(new Error("pool closed"));
    return new Promise((resolve, reject) => {
      const p: Pending = { bytes, resolve, reject };
      const conn = this.#idle.pop();
      if (conn !== undefined) this.#send(conn, p);
      else if (this.#conns.size < this.#max) this.#send(this.#open(), p);
      else this.#queue.push(p);
    });
  }

  close(): void {
    this.#closed = true;
    for (const c of this.#conns) c.socket.destroy();
    for (const p of this.#queue.splice(0)) p.reject(new Error("pool closed"));
  }

  #open(): Conn {
    this.opened++;
    const socket = connect({ host: this.#host, port: this.#port, noDelay: true });
    const conn: Conn = { socket, current: null, buffer: Buffer.alloc(0), dead: false };
    this.#conns.add(conn);
    socket.setTimeout(this.#timeoutMs, () =>
      socket.destroy(Object.assign(new Error("timeout"), { code: "ETIMEDOUT" })),
    );
    socket.on("data", (chunk: Buffer) => this.#onData(conn, chunk));
    const fail = (err: Error): void => {
      if (conn.dead) return;
      conn.dead = true;
      this.#conns.delete(conn);
      const i = this.#idle.indexOf(conn);
      if (i >= 0) this.#idle.splice(i, 1);
      const p = conn.current;
      conn.current = null;
      p?.reject(err);
      // Someone waiting gets a new connection.
      const next = this.#queue.shift();
      if (next !== undefined && !this.#closed) this.#send(this.#open(), next);
    };
    socket.on("error", fail);
    socket.on("close", () => fail(Object.assign(new Error("connection closed"), { code: "ECONNRESET" })));
    return conn;
  }

  #send(conn: Conn, p: Pending): void {
    conn.current = p;
    conn.buffer = Buffer.alloc(0);
    conn.socket.write(p.bytes);
  }

  #onData(conn: Conn, chunk: Buffer): void {
    conn.buffer = conn.buffer.length === 0 ? chunk : Buffer.concat([conn.buffer, chunk]);
    const end = conn.buffer.indexOf(HEADER_END);
    if (end < 0) return;
    const head = conn.buffer.toString("latin1", 0, end);
    const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? Number.NaN);
    if (Number.isNaN(length)) {
      conn.socket.destroy(new Error("answer without Content-Length"));
      return;
    }
    const total = end + HEADER_END.length + length;
    if (conn.buffer.length < total) return;
    const status = Number(head.slice(9, 12));
    const body = conn.buffer.subarray(end + HEADER_END.length, total);
    const p = conn.current;
    conn.current = null;
    conn.buffer = Buffer.alloc(0);
    const closing = /\r\nconnection:\s*close/i.test(head);
    if (closing) conn.socket.destroy();
    p?.resolve({ status, body });
    if (closing) return;
    const next = this.#queue.shift();
    if (next !== undefined) this.#send(conn, next);
    else this.#idle.push(conn);
  }
}
