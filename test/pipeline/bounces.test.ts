import assert from "node:assert/strict";
import { test } from "node:test";
import nodemailer from "nodemailer";
import { auth, eventually, startTestApp } from "../helpers/app.ts";
import { startSmtpSink } from "../helpers/smtp-sink.ts";

function dsn(verp: string, status: string, action = "failed"): string {
  return [
    "From: MAILER-DAEMON@mx.example.org",
    `To: ${verp}`,
    "Subject: Undelivered Mail Returned to Sender",
    "MIME-Version: 1.0",
    'Content-Type: multipart/report; report-type=delivery-status; boundary="B"',
    "",
    "--B",
    "Content-Type: text/plain",
    "",
    "Your message could not be delivered.",
    "--B",
    "Content-Type: message/delivery-status",
    "",
    "Reporting-MTA: dns; mx.example.org",
    "",
    "Final-Recipient: rfc822; pat@example.org",
    `Action: ${action}`,
    `Status: ${status}`,
    "Diagnostic-Code: smtp; 550 5.1.1 <pat@example.org>: Recipient address rejected",
    "",
    "--B",
    "Content-Type: text/rfc822-headers",
    "",
    "Subject: Results",
    "--B--",
    "",
  ].join("\r\n");
}

test("a DSN sent to the VERP return path becomes a bounce on the right delivery and suppresses the address", async (t) => {
  const sink = await startSmtpSink();
  t.after(() => sink.close());
  const { app, adminKey } = await startTestApp(t, {
    env: {
      SEALPOST_RELAY: `smtp://127.0.0.1:${sink.port}`,
      SEALPOST_SMTP_PORT: "0",
      SEALPOST_SMTPS_PORT: "0",
      SEALPOST_INBOUND_PORT: "0",
    },
  });
  const ports = await app.listenSmtp();
  const sent = (
    await app.api.inject({
      method: "POST",
      url: "/v1/messages",
      headers: auth(adminKey),
      payload: {
        from: "clinic@example.com",
        to: ["pat@example.org", "other@example.org"],
        subject: "Results",
        text: "Ready",
      },
    })
  ).json();
  await sink.waitFor(2);
  const byRcpt = new Map(sink.messages.map((m) => [m.to[0], m.from]));
  const verp = byRcpt.get("pat@example.org") ?? "";
  assert.match(verp, new RegExp(`^b\\+${sent.deliveries[0].id}-[0-9a-z]{16}@bounce\\.example\\.com$`));
  assert.notEqual(verp, byRcpt.get("other@example.org"), "one return path per delivery");

  const transport = nodemailer.createTransport({
    host: "127.0.0.1",
    port: ports.inbound,
    tls: { rejectUnauthorized: false },
  });
  await transport.sendMail({ envelope: { from: "", to: verp }, raw: dsn(verp, "5.1.1") });
  const msg = await eventually(async () => {
    const body = (await app.api.inject({ url: `/v1/messages/${sent.id}`, headers: auth(adminKey) })).json();
    return body.deliveries[0].status === "bounced" ? body : undefined;
  });
  assert.equal(msg.deliveries[1].status, "delivered", "the other delivery is untouched");
  const bounce = msg.events.find((e: { type: string }) => e.type === "bounced");
  assert.equal(bounce.delivery_id, sent.deliveries[0].id);
  assert.deepEqual(bounce.details, { source: "dsn", action: "failed", status: "5.1.1" });
  assert.ok(
    !JSON.stringify(msg.events).includes("Recipient address rejected"),
    "diagnostic text is not kept",
  );
  const supp = (await app.api.inject({ url: "/v1/suppressions", headers: auth(adminKey) })).json();
  assert.deepEqual(
    supp.data.map((s: { address: string }) => s.address),
    ["pat@example.org"],
  );

  // A forged tag or an unknown address is refused at RCPT.
  const forged = verp.replace(/-[0-9a-z]{16}@/, "-0000000000000000@");
  await assert.rejects(
    transport.sendMail({ envelope: { from: "", to: forged }, raw: dsn(forged, "5.1.1") }),
    (err: { responseCode?: number }) => err.responseCode === 550,
  );
  await assert.rejects(
    transport.sendMail({
      envelope: { from: "x@example.net", to: "postmaster@bounce.example.com" },
      raw: "Subject: hi\r\n\r\nhello\r\n",
    }),
    (err: { responseCode?: number }) => err.responseCode === 550,
  );
  // A delay notice is an event, not a bounce.
  const otherVerp = byRcpt.get("other@example.org") ?? "";
  await transport.sendMail({
    envelope: { from: "", to: otherVerp },
    raw: dsn(otherVerp, "4.4.7", "delayed"),
  });
  const after = await eventually(async () => {
    const body = (await app.api.inject({ url: `/v1/messages/${sent.id}`, headers: auth(adminKey) })).json();
    return body.events.some(
      (e: { type: string; delivery_id: string }) =>
        e.type === "deferred" && e.delivery_id === sent.deliveries[1].id,
    )
      ? body
      : undefined;
  });
  assert.equal(after.deliveries[1].status, "delivered");
});
