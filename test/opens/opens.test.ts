/**
 * Opens tracking (ADR 0011 §6) through the real app: off by default (no pixel); on, a
 * message without PHI carries one pixel whose GET answers a no-store GIF and records one
 * `opened` event for the message (delivery_id null), however often it is loaded; a message
 * with PHI gets none (the rules for encrypted modes: units.test.ts); a forged or malformed token answers
 * the same GIF and records nothing.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { PIXEL_GIF } from "../../src/opens/pixel.ts";
import { auth, eventually, startTestApp, type TestApp } from "../helpers/app.ts";

const base = { from: "clinic@example.com", to: "pat@example.org", sandbox: true };
const PIXEL = /<img src="([^"]*\/t\/o\/([^"/]+)\.gif)"/;

async function setPolicy(t: TestApp, change: object): Promise<void> {
  const res = await t.app.api.inject({
    method: "PUT",
    url: "/v1/policy",
    headers: auth(t.adminKey),
    payload: change,
  });
  assert.equal(res.statusCode, 200, res.body);
}

async function send(t: TestApp, body: object): Promise<string> {
  const res = await t.app.api.inject({
    method: "POST",
    url: "/v1/messages",
    headers: auth(t.adminKey),
    payload: body,
  });
  assert.equal(res.statusCode, 202, res.body);
  return res.json().id;
}

/** The captured HTML of the message's (one) sandbox delivery. */
async function capturedHtml(t: TestApp, messageId: string): Promise<string> {
  const deliveryId = await eventually(async () => {
    const res = await t.app.api.inject({ url: "/v1/sandbox/messages?limit=100", headers: auth(t.adminKey) });
    return (res.json().data as { id: string; message_id: string }[]).find((d) => d.message_id === messageId)
      ?.id;
  });
  const res = await t.app.api.inject({
    url: `/v1/sandbox/messages/${deliveryId}`,
    headers: auth(t.adminKey),
  });
  assert.equal(res.statusCode, 200, res.body);
  return res.json().html;
}

async function opened(t: TestApp) {
  return t.app.db.kysely.selectFrom("events").selectAll().where("type", "=", "opened").execute();
}

async function load(t: TestApp, url: string) {
  const res = await t.app.api.inject({ url: new URL(url).pathname });
  assert.equal(res.statusCode, 200);
  assert.equal(res.headers["content-type"], "image/gif");
  assert.match(String(res.headers["cache-control"]), /no-store/);
  assert.deepEqual(res.rawPayload, PIXEL_GIF);
  return res;
}

test("opens: off by default, no pixel", async (t) => {
  const app = await startTestApp(t);
  const id = await send(app, { ...base, subject: "Your visit", html: "<p>See you soon.</p>" });
  assert.doesNotMatch(await capturedHtml(app, id), /\/t\/o\//);
});

test("opens: on, a message without PHI carries the pixel and records one open", async (t) => {
  const app = await startTestApp(t);
  await setPolicy(app, { track_opens: true });
  const id = await send(app, {
    ...base,
    subject: "Your visit",
    html: "<html><body><p>See you soon.</p></body></html>",
  });
  const html = await capturedHtml(app, id);
  const m = PIXEL.exec(html);
  assert.ok(m?.[1] !== undefined && m[2] !== undefined, "pixel present");
  assert.ok(m[1].startsWith("http://"), m[1]);
  assert.ok(html.indexOf("<img") < html.indexOf("</body>"), "inside the body");
  assert.ok(m[2].includes(id), "the token names the message");

  // Loaded at once by several clients, then again later: one event.
  await Promise.all([load(app, m[1]), load(app, m[1]), load(app, m[1]), load(app, m[1])]);
  await load(app, m[1]);
  const events = await opened(app);
  assert.equal(events.length, 1);
  assert.equal(events[0]?.message_id, id);
  assert.equal(events[0]?.delivery_id, null);
  assert.equal(events[0]?.org_id, app.app.defaultOrgId);
  // The Paubox receipt shows the message's open for its recipients.
  const receipt = await app.app.api.inject({
    url: `/v1/u/message_receipt?sourceTrackingId=${id}`,
    headers: auth(app.adminKey),
  });
  const status = receipt.json().data.message.message_deliveries[0].status;
  assert.equal(status.openedStatus, "opened");
  assert.equal(Date.parse(status.openedTime), Math.floor((events[0]?.created_at ?? 0) / 1000) * 1000);

  // Forged, malformed and another message's tokens: the same GIF, nothing recorded.
  const other = m[2].replace(/[0-9a-f]{32}$/, "0".repeat(32));
  await load(app, `http://x/t/o/${other}.gif`);
  await load(app, "http://x/t/o/not-a-token.gif");
  await load(app, `http://x/t/o/${m[2].replace(id, "msg_00000000000000000000000000")}.gif`);
  assert.equal((await opened(app)).length, 1);
});

test("opens: on, but no pixel in a message with PHI", async (t) => {
  const app = await startTestApp(t);
  await setPolicy(app, { track_opens: true });
  const phi = await send(app, { ...base, subject: "Your visit", html: "<p>SSN 078-05-1120</p>" });
  assert.doesNotMatch(await capturedHtml(app, phi), /\/t\/o\//);
  const row = await app.app.db.kysely
    .selectFrom("messages")
    .select("phi")
    .where("id", "=", phi)
    .executeTakeFirst();
  assert.notEqual(row?.phi ?? null, null, "the detector found the PHI");
  assert.equal((await opened(app)).length, 0);
});
