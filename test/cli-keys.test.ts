/**
 * `sealpost keys create|list|revoke|rotate` through the real bin (ADR 0008 §2), then the
 * keys it made, checked by the real authenticator of a node on the same store.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { TOKEN_RE } from "../src/auth/tokens.ts";
import { loadConfig } from "../src/config/load.ts";
import { silentLogger } from "../src/logging/logger.ts";
import { createSealpost } from "../src/main.ts";
import { cliEnv, runCli, runCliJson } from "./helpers/cli.ts";

const cli = (args: string[], env: Record<string, string>) => runCli(["keys", ...args], env);
const json = (args: string[], env: Record<string, string>) => runCliJson(["keys", ...args], env);

test("keys create, list, rotate and revoke; the tokens work on a node of the same store", async (t) => {
  const env = await cliEnv(t);
  const full = json(
    [
      "create",
      "--name",
      "ci",
      "--scopes",
      "messages:send,keys:manage",
      "--sender-domains",
      "clinic.example,lab.example",
      "--allowed-ips",
      "127.0.0.0/8,192.0.2.0/24",
      "--expires-in",
      "30d",
      "--auth-methods",
      "bearer,basic,hmac",
      "--rate-limit",
      "10/s",
    ],
    env,
  );
  assert.match(full.key, TOKEN_RE);
  assert.equal(full.key.slice(8, 34), full.id.slice(4), "the token carries the key id");
  assert.equal(full.name, "ci");
  assert.equal(full.mode, "live");
  assert.deepEqual(full.scopes, ["messages:send", "keys:manage"]);
  assert.deepEqual(full.sender_domains, ["clinic.example", "lab.example"]);
  assert.deepEqual(full.allowed_ips, ["127.0.0.0/8", "192.0.2.0/24"]);
  assert.deepEqual(full.auth_methods, ["bearer", "basic", "hmac"]);
  assert.equal(full.rate_limit, "10/s");
  assert.equal(full.created_by, "cli");
  const days = (Date.parse(full.expires_at) - Date.parse(full.created_at)) / 86_400_000;
  assert.ok(Math.abs(days - 30) < 0.01);

  // The operator may grant instance:admin; text output shows the token once.
  const text = cli(["create", "--scopes", "instance:admin", "--name", "ops"], env);
  assert.equal(text.status, 0, text.stderr);
  const opsToken = /^\s+(sp_live_\S+)$/m.exec(text.stdout)?.[1] ?? "";
  assert.match(opsToken, TOKEN_RE);
  const sandbox = json(["create", "--mode", "test"], env);
  assert.match(sandbox.key, /^sp_test_/);
  assert.deepEqual(sandbox.scopes, ["messages:send", "messages:read", "messages:read_content"]);

  for (const bad of [
    ["create", "--mode", "test", "--scopes", "admin"],
    ["create", "--expires-in", "soon"],
    ["rotate"],
    ["rotate", "--id", full.id, "--overlap", "8d"],
  ]) {
    const r = cli(bad, env);
    assert.equal(r.status, 2, `${bad.join(" ")}: ${r.stdout}${r.stderr}`);
    assert.ok(!r.stderr.includes("sp_"), "no token in a refusal");
  }
  const unknown = cli(["revoke", "--id", "key_01kb2m9x7ad3qz8v4c6n5t1r0w"], env);
  assert.equal(unknown.status, 1);

  const rotated = json(["rotate", "--id", full.id, "--overlap", "1h"], env);
  assert.equal(rotated.id, full.id);
  assert.match(rotated.key, TOKEN_RE);
  assert.notEqual(rotated.key, full.key);
  assert.ok(Date.parse(rotated.prev_expires_at) > Date.now() + 3_500_000);
  const revoked = json(["revoke", "--id", sandbox.id], env);
  assert.notEqual(revoked.revoked_at, null);
  assert.equal(revoked.revoked, true);

  const listed = json(["list"], env);
  assert.deepEqual(
    listed.map((k: { id: string }) => k.id).sort(),
    [full.id, sandbox.id, /key_\S+/.exec(text.stdout)?.[0]].sort(),
  );
  const listText = cli(["list"], env);
  for (const out of [JSON.stringify(listed), listText.stdout])
    for (const token of [full.key, rotated.key, sandbox.key, opsToken])
      assert.ok(!out.includes(token), "a token is shown once only");
  assert.match(listText.stdout, /\(revoked\)/);

  const app = await createSealpost(loadConfig(env), { logger: silentLogger() });
  t.after(() => app.close());
  const as = (token: string) =>
    app.authenticator.authenticate({ kind: "token", token }, { address: "127.0.0.1", method: "bearer" });
  assert.equal((await as(full.key)).principal.keyId, full.id, "the old token, inside the overlap");
  assert.deepEqual((await as(rotated.key)).principal.senderDomains, ["clinic.example", "lab.example"]);
  assert.deepEqual((await as(opsToken)).principal.scopes, ["instance:admin"]);
  await assert.rejects(as(sandbox.key), { code: "key_revoked" });
  await assert.rejects(
    app.authenticator.authenticate(
      { kind: "token", token: rotated.key },
      { address: "203.0.113.1", method: "bearer" },
    ),
    { code: "ip_not_allowed" },
  );
});

test("keys without an action prints the usage of all four", async (t) => {
  const r = cli([], await cliEnv(t));
  assert.equal(r.status, 2);
  for (const action of ["create", "list", "revoke", "rotate"])
    assert.match(r.stderr, new RegExp(`keys ${action}`));
});
