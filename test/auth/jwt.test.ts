/**
 * OAuth access tokens (ADR 0008 §4): RFC 9068 ES256 JWTs signed and verified with
 * node:crypto, checked by the independent `jose` library, pinned against header and claim
 * tampering, expiring on a fake clock, and surviving a signing-key rotation. Runs on the
 * suite's store.
 */
import assert from "node:assert/strict";
import {
  createHmac,
  createPrivateKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
  sign,
} from "node:crypto";
import { type TestContext, test } from "node:test";
import { createLocalJWKSet, jwtVerify } from "jose";
import { unwrapInstanceKey } from "../../src/auth/instance-keys.ts";
import { type AccessClaims, JwtKeys } from "../../src/auth/jwt.ts";
import { ManualClock } from "../../src/core/clock.ts";
import { localKeyWrapper } from "../../src/crypto/key-provider.ts";
import { masterKeyId } from "../../src/crypto/master-key.ts";
import type { Db } from "../../src/store/db.ts";
import { findActiveInstanceKey } from "../../src/store/instance-keys.ts";
import { freshDatabase } from "./db.ts";

const ISSUER = "https://mail.example.test";
const TTL = 900;
const SUBJECT = {
  sub: "key_01kb2m9x7ad3qz8v4c6n5t1r0w",
  org: "org_01kb2m9x7ad3qz8v4c6n5t1r0x",
  mode: "live",
  kh: "binding-of-the-secret",
} as const;
const masterKey = randomBytes(32);
const wrapper = localKeyWrapper({ key: masterKey, keyId: masterKeyId(masterKey) });

async function setup(t: TestContext) {
  const open = await freshDatabase(t);
  const clock = new ManualClock();
  const db = open();
  const node = (handle: Db = db, c: ManualClock = clock) => {
    const keys = new JwtKeys({ db: handle, wrapper, clock: c, issuer: ISSUER, ttlSeconds: TTL });
    t.after(() => keys.close());
    return keys;
  };
  const keys = node();
  await keys.init();
  return { open, db, clock, keys, node };
}

function decode(segment: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(segment, "base64url").toString("utf8")) as Record<string, unknown>;
}

function parts(token: string): [Record<string, unknown>, AccessClaims] {
  const [h = "", p = ""] = token.split(".");
  return [decode(h), decode(p) as unknown as AccessClaims];
}

const enc = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

/** Signs arbitrary header and claims with a real key, to show that only the checks refuse them. */
function forge(key: KeyObject, header: object, claims: object): string {
  const input = `${enc(header)}.${enc(claims)}`;
  const sig = sign("sha256", Buffer.from(input), { key, dsaEncoding: "ieee-p1363" });
  return `${input}.${sig.toString("base64url")}`;
}

/** The active signing key, unwrapped the way an attacker with the master key could. */
async function activePrivateKey(db: Db): Promise<KeyObject> {
  const row = await findActiveInstanceKey(db, "jwt_es256");
  assert.ok(row !== undefined && row.public_jwk !== null);
  const d = (await unwrapInstanceKey(wrapper, row)).toString("base64url");
  return createPrivateKey({ key: { ...JSON.parse(row.public_jwk), d }, format: "jwk" });
}

test("a signed token has the RFC 9068 header and claims and verifies", async (t) => {
  const { keys, clock } = await setup(t);
  const { token, expiresIn } = await keys.sign({ ...SUBJECT, scope: "messages:send messages:read" });
  assert.equal(expiresIn, TTL);
  assert.match(token, /^eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{86}$/);
  const [header, claims] = parts(token);
  const { keys: jwks } = await keys.jwks();
  assert.equal(jwks.length, 1);
  const kid = (jwks[0] as { kid: string }).kid;
  assert.match(kid, /^ikey_[0-9a-hjkmnp-tv-z]{26}$/);
  assert.deepEqual(header, { alg: "ES256", typ: "at+jwt", kid });
  const iat = Math.floor(clock.now() / 1000);
  assert.deepEqual(
    { ...claims, jti: "" },
    {
      iss: ISSUER,
      aud: ISSUER,
      sub: SUBJECT.sub,
      client_id: SUBJECT.sub,
      org: SUBJECT.org,
      mode: "live",
      scope: "messages:send messages:read",
      kh: SUBJECT.kh,
      iat,
      exp: iat + TTL,
      jti: "",
    },
  );
  assert.equal(Buffer.from(claims.jti, "base64url").length, 16, "a 128-bit jti");
  assert.notEqual(parts((await keys.sign({ ...SUBJECT, scope: "" })).token)[1].jti, claims.jti);
  assert.deepEqual(await keys.verify(token), { ok: true, claims });
});

test("the independent jose library verifies our token against our JWKS", async (t) => {
  const { keys, clock } = await setup(t);
  const { token } = await keys.sign({ ...SUBJECT, mode: "test", scope: "messages:send" });
  const jwks = await keys.jwks();
  for (const jwk of jwks.keys) {
    assert.deepEqual(Object.keys(jwk).sort(), ["alg", "crv", "kid", "kty", "use", "x", "y"]);
    assert.equal("d" in jwk, false, "no private part is published");
  }
  const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(jwks as never), {
    issuer: ISSUER,
    audience: ISSUER,
    algorithms: ["ES256"],
    typ: "at+jwt",
    currentDate: new Date(clock.now()),
  });
  assert.equal(protectedHeader.alg, "ES256");
  assert.equal(payload.sub, SUBJECT.sub);
  assert.equal(payload.mode, "test");
});

test("a token works until exp and is token_expired from exp on", async (t) => {
  const { keys, clock } = await setup(t);
  clock.advance(123);
  const { token } = await keys.sign({ ...SUBJECT, scope: "messages:send" });
  const exp = parts(token)[1].exp * 1000;
  clock.set(exp - 1000);
  assert.equal((await keys.verify(token)).ok, true);
  clock.set(exp - 1);
  assert.equal((await keys.verify(token)).ok, true);
  clock.set(exp);
  assert.deepEqual(await keys.verify(token), { ok: false, code: "token_expired" });
});

test("a token issued more than 60 s in the future is refused", async (t) => {
  const { keys, clock, db, node } = await setup(t);
  const ahead = new ManualClock(clock.now() + 61_000);
  const { token } = await node(db, ahead).sign({ ...SUBJECT, scope: "x" });
  assert.deepEqual(await keys.verify(token), { ok: false, code: "unauthorized" });
  const slightlyAhead = new ManualClock(clock.now() + 60_000);
  assert.equal(
    (await keys.verify((await node(db, slightlyAhead).sign({ ...SUBJECT, scope: "x" })).token)).ok,
    true,
  );
});

test("wrong alg, typ, kid, iss, aud or any other defect is unauthorized", async (t) => {
  const { keys, db } = await setup(t);
  const { token } = await keys.sign({ ...SUBJECT, scope: "messages:send" });
  const [header, claims] = parts(token);
  const key = await activePrivateKey(db);
  assert.equal((await keys.verify(forge(key, header, claims))).ok, true, "the forge helper itself is sound");

  const [h, p, s] = token.split(".");
  const otherKey = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
  const publicJwk = (await keys.jwks()).keys[0];
  const hsInput = `${enc({ ...header, alg: "HS256" })}.${p}`;
  const hs256 = `${hsInput}.${createHmac("sha256", JSON.stringify(publicJwk)).update(hsInput).digest("base64url")}`;
  const expired = { ...claims, exp: claims.iat - 1 };

  const bad: [string, string][] = [
    ["alg ES384", forge(key, { ...header, alg: "ES384" }, claims)],
    ["alg none", `${enc({ ...header, alg: "none" })}.${p}.`],
    ["alg none, signature kept", `${enc({ ...header, alg: "none" })}.${p}.${s}`],
    ["alg HS256 keyed with the public key", hs256],
    ["typ JWT", forge(key, { ...header, typ: "JWT" }, claims)],
    ["typ application/at+jwt", forge(key, { ...header, typ: "application/at+jwt" }, claims)],
    ["no typ", forge(key, { alg: "ES256", kid: header.kid }, claims)],
    ["unknown kid", forge(key, { ...header, kid: "ikey_01kb2m9x7ad3qz8v4c6n5t1r0w" }, claims)],
    ["no kid", forge(key, { alg: "ES256", typ: "at+jwt" }, claims)],
    ["extra header member", forge(key, { ...header, jku: "https://evil.example/jwks" }, claims)],
    ["crit header", forge(key, { ...header, crit: ["exp"] }, claims)],
    ["another key under our kid", forge(otherKey, header, claims)],
    ["wrong iss", forge(key, header, { ...claims, iss: "https://other.example" })],
    ["iss with a trailing slash", forge(key, header, { ...claims, iss: `${ISSUER}/` })],
    ["wrong aud", forge(key, header, { ...claims, aud: "https://other.example" })],
    ["aud as an array", forge(key, header, { ...claims, aud: [ISSUER] })],
    ["client_id not sub", forge(key, header, { ...claims, client_id: "key_other" })],
    ["bad mode", forge(key, header, { ...claims, mode: "admin" })],
    ["scope not a string", forge(key, header, { ...claims, scope: ["messages:send"] })],
    ["exp as a string", forge(key, header, { ...claims, exp: String(claims.exp) })],
    ["expired with a wrong iss", forge(key, header, { ...expired, iss: "https://other.example" })],
    ["payload changed", `${h}.${enc({ ...claims, scope: "admin" })}.${s}`],
    ["signature changed", `${h}.${p}.${(s ?? "").slice(0, -2)}AA`],
    [
      "signature DER-encoded",
      `${h}.${p}.${sign("sha256", Buffer.from(`${h}.${p}`), key).toString("base64url")}`,
    ],
    ["two segments", `${h}.${p}`],
    ["four segments", `${token}.${s}`],
    ["padding", `${h}.${p}.${s}=`],
    ["empty", ""],
    ["not JSON", `${enc("x").slice(0, 2)}x.${p}.${s}`],
    ["header an array", forge(key, [header] as never, claims)],
  ];
  for (const [what, jwt] of bad)
    assert.deepEqual(await keys.verify(jwt), { ok: false, code: "unauthorized" }, what);
  assert.deepEqual(await keys.verify(forge(key, header, expired)), { ok: false, code: "token_expired" });
});

test("rotation: a new kid signs, the old kid verifies for ttl + 300 s, then leaves the JWKS", async (t) => {
  const { keys, clock } = await setup(t);
  const before = await keys.sign({ ...SUBJECT, scope: "messages:send" });
  const oldKid = parts(before.token)[0].kid;
  clock.advance(1000);
  const { kid: newKid } = await keys.rotate();
  assert.notEqual(newKid, oldKid);
  const after = await keys.sign({ ...SUBJECT, scope: "messages:send" });
  assert.equal(parts(after.token)[0].kid, newKid);
  assert.equal((await keys.verify(before.token)).ok, true, "the old key still verifies");
  assert.equal((await keys.verify(after.token)).ok, true);

  const kids = async () => (await keys.jwks()).keys.map((k) => (k as { kid: string }).kid);
  assert.deepEqual(await kids(), [newKid, oldKid]);
  const jwks = createLocalJWKSet((await keys.jwks()) as never);
  const options = { issuer: ISSUER, audience: ISSUER, currentDate: new Date(clock.now()) };
  await jwtVerify(before.token, jwks, options);
  await jwtVerify(after.token, jwks, options);

  clock.advance((TTL + 300) * 1000 - 1);
  assert.deepEqual(await kids(), [newKid, oldKid], "still published just inside ttl + 300 s");
  clock.advance(1);
  assert.deepEqual(await kids(), [newKid], "gone at ttl + 300 s");
});

test("another node learns a rotated key on an unknown kid, reloading at most every 10 s", async (t) => {
  const { keys, clock, open, node } = await setup(t);
  const other = node(open());
  await other.init();
  const first = await other.sign({ ...SUBJECT, scope: "x" });
  assert.equal((await keys.verify(first.token)).ok, true);

  await keys.rotate();
  const second = await keys.sign({ ...SUBJECT, scope: "x" });
  assert.equal((await other.verify(second.token)).ok, true, "reloaded on the unknown kid");

  await keys.rotate();
  const third = await keys.sign({ ...SUBJECT, scope: "x" });
  clock.advance(9_999);
  assert.deepEqual(
    await other.verify(third.token),
    { ok: false, code: "unauthorized" },
    "within 10 s: no reload",
  );
  clock.advance(1);
  assert.equal((await other.verify(third.token)).ok, true, "after 10 s it reloads");
  assert.equal((await other.verify(first.token)).ok, true, "the retired keys still verify");
});

test("nodes starting together create one signing key", async (t) => {
  const open = await freshDatabase(t);
  const clock = new ManualClock();
  const nodes = [open(), open(), open()].map(
    (db) => new JwtKeys({ db, wrapper, clock, issuer: ISSUER, ttlSeconds: TTL }),
  );
  t.after(() => {
    for (const n of nodes) n.close();
  });
  await Promise.all(nodes.map((n) => n.init()));
  const tokens = await Promise.all(nodes.map((n) => n.sign({ ...SUBJECT, scope: "x" })));
  const kids = new Set(tokens.map(({ token }) => parts(token)[0].kid));
  assert.equal(kids.size, 1);
  const [first] = nodes;
  assert.ok(first !== undefined);
  assert.equal((await first.jwks()).keys.length, 1);
  for (const { token } of tokens) for (const n of nodes) assert.equal((await n.verify(token)).ok, true);
});

test("a node with another master key cannot load the signing key", async (t) => {
  const { db, clock } = await setup(t);
  const other = randomBytes(32);
  const keys = new JwtKeys({
    db,
    wrapper: localKeyWrapper({ key: other, keyId: masterKeyId(other) }),
    clock,
    issuer: ISSUER,
    ttlSeconds: TTL,
  });
  t.after(() => keys.close());
  await assert.rejects(keys.init());
});
