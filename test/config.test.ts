import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { renderConfigDocs } from "../src/config/docs.ts";
import { ConfigError, loadConfig } from "../src/config/load.ts";

test("defaults match PRODUCT.md", () => {
  const c = loadConfig({});
  assert.match(c.dataDir, /\/data$/);
  assert.deepEqual(c.database, { kind: "sqlite", path: null });
  assert.equal(c.httpHost, "127.0.0.1");
  assert.equal(c.httpPort, 8080);
  assert.equal(c.smtpPort, 587);
  assert.equal(c.smtpsPort, 465);
  assert.equal(c.deliveryPort, 25);
  assert.equal(c.relay, null);
  assert.deepEqual(c.dnsServers, []);
  assert.equal(c.bootstrapKey, undefined);
  assert.ok(Object.isFrozen(c));
});

test("valid values are parsed", () => {
  const c = loadConfig({
    SEALPOST_DATABASE_URL: "postgres://postgres@127.0.0.1:5432/x",
    SEALPOST_DNS_SERVERS: "127.0.0.1:5353, [::1]:53",
    SEALPOST_RELAY: "smtp://127.0.0.1:2525",
    SEALPOST_BOOTSTRAP_KEY: "k".repeat(32),
  });
  assert.deepEqual(c.database, { kind: "postgres", url: "postgres://postgres@127.0.0.1:5432/x" });
  assert.deepEqual(c.dnsServers, [
    { host: "127.0.0.1", port: 5353 },
    { host: "::1", port: 53 },
  ]);
  assert.equal(c.relay?.port, "2525");
  assert.deepEqual(
    loadConfig({ SEALPOST_RETRY_SCHEDULE: "30s, 2m,1h" }).retrySchedule,
    [30_000, 120_000, 3_600_000],
  );
  assert.equal(loadConfig({}).retrySchedule.length, 7);
});

const bad: [Record<string, string>, string][] = [
  [{ SEALPOST_HTTP_PORT: "http" }, "SEALPOST_HTTP_PORT"],
  [{ SEALPOST_HTTP_PORT: "70000" }, "SEALPOST_HTTP_PORT"],
  [{ SEALPOST_SMTP_PORT: "-1" }, "SEALPOST_SMTP_PORT"],
  [{ SEALPOST_DATABASE_URL: "mysql://x" }, "SEALPOST_DATABASE_URL"],
  [{ SEALPOST_DNS_SERVERS: "dns.example:53" }, "SEALPOST_DNS_SERVERS"],
  [{ SEALPOST_RELAY: "http://relay" }, "SEALPOST_RELAY"],
  [{ SEALPOST_BOOTSTRAP_KEY: "short-secret-value" }, "SEALPOST_BOOTSTRAP_KEY"],
  [{ SEALPOST_HTTP_HOST: "0.0.0.0" }, "SEALPOST_HTTP_HOST"],
  [{ SEALPOST_TLS_CERT: "/x.pem" }, "SEALPOST_TLS_KEY"],
  [{ SEALPOST_MASTER_KEY: "a".repeat(64), SEALPOST_MASTER_KEY_FILE: "/k" }, "SEALPOST_MASTER_KEY_FILE"],
  [{ SEALPOST_LOG_LEVEL: "loud" }, "SEALPOST_LOG_LEVEL"],
  [{ SEALPOST_WORKER_CONCURRENCY: "0" }, "SEALPOST_WORKER_CONCURRENCY"],
  [{ SEALPOST_RETRY_SCHEDULE: "1m,soon" }, "SEALPOST_RETRY_SCHEDULE"],
  [{ SEALPOST_RETRY_SCHEDULE: "0s" }, "SEALPOST_RETRY_SCHEDULE"],
  [{ SEALPOST_MTA_STS: "maybe" }, "SEALPOST_MTA_STS"],
];

for (const [env, name] of bad) {
  test(`a bad ${name} stops start-up naming the setting, not the value`, () => {
    assert.throws(
      () => loadConfig(env),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.ok(err.settings.includes(name), err.message);
        assert.ok(err.message.includes(name));
        for (const v of Object.values(env))
          if (v.length > 6) assert.ok(!err.message.includes(v), "value echoed");
        return true;
      },
    );
  });
}

test("plain HTTP on a public interface is allowed only behind a proxy", () => {
  assert.equal(
    loadConfig({ SEALPOST_HTTP_HOST: "0.0.0.0", SEALPOST_BEHIND_PROXY: "true" }).httpHost,
    "0.0.0.0",
  );
});

test("docs/configuration.md is generated from the schema and current", () => {
  const onDisk = readFileSync(new URL("../docs/configuration.md", import.meta.url), "utf8");
  assert.equal(onDisk, renderConfigDocs(), "run `npm run docs:config`");
});
