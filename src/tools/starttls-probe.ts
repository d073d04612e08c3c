import { connect as netConnect, type Socket } from "node:net";
import { checkServerIdentity, type PeerCertificate, type TLSSocket, connect as tlsConnect } from "node:tls";

/**
 * A diagnostic STARTTLS probe for `tls-check`: connect, EHLO, STARTTLS, look at the TLS
 * session and the certificate, QUIT. It never sends MAIL FROM. Unlike the delivery client
 * it accepts TLS 1.0/1.1 so that it can report a server that only offers those.
 */
export interface ProbeResult {
  host: string;
  ip: string;
  port: number;
  connected: boolean;
  banner: string | null;
  starttls: boolean;
  tls_version: string | null;
  cipher: string | null;
  cert_verified: boolean;
  cert_error: string | null;
  name_match: boolean | null;
  not_after: string | null;
  days_left: number | null;
  error: string | null;
}

class LineReader {
  #buffer = "";
  #waiters: ((line: string | null) => void)[] = [];
  #closed = false;
  constructor(socket: Socket) {
    socket.setEncoding("latin1");
    socket.on("data", (d: string) => {
      this.#buffer += d;
      if (this.#buffer.length > 64 * 1024) socket.destroy();
      this.#drain();
    });
    socket.on("close", () => {
      this.#closed = true;
      this.#drain();
    });
  }
  #drain(): void {
    while (this.#waiters.length > 0) {
      const i = this.#buffer.indexOf("\n");
      if (i < 0 && !this.#closed) return;
      const waiter = this.#waiters.shift();
      if (i < 0) waiter?.(null);
      else {
        const line = this.#buffer.slice(0, i).replace(/\r$/, "");
        this.#buffer = this.#buffer.slice(i + 1);
        waiter?.(line);
      }
    }
  }
  line(): Promise<string | null> {
    return new Promise((resolve) => {
      this.#waiters.push(resolve);
      this.#drain();
    });
  }
  /** A whole (multi-line) reply: its code and lines. */
  async reply(): Promise<{ code: number; lines: string[] } | null> {
    const lines: string[] = [];
    for (let n = 0; n < 100; n++) {
      const line = await this.line();
      if (line === null) return null;
      lines.push(line.slice(4));
      if (line[3] !== "-") return { code: Number(line.slice(0, 3)), lines };
    }
    return null;
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | "timeout"> {
  return Promise.race([p, new Promise<"timeout">((r) => setTimeout(() => r("timeout"), ms).unref())]);
}

export async function probeStarttls(
  target: { host: string; ip: string; port: number },
  opts: { heloName: string; timeoutMs: number; ca?: string | Buffer; now: number },
): Promise<ProbeResult> {
  const result: ProbeResult = {
    ...target,
    connected: false,
    banner: null,
    starttls: false,
    tls_version: null,
    cipher: null,
    cert_verified: false,
    cert_error: null,
    name_match: null,
    not_after: null,
    days_left: null,
    error: null,
  };
  const socket = netConnect({ host: target.ip, port: target.port });
  socket.setTimeout(opts.timeoutMs, () => socket.destroy());
  let tlsSocket: TLSSocket | null = null;
  try {
    const connected = await withTimeout(
      new Promise<boolean>((resolve) => {
        socket.once("connect", () => resolve(true));
        socket.once("error", () => resolve(false));
      }),
      opts.timeoutMs,
    );
    if (connected !== true) {
      result.error = connected === "timeout" ? "timeout" : "connection_failed";
      return result;
    }
    result.connected = true;
    const reader = new LineReader(socket);
    const greeting = await withTimeout(reader.reply(), opts.timeoutMs);
    if (greeting === "timeout" || greeting === null || greeting.code !== 220) {
      result.error = greeting === "timeout" ? "timeout" : "no_greeting";
      return result;
    }
    result.banner = (greeting.lines[0] ?? "").slice(0, 200);
    socket.write(`EHLO ${opts.heloName}\r\n`);
    const ehlo = await withTimeout(reader.reply(), opts.timeoutMs);
    if (ehlo === "timeout" || ehlo === null || ehlo.code !== 250) {
      result.error = "ehlo_failed";
      return result;
    }
    result.starttls = ehlo.lines.some((l) => /^STARTTLS\b/i.test(l));
    if (!result.starttls) return result;
    socket.write("STARTTLS\r\n");
    const go = await withTimeout(reader.reply(), opts.timeoutMs);
    if (go === "timeout" || go === null || go.code !== 220) {
      result.starttls = false;
      result.error = "starttls_refused";
      return result;
    }
    socket.removeAllListeners("data");
    socket.removeAllListeners("close");
    const servername = target.host;
    const tls = tlsConnect({
      socket,
      servername,
      minVersion: "TLSv1",
      ciphers: "DEFAULT@SECLEVEL=0",
      rejectUnauthorized: false,
      ...(opts.ca === undefined ? {} : { ca: opts.ca }),
    });
    tlsSocket = tls;
    const secured = await withTimeout(
      new Promise<boolean>((resolve) => {
        tls.once("secureConnect", () => resolve(true));
        tls.once("error", () => resolve(false));
      }),
      opts.timeoutMs,
    );
    if (secured !== true) {
      result.error = "tls_handshake_failed";
      return result;
    }
    result.tls_version = tls.getProtocol();
    result.cipher = tls.getCipher()?.name ?? null;
    result.cert_verified = tls.authorized;
    const err = tls.authorizationError as unknown;
    result.cert_error =
      err instanceof Error
        ? ((err as { code?: string }).code ?? "UNKNOWN")
        : typeof err === "string"
          ? err
          : null;
    const cert: PeerCertificate = tls.getPeerCertificate();
    if (cert.valid_to !== undefined) {
      const notAfter = Date.parse(cert.valid_to);
      result.not_after = Number.isNaN(notAfter) ? null : new Date(notAfter).toISOString();
      result.days_left = Number.isNaN(notAfter) ? null : Math.floor((notAfter - opts.now) / 86_400_000);
      result.name_match = checkServerIdentity(servername, cert) === undefined;
    }
    tls.write("QUIT\r\n");
    return result;
  } finally {
    tlsSocket?.destroy();
    socket.destroy();
  }
}
