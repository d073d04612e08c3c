import { type IncomingMessage, type ServerResponse, STATUS_CODES } from "node:http";
import type { Socket } from "node:net";
import type { ErrorCode } from "../core/errors.ts";
import { problemFor } from "./problem.ts";

/**
 * Answers for requests Node's HTTP layer refuses before Fastify sees them (bad framing,
 * a header flood, a timeout, an unsupported Expect, no Host): the same RFC 9457 problem
 * with a stable code as every other refusal, instead of Fastify's plain JSON or Node's
 * empty answer. The texts are fixed; nothing from the request is echoed.
 */
function problemText(code: ErrorCode): { status: number; body: string } {
  const problem = problemFor(code);
  return { status: problem.status, body: JSON.stringify(problem) };
}

export function clientErrorHandler(err: Error & { code?: string }, socket: Socket): void {
  if (err.code === "ECONNRESET" || socket.destroyed) return;
  const code: ErrorCode =
    err.code === "HPE_HEADER_OVERFLOW"
      ? "headers_too_large"
      : err.code === "ERR_HTTP_REQUEST_TIMEOUT"
        ? "request_timeout"
        : "malformed_request";
  const { status, body } = problemText(code);
  if (socket.writable)
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/problem+json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  socket.destroy();
}

/** Node's 'checkExpectation': an Expect header other than 100-continue. */
export function expectationHandler(_req: IncomingMessage, res: ServerResponse): void {
  const { status, body } = problemText("expectation_failed");
  res.writeHead(status, {
    "Content-Type": "application/problem+json",
    "Content-Length": Buffer.byteLength(body),
    Connection: "close",
  });
  res.end(body);
}
