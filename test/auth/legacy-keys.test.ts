/**
 * Keys made before migration 0006 and the bootstrap key (ADR 0008 §3), on the suite's store:
 * a legacy row (unkeyed SHA-256) works and is upgraded in place on first use; a bootstrap
 * key is made only while none was ever made, so a rotated one is not made again.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { createAdmission } from "../../src/auth/admission.ts";
import { createAuthenticator } from "../../src/auth/authenticate.ts";
import {
  contentDigestHeader,
  deriveSigningKey,
  type HmacCredentials,
  signRequest,
} from "../../src/auth/hmac.ts";
import { loadPepper } from "../../src/auth/instance-keys.ts";
import { JwtKeys } from "../../src/auth/jwt.ts";
import { type KeyDeps, operatorGrantor, revokeKey, rotateKey } from "../../src/auth/keys.ts";
import { hashToken } from "../../src/auth/tokens.ts";
import type { Credentials, SignedRequest } from "../../src/auth/types.ts";
import { ensureBootstrapKey } from "../../src/core/bootstrap.ts";
import { ManualClock } from "../../src/core/clock.ts";
import { newId } from "../../src/core/ids.ts";
import { Keyring } from "../../src/core/keyring.ts";
import { localKeyWrapper } from "../../src/crypto/key-provider.ts";
import { masterKeyId } from "../../src/crypto/master-key.ts";
import { type Db, openDb } from "../../src/store/db.ts";
import { migrate } from "../../src/store/migrations.ts";
import { systemScope } from "../../src/store/scope.ts";
import { createTestDatabase, tempDir } from "../helpers/app.ts";
import { codeOf } from "./key-fixture.ts";

const BOOTSTRAP = "legacy-bootstrap-key-0123456789abcdefghijklmnop";
/** The token format before 0006: `sp_live_` and 32 base62 characters, no key id. */
const OLD_TOKEN = "sp_live_Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z";
const OLD_UNUSED = "sp_live_Zz9yXx8wVv7uTt6sSr5qQp4oOn3mMl2k";
const REQUEST: SignedRequest = {
  method: "GET",
  url: "/v1/messages",
  contentDigest: contentDigestHeader(Buffer.alloc(0)),
};

function sha256(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

/** A database migrated up to 0005, with an org and API keys as sealpost made them then. */
async function legacyStore(t: TestContext) {
  const dir = tempDir("sealpost-legacy-");
  const database = await createTestDatabase();
  const target =
    database.url === undefined
      ? ({ kind: "sqlite", path: join(dir, "s.db") } as const)
      : ({ kind: "postgres", url: database.url } as const);
  const handles: Db[] = [];
  const open = () => {
    const db = openDb(target, dir, { poolSize: 2 });
    handles.push(db);
    return db;
  };
  t.after(async () => {
    for (const h of handles) await h.close();
    await database.drop();
    rmSync(dir, { recursive: true, force: true });
  });
  const db = open();
  await migrate(db, { to: "0005_attachment_parts" });
  const clock = new ManualClock();
  const master = randomBytes(32);
  const wrapper = localKeyWrapper({ key: master, keyId: masterKeyId(master) });
  const keyring = new Keyring({ db, wrapper, clock });
  const orgId = newId("org", clock.now());
  await db.kysely
    .insertInto("orgs")
    .values({ id: orgId, name: "default", created_at: clock.now() } as never)
    .execute();
  await db.kysely
    .insertInto("org_keys")
    .values(await keyring.newOrgKeys(orgId))
    .execute();
  const ids: Record<string, string> = {};
  for (const [name, token, scopes] of [
    ["bootstrap", BOOTSTRAP, ["admin"]],
    ["app", OLD_TOKEN, ["messages:send"]],
    ["spare", OLD_UNUSED, ["messages:send", "messages:read"]],
  ] as const) {
    const id = newId("key", clock.now());
    ids[name] = id;
    await db.kysely
      .insertInto("api_keys")
      .values({
        id,
        org_id: orgId,
        name,
        secret_hash: sha256(token),
        scopes: JSON.stringify(scopes),
        mode: "live",
        created_at: clock.now(),
        expires_at: null,
        revoked_at: null,
      } as never)
      .execute();
  }
  await migrate(db);
  const keys: KeyDeps = { db, keyring, clock, pepper: await loadPepper({ db, wrapper, clock }) };
  const jwt = new JwtKeys({ db, wrapper, clock, issuer: "https://sealpost.test", ttlSeconds: 900 });
  t.after(() => jwt.close());
  const admission = createAdmission({
    db,
    maxFailures: 100,
    failureWindowMs: 600_000,
    lockoutMs: 900_000,
    exempt: [],
  });
  const authenticator = createAuthenticator({
    db,
    keyring,
    clock,
    admission,
    jwt,
    pepper: keys.pepper,
    limits: { key: "off", org: "off" },
  });
  const auth = (creds: Credentials, method: "bearer" | "hmac" = "bearer") =>
    authenticator.authenticate(creds, { address: "192.0.2.1", method, request: REQUEST });
  const row = (id: string) =>
    db.kysely.selectFrom("api_keys").selectAll().where("id", "=", id).executeTakeFirstOrThrow();
  return { db, open, clock, keyring, keys, auth, row, ids, orgId, wrapper };
}

function signed(token: string, keyId: string, nowMs: number): HmacCredentials {
  const c: HmacCredentials = {
    kind: "hmac",
    keyId,
    timestamp: Math.floor(nowMs / 1000),
    nonce: randomBytes(12).toString("base64url"),
    signature: "",
  };
  return { ...c, signature: signRequest(deriveSigningKey(token), c, REQUEST) };
}

test("a key made before 0006 works by its SHA-256 once, and is then upgraded in place", async (t) => {
  const s = await legacyStore(t);
  const id = s.ids.app ?? "";
  const before = await s.row(id);
  assert.equal(before.hash_alg, "sha256");
  assert.equal(before.signing_key, null);
  assert.equal(before.created_by, null);
  assert.equal(
    await codeOf(s.auth(signed(OLD_TOKEN, id, s.clock.now()), "hmac")),
    "unauthorized",
    "no signing key before the upgrade",
  );
  assert.equal((await s.auth({ kind: "token", token: OLD_TOKEN })).principal.keyId, id);
  const after = await s.row(id);
  assert.equal(after.hash_alg, "hmac-sha256");
  assert.equal(after.secret_hash, hashToken(s.keys.pepper, OLD_TOKEN));
  assert.notEqual(after.signing_key, null);
  assert.equal(
    (await s.auth({ kind: "token", token: OLD_TOKEN })).principal.keyId,
    id,
    "by the keyed hash now",
  );
  assert.equal((await s.auth({ kind: "basic", keyId: id, token: OLD_TOKEN })).principal.keyId, id);
  assert.equal(
    await codeOf(s.auth({ kind: "basic", keyId: s.ids.spare ?? "", token: OLD_TOKEN })),
    "unauthorized",
  );
  assert.equal((await s.auth(signed(OLD_TOKEN, id, s.clock.now()), "hmac")).principal.method, "hmac");
  const rows = await s.db.kysely.selectFrom("api_keys").select("id").execute();
  assert.equal(rows.length, 3, "upgraded, not copied");
});

test("two nodes upgrading the same legacy key at once: both succeed, the row is upgraded once", async (t) => {
  const s = await legacyStore(t);
  const results = await Promise.all(
    Array.from({ length: 4 }, () => s.auth({ kind: "token", token: OLD_UNUSED })),
  );
  assert.ok(results.every((r) => r.principal.keyId === s.ids.spare));
  const row = await s.row(s.ids.spare ?? "");
  assert.equal(row.hash_alg, "hmac-sha256");
  assert.equal((await s.auth({ kind: "token", token: OLD_UNUSED })).principal.keyId, s.ids.spare);
});

test("a legacy key rotated before its first use: the old token works during the overlap only", async (t) => {
  const s = await legacyStore(t);
  const id = s.ids.spare ?? "";
  const scope = systemScope(s.db, s.orgId, "cli");
  const rotated = await rotateKey(s.keys, scope, operatorGrantor("cli"), id, { overlapSeconds: 60 });
  assert.equal((await s.row(id)).prev_secret_hash, sha256(OLD_UNUSED));
  assert.equal((await s.auth({ kind: "token", token: OLD_UNUSED })).principal.keyId, id);
  assert.equal((await s.auth({ kind: "token", token: rotated.token })).principal.keyId, id);
  s.clock.advance(60_000);
  assert.equal(await codeOf(s.auth({ kind: "token", token: OLD_UNUSED })), "unauthorized");
});

test("the bootstrap key of an older install is kept: not made again, and upgraded on use", async (t) => {
  const s = await legacyStore(t);
  const id = s.ids.bootstrap ?? "";
  assert.equal((await s.row(id)).created_by, "bootstrap", "migration 0006 marks it");
  assert.equal(await ensureBootstrapKey(s.keys, s.orgId, BOOTSTRAP), false);
  const { principal } = await s.auth({ kind: "token", token: BOOTSTRAP });
  assert.equal(principal.keyId, id);
  assert.deepEqual(principal.scopes, ["admin"]);
  assert.equal((await s.row(id)).hash_alg, "hmac-sha256");
});

test("ensureBootstrapKey makes the key once, across nodes, and never again after a rotation", async (t) => {
  const s = await legacyStore(t);
  await s.db.kysely.deleteFrom("api_keys").execute();
  const token = `fresh-bootstrap-${randomBytes(16).toString("hex")}`;
  // Two nodes start together on the same database.
  const other = s.open();
  const otherKeys: KeyDeps = {
    ...s.keys,
    db: other,
    keyring: new Keyring({ db: other, wrapper: s.wrapper, clock: s.clock }),
  };
  const made = await Promise.all([
    ensureBootstrapKey(s.keys, s.orgId, token),
    ensureBootstrapKey(otherKeys, s.orgId, token),
  ]);
  assert.equal(made.filter(Boolean).length, 1);
  const rows = await s.db.kysely.selectFrom("api_keys").selectAll().execute();
  assert.equal(rows.length, 1);
  const row = rows[0];
  assert.ok(row !== undefined);
  assert.equal(row.created_by, "bootstrap");
  assert.equal(row.hash_alg, "hmac-sha256");
  assert.equal(row.secret_hash, hashToken(s.keys.pepper, token));
  assert.notEqual(row.signing_key, null);
  assert.deepEqual(JSON.parse(row.scopes), ["admin"]);
  assert.equal((await s.auth({ kind: "token", token })).principal.keyId, row.id);
  assert.equal((await s.auth(signed(token, row.id, s.clock.now()), "hmac")).principal.keyId, row.id);

  const scope = systemScope(s.db, s.orgId, "cli");
  await rotateKey(s.keys, scope, operatorGrantor("cli"), row.id, { overlapSeconds: 60 });
  assert.equal(
    await ensureBootstrapKey(s.keys, s.orgId, token),
    false,
    "a rotated bootstrap key is not made again",
  );
  assert.equal((await s.auth({ kind: "token", token })).principal.keyId, row.id, "inside the overlap");
  s.clock.advance(60_000);
  assert.equal(await codeOf(s.auth({ kind: "token", token })), "unauthorized");
  await revokeKey(s.keys, scope, operatorGrantor("cli"), row.id);
  assert.equal(await ensureBootstrapKey(s.keys, s.orgId, token), false, "nor a revoked one");
  await assert.rejects(ensureBootstrapKey(s.keys, s.orgId, "short"), /32 to 256/);
});
