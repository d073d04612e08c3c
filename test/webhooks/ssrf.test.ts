/**
 * The SSRF rules of webhook URLs (ADR 0011 §3), with the real system resolver for
 * `localhost` and address literals otherwise: https only, http only to loopback with the
 * development setting, and private, loopback, link-local, CGNAT, ULA, multicast and
 * IPv4-mapped addresses refused unless the admin allows private targets.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { isSealpostError } from "../../src/core/errors.ts";
import { checkWebhookUrl, REFUSALS, type UrlPolicy } from "../../src/webhooks/ssrf.ts";

const STRICT: UrlPolicy = { allowPrivate: false, allowHttpLoopback: false };
const PRIVATE: UrlPolicy = { allowPrivate: true, allowHttpLoopback: false };
const DEV: UrlPolicy = { allowPrivate: false, allowHttpLoopback: true };

async function refusal(url: string, policy: UrlPolicy): Promise<string | null> {
  try {
    await checkWebhookUrl(url, policy, async () => [{ address: "93.184.215.14", family: 4 }]);
    return null;
  } catch (err) {
    assert.ok(isSealpostError(err), String(err));
    assert.equal(err.code, "webhook_url_refused");
    return err.detail ?? "";
  }
}

test("private, loopback, link-local, CGNAT, ULA, multicast and IPv4-mapped targets are refused", async () => {
  for (const url of [
    "https://127.0.0.1/h",
    "https://10.1.2.3/h",
    "https://172.16.0.9/h",
    "https://192.168.1.1/h",
    "https://169.254.169.254/latest/meta-data",
    "https://100.64.0.1/h",
    "https://0.0.0.0/h",
    "https://224.0.0.1/h",
    "https://[::1]/h",
    "https://[fe80::1]/h",
    "https://[fd00::1]/h",
    "https://[::ffff:127.0.0.1]/h",
    "https://[::ffff:a9fe:a9fe]/h",
    "https://[::ffff:10.0.0.1]/h",
    "https://0x7f.0.0.1/h",
    "https://2130706433/h",
  ])
    assert.equal(await refusal(url, STRICT), REFUSALS.address, url);
  // A name is checked by what it resolves to: localhost is loopback.
  assert.equal(await checkWebhookUrl("https://localhost/h", STRICT).catch((e) => e.detail), REFUSALS.address);
});

test("a public https target passes; the admin's setting allows private ones but never unspecified or multicast", async () => {
  assert.equal(await refusal("https://hooks.example.com/in?token=x", STRICT), null);
  assert.equal(await refusal("https://93.184.215.14:8443/h", STRICT), null);
  assert.equal(await refusal("https://10.1.2.3/h", PRIVATE), null);
  assert.equal(await refusal("https://[::ffff:192.168.0.1]/h", PRIVATE), null);
  assert.equal(await refusal("https://0.0.0.0/h", PRIVATE), REFUSALS.address);
  assert.equal(await refusal("https://[ff02::1]/h", PRIVATE), REFUSALS.address);
});

test("http is refused except to loopback with the development setting; URLs with credentials or another scheme are refused", async () => {
  assert.equal(await refusal("http://hooks.example.com/h", STRICT), REFUSALS.http);
  assert.equal(await refusal("http://hooks.example.com/h", DEV), REFUSALS.http);
  assert.equal(await refusal("http://127.0.0.1:8080/h", STRICT), REFUSALS.address);
  assert.equal(await refusal("http://127.0.0.1:8080/h", DEV), null);
  assert.equal(await refusal("http://[::1]:8080/h", DEV), null);
  assert.equal(
    await refusal("http://10.0.0.1/h", { allowPrivate: true, allowHttpLoopback: true }),
    REFUSALS.http,
  );
  assert.equal(await refusal("https://user:pw@hooks.example.com/h", STRICT), REFUSALS.credentials);
  assert.equal(await refusal("ftp://hooks.example.com/h", STRICT), REFUSALS.url);
  assert.equal(await refusal("not a url", STRICT), REFUSALS.url);
  assert.equal(await refusal(`https://hooks.example.com/${"a".repeat(2100)}`, STRICT), REFUSALS.url);
});

test("a name that does not resolve, or resolves to one private address among public ones, is refused", async () => {
  const none = await checkWebhookUrl("https://nowhere.invalid/h", STRICT, async () => {
    throw new Error("ENOTFOUND");
  }).catch((e) => e.detail);
  assert.equal(none, REFUSALS.unresolved);
  const mixed = await checkWebhookUrl("https://mixed.example/h", STRICT, async () => [
    { address: "93.184.215.14", family: 4 },
    { address: "10.0.0.7", family: 4 },
  ]).catch((e) => e.detail);
  assert.equal(mixed, REFUSALS.address);
});
