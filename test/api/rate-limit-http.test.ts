/**
 * Rate limits over HTTP (ADR 0008 §5): GCRA per key and per org, the RateLimit and
 * RateLimit-Policy headers (draft-ietf-httpapi-ratelimit-headers) on every authenticated
 * answer, and the exact 429 with Retry-After, on a fake clock.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ManualClock } from "../../src/core/clock.ts";
import type { Sealpost } from "../../src/main.ts";
import { auth, BOOTSTRAP_KEY, startTestApp } from "../helpers/app.ts";

function list(app: Sealpost, token: string) {
  return app.api.inject({ url: "/v1/messages", headers: auth(token) });
}

function headersOf(res: { headers: Record<string, unknown> }) {
  return {
    policy: res.headers["ratelimit-policy"],
    state: res.headers.ratelimit,
    retryAfter: res.headers["retry-after"],
  };
}

test("a key's own limit: the headers count down, then an exact 429 until the bucket drips", async (t) => {
  const clock = new ManualClock();
  const { app } = await startTestApp(t, {
    worker: false,
    clock,
    env: { SEALPOST_RATE_LIMIT_KEY: "100000/s", SEALPOST_RATE_LIMIT_ORG: "off" },
  });
  const created = await app.api.inject({
    method: "POST",
    url: "/v1/api-keys",
    headers: auth(BOOTSTRAP_KEY),
    payload: { scopes: ["messages:read"], rate_limit: "3/m" },
  });
  assert.equal(created.statusCode, 201);
  assert.equal(created.headers["ratelimit-policy"], '"key";q=100000;w=1', "the default key limit");
  const k: string = created.json().key;

  // T = 60 s / 3 = 20 s; a burst of 3.
  for (const [r, t] of [
    [2, 20],
    [1, 40],
    [0, 60],
  ]) {
    const res = await list(app, k);
    assert.equal(res.statusCode, 200);
    assert.deepEqual(headersOf(res), {
      policy: '"key";q=3;w=60',
      state: `"key";r=${r};t=${t}`,
      retryAfter: undefined,
    });
  }
  const refused = await list(app, k);
  assert.equal(refused.statusCode, 429);
  assert.equal(refused.json().code, "rate_limited");
  assert.deepEqual(headersOf(refused), {
    policy: '"key";q=3;w=60',
    state: '"key";r=0;t=60',
    retryAfter: "20",
  });

  clock.advance(19_000);
  const early = await list(app, k);
  assert.equal(early.statusCode, 429);
  assert.equal(early.headers["retry-after"], "1");
  clock.advance(1_000);
  const again = await list(app, k);
  assert.equal(again.statusCode, 200);
  assert.equal(again.headers.ratelimit, '"key";r=0;t=60');

  // Another key of the same org has its own bucket.
  const other = await app.api.inject({
    method: "POST",
    url: "/v1/api-keys",
    headers: auth(BOOTSTRAP_KEY),
    payload: { scopes: ["messages:read"], rate_limit: "3/m" },
  });
  assert.equal((await list(app, other.json().key)).statusCode, 200);
});

test("the org bucket is shared by the org's keys; an org's own limit overrides the default", async (t) => {
  const clock = new ManualClock();
  const { app, key } = await startTestApp(t, {
    worker: false,
    clock,
    env: { SEALPOST_RATE_LIMIT_KEY: "off", SEALPOST_RATE_LIMIT_ORG: "4/m" },
  });
  const k1 = await key(["messages:read"]);
  const k2 = await key(["messages:read"]);
  // T = 15 s.
  for (const [i, token] of [k1, k2, k1, k2].entries()) {
    const res = await list(app, token);
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers["ratelimit-policy"], '"org";q=4;w=60');
    assert.equal(res.headers.ratelimit, `"org";r=${3 - i};t=${15 * (i + 1)}`);
  }
  const refused = await list(app, k1);
  assert.equal(refused.statusCode, 429);
  assert.equal(refused.headers["retry-after"], "15");
  assert.equal(refused.headers.ratelimit, '"org";r=0;t=60');

  // Paubox routes refuse in Paubox's shape, with the same headers.
  const paubox = await app.api.inject({
    url: "/paubox/v1/message_receipt?sourceTrackingId=x",
    headers: { authorization: `Token token=${k2}` },
  });
  assert.equal(paubox.statusCode, 429);
  assert.equal(paubox.json().errors[0].code, 429);
  assert.equal(paubox.headers["retry-after"], "15");

  // An org made with its own limit.
  const adminKey = await key(["instance:admin"]);
  clock.advance(60_000);
  const made = await app.api.inject({
    method: "POST",
    url: "/v1/admin/orgs",
    headers: auth(adminKey),
    payload: { name: "small-clinic", rate_limit: "2/h", admin_key: true },
  });
  assert.equal(made.statusCode, 201, made.body);
  const theirs: string = made.json().admin_key.key;
  for (const r of [1, 0]) {
    const res = await list(app, theirs);
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers["ratelimit-policy"], '"org";q=2;w=3600');
    assert.match(String(res.headers.ratelimit), new RegExp(`^"org";r=${r};`));
  }
  assert.equal((await list(app, theirs)).statusCode, 429);
  assert.equal((await list(app, k1)).statusCode, 200, "the default org is not affected");
});

test("unauthenticated requests are not charged and get no rate-limit headers", async (t) => {
  const { app } = await startTestApp(t, {
    worker: false,
    env: { SEALPOST_RATE_LIMIT_KEY: "1/h", SEALPOST_RATE_LIMIT_ORG: "off" },
  });
  const res = await app.api.inject({ url: "/v1/messages" });
  assert.equal(res.statusCode, 401);
  assert.equal(res.headers.ratelimit, undefined);
  assert.equal((await list(app, BOOTSTRAP_KEY)).statusCode, 200);
  assert.equal((await list(app, BOOTSTRAP_KEY)).statusCode, 429);
  const health = await app.api.inject({ url: "/healthz" });
  assert.equal(health.statusCode, 200, "public routes are not limited");
});
