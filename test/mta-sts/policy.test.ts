/**
 * getMtaStsPolicy against real servers on loopback: the test DNS server for the TXT record and
 * the policy host address, and an HTTPS policy server with a certificate from a private test CA.
 */
import assert from "node:assert/strict";
import type { Resolver } from "node:dns/promises";
import { createServer, type Server, type Socket } from "node:net";
import { after, before, describe, test } from "node:test";
import { ManualClock } from "../../src/core/clock.ts";
import { createResolver } from "../../src/delivery/dns.ts";
import {
  effectivePolicy,
  getMtaStsPolicy,
  type MtaStsCache,
  type MtaStsOptions,
  memoryMtaStsCache,
  mtaStsFetchBackoff,
} from "../../src/delivery/mta-sts.ts";
import { closedPort } from "../delivery/fixtures.ts";
import { type DnsRecord, type DnsTestServer, startDnsServer } from "../helpers/dns-server.ts";
import { type PolicyServer, startPolicyServer } from "../helpers/policy-server.ts";
import { type TestCa, testCa } from "../helpers/test-ca.ts";
import { requireTool } from "../helpers/tools.ts";
import { ENFORCE_POLICY, policyText, stsRecords, TESTING_POLICY } from "./fixtures.ts";

// The DNS server is a private Knot DNS (test/helpers/dns-server.ts): skipped, and listed, without it.
const skip = requireTool(undefined, "dns-server")
  ? false
  : "missing tool: dns-server (install with scripts/install-test-tools.sh)";

const DAY_S = 86_400;

const SERVED = [
  "fresh.test",
  "rotate.test",
  "expire.test",
  "gone.test",
  "gone-expired.test",
  "idle.test",
  "cached-fail.test",
  "backoff.test",
  "multi.test",
  "invalid-txt.test",
  "other-txt.test",
  "upper.test",
  "big.test",
  "big-chunked.test",
  "ctype.test",
  "missing.test",
  "redirect.test",
  "bad-version.test",
  "bad-mode.test",
  "bad-max-age.test",
  "huge-max-age.test",
  "no-mx.test",
  "none-mode.test",
];

function zone(): Record<string, DnsRecord[]> {
  const records: Record<string, DnsRecord[]> = {};
  for (const d of SERVED) Object.assign(records, stsRecords(d, "20260101"));
  Object.assign(records, stsRecords("untrusted.test", "1"), stsRecords("wrong-name.test", "1"));
  Object.assign(records, stsRecords("refused.test", "1"), stsRecords("slow.test", "1"));
  records["nosts.test"] = [{ type: "A", value: "127.0.0.1" }];
  records["_mta-sts.no-address.test"] = [{ type: "TXT", value: "v=STSv1; id=1" }];
  records["_mta-sts.multi.test"] = [
    { type: "TXT", value: "v=STSv1; id=1" },
    { type: "TXT", value: "v=STSv1; id=2" },
  ];
  records["_mta-sts.invalid-txt.test"] = [{ type: "TXT", value: "v=STSv1; mode=enforce" }];
  records["_mta-sts.other-txt.test"] = [
    { type: "TXT", value: "v=spf1 -all" },
    { type: "TXT", value: "v=STSv1; id=abc123" },
  ];
  records["_mta-sts.upper.test"] = [{ type: "TXT", value: "v=STSv1; id=1" }];
  return records;
}

describe("getMtaStsPolicy", { skip }, () => {
  let dns: DnsTestServer;
  let resolver: Resolver;
  let ca: TestCa;
  let server: PolicyServer;
  let untrusted: PolicyServer;
  let wrongName: PolicyServer;
  let silent: Server;
  const silentSockets = new Set<Socket>();

  before(async () => {
    dns = await startDnsServer(zone());
    resolver = createResolver([dns.address], 1000);
    ca = await testCa();
    const policies: Record<string, string> = {};
    for (const d of SERVED) policies[d] = ENFORCE_POLICY;
    server = await startPolicyServer({
      ...(await ca.issue(SERVED.map((d) => `mta-sts.${d}`))),
      policies,
    });
    const otherCa = await testCa();
    untrusted = await startPolicyServer({
      ...(await otherCa.issue(["mta-sts.untrusted.test"])),
      policies: { "untrusted.test": ENFORCE_POLICY },
    });
    wrongName = await startPolicyServer({
      ...(await ca.issue(["mta-sts.elsewhere.test"])),
      policies: { "wrong-name.test": ENFORCE_POLICY },
    });
    silent = createServer((socket) => {
      silentSockets.add(socket);
      socket.on("close", () => silentSockets.delete(socket));
    });
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
  });
  after(async () => {
    for (const s of silentSockets) s.destroy();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
    await Promise.all([dns.close(), server.close(), untrusted.close(), wrongName.close()]);
  });

  function options(extra: Partial<MtaStsOptions> = {}): MtaStsOptions & { clock: ManualClock } {
    const clock = new ManualClock();
    return {
      resolver,
      cache: memoryMtaStsCache(),
      now: () => clock.now(),
      httpsPort: server.port,
      ca: ca.caCert,
      timeoutMs: 3000,
      clock,
      ...extra,
    };
  }

  test("fetches the policy once, then serves it from the cache", async () => {
    const opts = options();
    const first = await getMtaStsPolicy("Fresh.Test.", opts);
    assert.equal(first.kind, "policy");
    if (first.kind !== "policy") return;
    assert.equal(first.fromCache, false);
    assert.deepEqual(first.policy, {
      id: "20260101",
      mode: "enforce",
      mx: ["mx1.good.test", "*.pool.good.test"],
      maxAgeSeconds: DAY_S,
      fetchedAt: opts.clock.now(),
    });
    assert.equal(server.requests("fresh.test"), 1);

    opts.clock.advance(3600_000);
    const second = await getMtaStsPolicy("fresh.test", opts);
    assert.deepEqual(second, { kind: "policy", policy: first.policy, fromCache: true });
    assert.equal(server.requests("fresh.test"), 1, "the cached policy is used without a fetch");
  });

  test("a new id in the TXT record fetches the policy again", async () => {
    const opts = options();
    await getMtaStsPolicy("rotate.test", opts);
    server.set("rotate.test", TESTING_POLICY);
    dns.set("_mta-sts.rotate.test", [{ type: "TXT", value: "v=STSv1; id=20260202" }]);
    const result = await getMtaStsPolicy("rotate.test", opts);
    assert.equal(result.kind, "policy");
    if (result.kind !== "policy") return;
    assert.equal(result.fromCache, false);
    assert.equal(result.policy.id, "20260202");
    assert.equal(result.policy.mode, "testing");
    assert.deepEqual(result.policy.mx, ["mx1.good.test"]);
    assert.equal(server.requests("rotate.test"), 2);
    assert.deepEqual(await opts.cache.get("rotate.test"), result.policy);
  });

  test("an expired cached policy is fetched again, even with the same id", async () => {
    const opts = options();
    await getMtaStsPolicy("expire.test", opts);
    opts.clock.advance(DAY_S * 1000 - 1);
    assert.equal((await getMtaStsPolicy("expire.test", opts)).kind, "policy");
    assert.equal(server.requests("expire.test"), 1, "one ms before max_age runs out: cached");
    opts.clock.advance(1);
    const result = await getMtaStsPolicy("expire.test", opts);
    assert.equal(result.kind === "policy" && result.fromCache, false);
    assert.equal(server.requests("expire.test"), 2);
    assert.equal(result.kind === "policy" && result.policy.fetchedAt, opts.clock.now());
  });

  test("no TXT record and nothing cached: no policy, and no fetch", async () => {
    assert.deepEqual(await getMtaStsPolicy("nosts.test", options()), { kind: "none" });
    assert.deepEqual(await getMtaStsPolicy("nxdomain.test", options()), { kind: "none" });
  });

  test("a TXT record that disappears does not switch off a cached policy before it expires", async () => {
    const opts = options();
    const first = await getMtaStsPolicy("gone.test", opts);
    dns.remove("_mta-sts.gone.test");
    opts.clock.advance(1000);
    const second = await getMtaStsPolicy("gone.test", opts);
    assert.equal(second.kind, "policy");
    assert.equal(second.kind === "policy" && second.fromCache, true);
    assert.deepEqual(effectivePolicy(second), effectivePolicy(first));
  });

  test("a TXT record that disappears after the cached policy expired: no policy", async () => {
    const opts = options();
    await getMtaStsPolicy("gone-expired.test", opts);
    dns.remove("_mta-sts.gone-expired.test");
    opts.clock.advance(DAY_S * 1000);
    assert.deepEqual(await getMtaStsPolicy("gone-expired.test", opts), { kind: "none" });
  });

  test("TXT records: several v=STSv1 records or one without id mean no policy; others are ignored", async () => {
    assert.deepEqual(await getMtaStsPolicy("multi.test", options()), { kind: "none" });
    assert.deepEqual(await getMtaStsPolicy("invalid-txt.test", options()), { kind: "none" });
    assert.equal(server.requests("multi.test") + server.requests("invalid-txt.test"), 0);
    const other = await getMtaStsPolicy("other-txt.test", options());
    assert.equal(other.kind === "policy" && other.policy.id, "abc123");
  });

  test("DNS failure: an error with no cached policy, or with the cached one", async () => {
    const deadDns = createResolver([`127.0.0.1:${await closedPort()}`], 200);
    const none = await getMtaStsPolicy("idle.test", options({ resolver: deadDns }));
    assert.equal(none.kind, "error");
    if (none.kind !== "error") return;
    assert.equal(none.reason, "dns_failed");
    assert.equal(none.cached, null);
    assert.equal(effectivePolicy(none), null);

    const opts = options();
    const live = await getMtaStsPolicy("idle.test", opts);
    const failed = await getMtaStsPolicy("idle.test", { ...opts, resolver: deadDns });
    assert.equal(failed.kind, "error");
    assert.equal(failed.kind === "error" && failed.reason, "dns_failed");
    assert.deepEqual(effectivePolicy(failed), effectivePolicy(live));
  });

  test("a certificate from a CA the sender does not trust: fetch failed, deliver without policy", async () => {
    const result = await getMtaStsPolicy("untrusted.test", options({ httpsPort: untrusted.port }));
    assert.equal(result.kind, "error");
    if (result.kind !== "error") return;
    assert.equal(result.reason, "policy_fetch_failed");
    assert.equal(result.detail, "cert_invalid");
    assert.equal(result.code, "UNABLE_TO_VERIFY_LEAF_SIGNATURE");
    assert.equal(result.cached, null);
    assert.equal(untrusted.requests("untrusted.test"), 0, "no HTTP request over an unverified session");
  });

  test("without the test CA (system trust store only) the policy host is not trusted", async () => {
    const { ca: _ignored, ...rest } = options();
    const result = await getMtaStsPolicy("fresh.test", rest);
    assert.equal(result.kind === "error" && result.detail, "cert_invalid");
  });

  test("a trusted certificate for another name: fetch failed", async () => {
    const result = await getMtaStsPolicy("wrong-name.test", options({ httpsPort: wrongName.port }));
    assert.equal(result.kind === "error" && result.detail, "cert_invalid");
    assert.equal(result.kind === "error" && result.code, "ERR_TLS_CERT_ALTNAME_INVALID");
  });

  test("fetch failure with a usable cached policy: the error carries it, to be applied", async () => {
    const opts = options();
    const live = await getMtaStsPolicy("cached-fail.test", opts);
    dns.set("_mta-sts.cached-fail.test", [{ type: "TXT", value: "v=STSv1; id=2" }]);
    server.set("cached-fail.test", { body: "gone", status: 500 });
    const result = await getMtaStsPolicy("cached-fail.test", opts);
    assert.equal(result.kind, "error");
    if (result.kind !== "error") return;
    assert.equal(result.detail, "http_status");
    assert.equal(result.code, "HTTP_500");
    assert.deepEqual(result.cached, effectivePolicy(live));
    assert.deepEqual(await opts.cache.get("cached-fail.test"), effectivePolicy(live), "cache unchanged");
  });

  test("refused connection and a host that never answers", async () => {
    const refused = await getMtaStsPolicy("refused.test", options({ httpsPort: await closedPort() }));
    assert.equal(refused.kind === "error" && refused.detail, "connection_failed");
    const address = silent.address();
    if (address === null || typeof address === "string") throw new Error("no port");
    const started = Date.now();
    const slow = await getMtaStsPolicy("slow.test", options({ httpsPort: address.port, timeoutMs: 300 }));
    assert.equal(slow.kind === "error" && slow.detail, "timeout");
    assert.ok(Date.now() - started < 2000);
  });

  test("a policy host without an address: fetch failed", async () => {
    const result = await getMtaStsPolicy("no-address.test", options());
    assert.equal(result.kind === "error" && result.detail, "no_address");
  });

  test("HTTP: only 200 text/plain counts; redirects are not followed", async () => {
    server.set("ctype.test", { body: ENFORCE_POLICY, contentType: "text/html" });
    server.set("missing.test", { body: "no", status: 404 });
    server.set("redirect.test", {
      body: "",
      status: 301,
      location: `https://mta-sts.fresh.test:${server.port}/.well-known/mta-sts.txt`,
    });
    const before = server.requests("fresh.test");
    const ctype = await getMtaStsPolicy("ctype.test", options());
    assert.equal(ctype.kind === "error" && ctype.detail, "content_type");
    const missing = await getMtaStsPolicy("missing.test", options());
    assert.equal(missing.kind === "error" && missing.code, "HTTP_404");
    const redirect = await getMtaStsPolicy("redirect.test", options());
    assert.equal(redirect.kind === "error" && redirect.code, "HTTP_301");
    assert.equal(server.requests("fresh.test"), before, "the redirect target was not requested");
  });

  test("a policy over 64 KB is refused, with or without Content-Length", async () => {
    const big = `${ENFORCE_POLICY}${"x: y\n".repeat(14_000)}`;
    assert.ok(Buffer.byteLength(big) > 64 * 1024);
    server.set("big.test", big);
    server.set("big-chunked.test", { body: big, chunked: true });
    const a = await getMtaStsPolicy("big.test", options());
    assert.equal(a.kind === "error" && a.detail, "too_large");
    const b = await getMtaStsPolicy("big-chunked.test", options());
    assert.equal(b.kind === "error" && b.detail, "too_large");
  });

  test("bad policy syntax: fetch failed with the parser's code", async () => {
    const cases: Array<[string, string, string]> = [
      [
        "bad-version.test",
        policyText({ version: "STSv2", mode: "enforce", mx: "a.test", max_age: "60" }),
        "invalid_sts_version",
      ],
      [
        "bad-mode.test",
        policyText({ version: "STSv1", mode: "strict", mx: "a.test", max_age: "60" }),
        "invalid_sts_mode",
      ],
      [
        "bad-max-age.test",
        policyText({ version: "STSv1", mode: "enforce", mx: "a.test", max_age: "1.5" }),
        "invalid_sts_max_age",
      ],
      [
        "huge-max-age.test",
        policyText({ version: "STSv1", mode: "enforce", mx: "a.test", max_age: "31557601" }),
        "invalid_sts_max_age",
      ],
      ["no-mx.test", policyText({ version: "STSv1", mode: "enforce", max_age: "60" }), "invalid_sts_mx"],
    ];
    for (const [domain, text, code] of cases) {
      server.set(domain, text);
      const result = await getMtaStsPolicy(domain, options());
      assert.equal(result.kind, "error", domain);
      assert.equal(result.kind === "error" && result.detail, "invalid_policy", domain);
      assert.equal(result.kind === "error" && result.code, code, domain);
    }
  });

  test("lenient parsing: field-name case and spacing; mode none needs no mx", async () => {
    server.set("upper.test", "Version: STSv1\r\nMode: Enforce\r\nMX: MX1.Upper.Test.\r\nmax_age:  600 \r\n");
    const upper = await getMtaStsPolicy("upper.test", options());
    assert.equal(upper.kind, "policy");
    assert.deepEqual(upper.kind === "policy" && upper.policy.mx, ["mx1.upper.test"]);
    assert.equal(upper.kind === "policy" && upper.policy.mode, "enforce");
    server.set("none-mode.test", policyText({ version: "STSv1", mode: "none", max_age: "60" }));
    const none = await getMtaStsPolicy("none-mode.test", options());
    assert.equal(none.kind === "policy" && none.policy.mode, "none");
  });

  test("a failing policy id is not fetched again for five minutes", async () => {
    server.set("backoff.test", { body: "", status: 503 });
    const opts = options({ backoff: mtaStsFetchBackoff() });
    const first = await getMtaStsPolicy("backoff.test", opts);
    assert.equal(first.kind === "error" && first.detail, "http_status");
    opts.clock.advance(60_000);
    const second = await getMtaStsPolicy("backoff.test", opts);
    assert.equal(second.kind === "error" && second.detail, "recently_failed");
    assert.equal(server.requests("backoff.test"), 1);

    server.set("backoff.test", ENFORCE_POLICY);
    opts.clock.advance(4 * 60_000);
    const third = await getMtaStsPolicy("backoff.test", opts);
    assert.equal(third.kind, "policy");
    assert.equal(server.requests("backoff.test"), 2);
  });

  test("a cache shared between calls is keyed by the normalized domain", async () => {
    const cache: MtaStsCache = memoryMtaStsCache();
    const opts = options({ cache });
    await getMtaStsPolicy("FRESH.test", opts);
    assert.notEqual(await cache.get("fresh.test"), null);
    assert.equal(await cache.get("FRESH.test"), null);
  });
});
