/**
 * Plants canary PHI (test/helpers/canary.ts) in every field of every entry point and greps
 * every output for it: HTTP answers that are not content-scoped reads, SMTP replies, the
 * CLI's stdout/stderr, the logs (in-process JSON logs; a real `sealpost start` node's output
 * with its worker thread), events, metrics, mail that is not the message itself, the data
 * dir and a pg_dump. The caller's own input echoed back where the docs promise it (ECHO:
 * `deliveries[].to`, Paubox `customHeaders` and receipt `recipient`, the CLI's `Queued`
 * line) is the only exception. The last two tests list every surface a value escaped to,
 * then fail once with the whole list. Inputs: test/helpers/canary-inputs.ts.
 */
import assert from "node:assert/strict";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import type { InjectOptions } from "fastify";
import { ManualClock } from "../../src/core/clock.ts";
import { createLogger } from "../../src/logging/logger.ts";
import { auth, BOOTSTRAP_KEY, eventually, startTestApp, tempDir } from "../helpers/app.ts";
import {
  CANARY,
  checkStore,
  collector,
  ECHO,
  type EchoPath,
  hits,
  requirePgDump,
  Surfaces,
} from "../helpers/canary.ts";
import {
  batchItems,
  batchRefusals,
  canaryMessage,
  cliCases,
  pauboxMessages,
  RCPT,
  REJECTED,
  smtpMessage,
  smtpRefusals,
} from "../helpers/canary-inputs.ts";
import { cliSend, startNode } from "../helpers/canary-node.ts";
import { freePort } from "../helpers/net.ts";
import { tokenAuth } from "../helpers/paubox-sdk.ts";
import { startSmtpSink } from "../helpers/smtp-sink.ts";
import { command, line, QUEUED, rawSession } from "../smtp/setup.ts";
import { startReceiver } from "../webhooks/receiver.ts";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const PENDING = ["scheduled", "queued", "sending", "deferred"];
/** The receiving server refuses the canary "rejected" address with a reply that echoes it. */
const rejectCanary = (a: string) => (a.startsWith(CANARY.rejected) ? 550 : null);

test("canary PHI appears nowhere in the store files, a database dump or the logs", async (t) => {
  const sink = await startSmtpSink({ rejectRcpt: rejectCanary });
  t.after(() => sink.close());
  const logs = collector();
  const { app, adminKey, dataDir, env } = await startTestApp(t, {
    logger: createLogger({ level: "trace", destination: logs.stream }),
    env: { SEALPOST_RELAY: `smtp://127.0.0.1:${sink.port}` },
  });
  const payload = canaryMessage;
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

  const store = new Surfaces();
  const dumped = checkStore(store, dataDir, env.SEALPOST_DATABASE_URL);
  assert.deepEqual(store.leaks, [], "store");
  requirePgDump(t, dumped);
});

test("canary PHI through batch, send_at, the Paubox API and SMTP submission: in no answer, reply, log or store", async (t) => {
  const sink = await startSmtpSink({ rejectRcpt: rejectCanary });
  t.after(() => sink.close());
  // Every event also goes to a webhook endpoint: its payloads and headers are a surface.
  const hooks = await startReceiver(t);
  const logs = collector();
  const clock = new ManualClock(Date.now());
  const ctx = await startTestApp(t, {
    clock,
    logger: createLogger({ level: "trace", destination: logs.stream }),
    env: { SEALPOST_RELAY: `smtp://127.0.0.1:${sink.port}`, SEALPOST_WEBHOOK_ALLOW_HTTP_LOOPBACK: "true" },
  });
  const { app, adminKey } = ctx;
  const hook = await app.api.inject({
    method: "POST",
    url: "/v1/webhooks",
    headers: auth(adminKey),
    payload: { url: hooks.url },
  });
  assert.equal(hook.statusCode, 201, hook.body);
  const surfaces = new Surfaces();
  const call = async (label: string, opts: InjectOptions, echoes: readonly EchoPath[] = ECHO.none) => {
    const res = await app.api.inject(opts);
    surfaces.response(label, res, echoes);
    return res;
  };
  const post = (label: string, url: string, payload: unknown, echoes = ECHO.none, headers = auth(adminKey)) =>
    call(label, { method: "POST", url, headers, payload: payload as InjectOptions["payload"] }, echoes);
  const raw = (label: string, url: string, body: string | object, type: string, headers = auth(adminKey)) =>
    call(label, { method: "POST", url, headers: { ...headers, "content-type": type }, payload: body });
  const get = (label: string, url: string, echoes = ECHO.none, headers = auth(adminKey)) =>
    call(label, { url, headers }, echoes);
  const sendAt = new Date(Math.floor((clock.now() + 2 * HOUR) / 1000) * 1000).toISOString();
  /** Accepted messages, waited for (and read back) at the end. */
  const accepted: string[] = [];

  // Batch: valid, invalid and scheduled items, then a replay (Idempotency-Key) and refusals.
  const items = batchItems(sendAt);
  const batchBody = { messages: items.map(([item]) => item) };
  const idem = { ...auth(adminKey), "idempotency-key": CANARY.idempotency };
  const batch = await post("batch", "/v1/messages/batch", batchBody, ECHO.batch, idem);
  assert.equal(batch.statusCode, 200, batch.body);
  const results = batch.json().data as { status: number; message?: { id: string; status: string } }[];
  assert.deepEqual(
    results.map((r) => r.status),
    items.map(([, status]) => status),
  );
  assert.equal(results[6]?.message?.status, "scheduled");
  for (const r of results) if (r.message !== undefined) accepted.push(r.message.id);
  await post("batch replay", "/v1/messages/batch", batchBody, ECHO.batch, idem);
  for (const [what, body, status] of batchRefusals) {
    const res = await raw(`batch: ${what}`, "/v1/messages/batch", body, "application/json");
    assert.equal(res.statusCode, status, `${what}: ${res.body}`);
  }

  // send_at: one message delivered at its time, one cancelled before; refused send_at values.
  const later = await post("send_at", "/v1/messages", { ...canaryMessage, send_at: sendAt }, ECHO.message);
  assert.equal(later.json().status, "scheduled", later.body);
  const doomed = await post("send_at 2", "/v1/messages", { ...canaryMessage, send_at: sendAt }, ECHO.message);
  const cancelUrl = `/v1/messages/${doomed.json().id}/cancel`;
  assert.equal((await post("cancel", cancelUrl, undefined, ECHO.message)).json().status, "cancelled");
  assert.equal((await post("cancel again", cancelUrl, undefined)).statusCode, 409);
  accepted.push(later.json().id, doomed.json().id);
  const tooFar = new Date(clock.now() + 31 * 24 * HOUR).toISOString();
  for (const [what, value] of [
    ["canary", CANARY.subject],
    ["too far", tooFar],
  ]) {
    const res = await post(`send_at ${what}`, "/v1/messages", { ...canaryMessage, send_at: value });
    assert.equal(res.statusCode, 422, res.body);
  }

  // Other refusals of the REST API whose input holds canaries.
  const truncated = `{"to":"${RCPT}","subject":"${CANARY.subject}","text":"${CANARY.text}"`;
  assert.equal(
    (await raw("messages: not JSON", "/v1/messages", truncated, "application/json")).statusCode,
    400,
  );
  assert.equal(
    (await raw("messages: text/plain", "/v1/messages", CANARY.text, "text/plain")).statusCode,
    415,
  );
  const reader = await ctx.key(["messages:read"]);
  const first = accepted[0] ?? "";
  await get("include=content without the scope", `/v1/messages/${first}?include=content`, [], auth(reader));
  for (const [name, value] of [
    ["recipient", `${CANARY.recipient}@`],
    ["tag", CANARY.subject],
    ["status", CANARY.metadata],
    ["from", CANARY.subject],
  ] as const) {
    const res = await get(`list ?${name}`, `/v1/messages?${name}=${encodeURIComponent(value)}`);
    assert.equal(res.statusCode, 422, res.body);
  }
  await get("an address as message id", `/v1/messages/${encodeURIComponent(RCPT)}`);

  // Paubox: send, refusals, bulk (mixed and all refused); receipts once delivered.
  const token = tokenAuth(adminKey);
  const paubox = pauboxMessages();
  const sent = await post(
    "paubox send",
    "/v1/clinic/messages",
    { data: { message: paubox.ok } },
    ECHO.pauboxSend,
    token,
  );
  assert.equal(sent.statusCode, 200, sent.body);
  accepted.push(sent.json().sourceTrackingId);
  for (const [what, body] of paubox.refusals) {
    const res = await post(`paubox send: ${what}`, "/paubox/v1/messages", body, ECHO.none, token);
    assert.equal(res.statusCode, 400, `${what}: ${res.body}`);
  }
  for (const url of ["/v1/clinic/messages", "/paubox/v1/bulk_messages"]) {
    const res = await raw(`paubox ${url}: not JSON`, url, paubox.truncated, "application/json", token);
    assert.equal(res.statusCode, 400, res.body);
  }
  const mixed = { data: { messages: [paubox.ok, paubox.bad, CANARY.text, paubox.unverified] } };
  const bulk = await post("paubox bulk", "/v1/clinic/bulk_messages", mixed, ECHO.pauboxBulk, token);
  assert.equal(bulk.statusCode, 200, bulk.body);
  const answers = bulk.json().messages as { sourceTrackingId?: string; errors?: unknown[] }[];
  assert.deepEqual(
    answers.map((a) => (a.errors === undefined ? "sent" : "refused")),
    ["sent", "refused", "refused", "refused"],
  );
  const bulkId = answers[0]?.sourceTrackingId ?? "";
  accepted.push(bulkId);
  const allBad = { data: { messages: [paubox.bad, CANARY.text] } };
  const refused = await post(
    "paubox bulk: all refused",
    "/paubox/v1/bulk_messages",
    allBad,
    ECHO.none,
    token,
  );
  assert.equal(refused.statusCode, 400, refused.body);

  // SMTP submission: accepted with X-Sealpost-* options; refused at MAIL FROM, RCPT and DATA.
  const { conn } = await rawSession((await app.listenSmtp()).smtp, { key: adminKey });
  const transaction = async (rcpts: string[], data: string | null) => {
    const replies = [line(await command(conn, "MAIL FROM:<clinic@example.com>"))];
    for (const r of rcpts) replies.push(line(await command(conn, `RCPT TO:<${r}>`)));
    if (data === null) replies.push(line(await command(conn, "RSET")));
    else {
      replies.push(line(await command(conn, "DATA")));
      conn.write(data);
      replies.push(line(await command(conn, null, 15_000)));
    }
    return replies;
  };
  const options = { "X-Sealpost-Idempotency-Key": CANARY.idempotency, "X-Sealpost-Tags": "canary-smtp" };
  const smtpOk = await transaction([RCPT, REJECTED], smtpMessage(options));
  const smtpId = QUEUED.exec(smtpOk.at(-1) ?? "")?.[1];
  assert.ok(smtpId, smtpOk.join("\n"));
  accepted.push(smtpId);
  const badSender = await command(conn, `MAIL FROM:<${CANARY.recipient}@unverified.example>`);
  assert.equal(badSender.code, 550, line(badSender));
  await transaction([`${CANARY.recipient}@`], null);
  for (const [code, data] of smtpRefusals) {
    const replies = await transaction([RCPT], data);
    assert.ok(replies.at(-1)?.startsWith(code), replies.join("\n"));
  }
  // X-Sealpost-Send-At (once SMTP reads it): a send time, and a canary where the time goes.
  for (const value of [sendAt, CANARY.subject]) {
    const replies = await transaction([RCPT], smtpMessage({ "X-Sealpost-Send-At": value }));
    const id = QUEUED.exec(replies.at(-1) ?? "")?.[1];
    if (id !== undefined) accepted.push(id);
  }
  await command(conn, "QUIT");
  surfaces.check("SMTP replies", conn.all.map((r) => `${r.code} ${r.text}`).join("\n"));

  // The send time comes; everything accepted reaches a final state and is read back.
  clock.advance(2 * HOUR + 1000);
  const finals = new Map<string, { status: string; deliveries: { to: string; status: string }[] }>();
  for (const id of accepted) {
    const url = `/v1/messages/${id}`;
    const view = await eventually(async () => {
      const body = (await app.api.inject({ url, headers: auth(adminKey) })).json();
      return body.deliveries.some((d: { status: string }) => PENDING.includes(d.status)) ? undefined : body;
    }, 20_000);
    finals.set(id, view);
    await get(`view ${id}`, url, ECHO.message);
  }
  const laterRcpt = finals.get(later.json().id)?.deliveries.find((d) => d.to === RCPT);
  assert.equal(laterRcpt?.status, "delivered", "the send_at message went out at its time");
  assert.equal(finals.get(doomed.json().id)?.status, "cancelled");
  await get("list", "/v1/messages?limit=100", ECHO.list);
  await get("list ?recipient=", `/v1/messages?recipient=${encodeURIComponent(RCPT)}`, ECHO.list);
  // The events API and stats (ADR 0011 §2, §4): ids, codes and counts only.
  await get("events", "/v1/events?limit=200");
  await get("events of a message", `/v1/events?message_id=${accepted[0]}`);
  await get("stats", "/v1/stats?interval=hour");
  for (const id of [sent.json().sourceTrackingId, bulkId])
    await get(
      `paubox receipt ${id}`,
      `/v1/clinic/message_receipt?sourceTrackingId=${id}`,
      ECHO.receipt,
      token,
    );
  const byAddress = `/paubox/v1/message_receipt?sourceTrackingId=${encodeURIComponent(RCPT)}`;
  assert.equal((await get("paubox receipt: address as id", byAddress, ECHO.none, token)).statusCode, 404);
  const events = await app.db.kysely.selectFrom("events").select(["type", "details"]).execute();
  assert.ok(events.some((e) => e.type === "scheduled") && events.some((e) => e.type === "cancelled"));
  surfaces.check("events table", JSON.stringify(events));
  const outbox = () =>
    app.db.kysely
      .selectFrom("webhook_deliveries")
      .select(["status"])
      .where("event_id", "is not", null)
      .execute();
  await eventually(async () => {
    const rows = await outbox();
    return rows.length >= events.length && rows.every((r) => r.status === "succeeded") ? true : undefined;
  }, 20_000);
  assert.ok(hooks.received.length >= events.length, "every event reached the webhook");
  surfaces.check(
    "webhook payloads and headers",
    hooks.received.map((r) => `${JSON.stringify(r.headers)}\n${r.body}`).join("\n"),
  );
  await get("metrics", "/metrics");

  // The audit trail (ADR 0009): its entries, as listed, exported and verified, and the
  // compliance report over the same period, hold ids, codes and counts only.
  await app.audit.flush();
  const audit = await get("audit list", "/v1/audit?limit=100");
  assert.ok((audit.json().data as unknown[]).length > 10, "the calls above were audited");
  await call("audit export (JSON Lines)", {
    url: "/v1/audit?limit=500",
    headers: { ...auth(adminKey), accept: "application/x-ndjson" },
  });
  assert.equal((await get("audit verify", "/v1/audit/verify")).json().ok, true);
  const period = `from=${new Date(clock.now() - DAY).toISOString()}&to=${new Date(clock.now() + DAY).toISOString()}`;
  await get("compliance report", `/v1/reports/compliance?${period}`);
  await get("compliance report (CSV)", `/v1/reports/compliance?${period}&format=csv`);
  const auditRows = await app.db.kysely.selectFrom("audit_log").selectAll().execute();
  assert.ok(
    auditRows.some((r) => r.action === "smtp.message") &&
      auditRows.some((r) => r.action.startsWith("delivery.")),
  );
  surfaces.check("audit_log table", JSON.stringify(auditRows));
  // Control: the canaries are really stored, and found where reading them is the point.
  const content = await app.api.inject({
    url: `/v1/messages/${smtpId}?include=content`,
    headers: auth(adminKey),
  });
  assert.deepEqual(hits(content.body), [
    "subject",
    "text",
    "html",
    "recipient",
    "header",
    "rejected",
    "filename",
  ]);

  // Mail out: the SMTP submission without its X-Sealpost-* values; anything else (a bounce
  // notice) without any canary at all.
  const smtpCopy = sink.messages.find((m) => m.raw.toString("latin1").includes(`<${smtpId}@`));
  assert.ok(smtpCopy, "the SMTP submission was delivered");
  if (hits(smtpCopy.raw).includes("idempotency"))
    surfaces.leaks.push("delivered SMTP submission: its X-Sealpost-Idempotency-Key value");
  for (const m of sink.messages.filter((m) => !m.to.includes(RCPT))) surfaces.check(`mail to ${m.to}`, m.raw);

  await app.close();
  assert.ok(logs.text().includes('"msg":"request"') && logs.text().includes("smtp message accepted"));
  surfaces.check("in-process logs (trace)", logs.text());
  const dumped = checkStore(surfaces, ctx.dataDir, ctx.env.SEALPOST_DATABASE_URL);
  assert.ok(surfaces.checked.length > 90, `${surfaces.checked.length} surfaces checked`);
  assert.deepEqual(surfaces.leaks, [], "canary PHI escaped to these surfaces");
  requirePgDump(t, dumped);
});

test("canary PHI given to `sealpost send` against a `sealpost start` node: not in the CLI's output, the node's logs (worker thread too) or the store", async (t) => {
  const sink = await startSmtpSink({ rejectRcpt: rejectCanary });
  t.after(() => sink.close());
  const { node, base, dataDir, databaseUrl } = await startNode(t, sink.port);
  const surfaces = new Surfaces();
  const dir = tempDir("sealpost-cli-leak-");
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, `${CANARY.filename}.txt`);
  writeFileSync(file, CANARY.attachment);
  const csv = join(dir, "rows.csv");
  writeFileSync(csv, `email\n${RCPT}\n${CANARY.rejected}@@example.org\n`);

  // All at once (each run is a Node start-up); checked in order.
  const cases = cliCases({ base, file, csv, closedPort: await freePort() });
  const runs = await Promise.all(cases.map((c) => cliSend(c.args)));
  const [ok, json] = runs;
  assert.ok(ok && json);
  for (const [i, c] of cases.entries()) {
    const r = runs[i] ?? { status: null, stdout: "", stderr: "" };
    assert.equal(r.status, c.status, `${c.label}: ${r.stdout}${r.stderr}`);
    surfaces.check(`sealpost send, ${c.label}: stderr`, r.stderr);
    if (i >= 2) surfaces.check(`sealpost send, ${c.label}: stdout`, r.stdout);
  }
  // Accepted: the documented line names the recipients; --json prints the API's answer.
  const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const queued = new RegExp(`^Queued (msg_[0-9a-z]{26}): ${esc(RCPT)} queued, ${esc(REJECTED)} queued\\n$`);
  const okId = queued.exec(ok.stdout)?.[1];
  surfaces.check(
    "sealpost send, accepted: stdout besides the documented line",
    ok.stdout.replace(queued, ""),
  );
  surfaces.json("sealpost send, accepted --json: stdout", json.stdout, ECHO.message);
  const jsonId = (JSON.parse(json.stdout) as { id: string }).id;

  // The node delivers on its worker thread; the refused recipient's reply echoes the address.
  await sink.waitFor(3, 20_000);
  for (const id of [okId, jsonId]) {
    assert.ok(id, ok.stdout);
    const body = await eventually(async () => {
      const text = await (await fetch(`${base}/v1/messages/${id}`, { headers: auth(BOOTSTRAP_KEY) })).text();
      return /"status":"(scheduled|queued|sending|deferred)"/.test(text) ? undefined : text;
    }, 20_000);
    surfaces.json(`node: view ${id}`, body, ECHO.message);
  }
  const list = await fetch(`${base}/v1/messages?limit=100`, { headers: auth(BOOTSTRAP_KEY) });
  surfaces.json("node: list", await list.text(), ECHO.list);
  surfaces.check("node: metrics", await (await fetch(`${base}/metrics`)).text());
  await eventually(async () =>
    /"role":"worker".*"delivery recorded"/.test(node.output()) ? true : undefined,
  );
  await node.kill("SIGTERM");
  assert.equal(node.child.exitCode, 0, node.output().slice(-2000));
  assert.ok(node.output().includes('"msg":"request"'), "the node's request log was captured");
  surfaces.check("sealpost start: stdout and stderr (API and worker thread logs)", node.output());
  const dumped = checkStore(surfaces, dataDir, databaseUrl);
  assert.deepEqual(surfaces.leaks, [], "canary PHI escaped to these surfaces");
  requirePgDump(t, dumped);
});
