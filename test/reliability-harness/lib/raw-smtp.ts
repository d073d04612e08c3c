/**
 * A raw SMTP client session over net/tls sockets, for sending what no SMTP client would:
 * garbage, NUL bytes, bare LF, huge lines, pipelined junk, half-finished commands. Replies are
 * parsed as they arrive (multi-line replies joined) and read one at a time.
 */
import { connect as netConnect, type Socket } from "node:net";
import { type TLSSocket, connect as tlsConnect } from "node:tls";

export interface Reply {
  code: number;
  text: string;
}

export type ReadResult = Reply | "timeout" | "closed";

export class RawSmtp {
  #socket: Socket | TLSSocket;
  #buffer = "";
  #partial: string[] = [];
  #replies: Reply[] = [];
  #closed = false;
  #wake: (() => void) | null = null;
  /** Lines from the server that are not SMTP replies (must stay 0). */
  malformedLines = 0;
  readonly all: Reply[] = [];

  private constructor(socket: Socket | TLSSocket) {
    this.#socket = socket;
    this.#attach(socket);
  }

  static open(port: number, implicitTls: boolean, timeoutMs: number): Promise<RawSmtp | "refused"> {
    return new Promise((resolve) => {
      const socket: Socket | TLSSocket = implicitTls
        ? tlsConnect({ host: "127.0.0.1", port, rejectUnauthorized: false })
        : netConnect({ host: "127.0.0.1", port });
      const timer = setTimeout(() => {
        socket.destroy();
        resolve("refused");
      }, timeoutMs);
      socket.once(implicitTls ? "secureConnect" : "connect", () => {
        clearTimeout(timer);
        resolve(new RawSmtp(socket));
      });
      socket.once("error", () => {
        clearTimeout(timer);
        resolve("refused");
      });
    });
  }

  #attach(socket: Socket | TLSSocket): void {
    socket.on("data", (chunk: Buffer) => this.#onData(chunk));
    socket.on("error", () => this.#onClose());
    socket.on("close", () => this.#onClose());
  }

  #onClose(): void {
    this.#closed = true;
    this.#wake?.();
  }

  #onData(chunk: Buffer): void {
    this.#buffer += chunk.toString("latin1");
    for (let i = this.#buffer.indexOf("\n"); i >= 0; i = this.#buffer.indexOf("\n")) {
      const line = this.#buffer.slice(0, i).replace(/\r$/, "");
      this.#buffer = this.#buffer.slice(i + 1);
      const m = /^(\d{3})([ -]?)(.*)$/.exec(line);
      if (m === null) {
        this.malformedLines++;
        continue;
      }
      this.#partial.push(m[3] ?? "");
      if (m[2] !== "-") {
        const reply = { code: Number(m[1]), text: this.#partial.join("\n") };
        this.#partial = [];
        this.#replies.push(reply);
        this.all.push(reply);
      }
    }
    this.#wake?.();
  }

  get closed(): boolean {
    return this.#closed;
  }

  get secure(): boolean {
    return "encrypted" in this.#socket && this.#socket.encrypted === true;
  }

  /** The next reply, or "closed"/"timeout". */
  async read(timeoutMs: number): Promise<ReadResult> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const reply = this.#replies.shift();
      if (reply !== undefined) return reply;
      if (this.#closed) return "closed";
      const left = deadline - Date.now();
      if (left <= 0) return "timeout";
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, left);
        const self = this;
        function done(): void {
          clearTimeout(timer);
          self.#wake = null;
          resolve();
        }
        this.#wake = done;
      });
    }
  }

  /** Reads replies until none arrives for `quietMs` (after junk whose reply count is unknown). */
  async drain(quietMs: number, maxMs: number): Promise<Reply[]> {
    const out: Reply[] = [];
    const deadline = Date.now() + maxMs;
    while (Date.now() < deadline) {
      const r = await this.read(quietMs);
      if (r === "timeout" || r === "closed") break;
      out.push(r);
    }
    return out;
  }

  write(data: string | Uint8Array): void {
    if (this.#closed || this.#socket.destroyed) return;
    this.#socket.write(typeof data === "string" ? Buffer.from(data, "latin1") : data);
  }

  /** Upgrades the connection after a 220 to STARTTLS. */
  startTls(timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const plain = this.#socket;
      plain.removeAllListeners("data");
      plain.removeAllListeners("close");
      plain.removeAllListeners("error");
      plain.on("error", () => {});
      const secure = tlsConnect({ socket: plain, rejectUnauthorized: false });
      const timer = setTimeout(() => {
        secure.destroy();
        this.#onClose();
        resolve(false);
      }, timeoutMs);
      secure.once("secureConnect", () => {
        clearTimeout(timer);
        this.#socket = secure;
        this.#attach(secure);
        resolve(true);
      });
      secure.once("error", () => {
        clearTimeout(timer);
        this.#onClose();
        resolve(false);
      });
    });
  }

  destroy(): void {
    this.#socket.destroy();
    this.#closed = true;
  }

  /** Half-closes (FIN) after what was written. */
  end(): void {
    this.#socket.end();
  }
}
