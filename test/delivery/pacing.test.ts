import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { RateLimiter } from "../../src/delivery/pacing.ts";

describe("RateLimiter", () => {
  test("off at 0: never waits", () => {
    const limiter = new RateLimiter({ ratePerSecond: 0 });
    assert.equal(limiter.enabled, false);
    for (let i = 0; i < 1000; i++) assert.equal(limiter.reserve("a.example", 0), 0);
  });

  test("a burst of one second's worth, then evenly spaced in arrival order", () => {
    let now = 1_000_000;
    const limiter = new RateLimiter({ ratePerSecond: 4, now: () => now });
    const delays = Array.from({ length: 8 }, () => limiter.reserve("a.example", 10_000));
    assert.deepEqual(delays, [0, 0, 0, 0, 250, 500, 750, 1000]);
    // Another domain has its own bucket.
    assert.equal(limiter.reserve("b.example", 0), 0);
    // Two seconds later the reservations are paid off and the bucket refilled by 4.
    now += 2000;
    assert.deepEqual(
      Array.from({ length: 5 }, () => limiter.reserve("a.example", 10_000)),
      [0, 0, 0, 0, 250],
    );
  });

  test("a caller that would wait longer than allowed takes nothing", () => {
    const now = 5_000;
    const limiter = new RateLimiter({ ratePerSecond: 1, now: () => now });
    assert.equal(limiter.reserve("a.example", 0), 0);
    assert.equal(limiter.reserve("a.example", 500), null);
    assert.equal(limiter.reserve("a.example", 1000), 1000);
    assert.equal(limiter.reserve("a.example", 1500), null);
    assert.equal(limiter.reserve("a.example", 2000), 2000);
  });

  test("fractional rates: one message every two seconds", () => {
    const limiter = new RateLimiter({ ratePerSecond: 0.5, now: () => 0 });
    assert.deepEqual(
      [limiter.reserve("a", 10_000), limiter.reserve("a", 10_000), limiter.reserve("a", 10_000)],
      [0, 2000, 4000],
    );
  });

  test("take() really waits", async () => {
    const limiter = new RateLimiter({ ratePerSecond: 20 });
    const started = Date.now();
    for (let i = 0; i < 25; i++) assert.equal(await limiter.take("a.example", 1000), true);
    // 20 from the burst, then 5 at 50 ms each.
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 230 && elapsed < 1000, `elapsed ${elapsed}`);
  });

  test("rejects a negative or non-finite rate", () => {
    assert.throws(() => new RateLimiter({ ratePerSecond: -1 }), RangeError);
    assert.throws(() => new RateLimiter({ ratePerSecond: Number.NaN }), RangeError);
  });
});
