/**
 * The Paubox translation tables, unit by unit: delivery states to Paubox's deliveryStatus
 * strings (including the secure-portal states the portal issue will record), the HTML
 * decoding, the Token header, and sealpost field names back to Paubox's.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { type DeliveryFacts, pauboxDeliveryStatus } from "../../src/api/paubox/status.ts";
import { decodeHtml, pauboxField, translateMessage } from "../../src/api/paubox/translate.ts";
import { parseCredentials } from "../../src/auth/credentials.ts";

const facts = (f: Partial<DeliveryFacts>): DeliveryFacts => ({
  status: "queued",
  enhancedCode: null,
  portal: null,
  ...f,
});

test("sealpost delivery states map to Paubox's deliveryStatus strings", () => {
  const table: [DeliveryFacts["status"], string][] = [
    ["scheduled", "processing"],
    ["queued", "processing"],
    ["sending", "processing"],
    ["deferred", "soft bounced"],
    ["delivered", "delivered"],
    ["bounced", "hard bounced"],
    ["failed", "hard bounced"],
    ["suppressed", "hard bounced"],
    ["cancelled", "cancelled"],
  ];
  for (const [status, expected] of table)
    assert.equal(pauboxDeliveryStatus(facts({ status })), expected, status);
  assert.equal(
    pauboxDeliveryStatus(facts({ status: "deferred", enhancedCode: "4.2.2" })),
    "soft bounced - mailbox full",
  );
  assert.equal(pauboxDeliveryStatus(facts({ status: "deferred", enhancedCode: "4.2.1" })), "soft bounced");
});

test("secure-portal deliveries map to Paubox's portal strings", () => {
  for (const status of ["queued", "sending", "delivered"] as const) {
    assert.equal(
      pauboxDeliveryStatus(facts({ status, portal: { reason: "no_tls", notified: false } })),
      "TLS not offered, sending via Secure Portal",
    );
    assert.equal(
      pauboxDeliveryStatus(facts({ status, portal: { reason: "no_tls", notified: true } })),
      "delivered via secure portal",
    );
    assert.equal(
      pauboxDeliveryStatus(facts({ status, portal: { reason: "forced", notified: true } })),
      "delivered via secure portal",
    );
    assert.equal(
      pauboxDeliveryStatus(facts({ status, portal: { reason: "forced", notified: false } })),
      "processing",
    );
  }
});

test("text/html is decoded from base64 when it is base64 of text, and taken as it is otherwise", () => {
  const html = "<html><body><h1>Hello — world</h1></body></html>";
  assert.equal(decodeHtml(Buffer.from(html).toString("base64")), html);
  const wrapped = Buffer.from(html)
    .toString("base64")
    .replace(/(.{20})/g, "$1\r\n");
  assert.equal(decodeHtml(wrapped), html, "MIME-wrapped base64");
  for (const raw of [html, "Test", "abcd", "Hello there", "&lt;p&gt;escaped&lt;/p&gt;", "", "AAAA"])
    assert.equal(decodeHtml(raw), raw, raw);
});

function pauboxToken(header: string): string | null {
  const c = parseCredentials(header, "paubox");
  return c.kind === "token" ? c.token : null;
}

test("the Paubox Authorization forms give the key; others give nothing", () => {
  const key = "sp_live_0123456789abcdefghijklmnopqrstuv";
  for (const header of [
    `Token token=${key}`,
    `Token token="${key}"`,
    `token token=${key}`,
    `Token ${key}`,
    `Bearer ${key}`,
    `Token token="${key}", nonce="x"`,
  ])
    assert.equal(pauboxToken(header), key, header);
  for (const header of ["Token", "Token token=", 'Token token="', `Basic ${key}`, `Token token=${key}é`, key])
    assert.equal(pauboxToken(header), null, header);
});

test("sealpost field names map back to the Paubox request's", () => {
  const at = "data.message";
  const table: [string, string][] = [
    ["to", "data.message.recipients"],
    ["to[2]", "data.message.recipients[2]"],
    ["cc[0]", "data.message.cc[0]"],
    ["bcc[1]", "data.message.bcc[1]"],
    ["from", "data.message.headers.from"],
    ["reply_to", "data.message.headers.reply-to"],
    ["subject", "data.message.headers.subject"],
    ["html", "data.message.content.text/html"],
    ["headers.X-Ref", "data.message.headers.X-Ref"],
    ["attachments[1].filename", "data.message.attachments[1].fileName"],
    ["attachments[1].content_type", "data.message.attachments[1].contentType"],
    ["attachments[0].content", "data.message.attachments[0].content"],
    ["encryption", "data.message.forceSecureNotification"],
    ["allow_non_tls", "data.message.allowNonTLS"],
    ["tags", "data.message"],
    ["?", "data.message"],
  ];
  for (const [field, expected] of table)
    assert.equal(pauboxField(field, "invalid_value", at), expected, field);
  assert.equal(pauboxField("text", "missing_field", at), "data.message.content");
  assert.equal(pauboxField("text", "invalid_type", at), "data.message.content.text/plain");
});

test("a Paubox message translates to sealpost's input; SDK nulls are dropped", () => {
  const { input, customHeaders } = translateMessage(
    {
      recipients: ["a@example.org"],
      cc: null,
      bcc: ["b@example.org"],
      headers: {
        subject: "S",
        from: "f@example.com",
        "reply-to": null,
        "List-Unsubscribe": "<mailto:u@example.com>",
        "List-Unsubscribe-Post": null,
        "X-One": "1",
      },
      content: { "text/plain": "t", "text/html": null },
      attachments: [{ fileName: "a.txt", contentType: "text/plain", content: "SGk=" }],
      allowNonTLS: false,
      forceSecureNotification: false,
      somethingPauboxIgnores: 1,
    },
    "data.message",
  );
  assert.deepEqual(input, {
    to: ["a@example.org"],
    bcc: ["b@example.org"],
    subject: "S",
    from: "f@example.com",
    text: "t",
    attachments: [{ filename: "a.txt", content_type: "text/plain", content: "SGk=" }],
    headers: { "List-Unsubscribe": "<mailto:u@example.com>", "X-One": "1" },
    allow_non_tls: false,
  });
  assert.deepEqual(customHeaders, { "X-One": "1" });
});
