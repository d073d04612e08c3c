import assert from "node:assert/strict";
import { test } from "node:test";
import { simpleParser } from "mailparser";
import { auth, eventually, startTestApp } from "../helpers/app.ts";
import { testCertificate } from "../helpers/certs.ts";
import { startDnsServer } from "../helpers/dns-server.ts";
import { startPostfix } from "../helpers/postfix.ts";
import { requireTool } from "../helpers/tools.ts";

test("end to end: direct-to-MX delivery to a real Postfix over TLS, content intact", async (t) => {
  if (!requireTool(t, "postfix")) return;
  const cert = await testCertificate();
  const postfix = await startPostfix({
    tlsCert: cert.cert,
    tlsKey: cert.key,
    acceptDomains: ["example.test"],
  });
  t.after(() => postfix.stop());
  const dns = await startDnsServer({
    "example.test": [{ type: "MX", value: "mx.example.test", priority: 10 }],
    "mx.example.test": [{ type: "A", value: "127.0.0.1" }],
  });
  t.after(() => dns.close());
  const { app, adminKey } = await startTestApp(t, {
    env: { SEALPOST_DNS_SERVERS: dns.address, SEALPOST_DELIVERY_PORT: String(postfix.port) },
  });
  const pdf = Buffer.concat([Buffer.from("%PDF-1.7\n"), Buffer.alloc(64 * 1024, 7)]);
  const res = await app.api.inject({
    method: "POST",
    url: "/v1/messages",
    headers: auth(adminKey),
    payload: {
      from: "Riverside Clinic <results@clinic.example>",
      to: "Pat Example <pat@example.test>",
      reply_to: "desk@clinic.example",
      subject: "Your results are ready – ünïcode",
      text: "Hello Pat,\nyour results are ready.\n",
      html: "<p>Hello Pat,<br>your results are <b>ready</b>.</p>",
      attachments: [
        { filename: "results.pdf", content_type: "application/pdf", content: pdf.toString("base64") },
        {
          filename: "note.txt",
          content_type: "text/plain",
          content: Buffer.from("plain note").toString("base64"),
        },
      ],
      headers: { "X-Clinic-Ref": "RC-2041" },
    },
  });
  assert.equal(res.statusCode, 202, res.body);
  const id = res.json().id;
  const msg = await eventually(async () => {
    const body = (await app.api.inject({ url: `/v1/messages/${id}`, headers: auth(adminKey) })).json();
    return body.status === "delivered" || body.status === "failed" ? body : undefined;
  }, 30_000);
  assert.equal(msg.status, "delivered", JSON.stringify(msg.deliveries));
  const evidence = msg.deliveries[0].evidence;
  assert.equal(evidence.mx_host, "mx.example.test");
  assert.equal(evidence.ip, "127.0.0.1");
  assert.match(evidence.tls_version, /^TLSv1\.[23]$/);
  assert.equal(evidence.cert_verified, false, "self-signed test certificate, recorded as unverified");

  const [raw] = await postfix.waitForMessages(1);
  assert.ok(raw);
  const parsed = await simpleParser(raw);
  assert.equal(parsed.subject, "Your results are ready – ünïcode");
  assert.equal(parsed.text, "Hello Pat,\nyour results are ready.\n");
  assert.match(String(parsed.html), /your results are <b>ready<\/b>/);
  assert.equal(parsed.from?.text, '"Riverside Clinic" <results@clinic.example>');
  assert.equal(parsed.replyTo?.text, "desk@clinic.example");
  assert.equal(parsed.messageId, `<${id}@clinic.example>`);
  assert.equal(parsed.headers.get("x-clinic-ref"), "RC-2041");
  assert.equal(parsed.attachments.length, 2);
  assert.ok(parsed.attachments[0]?.content.equals(pdf), "PDF attachment byte-identical");
  assert.equal(parsed.attachments[1]?.content.toString(), "plain note");
  const received = [parsed.headers.get("received")].flat().map(String).join("\n");
  assert.match(received, /using TLSv1\.[23] with cipher [A-Z0-9_-]+/, received);
});
