import type { FastifyInstance, FastifyRequest } from "fastify";
import type { AuditLog } from "../audit/types.ts";
import { INSTANCE_CHAIN } from "../audit/types.ts";
import { clientAddress } from "../auth/source.ts";
import type { ErrorCode } from "../core/errors.ts";
import { classify } from "./problem.ts";

/**
 * Every API call on a route that is not public becomes one `http.request` audit entry
 * (ADR 0009 §2), refused ones included: one onResponse hook on the root, so every route and
 * every error shape (RFC 9457, Paubox) is covered. The entry goes to the caller's org chain
 * once authentication succeeded, else to `instance` as anonymous. It holds the method and
 * the route PATTERN (never the URL, whose path or query can hold an address), the status,
 * the outcome (`ok` below 400, else the error's code), the source address, the request id,
 * and the `:id` parameter when it has the shape of one of our ids.
 *
 * Buffered (`record`): the answer never waits for the audit log.
 */
const OUR_ID = /^([a-z]{2,5})_[0-9a-z]{26}$/;

const TARGET_TYPES: Readonly<Record<string, string>> = {
  msg: "message",
  dlv: "delivery",
  key: "key",
  org: "org",
  dom: "domain",
  sup: "suppression",
  hold: "hold",
  evt: "event",
};

/** For an answer ≥ 400 sent without an error (a Paubox 404 body, the Host check). */
const STATUS_CODES: Readonly<Record<number, ErrorCode>> = {
  400: "malformed_request",
  401: "unauthorized",
  403: "forbidden",
  404: "not_found",
  405: "method_not_allowed",
  408: "request_timeout",
  409: "invalid_state",
  410: "content_purged",
  413: "payload_too_large",
  415: "unsupported_media_type",
  422: "validation_failed",
  429: "rate_limited",
  503: "not_ready",
};

function outcomeOf(status: number, code: ErrorCode | undefined): "ok" | ErrorCode {
  if (status < 400) return "ok";
  return code ?? STATUS_CODES[status] ?? "internal_error";
}

function targetOf(request: FastifyRequest): { targetType: string; targetId: string } | null {
  const id = (request.params as Record<string, unknown> | undefined)?.id;
  const match = typeof id === "string" ? OUR_ID.exec(id) : null;
  const type = match?.[1] === undefined ? undefined : TARGET_TYPES[match[1]];
  return type === undefined || typeof id !== "string" ? null : { targetType: type, targetId: id };
}

export function registerAuditHook(app: FastifyInstance, audit: AuditLog): void {
  // The code of the error being answered, whichever scope's handler shapes it.
  const codes = new WeakMap<FastifyRequest, ErrorCode>();
  app.addHook("onError", async (request, _reply, err) => {
    codes.set(request, classify(err).code);
  });
  app.addHook("onResponse", async (request, reply) => {
    const declared = request.routeOptions.config?.access;
    if (declared === undefined || declared.kind === "public") return;
    const principal = request.principal;
    const route = request.routeOptions.url;
    audit.record({
      chain: principal?.orgId ?? INSTANCE_CHAIN,
      actorType: principal === null ? "anonymous" : "key",
      actorId: principal?.keyId ?? null,
      action: "http.request",
      ...targetOf(request),
      outcome: outcomeOf(reply.statusCode, codes.get(request)),
      status: reply.statusCode,
      sourceIp: clientAddress(request.ip),
      requestId: request.id,
      details: {
        method: request.method,
        ...(route === undefined ? {} : { route }),
        ...(principal === null ? {} : { auth_method: principal.method }),
      },
    });
  });
}
