import assert from "node:assert/strict";
import { test } from "node:test";
import { hashToken } from "../../src/core/api-keys.ts";
import { ensureOrg } from "../../src/core/bootstrap.ts";
import type { Scope } from "../../src/core/principal.ts";
import { revokeApiKey } from "../../src/store/orgs.ts";
import { auth, startTestApp } from "../helpers/app.ts";

const payload = {
  from: "clinic@example.com",
  to: "p@example.org",
  subject: "Hi",
  text: "Hello",
  sandbox: true,
};

/** Every /v1 route, with the scope it needs. */
const routes: { method: "GET" | "POST" | "DELETE"; url: string; scope: Scope }[] = [
  { method: "POST", url: "/v1/messages", scope: "messages:send" },
  { method: "POST", url: "/v1/messages/batch", scope: "messages:send" },
  { method: "GET", url: "/v1/messages", scope: "messages:read" },
  { method: "GET", url: "/v1/messages/{msg}", scope: "messages:read" },
  { method: "POST", url: "/v1/messages/{msg}/cancel", scope: "messages:send" },
  { method: "GET", url: "/v1/sandbox/messages", scope: "messages:read_content" },
  { method: "GET", url: "/v1/sandbox/messages/{dlv}", scope: "messages:read_content" },
  { method: "POST", url: "/v1/domains", scope: "domains:manage" },
  { method: "GET", url: "/v1/domains", scope: "domains:manage" },
  { method: "GET", url: "/v1/domains/{dom}", scope: "domains:manage" },
  { method: "POST", url: "/v1/domains/{dom}/verify", scope: "domains:manage" },
  { method: "POST", url: "/v1/domains/{dom}/rotate-dkim", scope: "domains:manage" },
  { method: "GET", url: "/v1/suppressions", scope: "suppressions:manage" },
  { method: "POST", url: "/v1/suppressions", scope: "suppressions:manage" },
  { method: "DELETE", url: "/v1/suppressions/{addr}", scope: "suppressions:manage" },
  { method: "GET", url: "/v1/tools/tls-check?domain=example.com", scope: "messages:read" },
  { method: "POST", url: "/v1/tools/analyze-headers", scope: "messages:read" },
];

test("every /v1 route refuses missing, malformed and revoked keys, and missing scopes", async (t) => {
  const { app, adminKey, key } = await startTestApp(t, { worker: false });
  const doc = (await app.api.inject({ url: "/openapi.json" })).json();
  const documented = Object.entries(doc.paths as Record<string, Record<string, unknown>>)
    .filter(([p]) => p.startsWith("/v1/"))
    .flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`));
  const covered = routes.map(
    (r) =>
      `${r.method} ${r.url
        .replace(/\{(msg|dlv|dom)\}/, "{id}")
        .replace("{addr}", "{address}")
        .replace(/\?.*$/, "")}`,
  );
  assert.deepEqual([...documented].sort(), [...covered].sort(), "a /v1 route is missing from this test");

  const sent = (
    await app.api.inject({ method: "POST", url: "/v1/messages", headers: auth(adminKey), payload })
  ).json();
  const domainId = (await app.api.inject({ url: "/v1/domains", headers: auth(adminKey) })).json().data[0].id;
  const revoked = await key(["admin"]);
  const row = await app.db.kysely
    .selectFrom("api_keys")
    .select("id")
    .where("secret_hash", "=", hashToken(revoked))
    .executeTakeFirstOrThrow();
  await revokeApiKey(app.db, app.defaultOrgId, row.id, Date.now());

  for (const r of routes) {
    const url = r.url
      .replace("{msg}", sent.id)
      .replace("{dlv}", sent.deliveries[0].id)
      .replace("{dom}", domainId)
      .replace("{addr}", "p%40example.org");
    const call = (headers: Record<string, string>) =>
      app.api.inject({ method: r.method, url, headers, ...(r.method === "POST" ? { payload } : {}) });
    for (const [what, headers] of [
      ["no credentials", {}],
      ["malformed header", { authorization: "Bearer" }],
      ["basic instead of bearer", { authorization: "Basic abc" }],
      ["unknown key", auth("sp_live_thiskeydoesnotexist0123456789abcdef")],
      ["revoked key", auth(revoked)],
    ] as const) {
      const res = await call(headers);
      assert.equal(res.statusCode, 401, `${r.method} ${r.url} ${what}`);
      assert.equal(res.json().code, "unauthorized");
    }
    const others = (
      ["messages:send", "messages:read", "messages:read_content", "keys:manage"] as Scope[]
    ).filter((s) => s !== r.scope);
    const res = await call(auth(await key(others)));
    assert.equal(res.statusCode, 403, `${r.method} ${r.url} without ${r.scope}`);
    assert.equal(res.json().code, "forbidden");
  }
});

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
