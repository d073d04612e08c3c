/**
 * Bucket boundaries on the suite's store (ADR 0011 §4): events 1 ms before, at, and 1 ms
 * after an hour's (and a day's) start fall in the bucket the UTC integer arithmetic says,
 * and the range's `to` is exclusive. Sandbox sends on a manual clock, a real worker.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ManualClock } from "../../src/core/clock.ts";
import { auth, eventually, startTestApp } from "../helpers/app.ts";

const MIDNIGHT = Date.UTC(2026, 5, 1);
const HOUR = 3_600_000;
const iso = (ms: number) => new Date(ms).toISOString();

test("events at a bucket's edge are counted in the right bucket", async (t) => {
  const clock = new ManualClock(MIDNIGHT - 1);
  const { app, adminKey } = await startTestApp(t, { clock });
  const sendAt = async (ms: number) => {
    clock.set(ms);
    const res = await app.api.inject({
      method: "POST",
      url: "/v1/messages",
      headers: auth(adminKey),
      payload: {
        from: "clinic@example.com",
        to: "p@example.org",
        subject: "Hi",
        text: "Hello",
        sandbox: true,
      },
    });
    assert.equal(res.statusCode, 202, res.body);
    const id = res.json().id as string;
    await eventually(async () => {
      const m = (await app.api.inject({ url: `/v1/messages/${id}`, headers: auth(adminKey) })).json();
      return m.status === "delivered" ? true : undefined;
    });
  };
  await sendAt(MIDNIGHT - 1);
  await sendAt(MIDNIGHT);
  await sendAt(MIDNIGHT + 1);
  await sendAt(MIDNIGHT + HOUR - 1);
  await sendAt(MIDNIGHT + HOUR);
  const stats = async (q: string) =>
    (await app.api.inject({ url: `/v1/stats?${q}`, headers: auth(adminKey) })).json() as {
      buckets: { start: string; delivered: number; sent: number }[];
      totals: { delivered: number };
    };
  const hourly = await stats(`interval=hour&from=${iso(MIDNIGHT - HOUR)}&to=${iso(MIDNIGHT + 2 * HOUR)}`);
  assert.deepEqual(
    hourly.buckets.map((b) => [b.start, b.delivered, b.sent]),
    [
      [iso(MIDNIGHT - HOUR), 1, 1],
      [iso(MIDNIGHT), 3, 3],
      [iso(MIDNIGHT + HOUR), 1, 1],
    ],
  );
  const daily = await stats(`interval=day&from=${iso(MIDNIGHT - 1)}&to=${iso(MIDNIGHT + HOUR)}`);
  assert.deepEqual(
    daily.buckets.map((b) => [b.start, b.delivered]),
    [
      [iso(MIDNIGHT - 86_400_000), 1],
      [iso(MIDNIGHT), 3],
    ],
    "`to` is exclusive: the event at 01:00 is left out",
  );
});
