import assert from "node:assert/strict";
import { test } from "node:test";
import { ensureOrg } from "../../src/core/orgs.ts";
import { auth, startTestApp } from "../helpers/app.ts";

const payload = {
  from: "clinic@example.com",
  to: "p@example.org",
  subject: "Hi",
  text: "Hello",
  sandbox: true,
};

test("another org's messages are not found, not forbidden", async (t) => {
  const { app, adminKey, key } = await startTestApp(t, { worker: false });
  const sent = (
    await app.api.inject({ method: "POST", url: "/v1/messages", headers: auth(adminKey), payload })
  ).json();
  const other = await ensureOrg(app.db, app.keyring, app.clock, "other");
  const otherKey = await key(["admin"], "live", other.id);
  for (const [method, url] of [
    ["GET", `/v1/messages/${sent.id}`],
    ["POST", `/v1/messages/${sent.id}/cancel`],
    ["GET", `/v1/sandbox/messages/${sent.deliveries[0].id}`],
  ] as const) {
    const res = await app.api.inject({ method, url, headers: auth(otherKey) });
    assert.equal(res.statusCode, 404, url);
  }
  const list = (await app.api.inject({ url: "/v1/messages", headers: auth(otherKey) })).json();
  assert.equal(list.data.length, 0);
  const byRcpt = (
    await app.api.inject({ url: "/v1/messages?recipient=p@example.org", headers: auth(otherKey) })
  ).json();
  assert.equal(byRcpt.data.length, 0);
});

test("reading content needs messages:read_content", async (t) => {
  const { app, adminKey, key } = await startTestApp(t, { worker: false });
  const sent = (
    await app.api.inject({ method: "POST", url: "/v1/messages", headers: auth(adminKey), payload })
  ).json();
  const reader = await key(["messages:read"]);
  const ok = await app.api.inject({ url: `/v1/messages/${sent.id}`, headers: auth(reader) });
  assert.equal(ok.statusCode, 200);
  const res = await app.api.inject({ url: `/v1/messages/${sent.id}?include=content`, headers: auth(reader) });
  assert.equal(res.statusCode, 403);
});
