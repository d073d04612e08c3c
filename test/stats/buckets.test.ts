/** The stats query and bucket assembly (ADR 0011 §4) as pure functions: ranges, defaults, zero-fill. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { assemble, bucketCount } from "../../src/stats/buckets.ts";
import { statsParams } from "../../src/stats/query.ts";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T = Date.UTC(2026, 2, 10, 10, 30);

test("defaults: daily, the 30 days ending with today; hourly, the 24 hours ending with this hour", () => {
  const d = statsParams({}, T);
  assert.equal(d.interval, "day");
  assert.equal(d.to, Date.UTC(2026, 2, 11));
  assert.equal(d.from, Date.UTC(2026, 1, 9));
  assert.equal(bucketCount(d.from, d.to, d.intervalMs), 30);
  const h = statsParams({ interval: "hour" }, T);
  assert.equal(h.to, Date.UTC(2026, 2, 10, 11));
  assert.equal(bucketCount(h.from, h.to, h.intervalMs), 24);
});

test("from is rounded down; a partial last bucket counts", () => {
  const p = statsParams({ interval: "hour", from: "2026-03-10T10:59:59Z", to: "2026-03-10T12:00:01Z" }, T);
  assert.equal(p.from, Date.UTC(2026, 2, 10, 10));
  assert.equal(bucketCount(p.from, p.to, p.intervalMs), 3);
});

test("assemble zero-fills, adds up per field and leaves out-of-range rows alone", () => {
  const from = Date.UTC(2026, 2, 10);
  const first = from / DAY;
  const { buckets, totals } = assemble(
    [
      { bucket: first, type: "delivered", encryption: "tls", tls_version: "TLSv1.3", n: 2 },
      { bucket: first, type: "delivered", encryption: "portal", tls_version: null, n: 1 },
      { bucket: first + 2, type: "portal_notified", encryption: null, tls_version: null, n: 1 },
      { bucket: first + 2, type: "sent", encryption: "tls", tls_version: "TLSv1.2", n: 4 },
      { bucket: first + 9, type: "sent", encryption: null, tls_version: null, n: 7 },
      { bucket: first, type: "queued", encryption: null, tls_version: null, n: 5 },
    ],
    from,
    from + 3 * DAY,
    DAY,
  );
  assert.equal(buckets.length, 3);
  assert.equal(buckets[1]?.delivered, 0);
  assert.equal(buckets[0]?.delivered, 3);
  assert.deepEqual(buckets[0]?.by_encryption, { tls: 2, smime: 0, pgp: 0, portal: 1, none: 0 });
  assert.deepEqual(buckets[0]?.by_tls_version, { "TLSv1.3": 2 });
  assert.equal(buckets[2]?.portal, 1);
  assert.equal(buckets[2]?.sent, 4);
  assert.deepEqual(buckets[2]?.by_tls_version, {}, "only delivered events count by TLS version");
  assert.equal(totals.sent, 4);
  assert.equal(totals.delivered, 3);
  assert.equal(buckets[2]?.start, "2026-03-12T00:00:00.000Z");
});
