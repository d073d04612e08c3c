/**
 * HTTP/1.1 over a raw socket, so the fuzzer can send bytes no HTTP client would (invalid
 * UTF-8, NUL, bare LF, conflicting lengths) and read whatever comes back.
 */
import { connect } from "node:net";

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

export type RawResult =
  | { kind: "response"; response: RawResponse }
  /** The server closed the connection without a complete response. */
  | { kind: "closed"; bytes: number }
  | { kind: "timeout"; bytes: number };

function indexOfBlankLine(buf: Buffer): number {
  return buf.indexOf("\r\n\r\n");
}

/** A complete first response in `buf`, or null when more bytes are needed. */
export function parseResponse(input: Buffer, head: boolean, complete: boolean): RawResponse | null {
  let buf = input;
  // Skip interim 1xx answers (100 Continue).
  while (/^HTTP\/1\.[01] 1\d\d /.test(buf.subarray(0, 13).toString("latin1"))) {
    const interimEnd = indexOfBlankLine(buf);
    if (interimEnd < 0) return null;
    buf = buf.subarray(interimEnd + 4);
  }
  const end = indexOfBlankLine(buf);
  if (end < 0) return null;
  const lines = buf.subarray(0, end).toString("latin1").split("\r\n");
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? "")?.[1] ?? Number.NaN);
  if (!Number.isInteger(status)) return null;
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const i = line.indexOf(":");
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  const rest = buf.subarray(end + 4);
  if (status === 204 || status === 304) return { status, headers, body: Buffer.alloc(0) };
  // A HEAD answer has no body, except when the HTTP parser refused the request before it knew
  // the method: wait for the connection to close (we send Connection: close) and keep any bytes.
  if (head) return complete ? { status, headers, body: rest } : null;
  const length = headers["content-length"];
  if (length !== undefined) {
    const n = Number(length);
    if (rest.length < n) return null;
    return { status, headers, body: rest.subarray(0, n) };
  }
  if (/chunked/i.test(headers["transfer-encoding"] ?? "")) {
    const parts: Buffer[] = [];
    let at = 0;
    for (;;) {
      const lineEnd = rest.indexOf("\r\n", at);
      if (lineEnd < 0) return null;
      const size = Number.parseInt(rest.subarray(at, lineEnd).toString("latin1"), 16);
      if (!Number.isFinite(size)) return null;
      if (size === 0) return { status, headers, body: Buffer.concat(parts) };
      if (rest.length < lineEnd + 2 + size + 2) return null;
      parts.push(rest.subarray(lineEnd + 2, lineEnd + 2 + size));
      at = lineEnd + 2 + size + 2;
    }
  }
  // No length: the body runs to the end of the connection.
  return complete ? { status, headers, body: rest } : null;
}

/**
 * Writes `request` to 127.0.0.1:`port` and resolves with the first response. `endAfterWrite`
 * half-closes the socket after the request (for requests that promise more bytes than they send).
 */
export function rawHttp(
  port: number,
  request: Buffer,
  opts: { timeoutMs: number; head?: boolean; endAfterWrite?: boolean },
): Promise<RawResult> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    const chunks: Buffer[] = [];
    let bytes = 0;
    let settled = false;
    const finish = (result: RawResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => {
      const parsed = parseResponse(Buffer.concat(chunks), opts.head === true, true);
      finish(parsed === null ? { kind: "timeout", bytes } : { kind: "response", response: parsed });
    }, opts.timeoutMs);
    socket.on("error", () => {
      const parsed = parseResponse(Buffer.concat(chunks), opts.head === true, true);
      finish(parsed === null ? { kind: "closed", bytes } : { kind: "response", response: parsed });
    });
    socket.on("data", (chunk: Buffer) => {
      chunks.push(chunk);
      bytes += chunk.length;
      const parsed = parseResponse(Buffer.concat(chunks), opts.head === true, false);
      if (parsed !== null) finish({ kind: "response", response: parsed });
    });
    socket.on("close", () => {
      const parsed = parseResponse(Buffer.concat(chunks), opts.head === true, true);
      finish(parsed === null ? { kind: "closed", bytes } : { kind: "response", response: parsed });
    });
    socket.on("connect", () => {
      socket.write(request, () => {
        if (opts.endAfterWrite === true) socket.end();
      });
    });
  });
}
