import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Writable } from "node:stream";
import { test } from "node:test";
import { createLogger } from "../../src/logging/logger.ts";
import { auth, eventually, startTestApp, testStore } from "../helpers/app.ts";
import { startSmtpSink } from "../helpers/smtp-sink.ts";
import { requireTool } from "../helpers/tools.ts";

/** Synthetic PHI: each string must never appear outside encrypted storage. */
const CANARY = {
  subject: "CanarySubjectQX7 SSN 078-05-1120",
  text: "CanaryTextZP3 patient Jane Canaryfield MRN 44831902",
  html: "<p>CanaryHtmlWK9 diagnosis E11.9</p>",
  attachment: "CanaryAttachmentRT5 lab result",
  recipient: "canaryrecipientvm2",
  header: "CanaryHeaderHB4",
  metadata: "CanaryMetaJD6",
  rejected: "canaryrejectedNN8",
};

function collector() {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(chunk.toString());
      cb();
    },
  });
  return { stream, text: () => chunks.join("") };
}

function hits(haystack: string | Buffer): string[] {
  const text = Buffer.isBuffer(haystack) ? haystack.toString("latin1") : haystack;
  return Object.entries(CANARY)
    .filter(([, v]) => text.includes(v) || text.includes(Buffer.from(v).toString("base64").slice(0, 16)))
    .map(([k]) => k);
}

test("canary PHI appears nowhere in the store files, a database dump or the logs", async (t) => {
  const sink = await startSmtpSink({ rejectRcpt: (a) => (a.startsWith(CANARY.rejected) ? 550 : null) });
  t.after(() => sink.close());
  const logs = collector();
  const { app, adminKey, dataDir, env } = await startTestApp(t, {
    logger: createLogger({ level: "trace", destination: logs.stream }),
    env: { SEALPOST_RELAY: `smtp://127.0.0.1:${sink.port}` },
  });
  const payload = {
    from: "clinic@example.com",
    to: [`${CANARY.recipient}@example.org`, `${CANARY.rejected}@example.org`],
    subject: CANARY.subject,
    text: CANARY.text,
    html: CANARY.html,
    attachments: [{ filename: "r.txt", content: Buffer.from(CANARY.attachment).toString("base64") }],
    headers: { "X-Ref": CANARY.header },
    metadata: { note: CANARY.metadata },
  };
  const live = await app.api.inject({
    method: "POST",
    url: "/v1/messages",
    headers: auth(adminKey),
    payload,
  });
  assert.equal(live.statusCode, 202);
  const sandbox = await app.api.inject({
    method: "POST",
    url: "/v1/messages",
    headers: auth(adminKey),
    payload: { ...payload, sandbox: true },
  });
  assert.equal(sandbox.statusCode, 202);
  // A request that fails validation must not leak either.
  const bad = await app.api.inject({
    method: "POST",
    url: "/v1/messages",
    headers: auth(adminKey),
    payload: { ...payload, to: `${CANARY.recipient}@`, subject: `${CANARY.subject}\r\n` },
  });
  assert.equal(bad.statusCode, 422);
  assert.deepEqual(hits(bad.body), []);
  for (const id of [live.json().id, sandbox.json().id]) {
    await eventually(async () => {
      const body = (await app.api.inject({ url: `/v1/messages/${id}`, headers: auth(adminKey) })).json();
      return ["delivered", "failed", "partially_delivered"].includes(body.status) ? body : undefined;
    });
  }
  assert.equal(sink.messages.length, 1, "the canary message really went out");
  assert.ok(sink.messages[0]?.raw.toString().includes(CANARY.recipient));

  // The events carry the rejected reply without the address it echoed.
  const events = await app.db.kysely.selectFrom("events").select("details").execute();
  assert.deepEqual(hits(JSON.stringify(events)), []);
  const metrics = await app.api.inject({ url: "/metrics" });
  assert.deepEqual(hits(metrics.body), []);

  await app.close();
  assert.deepEqual(hits(logs.text()), [], "logs");
  assert.ok(logs.text().includes('"msg":"request"'), "the logs were captured");

  if (testStore() === "sqlite") {
    const files = readdirSync(dataDir).filter((f) => f.startsWith("sealpost.db"));
    assert.ok(files.length >= 1);
    for (const f of files) assert.deepEqual(hits(readFileSync(join(dataDir, f))), [], f);
  } else if (requireTool(t, "postgres")) {
    const url = env.SEALPOST_DATABASE_URL ?? "";
    const dump = execFileSync("pg_dump", ["--data-only", url], { maxBuffer: 256 * 1024 * 1024 });
    assert.ok(dump.length > 1000);
    assert.deepEqual(hits(dump), [], "pg_dump");
  }
});
