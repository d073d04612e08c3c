/**
 * GET /v1/reports/compliance: unusual-volume detection needs the org's history; bad periods
 * and formats are coded 422s; the route needs audit:read.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ManualClock } from "../../src/core/clock.ts";
import { auth, startTestApp } from "../helpers/app.ts";
import { HOUR, T0 } from "./fixture.ts";
import { DAY, keepContent, send } from "./seed.ts";

test("unusual volume needs seven days of history; a quiet org's first message after a baseline of zeros stands out", async (t) => {
  const clock = new ManualClock(T0 + HOUR);
  const { app, adminKey } = await startTestApp(t, { clock });
  await keepContent(app, app.defaultOrgId);
  for (const day of [0, 1, 9, 40]) {
    clock.set(T0 + day * DAY + 2 * HOUR);
    await send(app, adminKey, { day, sandbox: true, to: ["q@example.org"] }, T0);
  }
  clock.set(T0 + 45 * DAY);
  const report = async (from: string, to: string) => {
    const res = await app.api.inject({
      url: `/v1/reports/compliance?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`,
      headers: auth(adminKey),
    });
    assert.equal(res.statusCode, 200, res.body);
    return res.json().unusual_volume;
  };
  // Days 2-4: 2, 3 and 4 days of history.
  const early = await report("2026-03-03", "2026-03-06");
  assert.equal(early.status, "insufficient_history");
  assert.equal(early.days_evaluated, 0);
  assert.equal(early.days_without_history, 3);
  assert.deepEqual(early.unusual_days, []);
  // Days 6-9: day 6 has 6 days of history, days 7-9 are judged; day 9's one message is
  // within its baseline (days 0-8 hold two).
  const later = await report("2026-03-07T00:00:00Z", "2026-03-10T12:00:00+00:00");
  assert.equal(later.status, "evaluated");
  assert.equal(later.days_without_history, 1);
  assert.equal(later.days_evaluated, 3);
  assert.deepEqual(later.unusual_days, []);
  // Day 40 (2026-04-10): one message after 28 days without any.
  const quiet = await report("2026-04-10", "2026-04-11");
  assert.deepEqual(quiet.unusual_days, [
    {
      date: "2026-04-10",
      messages: 1,
      baseline_days: 28,
      baseline_mean: 0,
      baseline_stddev: 0,
      threshold: 0,
    },
  ]);
});

test("bad periods and formats are refused with coded 422s; the route needs audit:read", async (t) => {
  const { app, adminKey, key } = await startTestApp(t, { worker: false });
  const get = (query: string, token = adminKey) =>
    app.api.inject({ url: `/v1/reports/compliance${query}`, headers: auth(token) });
  for (const [query, code, field] of [
    ["", "missing_field", "from"],
    ["?from=2026-01-01", "missing_field", "to"],
    ["?from=yesterday&to=2026-01-02", "invalid_value", "from"],
    ["?from=2026-02-30&to=2026-03-02", "invalid_value", "from"],
    ["?from=2026-01-01T10:00&to=2026-01-02", "invalid_value", "from"],
    ["?from=2026-01-01&to=2026-01-02T24:00Z", "invalid_value", "to"],
    ["?from=2026-01-02&to=2026-01-02", "invalid_value", "to"],
    ["?from=2026-01-02&to=2026-01-01", "invalid_value", "to"],
    ["?from=2026-01-01&to=2027-01-03", "invalid_value", "to"],
    ["?from=2026-01-01&to=2026-01-02&format=xml", "invalid_value", "format"],
  ] as const) {
    const res = await get(query);
    assert.equal(res.statusCode, 422, `${query}: ${res.body}`);
    assert.equal(res.json().code, code, query);
    assert.equal(res.json().field, field, query);
  }
  // 366 days is the longest period.
  assert.equal((await get("?from=2026-01-01&to=2027-01-02")).statusCode, 200);
  const noScope = await get("?from=2026-01-01&to=2026-01-02", await key(["messages:read"]));
  assert.equal(noScope.statusCode, 403);
  assert.equal(noScope.json().code, "forbidden");
  const auditor = await get("?from=2026-01-01&to=2026-01-02", await key(["audit:read"]));
  assert.equal(auditor.statusCode, 200, auditor.body);
});
