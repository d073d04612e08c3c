/**
 * GET /v1/stats end to end (ADR 0011 §4) on the suite's store: after a known mix of sends
 * over two hours of a manual clock (test/events/fixture.ts) the hourly buckets, the daily
 * bucket, the totals and the tag filter count exactly what was sent; empty buckets are
 * zero; bad ranges are coded 422s; another org counts nothing of it.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ensureOrg } from "../../src/core/orgs.ts";
import { get, HOUR, PHASE1, sendMix } from "../events/fixture.ts";

const H10 = Date.UTC(2026, 2, 10, 10);
const DAY0 = Date.UTC(2026, 2, 10);

function counts(over: Record<string, unknown> = {}) {
  return {
    sent: 0,
    delivered: 0,
    deferred: 0,
    bounced: 0,
    failed: 0,
    suppressed: 0,
    cancelled: 0,
    portal: 0,
    opened: 0,
    by_encryption: { tls: 0, smime: 0, pgp: 0, portal: 0, none: 0 },
    by_tls_version: {},
    ...over,
  };
}

const iso = (ms: number) => new Date(ms).toISOString();

test("stats count exactly what was sent, per hour, per day and per tag", async (t) => {
  const mix = await sendMix(t);
  const v = mix.tlsVersion;
  const hour10 = counts({
    sent: 2,
    delivered: 2,
    bounced: 1,
    suppressed: 1,
    by_encryption: { tls: 2, smime: 0, pgp: 0, portal: 0, none: 0 },
    by_tls_version: { [v]: 2 },
  });
  // The portal notice went to a server without STARTTLS: no TLS version to count.
  const hour11 = counts({
    sent: 1,
    delivered: 1,
    deferred: 1,
    cancelled: 1,
    portal: 1,
    by_encryption: { tls: 0, smime: 0, pgp: 0, portal: 1, none: 0 },
  });
  const all = counts({
    sent: 3,
    delivered: 3,
    deferred: 1,
    bounced: 1,
    suppressed: 1,
    cancelled: 1,
    portal: 1,
    by_encryption: { tls: 2, smime: 0, pgp: 0, portal: 1, none: 0 },
    by_tls_version: { [v]: 2 },
  });

  // `from` 09:40 rounds down to 09:00; `to` 13:00: four buckets, two of them empty.
  const hourly = await get(
    mix.t,
    `/v1/stats?interval=hour&from=${iso(H10 - 20 * 60_000)}&to=${iso(H10 + 3 * HOUR)}`,
  );
  assert.equal(hourly.status, 200, JSON.stringify(hourly.body));
  assert.equal(hourly.body.from, iso(H10 - HOUR));
  assert.equal(hourly.body.interval, "hour");
  assert.deepEqual(hourly.body.buckets, [
    { start: iso(H10 - HOUR), ...counts() },
    { start: iso(H10), ...hour10 },
    { start: iso(H10 + HOUR), ...hour11 },
    { start: iso(H10 + 2 * HOUR), ...counts() },
  ]);
  assert.deepEqual(hourly.body.totals, all);

  const daily = await get(
    mix.t,
    `/v1/stats?interval=day&from=${iso(DAY0 - 86_400_000)}&to=${iso(DAY0 + 86_400_000)}`,
  );
  assert.deepEqual(daily.body.buckets, [
    { start: iso(DAY0 - 86_400_000), ...counts() },
    { start: iso(DAY0), ...all },
  ]);
  assert.deepEqual(daily.body.totals, all);

  // Default range: the 30 days up to the end of today (the manual clock's), daily.
  const recent = await get(mix.t, "/v1/stats");
  assert.equal((recent.body.buckets as unknown[]).length, 30);
  assert.equal(recent.body.to, iso(DAY0 + 86_400_000));
  assert.deepEqual(recent.body.totals, all);

  // Tags: a = ok1, ok2 + bounce, the portal notice; b = ok2 + bounce, the deferral.
  const span = `from=${iso(DAY0)}&to=${iso(DAY0 + 86_400_000)}`;
  const a = await get(mix.t, `/v1/stats?${span}&tag=a`);
  assert.deepEqual(
    a.body.totals,
    counts({
      sent: 3,
      delivered: 3,
      bounced: 1,
      portal: 1,
      by_encryption: { tls: 2, smime: 0, pgp: 0, portal: 1, none: 0 },
      by_tls_version: { [v]: 2 },
    }),
  );
  assert.equal(a.body.tag, "a");
  const b = await get(mix.t, `/v1/stats?${span}&tag=b`);
  assert.deepEqual(
    b.body.totals,
    counts({
      sent: 1,
      delivered: 1,
      bounced: 1,
      deferred: 1,
      by_encryption: { tls: 1, smime: 0, pgp: 0, portal: 0, none: 0 },
      by_tls_version: { [v]: 1 },
    }),
  );
  // A tag that is a substring of JSON around another tag matches nothing.
  assert.deepEqual((await get(mix.t, `/v1/stats?${span}&tag=c`)).body.totals, counts());
  assert.doesNotMatch(JSON.stringify([hourly.body, daily.body, a.body]), /@|msg_|dlv_|evt_/);

  // Another org counts none of it.
  const other = await ensureOrg(mix.t.app.db, mix.t.app.keyring, mix.t.app.clock, "other");
  const otherKey = await mix.t.key(["messages:read"], "live", other.id);
  assert.deepEqual((await get(mix.t, `/v1/stats?${span}`, otherKey)).body.totals, counts());
  assert.ok(PHASE1 > DAY0);
});

test("bad stats queries are coded 422s; 744 buckets are the limit", async (t) => {
  const mix = await sendMix(t);
  const from = Date.UTC(2026, 0, 1);
  const ok = await get(mix.t, `/v1/stats?interval=hour&from=${iso(from)}&to=${iso(from + 744 * HOUR)}`);
  assert.equal(ok.status, 200);
  assert.equal((ok.body.buckets as unknown[]).length, 744);
  for (const [q, field] of [
    [`interval=hour&from=${iso(from)}&to=${iso(from + 745 * HOUR)}`, "from"],
    [`interval=day&from=${iso(from)}&to=${iso(from + 800 * 24 * HOUR)}`, "from"],
    ["interval=week", "interval"],
    ["from=yesterday", "from"],
    [`from=${iso(from)}&to=${iso(from)}`, "to"],
    [`from=${iso(from + HOUR)}&to=${iso(from)}`, "to"],
    ["tag=a%20b", "tag"],
  ] as const) {
    const res = await get(mix.t, `/v1/stats?${q}`);
    assert.equal(res.status, 422, q);
    assert.equal(res.body.code, "invalid_value", q);
    assert.equal(res.body.field, field, q);
  }
  const unknown = await get(mix.t, "/v1/stats?colour=red");
  assert.equal(unknown.body.code, "unknown_field");
});
