import { type ParsedAddress, parseAddress } from "./address.ts";
import { type ErrorCode, type FieldIssue, SealpostError } from "./errors.ts";
import {
  type Attachment,
  type EncryptionMode,
  type Limits,
  MAX_SCHEDULE_MS,
  type Recipient,
  SCHEDULE_SKEW_MS,
  type ValidatedMessage,
} from "./message.ts";

/**
 * Validates a message request of unknown shape. This is the one validator: the REST
 * route, SMTP submission and the Paubox-compatible route all translate into this input
 * and call it through submit(). Issues name the field and the rule, never the value.
 */
/** Every field POST /v1/messages knows (the fuzz harness draws from this list too). */
export const MESSAGE_FIELDS = [
  "from",
  "to",
  "cc",
  "bcc",
  "reply_to",
  "subject",
  "text",
  "html",
  "attachments",
  "headers",
  "tags",
  "metadata",
  "encryption",
  "allow_non_tls",
  "sandbox",
  "template",
  "send_at",
] as const;
const KNOWN = new Set<string>(MESSAGE_FIELDS);
/** Known fields that are not available yet (answered `not_supported`). */
const LATER = new Set<string>();
const MODES: readonly EncryptionMode[] = ["auto", "tls", "portal", "smime", "pgp"];
const AVAILABLE_MODES: readonly EncryptionMode[] = ["auto", "tls", "portal", "smime", "pgp"];
const RESERVED_HEADERS = new Set([
  "from",
  "to",
  "cc",
  "bcc",
  "subject",
  "date",
  "message-id",
  "reply-to",
  "sender",
  "mime-version",
  "content-type",
  "content-transfer-encoding",
  "dkim-signature",
  "received",
  "return-path",
]);
const HEADER_NAME = /^[!-9;-~]{1,76}$/;
const SAFE_KEY = /^[A-Za-z_][A-Za-z0-9_]{0,31}$/;
const SAFE_HEADER = /^[A-Za-z0-9-]{1,40}$/;
const TAG = /^[A-Za-z0-9_.:-]{1,64}$/;
const CRLF = /[\r\n]/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
/** RFC 3339 date-time; the offset is required (a time without one is ambiguous). */
const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

class Issues {
  readonly list: FieldIssue[] = [];
  add(field: string, code: ErrorCode, detail: string): void {
    if (this.list.length < 50) this.list.push({ field, code, detail });
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function text(
  v: unknown,
  field: string,
  issues: Issues,
  opts: { max: number; noCrlf?: boolean },
): string | null {
  if (typeof v !== "string") {
    issues.add(field, "invalid_type", "must be a string");
    return null;
  }
  if (v.length > opts.max) {
    issues.add(field, "invalid_value", `must be at most ${opts.max} characters`);
    return null;
  }
  if (opts.noCrlf === true && CRLF.test(v)) {
    issues.add(field, "header_injection", "must not contain CR or LF");
    return null;
  }
  return v;
}

function addresses(v: unknown, field: string, issues: Issues): ParsedAddress[] {
  const list = typeof v === "string" ? [v] : v;
  if (!Array.isArray(list)) {
    issues.add(field, "invalid_type", "must be an address or a list of addresses");
    return [];
  }
  const out: ParsedAddress[] = [];
  for (const [i, item] of list.entries()) {
    const f = Array.isArray(v) ? `${field}[${i}]` : field;
    if (typeof item !== "string") {
      issues.add(f, "invalid_type", "must be a string");
      continue;
    }
    if (CRLF.test(item)) {
      issues.add(f, "header_injection", "must not contain CR or LF");
      continue;
    }
    const parsed = parseAddress(item);
    if (parsed === null) {
      issues.add(f, "invalid_address", "is not a valid email address");
      continue;
    }
    out.push(parsed);
  }
  return out;
}

function decodeBase64(v: string): Buffer | null {
  const clean = v.replace(/\s+/g, "");
  if (clean.length % 4 !== 0 || !BASE64.test(clean)) return null;
  return Buffer.from(clean, "base64");
}

function attachments(v: unknown, issues: Issues, limits: Limits): Attachment[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) {
    issues.add("attachments", "invalid_type", "must be a list");
    return [];
  }
  if (v.length > limits.maxAttachments) {
    issues.add("attachments", "invalid_attachment", `at most ${limits.maxAttachments} attachments`);
    return [];
  }
  const out: Attachment[] = [];
  for (const [i, a] of v.entries()) {
    const f = `attachments[${i}]`;
    if (!isRecord(a)) {
      issues.add(f, "invalid_type", "must be an object");
      continue;
    }
    for (const k of Object.keys(a))
      if (!["filename", "content", "content_type", "content_id"].includes(k))
        issues.add(`${f}.${SAFE_KEY.test(k) ? k : "?"}`, "unknown_field", "is not a known attachment field");
    const filename = text(a.filename, `${f}.filename`, issues, { max: 255, noCrlf: true });
    const contentType =
      a.content_type === undefined
        ? "application/octet-stream"
        : text(a.content_type, `${f}.content_type`, issues, { max: 255, noCrlf: true });
    if (contentType !== null && !/^[\w.+-]+\/[\w.+-]+$/.test(contentType))
      issues.add(`${f}.content_type`, "invalid_attachment", "must be a MIME type like application/pdf");
    const contentId =
      a.content_id === undefined
        ? null
        : text(a.content_id, `${f}.content_id`, issues, { max: 255, noCrlf: true });
    if (typeof a.content !== "string") {
      issues.add(`${f}.content`, "invalid_type", "must be base64 text");
      continue;
    }
    const content = decodeBase64(a.content);
    if (content === null) {
      issues.add(`${f}.content`, "invalid_attachment", "is not valid base64");
      continue;
    }
    if (content.length > limits.maxAttachmentBytes) {
      issues.add(`${f}.content`, "invalid_attachment", "is larger than the attachment size limit");
      continue;
    }
    if (filename === null || filename === "" || contentType === null) {
      if (filename === "") issues.add(`${f}.filename`, "invalid_attachment", "must not be empty");
      continue;
    }
    out.push({ filename, contentType, content, contentId });
  }
  return out;
}

function headers(v: unknown, issues: Issues, limits: Limits): Record<string, string> {
  if (v === undefined) return {};
  if (!isRecord(v)) {
    issues.add("headers", "invalid_type", "must be an object of header names to values");
    return {};
  }
  const entries = Object.entries(v);
  if (entries.length > limits.maxHeaders) issues.add("headers", "invalid_value", "too many custom headers");
  const out: Record<string, string> = {};
  for (const [name, value] of entries.slice(0, limits.maxHeaders)) {
    const f = `headers.${SAFE_HEADER.test(name) ? name : "?"}`;
    if (!HEADER_NAME.test(name)) {
      issues.add(f, "invalid_value", "is not a valid header name");
      continue;
    }
    if (RESERVED_HEADERS.has(name.toLowerCase())) {
      issues.add(f, "invalid_value", "is set by sealpost and cannot be a custom header");
      continue;
    }
    const val = text(value, f, issues, { max: limits.maxHeaderValueLength, noCrlf: true });
    if (val !== null) out[name] = val;
  }
  return out;
}

function tags(v: unknown, issues: Issues): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.length > 10) {
    issues.add("tags", "invalid_value", "must be a list of at most 10 tags");
    return [];
  }
  return v.filter((t, i) => {
    const ok = typeof t === "string" && TAG.test(t);
    if (!ok) issues.add(`tags[${i}]`, "invalid_value", "must be 1-64 characters of A-Z a-z 0-9 _ . : -");
    return ok;
  }) as string[];
}

function metadata(v: unknown, issues: Issues): Record<string, string | number | boolean> {
  if (v === undefined) return {};
  if (!isRecord(v) || Object.keys(v).length > 20) {
    issues.add("metadata", "invalid_value", "must be an object with at most 20 keys");
    return {};
  }
  const out: Record<string, string | number | boolean> = {};
  for (const [k, val] of Object.entries(v)) {
    const ok =
      /^[A-Za-z0-9_.-]{1,40}$/.test(k) &&
      ((typeof val === "string" && val.length <= 500) ||
        (typeof val === "number" && Number.isFinite(val)) ||
        typeof val === "boolean");
    if (!ok)
      issues.add(
        "metadata",
        "invalid_value",
        "keys are 1-40 characters; values strings up to 500, numbers or booleans",
      );
    else out[k] = val as string | number | boolean;
  }
  return out;
}

/** Parses an RFC 3339 time with an offset to epoch ms; null when it is not one (or not a real date). */
export function parseRfc3339(v: string): number | null {
  const m = RFC3339.exec(v);
  if (m === null) return null;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth) return null;
  // Second 60 is a leap second (RFC 3339 allows it); it counts as the next minute's first.
  if (hour > 23 || minute > 59 || second > 60) return null;
  const offH = Number(m[10] ?? 0);
  const offM = Number(m[11] ?? 0);
  if (offH > 23 || offM > 59) return null;
  const offset = (m[9] === "-" ? -1 : 1) * (offH * 60 + offM) * 60_000;
  const ms = Number((m[7] ?? "").padEnd(3, "0").slice(0, 3));
  const utc = new Date(0);
  utc.setUTCFullYear(year, month - 1, day);
  utc.setUTCHours(hour, minute, second, ms);
  return utc.getTime() - offset;
}

/** `send_at`: when to hold the message until, or null to send at once (see ADR 0004). */
function sendAt(v: unknown, now: number, issues: Issues): number | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== "string") {
    issues.add("send_at", "invalid_type", "must be an RFC 3339 time string");
    return null;
  }
  const at = v.length > 40 ? null : parseRfc3339(v);
  if (at === null) {
    issues.add(
      "send_at",
      "invalid_value",
      "must be an RFC 3339 time with an offset, like 2026-01-31T09:00:00Z",
    );
    return null;
  }
  if (at < now - SCHEDULE_SKEW_MS) {
    issues.add("send_at", "send_at_in_past", "must not be more than 60 seconds in the past");
    return null;
  }
  if (at > now + MAX_SCHEDULE_MS) {
    issues.add("send_at", "send_at_too_far", "must be at most 30 days ahead");
    return null;
  }
  return at > now ? at : null;
}

/** `template: {id, version?, data}` (ADR 0011 §1): which stored template to render, with what. */
export interface TemplateRef {
  readonly id: string;
  /** null: the template's current version. */
  readonly version: number | null;
  readonly data: Record<string, unknown>;
}

const TEMPLATE_ID = /^tpl_[0-9a-hjkmnp-tv-z]{26}$/;
/** Bounds of `template.data`: nesting depth, values in all, characters of strings in all. */
export const TEMPLATE_DATA_LIMITS = { depth: 16, values: 5_000, chars: 1_000_000 } as const;

/** Whether `v` is JSON data within the bounds: strings, finite numbers, booleans, null, objects, lists. */
export function isTemplateData(v: unknown): v is Record<string, unknown> {
  let values = 0;
  let chars = 0;
  const text = (t: string): boolean => {
    chars += t.length;
    return chars <= TEMPLATE_DATA_LIMITS.chars;
  };
  const ok = (x: unknown, depth: number): boolean => {
    values++;
    if (values > TEMPLATE_DATA_LIMITS.values || depth > TEMPLATE_DATA_LIMITS.depth) return false;
    if (x === null || typeof x === "boolean") return true;
    if (typeof x === "number") return Number.isFinite(x);
    if (typeof x === "string") return text(x);
    if (Array.isArray(x)) return x.every((i) => ok(i, depth + 1));
    if (!isRecord(x) || Object.getPrototypeOf(x) !== Object.prototype) return false;
    return Object.entries(x).every(([k, i]) => text(k) && ok(i, depth + 1));
  };
  return isRecord(v) && ok(v, 0);
}

function templateRef(v: unknown, issues: Issues): TemplateRef | null {
  if (!isRecord(v)) {
    issues.add("template", "invalid_type", "must be an object with id, data and optionally version");
    return null;
  }
  for (const k of Object.keys(v))
    if (!["id", "version", "data"].includes(k))
      issues.add(`template.${SAFE_KEY.test(k) ? k : "?"}`, "unknown_field", "is not a known template field");
  let ok = true;
  if (typeof v.id !== "string" || !TEMPLATE_ID.test(v.id)) {
    issues.add("template.id", "invalid_value", "must be a template id (tpl_…)");
    ok = false;
  }
  const version = v.version ?? null;
  if (
    version !== null &&
    (typeof version !== "number" || !Number.isInteger(version) || version < 1 || version > 2 ** 31)
  ) {
    issues.add("template.version", "invalid_value", "must be a version number (1, 2, …)");
    ok = false;
  }
  const data = v.data ?? {};
  if (!isTemplateData(data)) {
    issues.add(
      "template.data",
      "invalid_value",
      `must be an object of strings, numbers, booleans, null, objects and lists (at most ${TEMPLATE_DATA_LIMITS.depth} deep, ${TEMPLATE_DATA_LIMITS.values} values)`,
    );
    ok = false;
  }
  return ok
    ? { id: v.id as string, version: version as number | null, data: data as Record<string, unknown> }
    : null;
}

/** `now` (epoch ms, from the injected clock) is what `send_at` is checked against. */
export function validateMessage(input: unknown, limits: Limits, now: number): ValidatedMessage {
  return validateRequest(input, limits, now).message;
}

/**
 * The message and, when it names one instead of subject/text/html, its template (exactly
 * one of the two forms); the submit step "template" renders it (src/templates/render-step.ts).
 */
export function validateRequest(
  input: unknown,
  limits: Limits,
  now: number,
): { message: ValidatedMessage; template: TemplateRef | null } {
  const issues = new Issues();
  if (!isRecord(input))
    throw new SealpostError("invalid_type", { detail: "The body must be a JSON object." });
  for (const k of Object.keys(input)) {
    // Echo a key only when it looks like an identifier: a key can itself carry PHI.
    if (!KNOWN.has(k)) issues.add(SAFE_KEY.test(k) ? k : "?", "unknown_field", "is not a known field");
    else if (LATER.has(k)) issues.add(k, "not_supported", "is not available yet");
  }
  if (input.from === undefined) issues.add("from", "missing_field", "is required");
  const fromList = input.from === undefined ? [] : addresses(input.from, "from", issues);
  if (typeof input.from !== "string" && input.from !== undefined && fromList.length > 0)
    issues.add("from", "invalid_type", "must be a single address");
  if (input.to === undefined && input.cc === undefined && input.bcc === undefined)
    issues.add("to", "missing_field", "at least one recipient is required");
  const recipients: Recipient[] = [];
  for (const kind of ["to", "cc", "bcc"] as const) {
    if (input[kind] === undefined) continue;
    for (const a of addresses(input[kind], kind, issues)) recipients.push({ ...a, kind });
  }
  if (recipients.length > limits.maxRecipients)
    issues.add(
      "to",
      "too_many_recipients",
      `at most ${limits.maxRecipients} recipients across to, cc and bcc`,
    );
  const replyTo = input.reply_to === undefined ? [] : addresses(input.reply_to, "reply_to", issues);
  const templated = input.template !== undefined;
  const template = templated ? templateRef(input.template, issues) : null;
  if (templated && (input.subject !== undefined || input.text !== undefined || input.html !== undefined))
    issues.add("template", "invalid_value", "give either template or subject/text/html, not both");
  if (input.subject === undefined && !templated) issues.add("subject", "missing_field", "is required");
  const subject =
    input.subject === undefined
      ? ""
      : (text(input.subject, "subject", issues, { max: limits.maxSubjectLength, noCrlf: true }) ?? "");
  const maxBody = limits.maxTotalBytes;
  const textBody = input.text === undefined ? null : text(input.text, "text", issues, { max: maxBody });
  const html = input.html === undefined ? null : text(input.html, "html", issues, { max: maxBody });
  if (input.text === undefined && input.html === undefined && !templated)
    issues.add("text", "missing_field", "text or html is required");
  const files = attachments(input.attachments, issues, limits);
  const total =
    files.reduce((n, a) => n + a.content.length, 0) +
    Buffer.byteLength(textBody ?? "") +
    Buffer.byteLength(html ?? "");
  if (total > limits.maxTotalBytes)
    issues.add("attachments", "payload_too_large", "the message is too large");
  let encryption: EncryptionMode = "auto";
  if (input.encryption !== undefined) {
    if (typeof input.encryption !== "string" || !MODES.includes(input.encryption as EncryptionMode))
      issues.add("encryption", "invalid_value", `must be one of ${MODES.join(", ")}`);
    else if (!AVAILABLE_MODES.includes(input.encryption as EncryptionMode))
      issues.add("encryption", "not_supported", "this encryption mode is not available yet");
    else encryption = input.encryption as EncryptionMode;
  }
  for (const flag of ["allow_non_tls", "sandbox"] as const)
    if (input[flag] !== undefined && typeof input[flag] !== "boolean")
      issues.add(flag, "invalid_type", "must be a boolean");
  const result: ValidatedMessage = {
    from: fromList[0] ?? { name: null, address: "", asciiDomain: "" },
    recipients,
    replyTo,
    subject,
    text: textBody,
    html,
    attachments: files,
    headers: headers(input.headers, issues, limits),
    tags: tags(input.tags, issues),
    metadata: metadata(input.metadata, issues),
    encryption,
    allowNonTls: input.allow_non_tls === true,
    sandbox: input.sandbox === true,
    sendAt: sendAt(input.send_at, now, issues),
  };
  const first = issues.list[0];
  if (first !== undefined)
    throw new SealpostError(issues.list.length === 1 ? first.code : "validation_failed", {
      field: first.field,
      issues: issues.list,
      detail: issues.list.length === 1 ? `${first.field} ${first.detail}` : undefined,
    });
  return { message: result, template };
}
