/**
 * /v1/admin (ADR 0008 §1): only `instance:admin` opens it (org `admin` does not); an
 * instance admin creates orgs with their first admin key, lists them and rotates the OAuth
 * signing key, and never reads an org's data.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Sealpost } from "../../src/main.ts";
import { auth, BOOTSTRAP_KEY, startTestApp } from "../helpers/app.ts";

function call(app: Sealpost, token: string, method: "GET" | "POST", url: string, payload?: object) {
  return app.api.inject({ method, url, headers: auth(token), ...(payload === undefined ? {} : { payload }) });
}

test("an instance admin creates an org with its first admin key, shown once", async (t) => {
  const { app, key } = await startTestApp(t, { worker: false });
  const instance = await key(["instance:admin"]);

  const made = await call(app, instance, "POST", "/v1/admin/orgs", { name: "north-clinic", admin_key: true });
  assert.equal(made.statusCode, 201, made.body);
  const org = made.json();
  assert.match(org.id, /^org_[0-9a-z]{26}$/);
  assert.equal(org.name, "north-clinic");
  assert.equal(org.rate_limit, null);
  assert.deepEqual(org.admin_key.scopes, ["admin"]);
  assert.match(org.admin_key.key, /^sp_live_/);
  assert.match(org.admin_key.created_by, /^key_/);

  // The new admin key sees its own org only.
  const theirs: string = org.admin_key.key;
  const keys = (await call(app, theirs, "GET", "/v1/api-keys")).json();
  assert.deepEqual(
    keys.data.map((k: { id: string }) => k.id),
    [org.admin_key.id],
  );
  assert.equal((await call(app, theirs, "GET", "/v1/messages")).json().data.length, 0);
  assert.equal(
    (await call(app, theirs, "GET", "/v1/admin/orgs")).statusCode,
    403,
    "org admin is not instance admin",
  );

  const plain = await call(app, instance, "POST", "/v1/admin/orgs", {
    name: "south-clinic",
    rate_limit: "10/s",
  });
  assert.equal(plain.statusCode, 201);
  assert.equal(plain.json().admin_key, undefined);
  assert.equal(plain.json().rate_limit, "10/s");

  const listed = (await call(app, instance, "GET", "/v1/admin/orgs")).json();
  assert.deepEqual(listed.data.map((o: { name: string }) => o.name).sort(), [
    "default",
    "north-clinic",
    "south-clinic",
  ]);
  const one = await call(app, instance, "GET", `/v1/admin/orgs/${org.id}`);
  assert.equal(one.statusCode, 200);
  assert.equal(one.json().name, "north-clinic");
  assert.equal(one.json().admin_key, undefined, "the key is never shown again");
  assert.equal((await call(app, instance, "GET", "/v1/admin/orgs/org_nope")).statusCode, 404);
});

test("bad org input is refused; a taken name is a conflict", async (t) => {
  const { app, key } = await startTestApp(t, { worker: false });
  const instance = await key(["instance:admin"]);
  for (const [body, code, field] of [
    [{}, "missing_field", "name"],
    [{ name: "Upper Case" }, "invalid_value", "name"],
    [{ name: "-dash" }, "invalid_value", "name"],
    [{ name: "ok", rate_limit: "lots" }, "invalid_value", "rate_limit"],
    [{ name: "ok", admin_key: "yes" }, "invalid_type", "admin_key"],
    [{ name: "ok", colour: "red" }, "unknown_field", "colour"],
  ] as const) {
    const res = await call(app, instance, "POST", "/v1/admin/orgs", body);
    assert.equal(res.statusCode, 422, JSON.stringify(body));
    assert.equal(res.json().code, code, JSON.stringify(body));
    assert.equal(res.json().field, field, JSON.stringify(body));
  }
  const taken = await call(app, instance, "POST", "/v1/admin/orgs", { name: "default" });
  assert.equal(taken.statusCode, 409);
});

test("/v1/admin needs instance:admin, and instance:admin opens nothing else", async (t) => {
  const { app, key } = await startTestApp(t, { worker: false });
  const instance = await key(["instance:admin"]);
  for (const [method, url] of [
    ["POST", "/v1/admin/orgs"],
    ["GET", "/v1/admin/orgs"],
    ["POST", "/v1/admin/signing-keys/rotate"],
  ] as const) {
    const res = await call(app, BOOTSTRAP_KEY, method, url, method === "POST" ? { name: "x" } : undefined);
    assert.equal(res.statusCode, 403, `${method} ${url} with org admin`);
    assert.equal(res.json().code, "forbidden");
    assert.equal((await app.api.inject({ method, url })).statusCode, 401, `${method} ${url} anonymous`);
  }
  for (const url of ["/v1/messages", "/v1/api-keys", "/v1/domains", "/v1/suppressions"])
    assert.equal((await call(app, instance, "GET", url)).statusCode, 403, `${url} with instance:admin`);
});

test("rotating the signing key publishes the new key beside the old one", async (t) => {
  const { app, key } = await startTestApp(t, { worker: false });
  const instance = await key(["instance:admin"]);
  const before = (await app.api.inject({ url: "/.well-known/jwks.json" })).json();
  assert.equal(before.keys.length, 1);
  const rotated = await call(app, instance, "POST", "/v1/admin/signing-keys/rotate");
  assert.equal(rotated.statusCode, 200);
  const { kid } = rotated.json();
  assert.match(kid, /^ikey_/);
  const after = (await app.api.inject({ url: "/.well-known/jwks.json" })).json();
  const kids = after.keys.map((k: { kid: string }) => k.kid);
  assert.ok(kids.includes(kid));
  assert.ok(kids.includes(before.keys[0].kid), "the retired key stays published");
  for (const k of after.keys) assert.equal(k.d, undefined, "no private part");
});
