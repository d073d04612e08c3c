/**
 * `GET/PUT /v1/retention` (ADR 0009 §4): defaults 30 days of content and 6 years of
 * metadata; either period or both may change, within range and with metadata never shorter
 * than content; bad inputs are coded 422s that change nothing; a change is audited.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { createOrg } from "../../src/core/orgs.ts";
import { parsePeriod } from "../../src/retention/settings.ts";
import { auth, startTestApp, type TestApp } from "../helpers/app.ts";
import { auditRows } from "./fixtures.ts";

function put(t: TestApp, payload: unknown, token = t.adminKey) {
  return t.app.api.inject({
    method: "PUT",
    url: "/v1/retention",
    headers: { ...auth(token), "content-type": "application/json" },
    payload: JSON.stringify(payload),
  });
}

async function current(t: TestApp, token = t.adminKey) {
  const res = await t.app.api.inject({ url: "/v1/retention", headers: auth(token) });
  assert.equal(res.statusCode, 200, res.body);
  return res.json();
}

test("retention settings: defaults, changes of either or both, and the audit entry", async (t) => {
  const app = await startTestApp(t, { worker: false });
  assert.deepEqual(await current(app), {
    object: "retention",
    content_retention_days: 30,
    metadata_retention_days: 2190,
  });

  const both = await put(app, { content_retention_days: 7, metadata_retention_days: 365 });
  assert.equal(both.statusCode, 200, both.body);
  assert.deepEqual(both.json(), {
    object: "retention",
    content_retention_days: 7,
    metadata_retention_days: 365,
  });
  const contentOnly = await put(app, { content_retention_days: 365 });
  assert.equal(contentOnly.statusCode, 200, contentOnly.body);
  assert.equal(contentOnly.json().metadata_retention_days, 365);
  const metadataOnly = await put(app, { metadata_retention_days: 36500 });
  assert.equal(metadataOnly.statusCode, 200, metadataOnly.body);
  assert.deepEqual(await current(app), {
    object: "retention",
    content_retention_days: 365,
    metadata_retention_days: 36500,
  });

  // Another org's settings are its own.
  const orgB = await createOrg(
    { db: app.app.db, keyring: app.app.keyring, clock: app.app.clock },
    { name: "org-b" },
  );
  const other = await app.key(["admin"], "live", orgB.id);
  assert.equal((await current(app, other)).content_retention_days, 30);
  assert.equal((await put(app, { content_retention_days: 1 }, other)).statusCode, 200);
  assert.equal((await current(app)).content_retention_days, 365);
  // Only admin keys.
  const reader = await app.key(["messages:read", "audit:read"]);
  assert.equal((await put(app, { content_retention_days: 1 }, reader)).statusCode, 403);

  const entries = await auditRows(app.app, app.app.defaultOrgId, "retention.update");
  assert.deepEqual(
    entries.map((e) => JSON.parse(e.details)),
    [
      { content_days: 7, metadata_days: 365 },
      { content_days: 365, metadata_days: 365 },
      { content_days: 365, metadata_days: 36500 },
    ],
  );
  assert.ok(entries.every((e) => e.actor_type === "key" && e.target_type === "org" && e.outcome === "ok"));
  assert.ok(entries.every((e) => e.request_id !== null && e.source_ip !== null));
});

test("bad retention changes are coded 422s and change nothing", async (t) => {
  const app = await startTestApp(t, { worker: false });
  assert.equal((await put(app, { content_retention_days: 10, metadata_retention_days: 20 })).statusCode, 200);
  const cases: [unknown, string, string | undefined][] = [
    [{}, "missing_field", "content_retention_days"],
    [null, "missing_field", "content_retention_days"],
    [{ content_retention_days: 0 }, "invalid_value", "content_retention_days"],
    [{ content_retention_days: 3651 }, "invalid_value", "content_retention_days"],
    [{ content_retention_days: -5 }, "invalid_value", "content_retention_days"],
    [{ content_retention_days: "30" }, "invalid_type", "content_retention_days"],
    [{ content_retention_days: 1.5 }, "invalid_type", "content_retention_days"],
    [{ metadata_retention_days: 36501 }, "invalid_value", "metadata_retention_days"],
    [{ metadata_retention_days: null }, "invalid_type", "metadata_retention_days"],
    [{ content_retention_days: 30, metadata_retention_days: 29 }, "invalid_value", "metadata_retention_days"],
    // Against the stored value of the other period.
    [{ metadata_retention_days: 9 }, "invalid_value", "metadata_retention_days"],
    [{ content_retention_days: 21 }, "invalid_value", "metadata_retention_days"],
    [{ content_days: 5 }, "unknown_field", "content_days"],
    [[1, 2], "invalid_type", undefined],
  ];
  for (const [payload, code, field] of cases) {
    const res = await put(app, payload);
    assert.equal(res.statusCode, 422, `${JSON.stringify(payload)}: ${res.body}`);
    assert.equal(res.json().code, code, JSON.stringify(payload));
    if (field !== undefined) assert.equal(res.json().field, field, JSON.stringify(payload));
  }
  const malformed = await app.app.api.inject({
    method: "PUT",
    url: "/v1/retention",
    headers: { ...auth(app.adminKey), "content-type": "application/json" },
    payload: "{",
  });
  assert.equal(malformed.statusCode, 400);
  assert.deepEqual(await current(app), {
    object: "retention",
    content_retention_days: 10,
    metadata_retention_days: 20,
  });
  assert.equal((await auditRows(app.app, app.app.defaultOrgId, "retention.update")).length, 1);
});

test("CLI periods: days, weeks and years", () => {
  assert.equal(parsePeriod("30d", "--content"), 30);
  assert.equal(parsePeriod("30", "--content"), 30);
  assert.equal(parsePeriod("4w", "--content"), 28);
  assert.equal(parsePeriod("6y", "--metadata"), 2190);
  for (const bad of ["", "6m", "1.5y", "-3d", "d", "30 days"])
    assert.throws(() => parsePeriod(bad, "--content"), { code: "invalid_value" });
});
