/**
 * What the official Paubox Node SDK (Paubox/paubox-node, Apache-2.0) puts on the wire and
 * what it checks in answers, rewritten from reading its Message.toJSON() and emailService
 * so the tests send exactly the JSON an application using the SDK sends. Not the SDK's code.
 */
import assert from "node:assert/strict";

export interface SdkMessageOptions {
  from: string;
  to: string[];
  subject?: string;
  reply_to?: string;
  cc?: string[];
  bcc?: string[];
  custom_headers?: Record<string, string>;
  text_content?: string;
  html_content?: string;
  attachments?: { fileName: string; contentType: string; content: string }[];
  list_unsubscribe?: string;
  list_unsubscribe_post?: string;
  allowNonTLS?: boolean | string;
  forceSecureNotification?: boolean | string;
}

/** The SDK's parseBool: booleans as they are, strings by "true", everything else false. */
function sdkBool(v: unknown): boolean {
  if (typeof v === "boolean") return v;
  return typeof v === "string" && v.trim().toLowerCase() === "true";
}

/** The JSON of one message, as it goes on the wire (undefined values are gone). */
export interface SdkMessageJson {
  recipients: string[];
  cc: string[] | null;
  bcc: string[] | null;
  headers: Record<string, string | null>;
  content: { "text/plain"?: string; "text/html": string | null };
  attachments: { fileName: string; contentType: string; content: string }[] | null;
  allowNonTLS: boolean;
  forceSecureNotification: boolean;
}

/** `data.message` as the SDK's Message.toJSON() builds it: unset options are null, HTML is base64. */
export function sdkMessage(o: SdkMessageOptions): SdkMessageJson {
  return JSON.parse(
    JSON.stringify({
      recipients: o.to,
      cc: o.cc ?? null,
      bcc: o.bcc ?? null,
      headers: {
        subject: o.subject ?? null,
        from: o.from,
        "reply-to": o.reply_to ?? null,
        "List-Unsubscribe": o.list_unsubscribe ?? null,
        "List-Unsubscribe-Post": o.list_unsubscribe_post ?? null,
        ...o.custom_headers,
      },
      content: {
        "text/plain": o.text_content,
        "text/html": o.html_content ? Buffer.from(o.html_content).toString("base64") : null,
      },
      attachments: o.attachments ?? null,
      allowNonTLS: sdkBool(o.allowNonTLS),
      forceSecureNotification: sdkBool(o.forceSecureNotification),
    }),
  ) as SdkMessageJson;
}

/** The SDK's Authorization header. */
export function tokenAuth(key: string): Record<string, string> {
  return { authorization: `Token token=${key}` };
}

/** sendMessage(): the SDK throws an answer with none of data, sourceTrackingId, errors. */
export function assertSdkAcceptsSend(body: Record<string, unknown>): void {
  assert.ok(body.data != null || body.sourceTrackingId != null || body.errors != null, "SDK would throw");
}

/** sendBulkMessages(): the SDK throws an answer with none of data, messages, errors. */
export function assertSdkAcceptsBulk(body: Record<string, unknown>): void {
  assert.ok(body.data != null || body.messages != null || body.errors != null, "SDK would throw");
}

/** A Paubox error answer: `errors` of `{ code, title, details }`, nothing else in them. */
export function assertPauboxErrors(body: Record<string, unknown>, status: number): void {
  assert.ok(Array.isArray(body.errors) && body.errors.length > 0, "an errors list");
  for (const e of body.errors as Record<string, unknown>[]) {
    assert.deepEqual(Object.keys(e).sort(), ["code", "details", "title"]);
    assert.equal(e.code, status);
    assert.equal(typeof e.title, "string");
    assert.equal(typeof e.details, "string");
  }
}
