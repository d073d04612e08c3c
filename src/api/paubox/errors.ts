import type { FastifyReply, FastifyRequest } from "fastify";
import { ERRORS, isSealpostError } from "../../core/errors.ts";
import type { Logger } from "../../logging/logger.ts";
import { classify } from "../problem.ts";

/**
 * The one place where errors of the Paubox-compatible routes become HTTP: Paubox's
 * `{ "errors": [{ "code", "title", "details" }] }` instead of RFC 9457. The codes come from
 * the same registry (src/core/errors.ts) through the same classification as every other
 * route; titles and details are the registry's fixed texts and field paths, never a value.
 */
export interface PauboxErrorItem {
  code: number;
  title: string;
  details: string;
}

export interface PauboxErrorAnswer {
  status: number;
  body: { errors: PauboxErrorItem[] };
}

/** Paubox answers an invalid request body with 400; sealpost's 422 becomes 400, the rest stay. */
export function pauboxStatus(status: number): number {
  return status === 422 ? 400 : status;
}

export function pauboxError(err: unknown): PauboxErrorAnswer {
  const problem = classify(err);
  const status = pauboxStatus(problem.status);
  const issues = isSealpostError(err) ? err.issues : [];
  const errors =
    issues.length > 0
      ? issues.map((i) => ({ code: status, title: ERRORS[i.code].title, details: `${i.field} ${i.detail}` }))
      : [
          {
            code: status,
            // Like Paubox's own 404s (and short of the registry's longer sentence).
            title: problem.code === "not_found" ? "Not found" : problem.title,
            details:
              problem.detail ??
              (problem.field === undefined ? problem.title : `${problem.field}: ${problem.title}`),
          },
        ];
  return { status, body: { errors } };
}

export function pauboxErrorHandler(logger: Logger) {
  return (err: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const { status, body } = pauboxError(err);
    if (status >= 500)
      logger.error({ err, reqId: request.id, route: request.routeOptions.url ?? "?" }, "request failed");
    return reply.code(status).type("application/json").send(body);
  };
}
