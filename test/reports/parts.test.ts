/**
 * The report's pure parts: period parsing, unusual-volume detection, evidence tallying of
 * odd values, and the CSV form.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { SealpostError } from "../../src/core/errors.ts";
import { reportCsv } from "../../src/reports/csv.ts";
import { EvidenceTally } from "../../src/reports/evidence.ts";
import { DAY_MS, parseFormat, parseInstant, parsePeriod } from "../../src/reports/period.ts";
import type { ComplianceReport } from "../../src/reports/types.ts";
import { unusualVolume } from "../../src/reports/volume.ts";

test("instants: dates are midnight UTC, date-times need a zone, impossible dates are refused", () => {
  assert.equal(parseInstant("2026-01-01"), Date.UTC(2026, 0, 1));
  assert.equal(parseInstant("2026-01-01T08:30Z"), Date.UTC(2026, 0, 1, 8, 30));
  assert.equal(parseInstant("2026-01-01T08:30:15.250+01:00"), Date.UTC(2026, 0, 1, 7, 30, 15, 250));
  assert.equal(parseInstant("2024-02-29"), Date.UTC(2024, 1, 29));
  for (const bad of [
    "2026-02-29",
    "2026-04-31",
    "2026-13-01",
    "2026-00-10",
    "2026-01-01T08:30",
    "2026-01-01T24:00Z",
    "2026-01-01T23:60Z",
    "2026-01-01T10:00+24:00",
    "2026-1-1",
    "20260101",
    "1767225600000",
    " 2026-01-01",
    "2026-01-01T08:30:15.1234Z",
  ])
    assert.equal(parseInstant(bad), null, bad);
});

function codeOf(run: () => unknown): [string, string | undefined] {
  try {
    run();
  } catch (err) {
    assert.ok(err instanceof SealpostError);
    return [err.code, err.field];
  }
  assert.fail("no error");
}

test("periods: [from, to), at most 366 days, coded errors naming the field", () => {
  assert.deepEqual(parsePeriod("2026-01-01", "2026-02-01"), {
    from: Date.UTC(2026, 0, 1),
    to: Date.UTC(2026, 1, 1),
  });
  assert.equal(parsePeriod("2026-01-01", "2027-01-02").to - Date.UTC(2026, 0, 1), 366 * DAY_MS);
  assert.deepEqual(
    codeOf(() => parsePeriod(undefined, "2026-01-01")),
    ["missing_field", "from"],
  );
  assert.deepEqual(
    codeOf(() => parsePeriod("2026-01-01", "")),
    ["missing_field", "to"],
  );
  assert.deepEqual(
    codeOf(() => parsePeriod(["2026-01-01"], "2026-01-02")),
    ["invalid_value", "from"],
  );
  assert.deepEqual(
    codeOf(() => parsePeriod("2026-01-02T00:00Z", "2026-01-02T01:00+01:00")),
    ["invalid_value", "to"],
  );
  assert.deepEqual(
    codeOf(() => parsePeriod("2026-01-01", "2027-01-02T00:00:00.001Z")),
    ["invalid_value", "to"],
  );
  assert.equal(parseFormat(undefined), "json");
  assert.equal(parseFormat("csv"), "csv");
  assert.deepEqual(
    codeOf(() => parseFormat("CSV")),
    ["invalid_value", "format"],
  );
});

test("unusual volume: mean + 3σ of the previous 28 days, from the org's creation day on", () => {
  const day0 = 20_000; // days since the epoch
  const period = { from: (day0 + 40) * DAY_MS, to: (day0 + 42) * DAY_MS };
  const daily = new Map<number, number>();
  // Days 12-39 before day 40 alternate 10 and 20 (mean 15, σ 5): the threshold is 30.
  for (let d = day0; d < day0 + 40; d++) daily.set(d, d % 2 === 0 ? 10 : 20);
  daily.set(day0 + 40, 30);
  daily.set(day0 + 41, 60);
  const v = unusualVolume(period, day0 * DAY_MS, daily);
  assert.equal(v.status, "evaluated");
  assert.equal(v.days_evaluated, 2);
  assert.equal(v.unusual_days.length, 1, "30 does not exceed 30; 60 exceeds its own baseline (days 13-40)");
  assert.equal(v.unusual_days[0]?.messages, 60);
  // Created on day 35: days 35-39 are five days of history, day 41 has six.
  const young = unusualVolume(period, (day0 + 35) * DAY_MS + 5000, daily);
  assert.equal(young.status, "insufficient_history");
  assert.equal(young.days_without_history, 2);
  // Created on day 34: day 41 has seven days (34-40) and is judged.
  const seven = unusualVolume(period, (day0 + 34) * DAY_MS, daily);
  assert.equal(seven.days_evaluated, 1);
  assert.equal(seven.days_without_history, 1);
  // A period ending mid-day still judges that day (whole UTC days).
  const partial = unusualVolume({ from: period.from, to: period.from + 1 }, day0 * DAY_MS, daily);
  assert.equal(partial.days_evaluated, 1);
});

test("evidence: odd stored values become `other` or are skipped, never copied", () => {
  const t = new EvidenceTally();
  t.add("delivered", "not json");
  t.add("delivered", "[1,2]");
  t.add("delivered", null);
  t.add(
    "delivered",
    JSON.stringify({ mx_host: "a", tls_version: "constructor", cipher: "__proto__", cert_verified: true }),
  );
  t.add(
    "delivered",
    JSON.stringify({
      mx_host: "a",
      tls_version: "TLSv1.3",
      cipher: "p@example.org",
      cert_verified: "yes",
      cert_error: 5,
    }),
  );
  t.add("queued", JSON.stringify({ sandbox: true }));
  t.add("delivered", JSON.stringify({ sandbox: true }));
  const s = t.sections();
  assert.equal(s.tls.delivered_over_smtp, 2);
  assert.equal(s.tls.delivered_to_sandbox, 1);
  assert.deepEqual(s.tls.versions, { "TLSv1.3": 1, constructor: 1 });
  assert.deepEqual(s.tls.ciphers, { other: 2 });
  assert.deepEqual(s.certificates, { verified: 1, unverified: 1, errors: { other: 1 } });
  assert.equal(s.mta_sts.recipients_attempted, 2);
  assert.equal(s.mta_sts.by_mode.not_applied, 2);
});

test("CSV: section,key,value rows with RFC 4180 quoting, list items keyed by date", () => {
  const report = {
    object: "compliance_report",
    version: 1,
    org: { id: "org_1", name: "default" },
    period: { from: "2026-01-01T00:00:00.000Z", to: "2026-01-02T00:00:00.000Z" },
    generated_at: "2026-01-03T00:00:00.000Z",
    messages: { total: 3, by_mode: { live: 2, test: 1 } },
    portal_fallbacks: { available: false, count: 0, note: 'A note, with "quotes"' },
    unusual_volume: { status: "evaluated", unusual_days: [{ date: "2026-01-01", messages: 9 }] },
  } as unknown as ComplianceReport;
  assert.equal(
    reportCsv(report),
    [
      "section,key,value",
      "report,version,1",
      "report,org_id,org_1",
      "report,org_name,default",
      "report,from,2026-01-01T00:00:00.000Z",
      "report,to,2026-01-02T00:00:00.000Z",
      "report,generated_at,2026-01-03T00:00:00.000Z",
      "messages,total,3",
      "messages,by_mode.live,2",
      "messages,by_mode.test,1",
      "portal_fallbacks,available,false",
      "portal_fallbacks,count,0",
      'portal_fallbacks,note,"A note, with ""quotes"""',
      "unusual_volume,status,evaluated",
      "unusual_volume,unusual_days.2026-01-01.messages,9",
      "",
    ].join("\r\n"),
  );
});
