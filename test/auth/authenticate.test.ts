/**
 * The authenticator (ADR 0008 §4) on the suite's store with a real Admission: every
 * method (token, Basic, HMAC, JWT), the key's state, the order of the checks, failure
 * counting and lockout, and the rate-limit charge.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { RetryAfterError } from "../../src/auth/authenticate.ts";
import {
  contentDigestHeader,
  deriveSigningKey,
  type HmacCredentials,
  signRequest,
} from "../../src/auth/hmac.ts";
import { operatorGrantor, rotateKey } from "../../src/auth/keys.ts";
import { hashToken, secretBinding } from "../../src/auth/tokens.ts";
import type { SignedRequest } from "../../src/auth/types.ts";
import { codeOf, keyFixture } from "./key-fixture.ts";

const REQUEST: SignedRequest = {
  method: "POST",
  url: "/v1/messages?x=1",
  contentDigest: contentDigestHeader(Buffer.from('{"a":1}')),
};

function signed(token: string, keyId: string, nowMs: number, request = REQUEST): HmacCredentials {
  const c: HmacCredentials = {
    kind: "hmac",
    keyId,
    timestamp: Math.floor(nowMs / 1000),
    nonce: randomBytes(12).toString("base64url"),
    signature: "",
  };
  return { ...c, signature: signRequest(deriveSigningKey(token), c, request) };
}

test("Bearer token: the principal of the key, and the charge of its buckets", async (t) => {
  const f = await keyFixture(t);
  const { key, token } = await f.make({ senderDomains: ["clinic.example"] });
  const { principal, charge } = await f.auth({ kind: "token", token });
  assert.deepEqual(principal, {
    orgId: f.orgA.orgId,
    keyId: key.id,
    mode: "live",
    scopes: ["messages:send", "messages:read", "keys:manage"],
    senderDomains: ["clinic.example"],
    method: "bearer",
  });
  assert.equal(charge.allowed, true);
  assert.deepEqual(charge.buckets.map((b) => b.name).sort(), ["key", "org"]);
  const smtp = await f.auth({ kind: "token", token }, { method: "smtp" });
  assert.equal(smtp.principal.method, "smtp");
  // One character changed (to another one: a token may end in x).
  const wrong = `${token.slice(0, -1)}${token.endsWith("x") ? "y" : "x"}`;
  assert.equal(await codeOf(f.auth({ kind: "token", token: wrong })), "unauthorized");
  assert.equal(await codeOf(f.auth({ kind: "token", token: "sp_live_short" })), "unauthorized");
  assert.equal(await codeOf(f.auth({ kind: "none" })), "unauthorized");
  assert.equal(
    await codeOf(f.auth({ kind: "malformed", code: "signature_malformed" })),
    "signature_malformed",
  );
});

test("Basic: the user is the key id, and a new-format token must carry the same id", async (t) => {
  const f = await keyFixture(t);
  const a = await f.make();
  const b = await f.make();
  const ok = await f.auth({ kind: "basic", keyId: a.key.id, token: a.token });
  assert.equal(ok.principal.keyId, a.key.id);
  assert.equal(ok.principal.method, "basic");
  assert.equal(await codeOf(f.auth({ kind: "basic", keyId: b.key.id, token: a.token })), "unauthorized");
  assert.equal(await codeOf(f.auth({ kind: "basic", keyId: "apikey", token: a.token })), "unauthorized");
});

test("HMAC: current and previous signing keys, and each refusal in the order of the ADR", async (t) => {
  const f = await keyFixture(t);
  const { key, token } = await f.make();
  const now = f.clock.now();
  const creds = signed(token, key.id, now);
  const ok = await f.auth(creds, { method: "hmac", request: REQUEST });
  assert.equal(ok.principal.method, "hmac");
  assert.equal(await codeOf(f.auth(creds, { method: "hmac", request: REQUEST })), "nonce_reused");
  const tampered = { ...REQUEST, url: "/v1/messages?x=2" };
  assert.equal(
    await codeOf(f.auth(signed(token, key.id, now), { method: "hmac", request: tampered })),
    "signature_mismatch",
  );
  assert.equal(
    await codeOf(f.auth(signed(token, key.id, now - 301_000), { method: "hmac", request: REQUEST })),
    "signature_expired",
  );
  assert.equal(
    await codeOf(f.auth(signed(token, key.id, now + 301_000), { method: "hmac", request: REQUEST })),
    "signature_expired",
    "the window is ±300 s",
  );
  assert.equal(
    (await f.auth(signed(token, key.id, now - 299_000), { method: "hmac", request: REQUEST })).principal
      .keyId,
    key.id,
  );
  const unknown = "key_01kb2m9x7ad3qz8v4c6n5t1r0w";
  assert.equal(
    await codeOf(f.auth(signed(token, unknown, now), { method: "hmac", request: REQUEST })),
    "unauthorized",
  );

  const rotated = await rotateKey(f.keys, f.orgA, operatorGrantor("cli"), key.id, { overlapSeconds: 60 });
  assert.equal(
    (await f.auth(signed(token, key.id, f.clock.now()), { method: "hmac", request: REQUEST })).principal
      .keyId,
    key.id,
    "the previous k_sign inside the overlap",
  );
  assert.equal(
    (await f.auth(signed(rotated.token, key.id, f.clock.now()), { method: "hmac", request: REQUEST }))
      .principal.keyId,
    key.id,
  );
  f.clock.advance(60_000);
  assert.equal(
    await codeOf(f.auth(signed(token, key.id, f.clock.now()), { method: "hmac", request: REQUEST })),
    "signature_mismatch",
    "not after it",
  );
  await f.db.kysely
    .updateTable("api_keys")
    .set({ revoked_at: f.clock.now() })
    .where("id", "=", key.id)
    .execute();
  assert.equal(
    await codeOf(f.auth(signed(token, key.id, f.clock.now()), { method: "hmac", request: REQUEST })),
    "signature_mismatch",
    "a revoked key's state is told only to a valid signature",
  );
  assert.equal(
    await codeOf(f.auth(signed(rotated.token, key.id, f.clock.now()), { method: "hmac", request: REQUEST })),
    "key_revoked",
  );
});

test("JWT: verified, then the key row read now; scopes are the token's within the key's", async (t) => {
  const f = await keyFixture(t);
  const { key, token } = await f.make();
  const kh = secretBinding(hashToken(f.keys.pepper, token));
  const { token: jwt } = await f.jwt.sign({
    sub: key.id,
    org: f.orgA.orgId,
    mode: "live",
    scope: "messages:send admin",
    kh,
  });
  const { principal } = await f.auth({ kind: "jwt", jwt });
  assert.equal(principal.method, "oauth");
  assert.deepEqual(principal.scopes, ["messages:send"], "admin is not the key's");
  const forged = `${jwt.slice(0, jwt.lastIndexOf(".") + 1)}${Buffer.alloc(64).toString("base64url")}`;
  assert.equal(await codeOf(f.auth({ kind: "jwt", jwt: forged })), "unauthorized");
  const otherOrg = await f.jwt.sign({
    sub: key.id,
    org: f.orgB.orgId,
    mode: "live",
    scope: "messages:send",
    kh,
  });
  assert.equal(await codeOf(f.auth({ kind: "jwt", jwt: otherOrg.token })), "unauthorized");
  const noOauth = await f.make({ authMethods: ["bearer"] });
  const blocked = await f.jwt.sign({
    sub: noOauth.key.id,
    org: f.orgA.orgId,
    mode: "live",
    scope: "messages:send",
    kh: secretBinding(hashToken(f.keys.pepper, noOauth.token)),
  });
  assert.equal(await codeOf(f.auth({ kind: "jwt", jwt: blocked.token })), "auth_method_not_allowed");
  await f.db.kysely
    .updateTable("api_keys")
    .set({ revoked_at: f.clock.now() })
    .where("id", "=", key.id)
    .execute();
  assert.equal(await codeOf(f.auth({ kind: "jwt", jwt })), "key_revoked", "revocation holds at once");
  f.clock.advance(900_000);
  const address = "203.0.113.50";
  for (let i = 0; i < 12; i++)
    assert.equal(await codeOf(f.auth({ kind: "jwt", jwt }, { address })), "token_expired");
  assert.equal(
    await f.admission.lockedUntil(address, f.clock.now()),
    null,
    "an expired token is not a guess",
  );
});

test("key state: method and address allowlists answer 403 and do not count", async (t) => {
  const f = await keyFixture(t, { maxFailures: 3 });
  const hmacOnly = await f.make({ authMethods: ["hmac", "basic"] });
  const inner = "192.0.2.7";
  for (let i = 0; i < 5; i++)
    assert.equal(
      await codeOf(f.auth({ kind: "token", token: hmacOnly.token }, { address: inner })),
      "auth_method_not_allowed",
    );
  assert.equal(
    (await f.auth({ kind: "basic", keyId: hmacOnly.key.id, token: hmacOnly.token }, { address: inner }))
      .principal.method,
    "basic",
  );
  const fenced = await f.make({ allowedIps: ["192.0.2.0/24", "2001:db8::/32"] });
  for (const address of [inner, "::ffff:192.0.2.9", "2001:db8::1"])
    assert.equal(
      (await f.auth({ kind: "token", token: fenced.token }, { address })).principal.keyId,
      fenced.key.id,
    );
  for (let i = 0; i < 5; i++)
    assert.equal(
      await codeOf(f.auth({ kind: "token", token: fenced.token }, { address: "203.0.113.9" })),
      "ip_not_allowed",
    );
  assert.equal(await f.admission.lockedUntil("203.0.113.9", f.clock.now()), null);
  assert.equal(await f.admission.lockedUntil(inner, f.clock.now()), null);
});

test("failures lock the source out, even for a correct key; other sources are unaffected", async (t) => {
  const f = await keyFixture(t, { maxFailures: 3 });
  const { token } = await f.make();
  const attacker = "203.0.113.7";
  for (let i = 0; i < 10; i++)
    assert.equal(await codeOf(f.auth({ kind: "none" }, { address: attacker })), "unauthorized");
  assert.equal(await f.admission.lockedUntil(attacker, f.clock.now()), null, "no credentials: not counted");
  for (let i = 0; i < 3; i++)
    assert.equal(
      await codeOf(f.auth({ kind: "token", token: `${token}x` }, { address: attacker })),
      "unauthorized",
    );
  const locked = await f.auth({ kind: "token", token }, { address: attacker }).catch((e: unknown) => e);
  assert.ok(locked instanceof RetryAfterError);
  assert.equal(locked.code, "auth_locked");
  assert.equal(locked.status, 429);
  assert.equal(locked.retryAfterSeconds, 900);
  assert.equal((await f.auth({ kind: "token", token }, { address: "198.51.100.9" })).principal.mode, "live");
  f.clock.advance(900_000);
  assert.equal((await f.auth({ kind: "token", token }, { address: attacker })).principal.mode, "live");
});

test("rate limits: the key's own, else the default; the org's own, else the default", async (t) => {
  const f = await keyFixture(t, {
    limits: { key: { quota: 2, windowMs: 1000 }, org: { quota: 1000, windowMs: 1000 } },
  });
  const plain = await f.make();
  const results = [];
  for (let i = 0; i < 3; i++)
    results.push((await f.auth({ kind: "token", token: plain.token })).charge.allowed);
  assert.deepEqual(results, [true, true, false]);
  const refused = await f.auth({ kind: "token", token: plain.token });
  assert.ok(refused.charge.retryAfterMs > 0);
  const own = await f.make({ rateLimit: "5/m" });
  const own5 = [];
  for (let i = 0; i < 6; i++) own5.push((await f.auth({ kind: "token", token: own.token })).charge.allowed);
  assert.deepEqual(own5, [true, true, true, true, true, false]);
  const off = await f.make({ rateLimit: "off" });
  for (let i = 0; i < 5; i++)
    assert.equal((await f.auth({ kind: "token", token: off.token })).charge.allowed, true);
  await f.db.kysely.updateTable("orgs").set({ rate_limit: "1/h" }).where("id", "=", f.orgB.orgId).execute();
  const b1 = await f.make({ rateLimit: "off" }, f.orgB);
  const b2 = await f.make({ rateLimit: "off" }, f.orgB);
  assert.equal((await f.auth({ kind: "token", token: b1.token })).charge.allowed, true);
  const second = await f.auth({ kind: "token", token: b2.token });
  assert.equal(second.charge.allowed, false, "the org bucket is shared by its keys");
  assert.deepEqual(
    second.charge.buckets.map((b) => b.name),
    ["org"],
  );
});

test("JWT: a token minted with a secret that is rotated out dies with it", async (t) => {
  const f = await keyFixture(t);
  const { key, token } = await f.make();
  const mint = (secret: string) =>
    f.jwt.sign({
      sub: key.id,
      org: f.orgA.orgId,
      mode: "live",
      scope: "messages:send",
      kh: secretBinding(hashToken(f.keys.pepper, secret)),
    });
  const before = (await mint(token)).token;
  assert.equal((await f.auth({ kind: "jwt", jwt: before })).principal.keyId, key.id);
  // With an overlap the old secret, and tokens minted with it, work until the overlap ends.
  const rotated = await rotateKey(f.keys, f.orgA, operatorGrantor("cli"), key.id, { overlapSeconds: 60 });
  assert.equal((await f.auth({ kind: "jwt", jwt: before })).principal.keyId, key.id);
  f.clock.advance(61_000);
  assert.equal(await codeOf(f.auth({ kind: "jwt", jwt: before })), "unauthorized");
  const after = (await mint(rotated.token)).token;
  assert.equal((await f.auth({ kind: "jwt", jwt: after })).principal.keyId, key.id);
  // Without an overlap (a leaked token): at once.
  await rotateKey(f.keys, f.orgA, operatorGrantor("cli"), key.id, { overlapSeconds: 0 });
  assert.equal(await codeOf(f.auth({ kind: "jwt", jwt: after })), "unauthorized");
});
