/**
 * JSON Schemas for the OpenAPI document. Requests are validated by src/core/validate.ts
 * (the one validator every entry point shares), so these describe; they do not enforce.
 */
const addressList = {
  oneOf: [
    { type: "string", format: "email" },
    { type: "array", items: { type: "string" }, maxItems: 100 },
  ],
};

export const sendMessageBody = {
  type: "object",
  required: ["from", "subject"],
  additionalProperties: false,
  properties: {
    from: { type: "string", description: "Sender, `addr@domain` or `Name <addr@domain>`." },
    to: addressList,
    cc: addressList,
    bcc: addressList,
    reply_to: addressList,
    subject: { type: "string", maxLength: 998, description: "No CR/LF." },
    text: { type: "string" },
    html: { type: "string" },
    attachments: {
      type: "array",
      maxItems: 20,
      items: {
        type: "object",
        required: ["filename", "content"],
        additionalProperties: false,
        properties: {
          filename: { type: "string" },
          content: { type: "string", contentEncoding: "base64" },
          content_type: { type: "string" },
          content_id: { type: "string" },
        },
      },
    },
    headers: { type: "object", additionalProperties: { type: "string" } },
    tags: { type: "array", items: { type: "string", pattern: "^[A-Za-z0-9_.:-]{1,64}$" }, maxItems: 10 },
    metadata: { type: "object", additionalProperties: { type: ["string", "number", "boolean"] } },
    encryption: { type: "string", enum: ["auto", "tls", "portal", "smime", "pgp"], default: "auto" },
    allow_non_tls: { type: "boolean", default: false },
    sandbox: {
      type: "boolean",
      default: false,
      description:
        "Run the whole pipeline but capture the message in the sandbox inbox instead of delivering it.",
    },
    send_at: {
      type: ["string", "null"],
      format: "date-time",
      description:
        "Hold the message until this RFC 3339 time (with an offset, e.g. `2026-01-31T09:00:00Z`), at most " +
        "30 days ahead. Up to 60 seconds in the past counts as now. Cancel works until then.",
    },
  },
} as const;

export const sendBatchBody = {
  type: "object",
  required: ["messages"],
  additionalProperties: false,
  properties: {
    messages: {
      type: "array",
      minItems: 1,
      maxItems: 500,
      items: sendMessageBody,
      description: "Each item is a POST /v1/messages body, validated and accepted on its own.",
    },
  },
} as const;

export const idParam = {
  type: "object",
  required: ["id"],
  properties: { id: { type: "string" } },
} as const;

export const problemResponse = {
  description: "RFC 9457 problem details",
  content: { "application/problem+json": { schema: { type: "object", additionalProperties: true } } },
} as const;
