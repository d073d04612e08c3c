/**
 * The portal over HTTP on a real in-process sealpost (ADR 0010 §6): the notice holds nothing
 * of the message; the pages carry the portal's headers; code, session, message, attachment
 * and reply work; the reply reaches the original sender through the pipeline; every step is
 * an event and an audit entry; revoked, expired and unknown links show one page and no
 * content; wrong codes lock the link.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { LightMyRequestResponse } from "fastify";
import { simpleParser } from "mailparser";
import { ManualClock } from "../../src/core/clock.ts";
import { PORTAL_HEADERS } from "../../src/portal/http.ts";
import { eventsOf } from "../../src/store/messages.ts";
import { systemScope } from "../../src/store/scope.ts";
import { auth } from "../helpers/app.ts";
import { ORIGINAL, portalWorld, readCode, readReply } from "./fixture.ts";

const FORM = { "content-type": "application/x-www-form-urlencoded" };
const SECRETS = ["XYZZY", "Canary", "clinic@example.com", "results.pdf"];

function assertPortalHeaders(res: LightMyRequestResponse): void {
  for (const [name, value] of Object.entries(PORTAL_HEADERS)) assert.equal(res.headers[name], value, name);
}

function assertNoContent(body: string): void {
  for (const s of SECRETS) assert.ok(!body.includes(s), `the page shows ${s}`);
}

function cookieOf(res: LightMyRequestResponse): string {
  const raw = res.headers["set-cookie"];
  const line = Array.isArray(raw) ? raw[0] : raw;
  assert.ok(line !== undefined, "a session cookie");
  return line.split(";")[0] ?? "";
}

test("notice → code → message → attachment → reply, with events, audit entries and revocation", async (t) => {
  const w = await portalWorld(t);
  const api = w.ctx.app.api;

  // The notice: the org's wording and the link, nothing of the message.
  const notice = await simpleParser(w.notice);
  assert.equal(notice.subject, "You have a secure message");
  assert.equal(notice.from?.value[0]?.address, "no-reply@example.com");
  assert.equal(notice.from?.value[0]?.name, "Secure message");
  assert.ok(notice.messageId);
  assert.ok(typeof notice.html === "string" && notice.html.includes('lang="en"'));
  assertNoContent(w.notice);

  const landing = await api.inject({ url: w.path });
  assert.equal(landing.statusCode, 200);
  assertPortalHeaders(landing);
  assert.match(landing.headers["content-type"] as string, /^text\/html/);
  assert.match(landing.body, /Email me a code/);
  assert.ok(!landing.body.includes("<script"));
  assertNoContent(landing.body);
  const css = await api.inject({ url: "/portal/assets/portal.css" });
  assert.equal(css.statusCode, 200);
  assert.match(css.headers["content-type"] as string, /^text\/css/);

  // Without a session the message is not shown.
  const early = await api.inject({ url: `${w.path}/message` });
  assert.equal(early.statusCode, 303);
  assert.equal(early.headers.location, w.path);

  // A JSON body is not a form here.
  const json = await api.inject({ method: "POST", url: `${w.path}/verify`, payload: { code: "123456" } });
  assert.equal(json.statusCode, 415);
  assertPortalHeaders(json);

  const sent = await api.inject({ method: "POST", url: `${w.path}/code`, headers: FORM, payload: "" });
  assert.equal(sent.statusCode, 200, sent.body);
  assert.match(sent.body, /Enter your code/);
  const { code, id: codeId } = await readCode(w.ctx, w.testKey);
  const codeMail = (
    await api.inject({ url: `/v1/sandbox/messages/${codeId}`, headers: auth(w.testKey) })
  ).json();
  assert.equal(codeMail.envelope_to, ORIGINAL.to);
  assert.equal(codeMail.from, "no-reply@example.com");
  assertNoContent(JSON.stringify({ text: codeMail.text, subject: codeMail.subject }));

  const wrongCode = code === "000000" ? "111111" : "000000";
  const wrong = await api.inject({
    method: "POST",
    url: `${w.path}/verify`,
    headers: FORM,
    payload: `code=${wrongCode}`,
  });
  assert.equal(wrong.statusCode, 400);
  assert.match(wrong.body, /not right\. 4 tries left/);

  const ok = await api.inject({
    method: "POST",
    url: `${w.path}/verify`,
    headers: FORM,
    payload: `code=${code}`,
  });
  assert.equal(ok.statusCode, 303, ok.body);
  assert.equal(ok.headers.location, `${w.path}/message`);
  const setCookie = String(ok.headers["set-cookie"]);
  assert.match(setCookie, /^sp_portal=[A-Za-z0-9_-]{43}; /);
  assert.match(setCookie, /HttpOnly/);
  assert.match(setCookie, /SameSite=Strict/);
  assert.match(setCookie, new RegExp(`Path=${w.path}(;|$)`));
  assert.ok(!/Secure/.test(setCookie), "no Secure flag over plain HTTP");
  const cookie = cookieOf(ok);
  // The code verifies once.
  const again = await api.inject({
    method: "POST",
    url: `${w.path}/verify`,
    headers: FORM,
    payload: `code=${code}`,
  });
  assert.equal(again.statusCode, 400);
  assert.match(again.body, /expired/);

  const page = await api.inject({ url: `${w.path}/message`, headers: { cookie } });
  assert.equal(page.statusCode, 200, page.body);
  assertPortalHeaders(page);
  assert.match(page.body, /XYZZY-BODY/);
  assert.match(page.body, /Canary subject XYZZY-SUBJ/);
  assert.ok(!page.body.includes("<script"), "no script survives");
  assert.ok(!page.body.includes("tracker.example"), "no remote image");
  assert.ok(!page.body.includes("javascript:"), "no javascript: link");
  assert.match(page.body, /<a href="https:\/\/example\.org\/info" rel="noopener noreferrer"/);
  assert.match(page.body, /attachments\/0/);
  const csrf = /name="csrf" value="([^"]+)"/.exec(page.body)?.[1];
  assert.ok(csrf);

  const file = await api.inject({ url: `${w.path}/attachments/0`, headers: { cookie } });
  assert.equal(file.statusCode, 200);
  assert.deepEqual(file.rawPayload, ORIGINAL.attachment);
  assert.match(String(file.headers["content-disposition"]), /^attachment; filename="results\.pdf"/);
  assertPortalHeaders(file);
  assert.equal((await api.inject({ url: `${w.path}/attachments/7`, headers: { cookie } })).statusCode, 404);
  assert.equal((await api.inject({ url: `${w.path}/attachments/x`, headers: { cookie } })).statusCode, 404);

  // The reply: CSRF checked, length checked, then through the pipeline to the original sender.
  const noCsrf = await api.inject({
    method: "POST",
    url: `${w.path}/reply`,
    headers: { ...FORM, cookie },
    payload: "text=hi",
  });
  assert.equal(noCsrf.statusCode, 403);
  const empty = await api.inject({
    method: "POST",
    url: `${w.path}/reply`,
    headers: { ...FORM, cookie },
    payload: `csrf=${encodeURIComponent(csrf)}&text=%20`,
  });
  assert.equal(empty.statusCode, 400);
  const long = await api.inject({
    method: "POST",
    url: `${w.path}/reply`,
    headers: { ...FORM, cookie },
    payload: `csrf=${encodeURIComponent(csrf)}&text=${"a".repeat(10_001)}`,
  });
  assert.equal(long.statusCode, 400);
  const replied = await api.inject({
    method: "POST",
    url: `${w.path}/reply`,
    headers: { ...FORM, cookie },
    payload: `csrf=${encodeURIComponent(csrf)}&text=${encodeURIComponent("Thank you, REPLY-TEXT")}`,
  });
  assert.equal(replied.statusCode, 303, replied.body);
  assert.equal(replied.headers.location, `${w.path}/message?sent=1`);
  const reply = await readReply(w.ctx, w.testKey);
  assert.equal(reply.envelope_to, "clinic@example.com");
  assert.match(reply.text, /REPLY-TEXT/);
  assert.equal(reply.headers["reply-to"], ORIGINAL.to);
  assert.match(reply.headers["in-reply-to"] ?? "", new RegExp(`<${w.messageId}@example\\.com>`));

  // Events and audit entries of each step.
  const scope = systemScope(w.ctx.app.db, w.ctx.app.defaultOrgId, "admin");
  const types = (await eventsOf(scope, w.messageId)).map((e) => e.type);
  for (const type of [
    "portal_code_sent",
    "portal_code_failed",
    "portal_viewed",
    "portal_downloaded",
    "portal_replied",
  ])
    assert.ok(types.includes(type), `event ${type}`);
  await w.ctx.app.audit.flush();
  const entries = await w.ctx.app.db.kysely
    .selectFrom("audit_log")
    .selectAll()
    .where("action", "like", "portal.%")
    .execute();
  const actions = new Set(entries.map((e) => e.action));
  for (const a of [
    "portal.code_sent",
    "portal.code_failed",
    "portal.view",
    "portal.download",
    "portal.reply",
  ])
    assert.ok(actions.has(a), `audit ${a}`);
  for (const e of entries) {
    assert.equal(e.actor_type, "anonymous");
    assert.equal(e.target_type, "delivery");
    assert.equal(e.target_id, w.deliveryId);
    assert.ok(e.source_ip);
    assertNoContent(e.details);
  }

  // Revocation: 404 for an unknown message, then every link of the message is gone.
  const unknown = await api.inject({
    method: "POST",
    url: "/v1/messages/msg_00000000000000000000000000/revoke",
    headers: auth(w.testKey),
  });
  assert.equal(unknown.statusCode, 404);
  const revoke = await api.inject({
    method: "POST",
    url: `/v1/messages/${w.messageId}/revoke`,
    headers: auth(w.testKey),
  });
  assert.equal(revoke.statusCode, 200, revoke.body);
  assert.deepEqual(revoke.json(), { revoked: 1 });
  const twice = await api.inject({
    method: "POST",
    url: `/v1/messages/${w.messageId}/revoke`,
    headers: auth(w.testKey),
  });
  assert.deepEqual(twice.json(), { revoked: 0 });
  const gone = await api.inject({ url: w.path });
  assert.equal(gone.statusCode, 410);
  assertPortalHeaders(gone);
  assertNoContent(gone.body);
  for (const url of [`${w.path}/message`, `${w.path}/attachments/0`]) {
    const r = await api.inject({ url, headers: { cookie } });
    assert.equal(r.statusCode, 410, url);
    assertNoContent(r.body);
    assert.equal(r.body, gone.body, "one page for every way a link stops working");
  }
  const unknownLink = await api.inject({ url: `/portal/${"A".repeat(43)}` });
  assert.equal(unknownLink.statusCode, 404);
  assert.equal(unknownLink.body, gone.body);
  assert.equal((await api.inject({ url: "/portal/short" })).body, gone.body);
  assert.ok((await eventsOf(scope, w.messageId)).some((e) => e.type === "portal_revoked"));
  await w.ctx.app.audit.flush();
  const revokedEntry = await w.ctx.app.db.kysely
    .selectFrom("audit_log")
    .selectAll()
    .where("action", "=", "portal.revoke")
    .executeTakeFirst();
  assert.equal(revokedEntry?.actor_type, "key");
});

test("wrong codes lock the link for the org's minutes; an expired link shows the clear page", async (t) => {
  const clock = new ManualClock(Date.now());
  const w = await portalWorld(t, { clock, worker: false });
  const api = w.ctx.app.api;
  const post = (url: string, payload = "") => api.inject({ method: "POST", url, headers: FORM, payload });
  assert.equal((await post(`${w.path}/code`)).statusCode, 200);
  for (let i = 1; i <= 4; i++) {
    const r = await post(`${w.path}/verify`, "code=abc");
    assert.equal(r.statusCode, 400);
    assert.match(r.body, new RegExp(`${5 - i} tr`));
  }
  const locked = await post(`${w.path}/verify`, "code=999999");
  assert.equal(locked.statusCode, 423);
  assert.match(locked.body, /locked/);
  assert.match(locked.body, /15 minutes/);
  assertPortalHeaders(locked);
  assert.equal((await post(`${w.path}/code`)).statusCode, 423, "no new code while locked");
  const scope = systemScope(w.ctx.app.db, w.ctx.app.defaultOrgId, "admin");
  assert.ok((await eventsOf(scope, w.messageId)).some((e) => e.type === "portal_locked"));

  clock.advance(15 * 60_000 + 1);
  assert.equal((await post(`${w.path}/code`)).statusCode, 200, "the lock ends");

  clock.advance(14 * 86_400_000);
  const expired = await api.inject({ url: w.path });
  assert.equal(expired.statusCode, 410);
  assertNoContent(expired.body);
  assert.equal((await post(`${w.path}/code`)).statusCode, 410);
});
