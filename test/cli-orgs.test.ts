/**
 * `sealpost orgs create NAME [--json]` and `sealpost orgs list [--json]` (ADR 0008 §1):
 * the operator makes orgs from the host; names are checked, and taken once.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { cliEnv, runCli } from "./helpers/cli.ts";

test("orgs create prints the id; list shows every org; bad and taken names are refused", async (t) => {
  const env = await cliEnv(t);

  const plain = runCli(["orgs", "create", "clinic-a"], env);
  assert.equal(plain.status, 0, plain.stderr);
  const idA = plain.stdout.trim();
  assert.match(idA, /^org_[0-9a-z]{26}$/);

  const json = runCli(["orgs", "create", "clinic-b", "--rate-limit", "50/s", "--json"], env);
  assert.equal(json.status, 0, json.stderr);
  const b = JSON.parse(json.stdout);
  assert.match(b.id, /^org_[0-9a-z]{26}$/);
  assert.equal(b.name, "clinic-b");
  assert.equal(b.rate_limit, "50/s");
  assert.ok(!Number.isNaN(Date.parse(b.created_at)));

  const withKey = runCli(["orgs", "create", "clinic-c", "--admin-key", "--json"], env);
  assert.equal(withKey.status, 0, withKey.stderr);
  const c = JSON.parse(withKey.stdout);
  assert.match(c.admin_key.key, /^sp_live_[0-9a-hjkmnp-tv-z]{26}_[0-9A-Za-z]{43}$/);
  assert.equal(c.admin_key.id, `key_${c.admin_key.key.slice(8, 34)}`);

  const taken = runCli(["orgs", "create", "clinic-a"], env);
  assert.equal(taken.status, 1);
  assert.match(taken.stderr, /already exists/);
  const bad = runCli(["orgs", "create", "Clinic"], env);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /name must be/);

  const list = runCli(["orgs", "list", "--json"], env);
  assert.equal(list.status, 0, list.stderr);
  assert.deepEqual(
    JSON.parse(list.stdout).map((o: { id: string; name: string }) => [o.id, o.name]),
    [
      [idA, "clinic-a"],
      [b.id, "clinic-b"],
      [c.id, "clinic-c"],
    ],
  );
  const text = runCli(["orgs", "list"], env);
  assert.equal(text.status, 0);
  assert.match(text.stdout, new RegExp(`^${idA}  clinic-a$`, "m"));
  assert.match(text.stdout, new RegExp(`^${b.id}  clinic-b  50/s$`, "m"));
});

test("jwks rotate makes a new OAuth signing key and retires the previous one", async (t) => {
  const env = await cliEnv(t);
  assert.equal(runCli(["migrate"], env).status, 0);
  const first = runCli(["jwks", "rotate", "--json"], env);
  assert.equal(first.status, 0, first.stderr);
  const a = JSON.parse(first.stdout);
  assert.match(a.kid, /^ikey_[0-9a-z]{26}$/);
  const second = JSON.parse(runCli(["jwks", "rotate", "--json"], env).stdout);
  assert.notEqual(second.kid, a.kid);
  assert.equal(second.retired, a.kid);
  assert.equal(runCli(["jwks", "list"], env).status, 2);
});
