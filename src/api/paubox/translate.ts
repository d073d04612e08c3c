import { type ErrorCode, isSealpostError, SealpostError } from "../../core/errors.ts";

/**
 * Translates one Paubox Email API message (`data.message`, or `data.messages[i]` of a bulk
 * request) into the input of sealpost's one submit path, and sealpost's field names in
 * errors back into Paubox's. Only shapes are checked here (translating needs objects);
 * every rule about the message itself belongs to the one validator (src/core/validate.ts).
 */
export interface Translated {
  /** What POST /v1/messages would have received. */
  input: Record<string, unknown>;
  /** The custom headers, as Paubox echoes them back in `customHeaders`. */
  customHeaders: Record<string, string>;
}

/** Paubox's named headers and the sealpost field each becomes; the rest are custom headers. */
const NAMED_HEADERS: Readonly<Record<string, string>> = {
  subject: "subject",
  from: "from",
  "reply-to": "reply_to",
};
/** Sent as headers, but not echoed among `customHeaders`. */
const LIST_HEADERS = new Set(["list-unsubscribe", "list-unsubscribe-post"]);
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** A C0 control character other than tab, CR and LF, or DEL: no HTML has one. */
function hasControl(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) || c === 0x7f) return true;
  }
  return false;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** `data` of a request body; Paubox wraps every request in it. */
export function dataOf(body: unknown): Record<string, unknown> {
  if (!isRecord(body)) throw new SealpostError("invalid_type", { detail: "The body must be a JSON object." });
  return objectAt(body.data, "data", true);
}

function objectAt(v: unknown, field: string, required: boolean): Record<string, unknown> {
  if (isRecord(v)) return v;
  if ((v === undefined || v === null) && !required) return {};
  if (v === undefined || v === null)
    throw new SealpostError("missing_field", { field, detail: `${field} is required.` });
  throw new SealpostError("invalid_type", { field, detail: `${field} must be an object.` });
}

/** Paubox's booleans; the official SDKs send true/false, Paubox also takes "true"/"false". */
function flag(v: unknown, field: string): boolean | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === "boolean") return v;
  const s = typeof v === "string" ? v.trim().toLowerCase() : "";
  if (s === "true" || s === "false") return s === "true";
  throw new SealpostError("invalid_type", { field, detail: `${field} must be a boolean.` });
}

/**
 * `text/html` arrives base64-encoded (the official SDKs encode it) or as plain HTML (the
 * Paubox docs allow both). It is decoded only when it is well-formed base64 of UTF-8 text
 * without control characters; anything else is taken as the HTML itself.
 */
export function decodeHtml(v: string): string {
  const clean = v.replace(/\s+/g, "");
  if (clean.length === 0 || clean.length % 4 !== 0 || !BASE64.test(clean)) return v;
  try {
    const decoded = new TextDecoder("utf-8", { fatal: true }).decode(Buffer.from(clean, "base64"));
    return hasControl(decoded) ? v : decoded;
  } catch {
    return v;
  }
}

function attachment(a: unknown): unknown {
  if (!isRecord(a)) return a;
  return present({ filename: a.fileName, content_type: a.contentType, content: a.content });
}

/** Drops absent values: the official SDKs send `null` for every option left unset. */
function present(fields: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined && v !== null));
}

export function translateMessage(message: unknown, at: string): Translated {
  const m = objectAt(message, at, true);
  const named: Record<string, unknown> = {};
  const custom: [string, unknown][] = [];
  for (const [name, value] of Object.entries(objectAt(m.headers, `${at}.headers`, false))) {
    if (value === undefined || value === null) continue;
    const field = NAMED_HEADERS[name.toLowerCase()];
    if (field === undefined) custom.push([name, value]);
    else named[field] = value;
  }
  const content = objectAt(m.content, `${at}.content`, false);
  const html = content["text/html"];
  const forcePortal = flag(m.forceSecureNotification, `${at}.forceSecureNotification`) === true;
  const input = present({
    to: m.recipients,
    cc: m.cc,
    bcc: m.bcc,
    ...named,
    text: content["text/plain"],
    html: typeof html === "string" ? decodeHtml(html) : html,
    attachments: Array.isArray(m.attachments) ? m.attachments.map(attachment) : m.attachments,
    headers: custom.length === 0 ? undefined : Object.fromEntries(custom),
    allow_non_tls: flag(m.allowNonTLS, `${at}.allowNonTLS`),
    // The secure portal: validate.ts answers not_supported until the portal ships.
    encryption: forcePortal ? "portal" : undefined,
  });
  const customHeaders = Object.fromEntries(
    custom.filter(
      (e): e is [string, string] => typeof e[1] === "string" && !LIST_HEADERS.has(e[0].toLowerCase()),
    ),
  );
  return { input, customHeaders };
}

/** A field of sealpost's message input, named as in the Paubox request (under `at`). */
export function pauboxField(field: string, code: ErrorCode, at: string): string {
  const m = /^([a-z_]+)(.*)$/.exec(field);
  const head = m?.[1] ?? "";
  const rest = m?.[2] ?? "";
  switch (head) {
    case "to":
      return `${at}.recipients${rest}`;
    case "cc":
    case "bcc":
      return `${at}.${head}${rest}`;
    case "from":
    case "subject":
      return `${at}.headers.${head}`;
    case "reply_to":
      return `${at}.headers.reply-to${rest}`;
    case "text":
      return code === "missing_field" ? `${at}.content` : `${at}.content.text/plain`;
    case "html":
      return `${at}.content.text/html`;
    case "headers":
      return `${at}.headers${rest}`;
    case "attachments":
      return `${at}.attachments${rest.replace(/\.filename$/, ".fileName").replace(/\.content_type$/, ".contentType")}`;
    case "encryption":
      return `${at}.forceSecureNotification`;
    case "allow_non_tls":
      return `${at}.allowNonTLS`;
    case "template": {
      // templated_messages: the template fields sit beside data.message.
      const data = at.replace(/\.message$/, "");
      return rest.startsWith(".data") ? `${data}.template_values${rest.slice(5)}` : `${data}.template_name`;
    }
    default:
      return at;
  }
}

/** Renames the fields of an error raised by the submit path; other errors pass unchanged. */
export function inPauboxTerms(err: unknown, at: string): unknown {
  if (!isSealpostError(err)) return err;
  const issues = err.issues.map((i) => ({ ...i, field: pauboxField(i.field, i.code, at) }));
  const first = issues[0];
  // A one-issue detail names the field: rebuild it with the Paubox name.
  const detail = issues.length === 1 && first !== undefined ? `${first.field} ${first.detail}` : err.detail;
  return new SealpostError(err.code, {
    issues,
    cause: err,
    ...(err.field === undefined ? {} : { field: pauboxField(err.field, err.code, at) }),
    ...(detail === undefined || issues.length > 1 ? {} : { detail }),
  });
}
