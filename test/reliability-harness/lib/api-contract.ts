/**
 * The contract the API fuzz holds every answer to, and the answers that break it in ways
 * already reported (counted apart, shown as `todo` tests).
 */

/** The Paubox-compatible routes, at /v1/{username}/… and under /paubox/v1. */
const PAUBOX_PATH =
  /^\/(?:paubox\/v1(?:[/?#]|$)|v1\/[^/?#]*\/(?:messages|bulk_messages|message_receipt|templated_messages|dynamic_templates)(?:[/?#]|$))/;
const BATCH_PATH = /^\/v1\/messages\/batch(?:[?#]|$)/;
const BULK_PATH = /^\/(?:paubox\/v1|v1\/[^/?#]*)\/bulk_messages(?:[?#]|$)/;

function parse(body: string): unknown {
  try {
    return JSON.parse(body) as unknown;
  } catch {
    return undefined;
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * The statuses of the items inside a 200 batch answer (`data[].status`) or Paubox bulk
 * answer (200 for a `sourceTrackingId`, else each `errors[].code`); null for other answers,
 * "malformed" when such an answer does not have that shape.
 */
export function itemStatuses(url: string, status: number, body: string): number[] | "malformed" | null {
  if (status !== 200) return null;
  if (BATCH_PATH.test(url)) {
    const b = parse(body);
    if (!isRecord(b) || !Array.isArray(b.data)) return "malformed";
    const out: number[] = [];
    for (const item of b.data) {
      if (!isRecord(item) || typeof item.status !== "number") return "malformed";
      const ok =
        item.status === 202
          ? isRecord(item.message) && typeof item.message.id === "string"
          : isRecord(item.error) && typeof item.error.code === "string" && item.error.status === item.status;
      if (!ok) return "malformed";
      out.push(item.status);
    }
    return out;
  }
  if (BULK_PATH.test(url)) {
    const b = parse(body);
    if (!isRecord(b) || !Array.isArray(b.messages)) return "malformed";
    const out: number[] = [];
    for (const m of b.messages) {
      if (isRecord(m) && typeof m.sourceTrackingId === "string") out.push(200);
      else if (isRecord(m) && Array.isArray(m.errors) && m.errors.length > 0)
        for (const e of m.errors) out.push(isRecord(e) && typeof e.code === "number" ? e.code : 0);
      else return "malformed";
    }
    return out;
  }
  return null;
}

function judgeItems(url: string, status: number, body: string): Verdict {
  const items = itemStatuses(url, status, body);
  if (items === null) return { kind: "ok" };
  if (items === "malformed")
    return { kind: "violation", why: `${status} answer without one result per item` };
  const bad = items.find((s) => s !== 200 && s !== 202 && (s < 400 || s >= 500));
  return bad === undefined
    ? { kind: "ok" }
    : { kind: "violation", why: `${status} with an item status ${bad}` };
}

/** The OAuth token endpoint answers errors as RFC 6749 §5.2 says: `{ "error": <code> }`. */
const OAUTH_PATH = /^\/oauth\/token(?:[?#]|$)/;
const OAUTH_ERRORS = new Set([
  "invalid_request",
  "invalid_client",
  "invalid_grant",
  "unauthorized_client",
  "unsupported_grant_type",
  "invalid_scope",
  "temporarily_unavailable",
]);

function judgeOAuth(status: number, body: string, head: boolean): Verdict {
  if (head) return { kind: "ok" };
  const b = parse(body);
  const error = isRecord(b) ? b.error : undefined;
  return typeof error === "string" && OAUTH_ERRORS.has(error)
    ? { kind: "ok" }
    : { kind: "violation", why: `${status} OAuth answer without an RFC 6749 error code` };
}

/** Paubox's error answer: `{ "errors": [{ "code": <status>, "title", "details" }, …] }`. */
function judgePaubox(status: number, body: string, head: boolean): Verdict {
  if (head) return { kind: "ok" };
  const b = parse(body);
  const errors = isRecord(b) ? b.errors : undefined;
  if (!Array.isArray(errors) || errors.length === 0)
    return { kind: "violation", why: `${status} Paubox answer without errors` };
  for (const e of errors)
    if (!isRecord(e) || e.code !== status || typeof e.title !== "string" || typeof e.details !== "string")
      return {
        kind: "violation",
        why: `${status} Paubox error item is not { code: ${status}, title, details }`,
      };
  return { kind: "ok" };
}

/**
 * Answers that broke the contract in ways once reported, each recognised by its shape and
 * checked by its own test. All three are fixed (frameworkErrors, and src/api/http-errors.ts
 * for the HTTP parser's refusals and Expect), so their tests now fail on any hit; a new
 * known issue would get `todo: "<where the fix goes>"` until fixed.
 */
export const KNOWN_ISSUES = {
  "framework-errors": {
    title:
      "URLs Fastify's router rejects (bad percent-encoding, a path parameter over 100 characters) get problem+json",
    todo: false,
  },
  "expect-417": {
    title: "a request with an Expect header other than 100-continue gets problem+json",
    todo: false,
  },
  "parser-errors": {
    title: "requests the HTTP parser refuses (bad framing, no Host, header flood) get problem+json",
    todo: false,
  },
} as const;

export type KnownIssue = keyof typeof KNOWN_ISSUES;

export type Verdict =
  | { kind: "ok" }
  | { kind: "violation"; why: string }
  | { kind: "known"; issue: KnownIssue; why: string };

/**
 * Judges one answer against the contract: never 5xx (nor a 5xx item inside a batch or bulk
 * answer); a 4xx is an RFC 9457 problem with a `code`, or, on the Paubox-compatible routes,
 * Paubox's `{ "errors": [...] }`, or, at the OAuth token endpoint, RFC 6749's `{ "error" }`.
 */
export function judge(
  url: string,
  status: number,
  contentType: string | undefined,
  body: string,
  head: boolean,
): Verdict {
  if (status >= 500) return { kind: "violation", why: `status ${status}` };
  if (status < 400) return head ? { kind: "ok" } : judgeItems(url, status, body);
  const ct = contentType ?? "";
  if (ct === "application/json" || ct.startsWith("application/json;")) {
    if (/"code":"FST_ERR_(BAD_URL|MAX_PARAM_LENGTH)"/.test(body))
      return { kind: "known", issue: "framework-errors", why: `${status} ${/FST_ERR_\w+/.exec(body)?.[0]}` };
    if (/"statusCode":(400|408|431)/.test(body) && !/"code"/.test(body))
      return { kind: "known", issue: "parser-errors", why: `${status} fastify client error` };
  }
  // A HEAD answer shows no body: off the Paubox routes (whose errors are plain JSON by
  // design), Fastify's router errors are the only plain-JSON 400/414 left.
  if (head && (status === 400 || status === 414) && /^application\/json/.test(ct) && !PAUBOX_PATH.test(url))
    return { kind: "known", issue: "framework-errors", why: `${status} on HEAD (body not shown)` };
  if (ct === "" && body === "") {
    if (status === 417) return { kind: "known", issue: "expect-417", why: "417 without body" };
    if (status === 400) return { kind: "known", issue: "parser-errors", why: "400 without body" };
  }
  if (PAUBOX_PATH.test(url) && /^application\/json/.test(ct)) return judgePaubox(status, body, head);
  if (OAUTH_PATH.test(url) && /^application\/json/.test(ct)) return judgeOAuth(status, body, head);
  if (!/^application\/problem\+json/.test(ct))
    return { kind: "violation", why: `${status} with content-type ${contentType}` };
  if (head) return { kind: "ok" };
  let problem: { code?: unknown; status?: unknown };
  try {
    problem = JSON.parse(body) as { code?: unknown; status?: unknown };
  } catch {
    return { kind: "violation", why: `${status} problem body is not JSON` };
  }
  if (typeof problem.code !== "string") return { kind: "violation", why: `${status} problem without code` };
  if (problem.status !== status)
    return { kind: "violation", why: `${status} problem says status ${String(problem.status)}` };
  return { kind: "ok" };
}
