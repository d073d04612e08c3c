/**
 * JSON Schemas of the Paubox-compatible requests, for the OpenAPI document only: requests
 * are translated (translate.ts) and validated by the one validator, not by these.
 */
const addresses = {
  type: ["array", "null"],
  items: { type: "string", description: "`addr@domain` or `Name <addr@domain>`." },
};

const message = {
  type: "object",
  required: ["recipients", "headers", "content"],
  properties: {
    recipients: addresses,
    cc: addresses,
    bcc: addresses,
    headers: {
      type: "object",
      required: ["subject", "from"],
      properties: {
        subject: { type: "string" },
        from: { type: "string" },
        "reply-to": { type: ["string", "null"] },
        "List-Unsubscribe": { type: ["string", "null"] },
        "List-Unsubscribe-Post": { type: ["string", "null"] },
      },
      additionalProperties: { type: ["string", "null"], description: "Custom `X-` headers." },
    },
    content: {
      type: "object",
      properties: {
        "text/plain": { type: ["string", "null"] },
        "text/html": {
          type: ["string", "null"],
          description: "Base64 of the HTML (as the official SDKs send it) or the HTML itself.",
        },
      },
    },
    attachments: {
      type: ["array", "null"],
      items: {
        type: "object",
        required: ["fileName", "content"],
        properties: {
          fileName: { type: "string" },
          contentType: { type: "string" },
          content: { type: "string", contentEncoding: "base64" },
        },
      },
    },
    allowNonTLS: { type: "boolean", default: false },
    forceSecureNotification: {
      type: "boolean",
      default: false,
      description: "The secure portal; answered 400 (not_supported) until the portal ships.",
    },
  },
} as const;

export const pauboxSendBody = {
  type: "object",
  required: ["data"],
  properties: { data: { type: "object", required: ["message"], properties: { message } } },
} as const;

export const pauboxBulkBody = {
  type: "object",
  required: ["data"],
  properties: {
    data: {
      type: "object",
      required: ["messages"],
      properties: { messages: { type: "array", items: message, minItems: 1, maxItems: 500 } },
    },
  },
} as const;

export const pauboxReceiptQuery = {
  type: "object",
  required: ["sourceTrackingId"],
  properties: { sourceTrackingId: { type: "string", description: "The sealpost message id." } },
} as const;

const { content: _content, ...withoutContent } = message.properties;
const templatedMessage = {
  type: "object",
  required: ["recipients", "headers"],
  properties: withoutContent,
} as const;

/** `templated_messages`: the message has no content; the template is named and given its values. */
export const pauboxTemplatedBody = {
  type: "object",
  required: ["data"],
  properties: {
    data: {
      type: "object",
      required: ["template_name", "message"],
      properties: {
        template_name: { type: "string", description: "The name of a dynamic template." },
        template_values: {
          type: "string",
          description: "A JSON object, as a string (the official SDKs send JSON.stringify of the values).",
        },
        message: templatedMessage,
      },
    },
  },
} as const;
