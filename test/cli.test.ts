import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { BOOTSTRAP_KEY, createTestDatabase, tempDir } from "./helpers/app.ts";
import { startDnsServer } from "./helpers/dns-server.ts";
import { spawnSealpost } from "./helpers/process.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const BIN = join(ROOT, "bin/sealpost.js");

async function setup(t: import("node:test").TestContext) {
  const dataDir = tempDir();
  const database = await createTestDatabase();
  t.after(async () => {
    await database.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });
  return {
    SEALPOST_DATA_DIR: dataDir,
    SEALPOST_LOG_LEVEL: "warn",
    SEALPOST_SMTP_PORT: "0",
    SEALPOST_SMTPS_PORT: "0",
    SEALPOST_INBOUND_PORT: "0",
    ...(database.url === undefined ? {} : { SEALPOST_DATABASE_URL: database.url }),
  } as Record<string, string>;
}

function cli(args: string[], env: Record<string, string>) {
  return spawnSync(process.execPath, [BIN, ...args], {
    env: { PATH: process.env.PATH ?? "", ...env },
    encoding: "utf8",
  });
}

test("migrate, keys create/list/revoke with --json", async (t) => {
  const env = await setup(t);
  const m = cli(["migrate", "--json"], env);
  assert.equal(m.status, 0, m.stderr);
  assert.ok(Array.isArray(JSON.parse(m.stdout).applied));
  const created = cli(
    [
      "keys",
      "create",
      "--org",
      "default",
      "--mode",
      "test",
      "--scopes",
      "messages:send,messages:read",
      "--json",
    ],
    env,
  );
  assert.equal(created.status, 0, created.stderr);
  const key = JSON.parse(created.stdout);
  assert.match(key.key, /^sp_test_[0-9a-hjkmnp-tv-z]{26}_[0-9A-Za-z]{43}$/);
  assert.match(key.id, /^key_/);
  assert.deepEqual(key.scopes, ["messages:send", "messages:read"]);
  if (env.SEALPOST_DATABASE_URL === undefined) {
    assert.equal(statSync(join(env.SEALPOST_DATA_DIR ?? "", "master.key")).mode & 0o777, 0o600);
  }
  const list = JSON.parse(cli(["keys", "list", "--json"], env).stdout);
  assert.equal(list.length, 1);
  assert.ok(!JSON.stringify(list).includes(key.key), "secrets are shown once only");
  assert.equal(cli(["keys", "revoke", "--id", key.id, "--json"], env).status, 0);
  assert.equal(JSON.parse(cli(["keys", "list", "--json"], env).stdout)[0].revoked_at !== null, true);
  const badMode = cli(["keys", "create", "--mode", "prod"], env);
  assert.equal(badMode.status, 2);
  const badConfig = cli(["migrate"], { ...env, SEALPOST_HTTP_PORT: "nope" });
  assert.equal(badConfig.status, 78);
  assert.match(badConfig.stderr, /SEALPOST_HTTP_PORT/);
});

test("npm start: prints where it listens and a curl that sends a sandbox message", async (t) => {
  const env = await setup(t);
  // `npm start` exactly as the README says, on a fresh data dir with a bootstrap key.
  const child = spawn("npm", ["start", "--silent"], {
    cwd: ROOT,
    env: { ...process.env, ...env, SEALPOST_HTTP_PORT: "0", SEALPOST_BOOTSTRAP_KEY: BOOTSTRAP_KEY },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let out = "";
  child.stdout.on("data", (d: Buffer) => {
    out += d.toString();
  });
  child.stderr.on("data", (d: Buffer) => {
    out += d.toString();
  });
  t.after(() => {
    try {
      process.kill(-(child.pid ?? 0), "SIGKILL");
    } catch {}
  });
  const deadline = Date.now() + 30_000;
  while (!/Send a first/.test(out) && Date.now() < deadline && child.exitCode === null)
    await new Promise((r) => setTimeout(r, 50));
  const base = /listening on (http:\/\/[\d.:]+)/.exec(out)?.[1];
  assert.ok(base, out);
  assert.match(out, /curl -sS http:\/\/127\.0\.0\.1:\d+\/v1\/messages/);
  const curl = spawnSync(
    "bash",
    ["-c", out.slice(out.indexOf("curl -sS")).split("\n").slice(0, 3).join("\n")],
    {
      env: { ...process.env, SEALPOST_BOOTSTRAP_KEY: BOOTSTRAP_KEY },
      encoding: "utf8",
    },
  );
  const sent = JSON.parse(curl.stdout);
  assert.match(sent.id, /^msg_/);
  let inbox: { data: unknown[] } = { data: [] };
  for (let i = 0; i < 100 && inbox.data.length === 0; i++) {
    await new Promise((r) => setTimeout(r, 50));
    inbox = (await (
      await fetch(`${base}/v1/sandbox/messages`, { headers: { authorization: `Bearer ${BOOTSTRAP_KEY}` } })
    ).json()) as {
      data: unknown[];
    };
  }
  assert.equal(inbox.data.length, 1);
});

test("start --roles rejects unknown roles; SIGTERM shuts down cleanly", async (t) => {
  const env = await setup(t);
  const bad = cli(["start", "--roles", "api,bogus"], env);
  assert.equal(bad.status, 2);
  const proc = spawnSealpost(["start", "--roles", "api"], { ...env, SEALPOST_HTTP_PORT: "0" });
  await proc.waitForLine(/listening on/);
  await proc.kill("SIGTERM");
  assert.equal(proc.child.exitCode, 0);
});

test("domains add, verify and list from the CLI", async (t) => {
  const env = await setup(t);
  const dns = await startDnsServer({});
  t.after(() => dns.close());
  const withDns = { ...env, SEALPOST_DNS_SERVERS: dns.address };
  assert.equal(cli(["migrate"], withDns).status, 0);
  // The default org exists after a first start; keys create makes it too.
  assert.equal(cli(["keys", "create", "--mode", "test", "--json"], withDns).status, 0);
  const added = cli(["domains", "add", "cli.test", "--json"], withDns);
  assert.equal(added.status, 0, added.stderr);
  const domain = JSON.parse(added.stdout);
  const pending = cli(["domains", "verify", "cli.test"], withDns);
  assert.equal(pending.status, 1);
  assert.match(pending.stdout, /cli\.test: pending/);
  for (const r of domain.records as { type: string; name: string; value: string; purpose: string }[])
    if (r.purpose === "dkim") dns.set(r.name, [{ type: "TXT", value: r.value }]);
  const verified = cli(["domains", "verify", "cli.test"], withDns);
  assert.equal(verified.status, 0, verified.stdout + verified.stderr);
  assert.match(verified.stdout, /cli\.test: verified/);
  const list = JSON.parse(cli(["domains", "list", "--json"], withDns).stdout);
  assert.deepEqual(
    list.map((d: { name: string; status: string }) => [d.name, d.status]),
    [["cli.test", "verified"]],
  );
  assert.equal(cli(["domains", "add", "not a domain"], withDns).status, 1);
});
