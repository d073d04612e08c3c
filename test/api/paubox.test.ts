/**
 * The Paubox-compatible API, end to end: requests built exactly as the official Paubox Node
 * SDK builds them (test/helpers/paubox-sdk.ts), answers checked field by field against what
 * that SDK reads, real delivery through a relay sink for the receipt statuses, and bad
 * input answered with Paubox-shaped 4xx that echo no PHI. The status mapping, HTML decoding
 * and token parsing are unit-tested in paubox-mapping.test.ts.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { simpleParser } from "mailparser";
import { auth, eventually, startTestApp } from "../helpers/app.ts";
import { testCertificate } from "../helpers/certs.ts";
import {
  assertPauboxErrors,
  assertSdkAcceptsBulk,
  assertSdkAcceptsSend,
  sdkMessage,
  tokenAuth,
} from "../helpers/paubox-sdk.ts";
import { startSmtpSink } from "../helpers/smtp-sink.ts";

const HTML = "<html><body><h1>Your results are ready</h1><p>Log in to read them.</p></body></html>";
const ATTACHMENT = Buffer.from("%PDF-1.7 lab results").toString("base64");

interface Receipt {
  sourceTrackingId: string;
  data: {
    message: {
      id: string;
      message_deliveries: {
        recipient: string;
        status: {
          deliveryStatus: string;
          deliveryTime: string | null;
          openedStatus: string;
          openedTime: null;
        };
      }[];
    };
  };
}

test("a message built as the Paubox Node SDK builds it is sent, delivered and reported as Paubox does", async (t) => {
  const sink = await startSmtpSink();
  t.after(() => sink.close());
  const { app, adminKey, key } = await startTestApp(t, {
    env: { SEALPOST_RELAY: `smtp://127.0.0.1:${sink.port}` },
    deliveryCa: (await testCertificate()).cert,
  });
  const sender = await key(["messages:send", "messages:read"]);
  const message = sdkMessage({
    from: "Clinic <clinic@example.com>",
    reply_to: "Front Desk <desk@example.com>",
    to: ["patient@example.org", "Pat Two <pat2@example.org>"],
    cc: ["records@example.org"],
    subject: "Lab results ready",
    custom_headers: { "X-Clinic-Ref": "R-1" },
    text_content: "Your results are ready.",
    html_content: HTML,
    attachments: [{ fileName: "results.pdf", contentType: "application/pdf", content: ATTACHMENT }],
    list_unsubscribe: "<mailto:unsubscribe@example.com?subject=unsubscribe>",
    list_unsubscribe_post: "List-Unsubscribe=One-Click",
  });
  const res = await app.api.inject({
    method: "POST",
    url: "/v1/clinic_user/messages",
    headers: tokenAuth(sender),
    payload: { data: { message } },
  });
  assert.equal(res.statusCode, 200, res.body);
  assert.match(res.headers["content-type"] ?? "", /^application\/json/);
  const sent = res.json();
  assertSdkAcceptsSend(sent);
  assert.deepEqual(Object.keys(sent).sort(), ["customHeaders", "data", "sourceTrackingId"]);
  assert.match(sent.sourceTrackingId, /^msg_[0-9a-z]{26}$/);
  assert.equal(sent.data, "Service OK");
  assert.deepEqual(sent.customHeaders, { "X-Clinic-Ref": "R-1" });

  // Delivered through the one pipeline with the content intact: the HTML arrives decoded.
  await sink.waitFor(3);
  const mail = await simpleParser(sink.messages[0]?.raw ?? Buffer.alloc(0));
  assert.equal(mail.subject, "Lab results ready");
  assert.equal(mail.text?.trim(), "Your results are ready.");
  assert.equal(mail.html, HTML);
  assert.equal(mail.headers.get("x-clinic-ref"), "R-1");
  const raw = sink.messages[0]?.raw.toString("utf8") ?? "";
  assert.match(raw, /^List-Unsubscribe: <mailto:unsubscribe@example\.com\?subject=unsubscribe>\r$/m);
  assert.match(raw, /^List-Unsubscribe-Post: List-Unsubscribe=One-Click\r$/m);
  assert.equal(mail.replyTo?.value[0]?.address, "desk@example.com");
  assert.equal(mail.attachments[0]?.filename, "results.pdf");
  assert.equal(mail.attachments[0]?.contentType, "application/pdf");
  assert.equal(mail.attachments[0]?.content.toString("base64"), ATTACHMENT);
  assert.equal(sink.plaintextDataCount(), 0);

  const receipt = await eventually(async () => {
    const r = await app.api.inject({
      url: `/v1/clinic_user/message_receipt?sourceTrackingId=${sent.sourceTrackingId}`,
      headers: tokenAuth(sender),
    });
    assert.equal(r.statusCode, 200, r.body);
    const body = r.json() as Receipt;
    const statuses = body.data.message.message_deliveries.map((d) => d.status.deliveryStatus);
    return statuses.every((s) => s === "delivered") ? body : undefined;
  });
  assert.deepEqual(Object.keys(receipt).sort(), ["data", "sourceTrackingId"]);
  assert.equal(receipt.sourceTrackingId, sent.sourceTrackingId);
  assert.equal(receipt.data.message.id, `<${sent.sourceTrackingId}@example.com>`);
  assert.equal(mail.messageId, receipt.data.message.id, "the id is the Message-ID header");
  const deliveries = receipt.data.message.message_deliveries;
  assert.deepEqual(
    deliveries.map((d) => d.recipient),
    ["patient@example.org", "pat2@example.org", "records@example.org"],
  );
  for (const d of deliveries) {
    assert.deepEqual(Object.keys(d.status).sort(), [
      "deliveryStatus",
      "deliveryTime",
      "openedStatus",
      "openedTime",
    ]);
    // RFC 2822, as Paubox writes dates ("Fri, 16 Feb 2018 13:00:00 GMT").
    assert.match(
      d.status.deliveryTime ?? "",
      /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/,
    );
    assert.ok(Math.abs(Date.parse(d.status.deliveryTime ?? "") - Date.now()) < 120_000);
    assert.equal(d.status.openedStatus, "unopened");
    assert.equal(d.status.openedTime, null);
  }

  // The username-less layout of the current SDK, and Paubox's preferred Bearer header.
  const plain = await app.api.inject({
    method: "POST",
    url: "/paubox/v1/messages",
    headers: auth(adminKey),
    payload: { data: { message: { ...message, recipients: ["third@example.org"] } } },
  });
  assert.equal(plain.statusCode, 200, plain.body);
  assert.match(plain.json().sourceTrackingId, /^msg_/);
});

test("receipts say soft bounced for a 4xx and hard bounced for a 5xx, per recipient", async (t) => {
  const sink = await startSmtpSink({
    rejectRcpt: (a) => (a.startsWith("soft") ? 451 : a.startsWith("hard") ? 550 : null),
  });
  t.after(() => sink.close());
  const { app, key } = await startTestApp(t, {
    env: { SEALPOST_RELAY: `smtp://127.0.0.1:${sink.port}` },
    deliveryCa: (await testCertificate()).cert,
  });
  const sender = await key(["messages:send"]);
  const reader = await key(["messages:read"]);
  const res = await app.api.inject({
    method: "POST",
    url: "/v1/u/messages",
    headers: tokenAuth(sender),
    payload: {
      data: {
        message: sdkMessage({
          from: "clinic@example.com",
          to: ["ok@example.org", "soft@example.org", "hard@example.org"],
          subject: "Appointment",
          text_content: "See you tomorrow.",
        }),
      },
    },
  });
  assert.equal(res.statusCode, 200, res.body);
  const id = res.json().sourceTrackingId;
  const byRecipient = await eventually(async () => {
    const r = await app.api.inject({
      url: `/v1/u/message_receipt?sourceTrackingId=${id}`,
      headers: tokenAuth(reader),
    });
    const map = new Map(
      (r.json() as Receipt).data.message.message_deliveries.map((d) => [d.recipient, d.status]),
    );
    return [...map.values()].some((s) => s.deliveryStatus === "processing") ? undefined : map;
  });
  assert.equal(byRecipient.get("ok@example.org")?.deliveryStatus, "delivered");
  assert.equal(byRecipient.get("soft@example.org")?.deliveryStatus, "soft bounced");
  assert.equal(byRecipient.get("soft@example.org")?.deliveryTime, null);
  assert.equal(byRecipient.get("hard@example.org")?.deliveryStatus, "hard bounced");
  assert.equal(byRecipient.get("hard@example.org")?.deliveryTime, null);
});

test("bulk messages answer in request order, each item on its own", async (t) => {
  const { app, key } = await startTestApp(t, { worker: false });
  const sender = await key(["messages:send", "messages:read"]);
  const alice = sdkMessage({
    from: "reception@example.com",
    reply_to: "Reception <reception@example.com>",
    to: ["alice@example.org", "Alice Anderson <alice@host.example>"],
    cc: ["accounts@example.com"],
    subject: "Hi Alice!",
    custom_headers: { "X-Custom-Header": "value alice" },
    text_content: "Hi Alice!",
    html_content: "<html><body><h1>Hi Alice!</h1></body></html>",
    attachments: [{ fileName: "hello_alice.txt", contentType: "text/plain", content: "SGVsbG8gQm9iIQ==" }],
  });
  const bob = sdkMessage({
    from: "reception@example.com",
    to: ["bob@example.org"],
    subject: "Hi Bob!",
    text_content: "Hi Bob!",
  });
  const send = (messages: unknown[]) =>
    app.api.inject({
      method: "POST",
      url: "/v1/u/bulk_messages",
      headers: tokenAuth(sender),
      payload: { data: { messages } },
    });
  const res = await send([alice, bob]);
  assert.equal(res.statusCode, 200, res.body);
  const body = res.json();
  assertSdkAcceptsBulk(body);
  assert.deepEqual(Object.keys(body), ["messages"]);
  assert.equal(body.messages.length, 2);
  assert.deepEqual(body.messages[0].customHeaders, { "X-Custom-Header": "value alice" });
  assert.deepEqual(body.messages[1].customHeaders, {});
  for (const [i, recipients] of [[3], [1]].entries()) {
    const item = body.messages[i];
    assert.deepEqual(Object.keys(item).sort(), ["customHeaders", "data", "sourceTrackingId"]);
    assert.equal(item.data, "Service OK");
    const receipt = await app.api.inject({
      url: `/v1/u/message_receipt?sourceTrackingId=${item.sourceTrackingId}`,
      headers: tokenAuth(sender),
    });
    assert.equal((receipt.json() as Receipt).data.message.message_deliveries.length, recipients[0]);
  }

  // One bad item does not lose the good one's id; its errors name the Paubox field.
  const mixed = await send([bob, { ...bob, recipients: ["jane.doe@@patient.example"] }]);
  assert.equal(mixed.statusCode, 200, mixed.body);
  const items = mixed.json().messages;
  assert.match(items[0].sourceTrackingId, /^msg_/);
  assertPauboxErrors(items[1], 400);
  assert.equal(items[1].errors[0].details, "data.messages[1].recipients[0] is not a valid email address");
  assert.doesNotMatch(mixed.body, /jane|patient\.example/);

  // One durable commit for the whole request: the accepted items go to the committer
  // together, whatever failed in translation or validation keeps its place.
  const submitAll = t.mock.method(app.submit.committer, "submitAll");
  const submitOne = t.mock.method(app.submit.committer, "submit");
  const three = await send([bob, "not an object", { ...bob, recipients: ["x@@y"] }, alice]);
  assert.equal(three.statusCode, 200, three.body);
  const answers = three.json().messages;
  assert.match(answers[0].sourceTrackingId, /^msg_/);
  assertPauboxErrors(answers[1], 400);
  assert.equal(answers[1].errors[0].details, "data.messages[1] must be an object.");
  assert.equal(answers[2].errors[0].details, "data.messages[2].recipients[0] is not a valid email address");
  assert.match(answers[3].sourceTrackingId, /^msg_/);
  assert.equal(submitAll.mock.callCount(), 1);
  assert.equal(submitAll.mock.calls[0]?.arguments[0].length, 2);
  assert.equal(submitOne.mock.callCount(), 0);
  submitAll.mock.restore();
  submitOne.mock.restore();

  const allBad = await send([{ ...bob, headers: { ...bob.headers, subject: null } }]);
  assert.equal(allBad.statusCode, 400);
  assertPauboxErrors(allBad.json(), 400);
  assert.equal(allBad.json().errors[0].details, "data.messages[0].headers.subject is required");
  for (const messages of [undefined, [], "x"]) {
    const r = await app.api.inject({
      method: "POST",
      url: "/v1/u/bulk_messages",
      headers: tokenAuth(sender),
      payload: { data: { messages } },
    });
    assert.equal(r.statusCode, 400, JSON.stringify(messages));
    assertPauboxErrors(r.json(), 400);
  }
});

test("plain (not base64) HTML is accepted as the Paubox docs allow", async (t) => {
  const { app, adminKey } = await startTestApp(t, { worker: false });
  const message = sdkMessage({ from: "clinic@example.com", to: ["p@example.org"], subject: "Hi" });
  const res = await app.api.inject({
    method: "POST",
    url: "/v1/u/messages",
    headers: tokenAuth(adminKey),
    payload: { data: { message: { ...message, content: { "text/html": "<p>Plain <b>HTML</b></p>" } } } },
  });
  assert.equal(res.statusCode, 200, res.body);
  const stored = await app.api.inject({
    url: `/v1/messages/${res.json().sourceTrackingId}?include=content`,
    headers: auth(adminKey),
  });
  assert.equal(stored.json().content.html, "<p>Plain <b>HTML</b></p>");
  assert.equal(stored.json().content.text, null);
});
