/**
 * OAuth 2.0 client credentials (ADR 0008 §4): POST /oauth/token with Basic or form client
 * authentication, RFC 6749 error bodies, tokens that expire and die with their key, and a
 * JWKS that an independent verifier (jose) accepts over a real listener.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from "jose";
import { createKey, operatorGrantor } from "../../src/auth/keys.ts";
import { ManualClock } from "../../src/core/clock.ts";
import type { Scope } from "../../src/core/principal.ts";
import type { Sealpost } from "../../src/main.ts";
import { systemScope } from "../../src/store/scope.ts";
import { auth, BOOTSTRAP_KEY, startTestApp } from "../helpers/app.ts";

const FORM = { "content-type": "application/x-www-form-urlencoded" };

function basic(id: string, secret: string): Record<string, string> {
  return { authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString("base64")}` };
}

function token(app: Sealpost, body: string, headers: Record<string, string> = {}) {
  return app.api.inject({
    method: "POST",
    url: "/oauth/token",
    headers: { ...FORM, ...headers },
    payload: body,
  });
}

async function client(app: Sealpost, scopes: Scope[], extra: { authMethods?: string[] } = {}) {
  const scope = systemScope(app.db, app.defaultOrgId, "admin");
  const issued = await createKey(app.keys, scope, operatorGrantor("cli"), {
    mode: "live",
    scopes,
    ...(extra.authMethods === undefined ? {} : { authMethods: extra.authMethods }),
  });
  return { id: issued.key.id, secret: issued.token };
}

test("a client gets a token with Basic or with the form, and it works as Bearer", async (t) => {
  const { app } = await startTestApp(t, { worker: false });
  const c = await client(app, ["messages:read", "messages:send"]);

  const viaBasic = await token(app, "grant_type=client_credentials", basic(c.id, c.secret));
  assert.equal(viaBasic.statusCode, 200, viaBasic.body);
  assert.equal(viaBasic.headers["cache-control"], "no-store");
  const body = viaBasic.json();
  assert.equal(body.token_type, "Bearer");
  assert.equal(body.expires_in, 900);
  assert.equal(body.scope, "messages:read messages:send");
  assert.equal(body.refresh_token, undefined);
  assert.deepEqual(decodeProtectedHeader(body.access_token), {
    alg: "ES256",
    typ: "at+jwt",
    kid: decodeProtectedHeader(body.access_token).kid,
  });

  const form = new URLSearchParams({
    grant_type: "client_credentials",
    client_id: c.id,
    client_secret: c.secret,
    scope: "messages:read",
  });
  const viaPost = await token(app, form.toString());
  assert.equal(viaPost.statusCode, 200, viaPost.body);
  assert.equal(viaPost.json().scope, "messages:read");

  const list = await app.api.inject({ url: "/v1/messages", headers: auth(body.access_token) });
  assert.equal(list.statusCode, 200, list.body);
  // The narrowed token holds only messages:read.
  const send = await app.api.inject({
    method: "POST",
    url: "/v1/messages",
    headers: auth(viaPost.json().access_token),
    payload: { from: "clinic@example.com", to: "p@example.org", subject: "Hi", text: "x", sandbox: true },
  });
  assert.equal(send.statusCode, 403);
  assert.equal(send.json().code, "forbidden");
});

test("errors take RFC 6749's shape", async (t) => {
  const { app } = await startTestApp(t, { worker: false });
  const c = await client(app, ["messages:read"]);
  const cases: [string, string, Record<string, string>, number, string][] = [
    [
      "unknown secret",
      "grant_type=client_credentials",
      // One character changed (to another one: a secret may end in x).
      basic(c.id, `${c.secret.slice(0, -1)}${c.secret.endsWith("x") ? "y" : "x"}`),
      401,
      "invalid_client",
    ],
    ["no client", "grant_type=client_credentials", {}, 401, "invalid_client"],
    [
      "two client authentications",
      `grant_type=client_credentials&client_id=${c.id}&client_secret=${c.secret}`,
      basic(c.id, c.secret),
      400,
      "invalid_request",
    ],
    ["no grant type", "", basic(c.id, c.secret), 400, "invalid_request"],
    ["another grant type", "grant_type=password", basic(c.id, c.secret), 400, "unsupported_grant_type"],
    [
      "a scope the key lacks",
      "grant_type=client_credentials&scope=messages:send",
      basic(c.id, c.secret),
      400,
      "invalid_scope",
    ],
    [
      "an unknown scope",
      "grant_type=client_credentials&scope=root",
      basic(c.id, c.secret),
      400,
      "invalid_scope",
    ],
    [
      "a repeated parameter",
      "grant_type=client_credentials&grant_type=client_credentials",
      basic(c.id, c.secret),
      400,
      "invalid_request",
    ],
  ];
  for (const [what, body, headers, status, error] of cases) {
    const res = await token(app, body, headers);
    assert.equal(res.statusCode, status, what);
    assert.equal(res.json().error, error, what);
    assert.equal(res.headers["cache-control"], "no-store", what);
    assert.equal(typeof res.json().error_description, "string", what);
    assert.ok(!res.body.includes(c.secret), what);
    if (error === "invalid_client") assert.match(String(res.headers["www-authenticate"]), /^Basic/, what);
  }
  const json = await app.api.inject({
    method: "POST",
    url: "/oauth/token",
    headers: basic(c.id, c.secret),
    payload: { grant_type: "client_credentials" },
  });
  assert.equal(json.statusCode, 400, "a JSON body");
  assert.equal(json.json().error, "invalid_request");

  const noOauth = await client(app, ["messages:read"], { authMethods: ["bearer"] });
  const res = await token(app, "grant_type=client_credentials", basic(noOauth.id, noOauth.secret));
  assert.equal(res.statusCode, 400);
  assert.equal(res.json().error, "unauthorized_client");
});

test("a token works until exp, then token_expired; revoking the client ends its tokens at once", async (t) => {
  const clock = new ManualClock();
  const { app } = await startTestApp(t, { worker: false, clock });
  const c = await client(app, ["messages:read"]);
  const issued = (await token(app, "grant_type=client_credentials", basic(c.id, c.secret))).json();

  clock.advance((issued.expires_in - 1) * 1000);
  assert.equal(
    (await app.api.inject({ url: "/v1/messages", headers: auth(issued.access_token) })).statusCode,
    200,
  );
  clock.advance(1000);
  const expired = await app.api.inject({ url: "/v1/messages", headers: auth(issued.access_token) });
  assert.equal(expired.statusCode, 401);
  assert.equal(expired.json().code, "token_expired");
  assert.match(String(expired.headers["www-authenticate"]), /Bearer realm="sealpost", error="invalid_token"/);

  const fresh = (await token(app, "grant_type=client_credentials", basic(c.id, c.secret))).json();
  assert.equal(
    (await app.api.inject({ url: "/v1/messages", headers: auth(fresh.access_token) })).statusCode,
    200,
  );
  const del = await app.api.inject({
    method: "DELETE",
    url: `/v1/api-keys/${c.id}`,
    headers: auth(BOOTSTRAP_KEY),
  });
  assert.equal(del.statusCode, 204);
  const dead = await app.api.inject({ url: "/v1/messages", headers: auth(fresh.access_token) });
  assert.equal(dead.statusCode, 401, "a live token of a revoked client");
  assert.equal(dead.json().code, "key_revoked");
  const again = await token(app, "grant_type=client_credentials", basic(c.id, c.secret));
  assert.equal(again.statusCode, 401);
  assert.equal(again.json().error, "invalid_client");
});

test("jose verifies tokens with the JWKS from a real listener, also after a rotation", async (t) => {
  const { app } = await startTestApp(t, { worker: false });
  const base = await app.listen();
  const c = await client(app, ["messages:read"]);
  const admin = await createKey(
    app.keys,
    systemScope(app.db, app.defaultOrgId, "cli"),
    operatorGrantor("cli"),
    {
      mode: "live",
      scopes: ["instance:admin"],
    },
  );

  const meta = await fetch(`${base}/.well-known/oauth-authorization-server`);
  assert.equal(meta.status, 200);
  const metadata = (await meta.json()) as Record<string, unknown>;
  assert.equal(metadata.issuer, app.issuer);
  assert.equal(metadata.token_endpoint, `${app.issuer}/oauth/token`);
  assert.equal(metadata.jwks_uri, `${app.issuer}/.well-known/jwks.json`);
  assert.deepEqual(metadata.grant_types_supported, ["client_credentials"]);
  assert.deepEqual(metadata.token_endpoint_auth_methods_supported, [
    "client_secret_basic",
    "client_secret_post",
  ]);

  const jwksRes = await fetch(`${base}/.well-known/jwks.json`);
  assert.match(jwksRes.headers.get("cache-control") ?? "", /max-age=300/);
  const jwks = createRemoteJWKSet(new URL(`${base}/.well-known/jwks.json`), { cooldownDuration: 0 });
  const verify = (jwt: string) =>
    jwtVerify(jwt, jwks, {
      issuer: app.issuer,
      audience: app.issuer,
      typ: "at+jwt",
      algorithms: ["ES256"],
      currentDate: new Date(app.clock.now()),
    });

  const mint = async () => {
    const res = await fetch(`${base}/oauth/token`, {
      method: "POST",
      headers: { ...FORM, ...basic(c.id, c.secret) },
      body: "grant_type=client_credentials",
    });
    assert.equal(res.status, 200);
    return ((await res.json()) as { access_token: string }).access_token;
  };
  const before = await mint();
  const { payload } = await verify(before);
  assert.equal(payload.sub, c.id);
  assert.equal(payload.client_id, c.id);
  assert.equal(payload.org, app.defaultOrgId);
  assert.equal(payload.scope, "messages:read");

  const rotated = await fetch(`${base}/v1/admin/signing-keys/rotate`, {
    method: "POST",
    headers: auth(admin.token),
  });
  assert.equal(rotated.status, 200);
  const { kid } = (await rotated.json()) as { kid: string };
  const after = await mint();
  assert.equal(decodeProtectedHeader(after).kid, kid, "new tokens are signed with the new key");
  await verify(after);
  await verify(before);
  assert.notEqual(decodeProtectedHeader(before).kid, kid);
});
