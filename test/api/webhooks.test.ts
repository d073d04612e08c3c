/**
 * /v1/webhooks on a real in-process sealpost (ADR 0011 §3): create (the secret shown once
 * and stored sealed), list with a cursor, show, change, delete; SSRF refusals as 422
 * webhook_url_refused with fixed details that never echo the URL, unless the admin's
 * settings allow the target; other orgs see nothing; changes audited without the URL.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { createOrg } from "../../src/core/orgs.ts";
import { REFUSALS } from "../../src/webhooks/ssrf.ts";
import { auth, startTestApp, type TestApp } from "../helpers/app.ts";
import { auditRows } from "../retention/fixtures.ts";

async function call(
  t: TestApp,
  method: "GET" | "POST" | "PUT" | "DELETE",
  url: string,
  payload?: unknown,
  token = t.adminKey,
) {
  const res = await t.app.api.inject({
    method,
    url,
    headers: auth(token),
    ...(payload === undefined ? {} : { payload: payload as object }),
  });
  return {
    status: res.statusCode,
    body: res.body === "" ? {} : (res.json() as Record<string, unknown>),
    raw: res.body,
  };
}

const PUBLIC = "https://93.184.215.14/hooks/in?token=tok-SECRETPATH";

test("endpoints are created, listed, shown, changed and deleted; the secret is shown once and stored sealed", async (t) => {
  const app = await startTestApp(t, { worker: false });
  const manager = await app.key(["webhooks:manage"]);
  const made = await call(
    app,
    "POST",
    "/v1/webhooks",
    { url: PUBLIC, event_types: ["delivered", "bounced"] },
    manager,
  );
  assert.equal(made.status, 201, made.raw);
  const id = String(made.body.id);
  assert.match(id, /^whk_[0-9a-z]{26}$/);
  assert.deepEqual(made.body.event_types, ["bounced", "delivered"]);
  assert.equal(made.body.enabled, true);
  const secret = String(made.body.secret);
  assert.match(secret, /^whsec_/);
  const row = await app.app.db.kysely.selectFrom("webhooks").selectAll().executeTakeFirstOrThrow();
  assert.ok(
    !Buffer.from(row.secret).toString("latin1").includes(secret.slice(6)),
    "the secret is stored in the clear",
  );

  const shown = await call(app, "GET", `/v1/webhooks/${id}`, undefined, manager);
  assert.equal(shown.status, 200);
  assert.equal(shown.body.secret, undefined);
  assert.equal(shown.body.url, PUBLIC);

  for (let i = 0; i < 2; i++) await call(app, "POST", "/v1/webhooks", { url: PUBLIC }, manager);
  const page1 = await call(app, "GET", "/v1/webhooks?limit=2", undefined, manager);
  assert.equal((page1.body.data as unknown[]).length, 2);
  assert.ok(typeof page1.body.next_cursor === "string");
  const page2 = await call(
    app,
    "GET",
    `/v1/webhooks?limit=2&cursor=${page1.body.next_cursor}`,
    undefined,
    manager,
  );
  assert.deepEqual(
    (page2.body.data as { id: string }[]).map((w) => w.id),
    [id],
  );
  assert.equal(page2.body.next_cursor, null);

  const changed = await call(app, "PUT", `/v1/webhooks/${id}`, { event_types: [], enabled: false }, manager);
  assert.equal(changed.status, 200, changed.raw);
  assert.deepEqual(changed.body.event_types, []);
  assert.equal(changed.body.enabled, false);
  assert.equal((await call(app, "POST", `/v1/webhooks/${id}/test`, undefined, manager)).status, 409);

  const log = await call(app, "GET", `/v1/webhooks/${id}/deliveries`, undefined, manager);
  assert.deepEqual(log.body.data, []);

  assert.equal((await call(app, "DELETE", `/v1/webhooks/${id}`, undefined, manager)).status, 204);
  assert.equal((await call(app, "GET", `/v1/webhooks/${id}`, undefined, manager)).status, 404);
  assert.equal((await call(app, "DELETE", `/v1/webhooks/${id}`, undefined, manager)).status, 404);

  for (const action of ["webhook.create", "webhook.update", "webhook.delete"]) {
    const entries = await auditRows(app.app, app.app.defaultOrgId, action);
    assert.ok(entries.length >= 1, action);
    assert.ok(entries.every((e) => !e.details.includes("SECRETPATH") && !e.details.includes("93.184")));
  }
});

test("private, loopback and plain-http URLs are refused with fixed details that do not echo the URL", async (t) => {
  const app = await startTestApp(t, { worker: false });
  const cases: [string, string][] = [
    ["https://127.0.0.1:9/h?x=ECHOCHECK", REFUSALS.address],
    ["https://10.0.0.5/h?x=ECHOCHECK", REFUSALS.address],
    ["https://169.254.169.254/h?x=ECHOCHECK", REFUSALS.address],
    ["https://[::ffff:192.168.1.1]/h?x=ECHOCHECK", REFUSALS.address],
    ["https://localhost/h?x=ECHOCHECK", REFUSALS.address],
    ["http://93.184.215.14/h?x=ECHOCHECK", REFUSALS.http],
    ["http://127.0.0.1:9/h?x=ECHOCHECK", REFUSALS.address],
    ["https://u:ECHOCHECK@93.184.215.14/h", REFUSALS.credentials],
  ];
  for (const [url, detail] of cases) {
    const res = await call(app, "POST", "/v1/webhooks", { url });
    assert.equal(res.status, 422, url);
    assert.equal(res.body.code, "webhook_url_refused");
    assert.equal(res.body.detail, detail, url);
    assert.ok(!res.raw.includes("ECHOCHECK"));
  }
  const made = await call(app, "POST", "/v1/webhooks", { url: PUBLIC });
  const moved = await call(app, "PUT", `/v1/webhooks/${made.body.id}`, { url: "https://10.0.0.5/h" });
  assert.equal(moved.status, 422);
  assert.equal(moved.body.code, "webhook_url_refused");

  for (const [payload, code] of [
    [{}, "missing_field"],
    [{ url: PUBLIC, secret: "x" }, "unknown_field"],
    [{ url: PUBLIC, event_types: ["delivered", "nope"] }, "invalid_value"],
    [{ url: PUBLIC, event_types: "delivered" }, "invalid_type"],
    [{ url: 5 }, "invalid_type"],
  ] as const) {
    const res = await call(app, "POST", "/v1/webhooks", payload);
    assert.equal(res.status, 422, JSON.stringify(payload));
    assert.equal(res.body.code, code);
  }
  const rot = await call(app, "POST", `/v1/webhooks/${made.body.id}/rotate-secret`, { overlap_hours: 9999 });
  assert.equal(rot.status, 422);
  assert.equal((await call(app, "GET", "/v1/webhooks?cursor=bad")).status, 400);
});

test("the admin's settings allow private targets, and http to loopback in development", async (t) => {
  const app = await startTestApp(t, {
    worker: false,
    env: { SEALPOST_WEBHOOK_ALLOW_PRIVATE: "true" },
  });
  assert.equal((await call(app, "POST", "/v1/webhooks", { url: "https://10.0.0.5/h" })).status, 201);
  assert.equal((await call(app, "POST", "/v1/webhooks", { url: "http://127.0.0.1:9/h" })).status, 422);
  const dev = await startTestApp(t, { worker: false, env: { SEALPOST_WEBHOOK_ALLOW_HTTP_LOOPBACK: "true" } });
  assert.equal((await call(dev, "POST", "/v1/webhooks", { url: "http://127.0.0.1:9/h" })).status, 201);
  assert.equal((await call(dev, "POST", "/v1/webhooks", { url: "https://10.0.0.5/h" })).status, 422);
});

test("endpoints stay in their org: another org can neither see, change, test, rotate nor delete them", async (t) => {
  const app = await startTestApp(t, { worker: false });
  const made = await call(app, "POST", "/v1/webhooks", { url: PUBLIC });
  const id = String(made.body.id);
  const orgB = await createOrg(
    { db: app.app.db, keyring: app.app.keyring, clock: app.app.clock },
    { name: "org-b" },
  );
  const other = await app.key(["webhooks:manage"], "live", orgB.id);
  assert.equal((await call(app, "GET", `/v1/webhooks/${id}`, undefined, other)).status, 404);
  assert.equal((await call(app, "PUT", `/v1/webhooks/${id}`, { enabled: false }, other)).status, 404);
  assert.equal((await call(app, "POST", `/v1/webhooks/${id}/test`, undefined, other)).status, 404);
  assert.equal((await call(app, "POST", `/v1/webhooks/${id}/rotate-secret`, {}, other)).status, 404);
  assert.equal((await call(app, "GET", `/v1/webhooks/${id}/deliveries`, undefined, other)).status, 404);
  assert.equal((await call(app, "DELETE", `/v1/webhooks/${id}`, undefined, other)).status, 404);
  assert.deepEqual((await call(app, "GET", "/v1/webhooks", undefined, other)).body.data, []);
  assert.equal((await call(app, "GET", `/v1/webhooks/${id}`)).body.enabled, true);
});
