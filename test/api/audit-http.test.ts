/**
 * Every API call is in the audit log (ADR 0009 §2–3), refused ones included: the route
 * pattern (never the URL, which can hold an address), the status, the outcome code, the
 * key. GET /v1/audit lists the caller's org's chain only, pages by seq and streams JSON
 * Lines that verify offline; GET /v1/audit/verify recomputes the chain.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { parseExport } from "../../src/audit/export.ts";
import { verifyChain } from "../../src/audit/verify.ts";
import { ensureOrg } from "../../src/core/orgs.ts";
import { listEntries } from "../../src/store/audit.ts";
import type { AuditLogTable } from "../../src/store/schema.ts";
import { auth, eventually, startTestApp, type TestApp } from "../helpers/app.ts";

const ADDRESS = "patient.jane@example.org";

async function auditPage(
  h: TestApp,
  token: string,
  query = "",
): Promise<{ data: AuditLogTable[]; next: string | null }> {
  const res = await h.app.api.inject({ method: "GET", url: `/v1/audit${query}`, headers: auth(token) });
  assert.equal(res.statusCode, 200, res.body);
  return res.json();
}

/** The org's entries once `match` finds one (onResponse runs after the answer is out). */
async function entryFor(
  h: TestApp,
  token: string,
  match: (e: AuditLogTable) => boolean,
): Promise<AuditLogTable> {
  return eventually(async () => {
    await h.app.audit.flush();
    return (await auditPage(h, token, "?limit=1000")).data.find(match);
  });
}

test("API calls, allowed and refused, are audited with the route pattern, status and outcome", async (t) => {
  const h = await startTestApp(t, { worker: false });
  const reader = await h.key(["audit:read"]);
  const sender = await h.key(["messages:send"]);

  const ok = await h.app.api.inject({ method: "GET", url: "/v1/domains", headers: auth(h.adminKey) });
  assert.equal(ok.statusCode, 200);
  const forbidden = await h.app.api.inject({ method: "GET", url: "/v1/suppressions", headers: auth(sender) });
  assert.equal(forbidden.statusCode, 403);
  const missing = `msg_${"0".repeat(26)}`;
  const notFound = await h.app.api.inject({
    method: "GET",
    url: `/v1/messages/${missing}`,
    headers: auth(h.adminKey),
  });
  assert.equal(notFound.statusCode, 404);
  const withAddress = await h.app.api.inject({
    method: "DELETE",
    url: `/v1/suppressions/${encodeURIComponent(ADDRESS)}?note=${encodeURIComponent(ADDRESS)}`,
    headers: auth(h.adminKey),
  });
  assert.equal(withAddress.statusCode, 404);
  // Paubox's error shape: the outcome is still the registry's code.
  const paubox = await h.app.api.inject({
    method: "GET",
    url: "/paubox/v1/message_receipt",
    headers: auth(h.adminKey),
  });
  assert.equal(paubox.statusCode, 400);
  const anonymous = await h.app.api.inject({ method: "GET", url: "/v1/domains" });
  assert.equal(anonymous.statusCode, 401);
  const badKey = await h.app.api.inject({ method: "GET", url: "/v1/domains", headers: auth("sp_live_nope") });
  assert.equal(badKey.statusCode, 401);

  const okEntry = await entryFor(h, reader, (e) => e.status === 200 && routeOf(e) === "/v1/domains");
  assert.equal(okEntry.action, "http.request");
  assert.equal(okEntry.outcome, "ok");
  assert.equal(okEntry.status, 200);
  assert.equal(okEntry.actor_type, "key");
  assert.match(okEntry.actor_id ?? "", /^key_/);
  assert.deepEqual(JSON.parse(okEntry.details), {
    auth_method: "bearer",
    method: "GET",
    route: "/v1/domains",
  });
  assert.ok(okEntry.source_ip !== null);

  const refused = await entryFor(h, reader, (e) => e.request_id === forbidden.json().instance);
  assert.equal(refused.outcome, "forbidden");
  assert.equal(refused.status, 403);
  assert.equal(JSON.parse(refused.details).route, "/v1/suppressions");

  const target = await entryFor(h, reader, (e) => e.request_id === notFound.json().instance);
  assert.deepEqual([target.outcome, target.target_type, target.target_id], ["not_found", "message", missing]);
  assert.equal(JSON.parse(target.details).route, "/v1/messages/:id");

  const addressed = await entryFor(h, reader, (e) => e.request_id === withAddress.json().instance);
  assert.equal(JSON.parse(addressed.details).route, "/v1/suppressions/:address");
  assert.equal(addressed.target_id, null);

  const pauboxEntry = await entryFor(h, reader, (e) => routeOf(e) === "/paubox/v1/message_receipt");
  assert.deepEqual([pauboxEntry.status, pauboxEntry.outcome], [400, "missing_field"]);

  // No raw URL, no address anywhere in the org's chain.
  const all = JSON.stringify((await auditPage(h, reader, "?limit=1000")).data);
  assert.doesNotMatch(all, /example\.org|patient|%40|\?note/);

  // Refusals before authentication succeeded: the instance chain, anonymous.
  const instance = await eventually(async () => {
    await h.app.audit.flush();
    const entries = await listEntries(h.app.db, "instance", { action: "http.request" }, 1000);
    return entries.length >= 2 ? entries : undefined;
  });
  const outcomes = instance.map((e) => [e.actor_type, e.actor_id, e.status, e.outcome]);
  assert.deepEqual(outcomes.slice(-2), [
    ["anonymous", null, 401, "unauthorized"],
    ["anonymous", null, 401, "unauthorized"],
  ]);
  assert.doesNotMatch(JSON.stringify(instance), /sp_live_nope/);
});

function routeOf(e: AuditLogTable): unknown {
  return JSON.parse(e.details).route;
}

test("GET /v1/audit filters and pages by seq; JSON Lines verify offline; GET /v1/audit/verify is ok", async (t) => {
  const h = await startTestApp(t, { worker: false });
  const reader = await h.key(["audit:read"]);
  for (let i = 0; i < 5; i++)
    await h.app.api.inject({ method: "GET", url: "/v1/domains", headers: auth(h.adminKey) });
  await h.app.audit.recordNow({
    chain: h.app.defaultOrgId,
    actorType: "operator",
    actorId: "cli",
    action: "key.revoke",
    targetType: "key",
    targetId: "key_x",
    outcome: "ok",
  });
  await h.app.audit.flush();

  const first = await auditPage(h, reader, "?limit=2");
  assert.equal(first.data.length, 2);
  assert.deepEqual(
    first.data.map((e) => e.seq),
    [1, 2],
  );
  assert.ok(first.next !== null);
  const second = await auditPage(h, reader, `?limit=2&cursor=${first.next}`);
  assert.deepEqual(
    second.data.map((e) => e.seq),
    [3, 4],
  );

  const revokes = await auditPage(h, reader, "?action=key.revoke");
  assert.deepEqual(
    revokes.data.map((e) => e.target_id),
    ["key_x"],
  );
  assert.equal((await auditPage(h, reader, "?actor_id=cli&outcome=ok")).data.length, 1);
  assert.equal((await auditPage(h, reader, "?from=2999-01-01T00:00:00Z")).data.length, 0);
  const bad = await h.app.api.inject({
    method: "GET",
    url: "/v1/audit?from=yesterday",
    headers: auth(reader),
  });
  assert.equal(bad.statusCode, 422);
  assert.equal(bad.json().code, "invalid_value");
  const badCursor = await h.app.api.inject({
    method: "GET",
    url: "/v1/audit?cursor=zz",
    headers: auth(reader),
  });
  assert.equal(badCursor.json().code, "invalid_cursor");

  const lines = await h.app.api.inject({
    method: "GET",
    url: "/v1/audit",
    headers: { ...auth(reader), accept: "application/x-ndjson" },
  });
  assert.equal(lines.statusCode, 200);
  assert.match(String(lines.headers["content-type"]), /^application\/x-ndjson/);
  const exported = parseExport(lines.body);
  assert.ok(exported.length >= 6);
  assert.equal(verifyChain(exported).ok, true);
  // The export is itself audited.
  assert.ok(exported.some((e) => e.action === "audit.export" && e.actor_type === "key"));

  const verify = await h.app.api.inject({ method: "GET", url: "/v1/audit/verify", headers: auth(reader) });
  assert.equal(verify.statusCode, 200);
  const report = verify.json();
  assert.equal(report.ok, true);
  assert.equal(report.chain, h.app.defaultOrgId);
  assert.equal(report.first_bad, null);
  assert.ok(report.checked >= 6);
});

test("another org sees only its own chain", async (t) => {
  const h = await startTestApp(t, { worker: false });
  const other = await ensureOrg(h.app.db, h.app.keyring, h.app.clock, "other");
  const mine = await h.key(["audit:read"]);
  const theirs = await h.key(["audit:read"], "live", other.id);
  await h.app.api.inject({ method: "GET", url: "/v1/domains", headers: auth(h.adminKey) });
  await h.app.api.inject({ method: "GET", url: "/v1/audit", headers: auth(theirs) });
  const myOwn = await entryFor(h, mine, (e) => routeOf(e) === "/v1/domains");
  const theirOwn = await entryFor(h, theirs, (e) => routeOf(e) === "/v1/audit");
  assert.equal(theirOwn.chain, other.id);
  const seen = await auditPage(h, theirs, "?limit=1000");
  assert.ok(seen.data.every((e) => e.chain === other.id));
  assert.ok(!seen.data.some((e) => e.id === myOwn.id || routeOf(e) === "/v1/domains"));
  const mineSeen = await auditPage(h, mine, "?limit=1000");
  assert.ok(mineSeen.data.every((e) => e.chain === h.app.defaultOrgId));
  const verify = await h.app.api.inject({ method: "GET", url: "/v1/audit/verify", headers: auth(theirs) });
  assert.equal(verify.json().chain, other.id);
  assert.equal(verify.json().ok, true);
});
