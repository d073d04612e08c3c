/**
 * API keys (ADR 0008 §2) on the suite's store: what is kept at rest, the properties and
 * their validation, the granting rules, listing, revocation, rotation and expiry.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { deriveSigningKey } from "../../src/auth/hmac.ts";
import { signingKeyAad } from "../../src/auth/key-secrets.ts";
import {
  createKey,
  type Grantor,
  getKey,
  listKeys,
  operatorGrantor,
  revokeKey,
  rotateKey,
} from "../../src/auth/keys.ts";
import { hashToken, parseToken } from "../../src/auth/tokens.ts";
import { isSealpostError } from "../../src/core/errors.ts";
import { toBuffer } from "../../src/store/db.ts";
import type { ApiKeysTable } from "../../src/store/schema.ts";
import { codeOf, keyFixture } from "./key-fixture.ts";

async function rowOf(db: import("../../src/store/db.ts").Db, id: string): Promise<ApiKeysTable> {
  return db.kysely.selectFrom("api_keys").selectAll().where("id", "=", id).executeTakeFirstOrThrow();
}

/** Every byte of a row, binary columns as they are, to search for secrets. */
function rowBytes(row: ApiKeysTable): Buffer {
  return Buffer.concat(
    Object.values(row).map((v) =>
      v instanceof Uint8Array ? toBuffer(v) : Buffer.from(v === null ? "" : String(v), "utf8"),
    ),
  );
}

test("create: the token is returned once; the row holds its keyed hash and a sealed signing key only", async (t) => {
  const f = await keyFixture(t);
  const { key, token } = await f.make({ name: "billing", senderDomains: ["Clinic.Example"] });
  assert.equal(parseToken(token)?.keyId, key.id);
  assert.deepEqual(key.sender_domains, ["clinic.example"]);
  assert.equal(key.created_by, "cli");
  assert.ok(!JSON.stringify(key).includes(token), "the view never holds the token");
  assert.ok(!JSON.stringify(key).includes(token.slice(-43)));
  const row = await rowOf(f.db, key.id);
  assert.equal(row.hash_alg, "hmac-sha256");
  assert.equal(row.secret_hash, hashToken(f.keys.pepper, token));
  const kSign = deriveSigningKey(token);
  const bytes = rowBytes(row);
  for (const secret of [
    Buffer.from(token),
    Buffer.from(token.slice(-43)),
    kSign,
    Buffer.from(kSign.toString("hex")),
  ])
    assert.equal(bytes.includes(secret), false, "no token and no k_sign at rest");
  assert.ok(row.signing_key !== null && row.signing_key_by !== null);
  const opened = await f.keyring.openForOrg(
    row.org_id,
    row.signing_key_by,
    row.signing_key,
    signingKeyAad(row.id),
  );
  assert.deepEqual(opened, kSign, "sealed with the org data key under apikey-sign:<id>");
  await assert.rejects(
    f.keyring.openForOrg(row.org_id, row.signing_key_by, row.signing_key, signingKeyAad("key_other")),
    "the AAD binds it to its key",
  );
});

test("properties are validated with coded errors naming the field", async (t) => {
  const f = await keyFixture(t);
  const cases: [Record<string, unknown>, string][] = [
    [{ mode: "prod" }, "mode"],
    [{ scopes: [] }, "scopes"],
    [{ scopes: ["messages:send", "nope"] }, "scopes"],
    [{ mode: "test", scopes: ["messages:send", "domains:manage"] }, "scopes"],
    [{ mode: "test", scopes: ["admin"] }, "scopes"],
    [{ senderDomains: ["*.example.com"] }, "sender_domains"],
    [{ senderDomains: [] }, "sender_domains"],
    [{ allowedIps: ["192.0.2.0/33"] }, "allowed_ips"],
    [{ allowedIps: Array.from({ length: 51 }, (_, i) => `192.0.2.${i}`) }, "allowed_ips"],
    [{ expiresAt: f.clock.now() + 59_000 }, "expires_at"],
    [{ expiresAt: "tomorrow" }, "expires_at"],
    [{ expiresAt: f.clock.now() + 9_999_999_999 * 86_400_000 }, "expires_at"],
    [{ expiresAt: "9999-12-31T00:00:00Z" }, "expires_at"],
    [{ authMethods: ["bearer", "kerberos"] }, "auth_methods"],
    [{ authMethods: [] }, "auth_methods"],
    [{ rateLimit: "100/day" }, "rate_limit"],
    [{ name: "" }, "name"],
  ];
  for (const [input, field] of cases) {
    const err = await f.make(input).then(
      () => null,
      (e: unknown) => e,
    );
    assert.ok(isSealpostError(err), JSON.stringify(input));
    assert.equal(err.code, "invalid_value", field);
    assert.equal(err.field, field);
    assert.equal(err.status, 422);
  }
  const many = await f.make({ mode: "prod", rateLimit: "x" }).catch((e: unknown) => e);
  assert.ok(isSealpostError(many));
  assert.equal(many.code, "validation_failed");
  assert.deepEqual(
    many.issues.map((i) => i.field),
    ["mode", "rate_limit"],
  );
  const ok = await f.make({
    mode: "test",
    scopes: ["messages:send"],
    allowedIps: ["192.0.2.0/24", "2001:db8::/32", "198.51.100.7"],
    expiresAt: new Date(f.clock.now() + 3_600_000).toISOString(),
    authMethods: ["hmac", "bearer"],
    rateLimit: "20/m",
  });
  assert.deepEqual(ok.key.allowed_ips, ["192.0.2.0/24", "2001:db8::/32", "198.51.100.7/32"]);
  assert.equal(ok.key.expires_at, new Date(f.clock.now() + 3_600_000).toISOString());
  assert.deepEqual(ok.key.auth_methods, ["hmac", "bearer"]);
  assert.equal(ok.key.rate_limit, "20/m");
  assert.equal(ok.key.mode, "test");
});

test("granting: scopes and sender domains within the caller's; instance:admin only from an instance admin", async (t) => {
  const f = await keyFixture(t);
  const caller = (scopes: Grantor["scopes"], senderDomains: string[] | null = null): Grantor => ({
    scopes,
    senderDomains,
    bounds: { allowedIps: null, authMethods: null, expiresAt: null },
    createdBy: "key_01kb2m9x7ad3qz8v4c6n5t1r0w",
  });
  const create = (g: Grantor, input: Record<string, unknown>) =>
    createKey(f.keys, f.orgA, g, { mode: "live", scopes: ["messages:send"], ...input });
  const manager = caller(["messages:send", "keys:manage"]);
  assert.equal((await create(manager, {})).key.created_by, "key_01kb2m9x7ad3qz8v4c6n5t1r0w");
  assert.equal(await codeOf(create(manager, { scopes: ["messages:read"] })), "forbidden");
  assert.equal(await codeOf(create(manager, { scopes: ["admin"] })), "forbidden");
  const admin = caller(["admin"]);
  assert.equal((await create(admin, { scopes: ["domains:manage", "audit:read"] })).key.scopes.length, 2);
  assert.equal(
    await codeOf(create(admin, { scopes: ["instance:admin"] })),
    "forbidden",
    "admin is not instance admin",
  );
  const instance = caller(["instance:admin"]);
  assert.deepEqual((await create(instance, { scopes: ["instance:admin"] })).key.scopes, ["instance:admin"]);
  assert.equal(await codeOf(create(instance, { mode: "test", scopes: ["instance:admin"] })), "invalid_value");
  assert.deepEqual((await create(operatorGrantor("cli"), { scopes: ["instance:admin"] })).key.scopes, [
    "instance:admin",
  ]);

  const restricted = caller(["admin"], ["clinic.example", "lab.example"]);
  const inherited = await create(restricted, {});
  assert.deepEqual(inherited.key.sender_domains, ["clinic.example", "lab.example"], "omitted: the caller's");
  assert.deepEqual((await create(restricted, { senderDomains: ["lab.example"] })).key.sender_domains, [
    "lab.example",
  ]);
  assert.equal(await codeOf(create(restricted, { senderDomains: null })), "forbidden");
  assert.equal(await codeOf(create(restricted, { senderDomains: ["other.example"] })), "forbidden");

  // Revoke and rotate need the same containment: a weaker key cannot take over a stronger one.
  const strong = await create(admin, { scopes: ["admin"] });
  assert.equal(await codeOf(rotateKey(f.keys, f.orgA, manager, strong.key.id)), "forbidden");
  assert.equal(await codeOf(revokeKey(f.keys, f.orgA, manager, strong.key.id)), "forbidden");
  assert.equal(await codeOf(revokeKey(f.keys, f.orgA, restricted, (await f.make()).key.id)), "forbidden");
  assert.equal((await getKey(f.orgA, strong.key.id)).revoked_at, null);
  assert.equal((await revokeKey(f.keys, f.orgA, admin, strong.key.id)).revoked, true);
});

test("granting: a key limited by address, method or date grants and rotates only keys limited as much", async (t) => {
  const f = await keyFixture(t);
  const expiresAt = f.clock.now() + 86_400_000;
  const bounded: Grantor = {
    scopes: ["admin"],
    senderDomains: null,
    bounds: {
      allowedIps: [{ address: "192.0.2.0", prefix: 24, family: "ipv4" }],
      authMethods: ["bearer", "hmac"],
      expiresAt,
    },
    createdBy: "key_01kb2m9x7ad3qz8v4c6n5t1r0w",
  };
  const create = (input: Record<string, unknown>) =>
    createKey(f.keys, f.orgA, bounded, { mode: "live", scopes: ["messages:send"], ...input });
  const inherited = (await create({})).key;
  assert.deepEqual(inherited.allowed_ips, ["192.0.2.0/24"], "omitted: the caller's");
  assert.deepEqual(inherited.auth_methods, ["bearer", "hmac"]);
  assert.equal(inherited.expires_at, new Date(expiresAt).toISOString());
  const narrower = (
    await create({ allowedIps: ["192.0.2.128/25"], authMethods: ["hmac"], expiresAt: expiresAt - 1000 })
  ).key;
  assert.deepEqual(narrower.allowed_ips, ["192.0.2.128/25"]);
  for (const wider of [
    { allowedIps: null },
    { allowedIps: ["192.0.2.0/23"] },
    { allowedIps: ["198.51.100.0/24"] },
    { authMethods: null },
    { authMethods: ["basic"] },
    { expiresAt: null },
    { expiresAt: expiresAt + 1000 },
  ])
    assert.equal(await codeOf(create(wider)), "forbidden", JSON.stringify(wider));
  const unbounded = await f.make();
  assert.equal(await codeOf(rotateKey(f.keys, f.orgA, bounded, unbounded.key.id)), "forbidden");
  assert.equal((await rotateKey(f.keys, f.orgA, bounded, inherited.id)).key.id, inherited.id);
});

test("list pages newest first; another org's keys are not found", async (t) => {
  const f = await keyFixture(t);
  const made: string[] = [];
  for (let i = 0; i < 5; i++) {
    made.push((await f.make({ name: `k${i}` })).key.id);
    f.clock.advance(1);
  }
  const first = await listKeys(f.orgA, { limit: 2 });
  assert.deepEqual(
    first.data.map((k) => k.id),
    [made[4], made[3]],
  );
  assert.equal(first.next, made[3]);
  const rest = await listKeys(f.orgA, { before: first.next ?? undefined, limit: 10 });
  assert.deepEqual(
    rest.data.map((k) => k.id),
    [made[2], made[1], made[0]],
  );
  assert.equal(rest.next, null);
  assert.equal(await codeOf(listKeys(f.orgA, { before: "msg_x" })), "invalid_cursor");
  assert.equal((await listKeys(f.orgB)).data.length, 0);
  assert.equal(await codeOf(getKey(f.orgB, made[0] ?? "")), "not_found");
  assert.equal(await codeOf(revokeKey(f.keys, f.orgB, operatorGrantor("cli"), made[0] ?? "")), "not_found");
  assert.equal(await codeOf(getKey(f.orgA, "not-a-key-id")), "not_found");
});

test("revocation takes effect at once and forgets the previous secret", async (t) => {
  const f = await keyFixture(t);
  const { key, token } = await f.make();
  const rotated = await rotateKey(f.keys, f.orgA, operatorGrantor("cli"), key.id, { overlapSeconds: 3600 });
  assert.equal((await f.auth({ kind: "token", token })).principal.keyId, key.id, "old token, in the overlap");
  const done = await revokeKey(f.keys, f.orgA, operatorGrantor("cli"), key.id);
  assert.equal(done.revoked, true);
  assert.notEqual(done.key.revoked_at, null);
  assert.equal(done.key.prev_expires_at, null);
  const row = await rowOf(f.db, key.id);
  assert.equal(row.prev_secret_hash, null);
  assert.equal(row.prev_signing_key, null);
  assert.equal(await codeOf(f.auth({ kind: "token", token: rotated.token })), "key_revoked");
  assert.equal(
    await codeOf(f.auth({ kind: "token", token })),
    "unauthorized",
    "the old token is unknown now",
  );
  assert.equal(
    (await revokeKey(f.keys, f.orgA, operatorGrantor("cli"), key.id)).revoked,
    false,
    "idempotent",
  );
  assert.equal(await codeOf(rotateKey(f.keys, f.orgA, operatorGrantor("cli"), key.id)), "invalid_state");
});

test("rotation keeps the id; the old token works until prev_expires_at; a second rotation drops the oldest", async (t) => {
  const f = await keyFixture(t);
  const op = operatorGrantor("cli");
  const first = await f.make();
  const second = await rotateKey(f.keys, f.orgA, op, first.key.id, { overlapSeconds: 600 });
  assert.equal(second.key.id, first.key.id);
  assert.equal(parseToken(second.token)?.keyId, first.key.id);
  assert.equal(second.key.prev_expires_at, new Date(f.clock.now() + 600_000).toISOString());
  for (const token of [first.token, second.token])
    assert.equal((await f.auth({ kind: "token", token })).principal.keyId, first.key.id);

  f.clock.advance(300_000);
  const third = await rotateKey(f.keys, f.orgA, op, first.key.id, { overlapSeconds: 600 });
  assert.equal(
    await codeOf(f.auth({ kind: "token", token: first.token })),
    "unauthorized",
    "the oldest is dropped",
  );
  assert.equal((await f.auth({ kind: "token", token: second.token })).principal.keyId, first.key.id);
  assert.equal((await f.auth({ kind: "token", token: third.token })).principal.keyId, first.key.id);

  f.clock.advance(600_000);
  assert.equal(await codeOf(f.auth({ kind: "token", token: second.token })), "unauthorized", "overlap over");
  assert.equal((await f.auth({ kind: "token", token: third.token })).principal.keyId, first.key.id);

  const fourth = await rotateKey(f.keys, f.orgA, op, first.key.id, { overlapSeconds: 0 });
  assert.equal(fourth.key.prev_expires_at, null);
  assert.equal(await codeOf(f.auth({ kind: "token", token: third.token })), "unauthorized", "no overlap");
  assert.equal((await f.auth({ kind: "token", token: fourth.token })).principal.keyId, first.key.id);

  const defaults = await rotateKey(f.keys, f.orgA, op, first.key.id);
  assert.equal(defaults.key.prev_expires_at, new Date(f.clock.now() + 86_400_000).toISOString());
  for (const bad of [-1, 604_801, 1.5])
    assert.equal(
      await codeOf(rotateKey(f.keys, f.orgA, op, first.key.id, { overlapSeconds: bad })),
      "invalid_value",
    );
});

test("an expired key is refused with key_expired, and cannot be rotated", async (t) => {
  const f = await keyFixture(t);
  const { key, token } = await f.make({ expiresAt: f.clock.now() + 60_000 });
  assert.equal((await f.auth({ kind: "token", token })).principal.keyId, key.id);
  f.clock.advance(60_000);
  assert.equal(await codeOf(f.auth({ kind: "token", token })), "key_expired");
  assert.equal(await codeOf(rotateKey(f.keys, f.orgA, operatorGrantor("cli"), key.id)), "invalid_state");
});
