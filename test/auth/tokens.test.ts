/**
 * Token format (ADR 0008 §2), the hash at rest, and the parsing of Authorization headers
 * (§4 step 1). Pure functions: no store.
 */
import assert from "node:assert/strict";
import { createHash, createHmac, randomBytes } from "node:crypto";
import { test } from "node:test";
import { parseCredentials } from "../../src/auth/credentials.ts";
import {
  hashesEqual,
  hashToken,
  legacyHashToken,
  newToken,
  parseToken,
  randomBase62,
  TOKEN_RE,
  tokenFor,
} from "../../src/auth/tokens.ts";

test("a new token is sp_<mode>_<the key's ULID>_<43 base62> and parses back to its key id", () => {
  for (const mode of ["live", "test"] as const) {
    const { id, token } = newToken(mode, Date.UTC(2026, 0, 1));
    assert.match(id, /^key_[0-9a-hjkmnp-tv-z]{26}$/);
    assert.match(token, TOKEN_RE);
    assert.equal(token.length, `sp_${mode}_`.length + 26 + 1 + 43);
    assert.ok(token.startsWith(`sp_${mode}_${id.slice(4)}_`));
    assert.deepEqual(parseToken(token), { mode, keyId: id });
  }
  const { id, token } = newToken("live", Date.now());
  const rotated = tokenFor("live", id);
  assert.notEqual(rotated, token, "a rotation draws a new secret");
  assert.equal(parseToken(rotated)?.keyId, id, "for the same key id");
});

test("parseToken refuses everything but the exact format", () => {
  const { token } = newToken("live", Date.now());
  const ulid = token.slice(8, 34);
  const secret = token.slice(35);
  for (const bad of [
    `sp_prod_${ulid}_${secret}`,
    `sp_live_${ulid.toUpperCase()}_${secret}`,
    `sp_live_${ulid}_${secret.slice(1)}`,
    `sp_live_${ulid}_${secret}x`,
    `sp_live_${ulid.slice(0, 25)}u_${secret}`, // u is not Crockford base32
    `sp_live_${ulid}_${secret.slice(1)}-`,
    `sp_live_${secret}`, // the old format
    `${token} `,
    "test-bootstrap-key-0123456789abcdefghijklmnopqrstuv",
  ])
    assert.equal(parseToken(bad), null, bad);
});

test("the secret is unbiased: bytes ≥ 248 are drawn again, the rest map evenly onto 62 characters", () => {
  // A source that yields 0, 1, …, 255, 0, 1, …: one pass gives 248 characters, each exactly 4 times.
  let next = 0;
  const cycle = (size: number) => Buffer.from(Array.from({ length: size }, () => next++ % 256));
  const out = randomBase62(248, cycle);
  const counts = new Map<string, number>();
  for (const c of out) counts.set(c, (counts.get(c) ?? 0) + 1);
  assert.equal(counts.size, 62);
  assert.ok([...counts.values()].every((n) => n === 4));
  // Bytes 248–255 never become characters.
  const high = (size: number) => Buffer.from(Array.from({ length: size }, (_, i) => (i < 8 ? 248 + i : 1)));
  assert.equal(randomBase62(3, high), "111");
  // With real randomness, always exactly 43 characters (≈ 256 bits).
  for (let i = 0; i < 200; i++) assert.match(randomBase62(43), /^[0-9A-Za-z]{43}$/);
});

test("the hash at rest is HMAC-SHA256 keyed by the pepper; legacy rows hold plain SHA-256", () => {
  const pepper = randomBytes(32);
  const { token } = newToken("live", Date.now());
  const keyed = hashToken(pepper, token);
  assert.equal(keyed, createHmac("sha256", pepper).update(token).digest("hex"));
  assert.notEqual(keyed, hashToken(randomBytes(32), token), "another pepper, another hash");
  assert.equal(legacyHashToken(token), createHash("sha256").update(token).digest("hex"));
  assert.ok(!keyed.includes(token));
  assert.equal(hashesEqual(keyed, keyed), true);
  assert.equal(hashesEqual(keyed, legacyHashToken(token)), false);
  assert.equal(hashesEqual(keyed, keyed.slice(1)), false, "different lengths compare unequal, no throw");
});

test("parseCredentials: Bearer token or JWT, Basic, HMAC, Paubox Token, none and malformed", () => {
  const { id, token } = newToken("live", Date.now());
  const malformed = { kind: "malformed", code: "unauthorized" };
  assert.deepEqual(parseCredentials(undefined, "sealpost"), { kind: "none" });
  assert.deepEqual(parseCredentials(`Bearer ${token}`, "sealpost"), { kind: "token", token });
  assert.deepEqual(
    parseCredentials(`bearer  ${token}`, "sealpost"),
    { kind: "token", token },
    "scheme is case-insensitive",
  );
  const jwt = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln";
  assert.deepEqual(parseCredentials(`Bearer ${jwt}`, "sealpost"), { kind: "jwt", jwt });
  assert.deepEqual(
    parseCredentials("Bearer a.b.c", "sealpost"),
    { kind: "token", token: "a.b.c" },
    "not eyJ: a token",
  );
  const basic = Buffer.from(`${id}:${token}`).toString("base64");
  assert.deepEqual(parseCredentials(`Basic ${basic}`, "sealpost"), { kind: "basic", keyId: id, token });
  // The token may itself hold colons (a bootstrap string): only the first colon splits.
  const boot = "boot:strap:key-0123456789abcdefghijklmnop";
  assert.deepEqual(parseCredentials(`Basic ${Buffer.from(`${id}:${boot}`).toString("base64")}`, "sealpost"), {
    kind: "basic",
    keyId: id,
    token: boot,
  });
  const hmac = `SP1-HMAC-SHA256 KeyId=${id}, Timestamp=1767225600, Nonce=n0nce-4f9a2c7e1b3d5a6f, Signature=${"a".repeat(64)}`;
  assert.equal(parseCredentials(hmac, "sealpost").kind, "hmac");
  assert.deepEqual(parseCredentials("SP1-HMAC-SHA256 KeyId=x", "sealpost"), {
    kind: "malformed",
    code: "signature_malformed",
  });
  assert.deepEqual(parseCredentials(`Token token=${token}`, "paubox"), { kind: "token", token });
  assert.deepEqual(parseCredentials(`Token token="${token}"`, "paubox"), { kind: "token", token });
  for (const bad of [
    "",
    "Bearer",
    "Bearer ",
    `Bearer ${token} extra`,
    "Basic !!",
    "Basic abc",
    `Basic ${Buffer.from("no-colon").toString("base64")}`,
    `Basic ${Buffer.from(`:${token}`).toString("base64")}`,
    `Basic ${Buffer.from(`${id}:`).toString("base64")}`,
    `Token token=${token}`, // only on Paubox routes
    `Digest username="x"`,
    `Bearer ${"a".repeat(300)}`,
    `Bearer ${"a".repeat(5000)}`,
  ])
    assert.deepEqual(parseCredentials(bad, "sealpost"), malformed, bad);
  // Paubox also takes `Token <key>` (then an unknown key, refused by authentication).
  assert.deepEqual(parseCredentials("Token nope", "paubox"), { kind: "token", token: "nope" });
  for (const bad of ["Token token=", 'Token token="', "Token", "Token a b"])
    assert.deepEqual(parseCredentials(bad, "paubox"), malformed, bad);
});
