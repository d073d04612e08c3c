/**
 * Brute-force defence over HTTP (ADR 0008 §6): failures count per client address; from the
 * 4th each answer waits; at the limit the address is locked, so even a correct key from it
 * is refused (429 auth_locked, Retry-After) while other addresses are unaffected; the lock
 * ends on time. Exempt CIDRs are never locked, and behind a trusted proxy the client is the
 * X-Forwarded-For address.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ManualClock } from "../../src/core/clock.ts";
import type { Sealpost } from "../../src/main.ts";
import { auth, BOOTSTRAP_KEY, startTestApp } from "../helpers/app.ts";

const ATTACKER = "203.0.113.7";
const CLINIC = "198.51.100.9";
const WRONG = "sp_live_01kb2m9x7ad3qz8v4c6n5t1r0w_3xAmPlEsEcReTnOtReAl0123456789abcdefghijkLM";

function from(app: Sealpost, address: string, token: string, headers: Record<string, string> = {}) {
  return app.api.inject({
    url: "/v1/messages",
    remoteAddress: address,
    headers: { ...auth(token), ...headers },
  });
}

const env = {
  SEALPOST_AUTH_MAX_FAILURES: "5",
  SEALPOST_AUTH_FAILURE_WINDOW_SECONDS: "600",
  SEALPOST_AUTH_LOCKOUT_SECONDS: "900",
};

test("an address is slowed, then locked even for a correct key; others are not; the lock ends", async (t) => {
  const clock = new ManualClock();
  const { app } = await startTestApp(t, { worker: false, clock, env });
  const elapsed: number[] = [];
  for (let i = 1; i <= 5; i++) {
    const started = performance.now();
    const res = await from(app, ATTACKER, WRONG);
    elapsed.push(performance.now() - started);
    assert.equal(res.statusCode, 401, `failure ${i}`);
    assert.equal(res.json().code, "unauthorized");
  }
  // From the 4th failure the answer waits 100 ms, then 200 ms.
  assert.ok((elapsed[3] ?? 0) >= 90, "the 4th failure is answered slowly");
  assert.ok((elapsed[4] ?? 0) >= 190, "the 5th more slowly");

  const locked = await from(app, ATTACKER, BOOTSTRAP_KEY);
  assert.equal(locked.statusCode, 429, "a correct key from a locked address");
  assert.equal(locked.json().code, "auth_locked");
  assert.equal(locked.headers["retry-after"], "900");
  assert.equal((await from(app, CLINIC, BOOTSTRAP_KEY)).statusCode, 200, "another address");
  // No credentials do not count, and are refused before the lock.
  assert.equal((await app.api.inject({ url: "/v1/messages", remoteAddress: CLINIC })).statusCode, 401);

  clock.advance(600_000);
  const still = await from(app, ATTACKER, BOOTSTRAP_KEY);
  assert.equal(still.statusCode, 429);
  assert.equal(still.headers["retry-after"], "300");
  clock.advance(300_000);
  assert.equal((await from(app, ATTACKER, BOOTSTRAP_KEY)).statusCode, 200, "after the lockout");
});

test("the OAuth endpoint counts failures and answers a locked address 429", async (t) => {
  const { app } = await startTestApp(t, { worker: false, env });
  const basic = `Basic ${Buffer.from(`key_01kb2m9x7ad3qz8v4c6n5t1r0w:${WRONG}`).toString("base64")}`;
  const post = (address: string) =>
    app.api.inject({
      method: "POST",
      url: "/oauth/token",
      remoteAddress: address,
      headers: { "content-type": "application/x-www-form-urlencoded", authorization: basic },
      payload: "grant_type=client_credentials",
    });
  for (let i = 0; i < 5; i++) assert.equal((await post(ATTACKER)).statusCode, 401);
  const locked = await post(ATTACKER);
  assert.equal(locked.statusCode, 429);
  assert.ok(Number(locked.headers["retry-after"]) >= 1);
  assert.equal((await from(app, ATTACKER, BOOTSTRAP_KEY)).statusCode, 429, "one lock for every entry point");
});

test("an exempt CIDR is never locked", async (t) => {
  const { app } = await startTestApp(t, {
    worker: false,
    env: { ...env, SEALPOST_AUTH_LOCKOUT_EXEMPT: "192.0.2.0/24" },
  });
  for (let i = 0; i < 7; i++) assert.equal((await from(app, "192.0.2.44", WRONG)).statusCode, 401);
  assert.equal((await from(app, "192.0.2.44", BOOTSTRAP_KEY)).statusCode, 200);
});

test("behind a trusted proxy the X-Forwarded-For client is counted; an untrusted peer's header is not", async (t) => {
  const { app } = await startTestApp(t, {
    worker: false,
    env: { ...env, SEALPOST_TRUSTED_PROXIES: "10.0.0.0/8" },
  });
  const proxy = "10.1.2.3";
  for (let i = 0; i < 5; i++)
    assert.equal((await from(app, proxy, WRONG, { "x-forwarded-for": ATTACKER })).statusCode, 401);
  const locked = await from(app, proxy, BOOTSTRAP_KEY, { "x-forwarded-for": ATTACKER });
  assert.equal(locked.statusCode, 429, "the client behind the proxy is locked");
  assert.equal(
    (await from(app, proxy, BOOTSTRAP_KEY, { "x-forwarded-for": CLINIC })).statusCode,
    200,
    "another client behind the same proxy is not",
  );
  // A peer that is not a trusted proxy cannot choose its address.
  for (let i = 0; i < 5; i++)
    assert.equal(
      (await from(app, "203.0.113.99", WRONG, { "x-forwarded-for": `198.51.100.${i}` })).statusCode,
      401,
    );
  const spoofed = await from(app, "203.0.113.99", BOOTSTRAP_KEY, { "x-forwarded-for": "198.51.100.200" });
  assert.equal(spoofed.statusCode, 429);
});
