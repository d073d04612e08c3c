import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { ERRORS, type ErrorCode, isSealpostError } from "../core/errors.ts";
import type { Logger } from "../logging/logger.ts";

/**
 * The one place where errors become HTTP: RFC 9457 `application/problem+json` with a
 * stable `code`, the field at fault and fixed texts only (never a value from the request).
 */
export interface Problem {
  type: string;
  title: string;
  status: number;
  code: ErrorCode;
  detail?: string;
  field?: string;
  errors?: { field: string; code: string; detail: string }[];
  instance?: string;
}

const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: "payload_too_large",
  FST_ERR_CTP_INVALID_MEDIA_TYPE: "unsupported_media_type",
  FST_ERR_CTP_INVALID_JSON_BODY: "malformed_json",
  FST_ERR_CTP_EMPTY_JSON_BODY: "malformed_json",
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: "malformed_json",
  FST_ERR_BAD_URL: "route_not_found",
  FST_ERR_MAX_PARAM_LENGTH: "route_not_found",
  FST_ERR_ASYNC_CONSTRAINT: "route_not_found",
};

export function frameworkErrorCode(code: string | undefined): ErrorCode {
  return (code === undefined ? undefined : FASTIFY_CODES[code]) ?? "malformed_json";
}

export function problemFor(code: ErrorCode, extra: Partial<Problem> = {}): Problem {
  const spec = ERRORS[code];
  return {
    type: `https://sealpost.dev/problems/${code}`,
    title: spec.title,
    status: spec.status,
    code,
    ...extra,
  };
}

export function sendProblem(reply: FastifyReply, problem: Problem): FastifyReply {
  return reply.code(problem.status).type("application/problem+json").send(problem);
}

/** The problem for an error: a coded SealpostError as it is, a framework error mapped, anything else internal. */
export function classify(err: unknown): Problem {
  if (isSealpostError(err)) {
    return problemFor(err.code, {
      ...(err.detail === undefined ? {} : { detail: err.detail }),
      ...(err.field === undefined ? {} : { field: err.field }),
      ...(err.issues.length === 0
        ? {}
        : { errors: err.issues.map((i) => ({ field: i.field, code: i.code, detail: i.detail })) }),
    });
  }
  const fe = err as Partial<FastifyError>;
  const mapped = typeof fe.code === "string" ? FASTIFY_CODES[fe.code] : undefined;
  if (mapped !== undefined) return problemFor(mapped);
  // JSON.parse failures from the content-type parser carry status 400 and no code.
  if (err instanceof SyntaxError || fe.statusCode === 400) return problemFor("malformed_json");
  if (fe.statusCode === 413) return problemFor("payload_too_large");
  if (fe.statusCode === 415) return problemFor("unsupported_media_type");
  return problemFor("internal_error");
}

export function errorHandler(logger: Logger) {
  return (err: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const problem = classify(err);
    if (problem.status >= 500)
      logger.error({ err, reqId: request.id, route: request.routeOptions.url ?? "?" }, "request failed");
    return sendProblem(reply, { ...problem, instance: request.id });
  };
}
