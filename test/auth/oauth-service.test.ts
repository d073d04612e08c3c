/**
 * OAuthService.issue (RFC 6749 §4.4, ADR 0008 §4) on the suite's store: client credentials
 * by Basic or post, the access token and its scopes, and every RFC 6749 §5.2 refusal.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { RetryAfterError } from "../../src/auth/authenticate.ts";
import { OAuthError, type TokenRequest } from "../../src/auth/oauth.ts";
import { codeOf, keyFixture } from "./key-fixture.ts";

test("a key gets an access token by Basic or post; it authenticates as the key with its scopes", async (t) => {
  const f = await keyFixture(t);
  const { key, token } = await f.make({ scopes: ["messages:send", "messages:read"] });
  for (const clientAuth of ["basic", "post"] as const) {
    const res = await f.oauth.issue({
      clientAuth,
      clientId: key.id,
      clientSecret: token,
      grantType: "client_credentials",
      address: "192.0.2.1",
    });
    assert.equal(res.token_type, "Bearer");
    assert.equal(res.expires_in, 900);
    assert.equal(res.scope, "messages:send messages:read");
    const verified = await f.jwt.verify(res.access_token);
    assert.ok(verified.ok);
    assert.equal(verified.claims.sub, key.id);
    assert.equal(verified.claims.client_id, key.id);
    assert.equal(verified.claims.org, f.orgA.orgId);
    assert.equal(verified.claims.mode, "live");
    const { principal } = await f.auth({ kind: "jwt", jwt: res.access_token });
    assert.equal(principal.keyId, key.id);
    assert.equal(principal.method, "oauth");
  }
  const narrow = await f.oauth.issue({
    clientAuth: "basic",
    clientId: key.id,
    clientSecret: token,
    grantType: "client_credentials",
    scope: "messages:read",
    address: "192.0.2.1",
  });
  assert.equal(narrow.scope, "messages:read");
  assert.deepEqual((await f.auth({ kind: "jwt", jwt: narrow.access_token })).principal.scopes, [
    "messages:read",
  ]);
  const admin = await f.make({ scopes: ["admin"] });
  const fromAdmin = await f.oauth.issue({
    clientAuth: "post",
    clientId: admin.key.id,
    clientSecret: admin.token,
    grantType: "client_credentials",
    scope: "domains:manage",
    address: "192.0.2.1",
  });
  assert.equal(fromAdmin.scope, "domains:manage", "admin holds every org scope");
});

test("refusals: RFC 6749 §5.2 codes and statuses", async (t) => {
  const f = await keyFixture(t);
  const { key, token } = await f.make({ scopes: ["messages:send"] });
  const base: TokenRequest = {
    clientAuth: "basic",
    clientId: key.id,
    clientSecret: token,
    grantType: "client_credentials",
    address: "192.0.2.1",
  };
  let n = 0;
  const refusal = async (input: Partial<TokenRequest>) => {
    const err = await f.oauth
      .issue({ ...base, address: `198.51.100.${++n}`, ...input })
      .catch((e: unknown) => e);
    assert.ok(err instanceof OAuthError, JSON.stringify(input));
    return `${err.status} ${err.code}`;
  };
  assert.equal(await refusal({ clientAuth: "both" }), "400 invalid_request");
  assert.equal(
    await refusal({ clientAuth: "none", clientId: undefined, clientSecret: undefined }),
    "401 invalid_client",
  );
  assert.equal(await refusal({ clientSecret: undefined }), "401 invalid_client");
  assert.equal(await refusal({ grantType: undefined }), "400 invalid_request");
  assert.equal(await refusal({ grantType: "password" }), "400 unsupported_grant_type");
  assert.equal(await refusal({ scope: "messages:send messages:read" }), "400 invalid_scope");
  assert.equal(await refusal({ scope: "nope" }), "400 invalid_scope");
  assert.equal(await refusal({ clientSecret: `${token}x` }), "401 invalid_client");
  const other = await f.make();
  assert.equal(await refusal({ clientId: other.key.id }), "401 invalid_client", "the secret of another key");
  const fenced = await f.make({ allowedIps: ["192.0.2.0/24"] });
  assert.equal(
    await refusal({ clientId: fenced.key.id, clientSecret: fenced.token, address: "203.0.113.1" }),
    "401 invalid_client",
  );
  const noOauth = await f.make({ authMethods: ["bearer"] });
  assert.equal(
    await refusal({ clientId: noOauth.key.id, clientSecret: noOauth.token }),
    "400 unauthorized_client",
  );
  const expiring = await f.make({ expiresAt: f.clock.now() + 60_000 });
  await f.db.kysely
    .updateTable("api_keys")
    .set({ revoked_at: f.clock.now() })
    .where("id", "=", key.id)
    .execute();
  assert.equal(await refusal({}), "401 invalid_client", "revoked");
  f.clock.advance(60_000);
  assert.equal(
    await refusal({ clientId: expiring.key.id, clientSecret: expiring.token }),
    "401 invalid_client",
  );
});

test("client failures count toward the lockout, and the key's bucket is charged", async (t) => {
  const f = await keyFixture(t, {
    maxFailures: 3,
    limits: { key: { quota: 1, windowMs: 60_000 }, org: "off" },
  });
  const { key, token } = await f.make({ allowedIps: ["192.0.2.0/24"] });
  const request = (address: string, clientSecret = token): TokenRequest => ({
    clientAuth: "post",
    clientId: key.id,
    clientSecret,
    grantType: "client_credentials",
    address,
  });
  // An address outside the allowlist is a failed client authentication, counted like a wrong secret.
  assert.equal(await codeOf(f.oauth.issue(request("203.0.113.7"))), "invalid_client");
  assert.equal(await codeOf(f.oauth.issue(request("203.0.113.7", `${token}x`))), "invalid_client");
  assert.equal(await codeOf(f.oauth.issue(request("203.0.113.7", `${token}y`))), "invalid_client");
  const locked = await f.oauth.issue(request("203.0.113.7")).catch((e: unknown) => e);
  assert.ok(locked instanceof RetryAfterError);
  assert.equal(locked.code, "auth_locked");

  assert.equal((await f.oauth.issue(request("192.0.2.5"))).token_type, "Bearer");
  const limited = await f.oauth.issue(request("192.0.2.5")).catch((e: unknown) => e);
  assert.ok(limited instanceof RetryAfterError);
  assert.equal(limited.code, "rate_limited");
  assert.ok(limited.retryAfterSeconds > 0 && limited.retryAfterSeconds <= 60);
});
