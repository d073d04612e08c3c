import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import { after, before, describe, test } from "node:test";
import { createResolver, resolveAddresses, resolveMx } from "../../src/delivery/dns.ts";
import { type DnsTestServer, startDnsServer } from "../helpers/dns-server.ts";

describe("resolveMx / resolveAddresses", () => {
  let dns: DnsTestServer;
  before(async () => {
    dns = await startDnsServer({
      "example.test": [
        { type: "MX", value: "mx-c.example.test", priority: 30 },
        { type: "MX", value: "mx-a.example.test", priority: 10 },
        { type: "MX", value: "mx-b.example.test.", priority: 20 },
        { type: "MX", value: "MX-A.example.test", priority: 10 },
      ],
      "equal.test": [
        { type: "MX", value: "one.equal.test", priority: 10 },
        { type: "MX", value: "two.equal.test", priority: 10 },
        { type: "MX", value: "three.equal.test", priority: 10 },
      ],
      "nullmx.test": [{ type: "MX", value: ".", priority: 0 }],
      "implicit.test": [{ type: "A", value: "127.0.0.1" }],
      "dual.test": [
        { type: "AAAA", value: "::1" },
        { type: "A", value: "127.0.0.1" },
      ],
      "alias.test": [{ type: "CNAME", value: "dual.test" }],
      "txt-only.test": [{ type: "TXT", value: "v=spf1 -all" }],
    });
  });
  after(() => dns.close());

  test("sorts by priority and drops duplicates and trailing dots", async () => {
    const result = await resolveMx(createResolver([dns.address], 1000), "Example.Test.");
    assert.equal(result.kind, "hosts");
    assert.ok(result.kind === "hosts");
    assert.equal(result.implicit, false);
    assert.deepEqual(result.hosts, [
      { host: "mx-a.example.test", priority: 10 },
      { host: "mx-b.example.test", priority: 20 },
      { host: "mx-c.example.test", priority: 30 },
    ]);
  });

  test("orders equal priorities with the injected random source", async () => {
    const resolver = createResolver([dns.address], 1000);
    const orders = new Set<string>();
    for (const r of [0, 0.5, 0.99]) {
      const result = await resolveMx(resolver, "equal.test", () => r);
      assert.ok(result.kind === "hosts");
      assert.equal(result.hosts.length, 3);
      orders.add(result.hosts.map((h) => h.host).join(","));
      const again = await resolveMx(resolver, "equal.test", () => r);
      assert.ok(again.kind === "hosts");
      assert.deepEqual(again.hosts, result.hosts);
    }
    assert.ok(orders.size > 1, "different random values give different orders");
  });

  test("a null MX means the domain accepts no mail", async () => {
    assert.deepEqual(await resolveMx(createResolver([dns.address], 1000), "nullmx.test"), {
      kind: "null_mx",
    });
  });

  test("no MX records: the domain itself is the implicit MX", async () => {
    const result = await resolveMx(createResolver([dns.address], 1000), "implicit.test");
    assert.deepEqual(result, {
      kind: "hosts",
      hosts: [{ host: "implicit.test", priority: 0 }],
      implicit: true,
    });
  });

  test("NXDOMAIN is a permanent failure", async () => {
    const result = await resolveMx(createResolver([dns.address], 1000), "missing.test");
    assert.deepEqual(result, { kind: "failed", permanent: true, code: "ENOTFOUND" });
  });

  test("an unreachable DNS server is a temporary failure", async () => {
    const silent = createSocket("udp4");
    await new Promise<void>((resolve) => silent.bind(0, "127.0.0.1", resolve));
    try {
      const started = Date.now();
      const result = await resolveMx(
        createResolver([`127.0.0.1:${silent.address().port}`], 200),
        "example.test",
      );
      assert.equal(result.kind, "failed");
      assert.ok(result.kind === "failed" && !result.permanent);
      assert.ok(Date.now() - started < 3000);
    } finally {
      silent.close();
    }
  });

  test("addresses: IPv4 before IPv6, CNAMEs followed, empty for NODATA, failure for NXDOMAIN", async () => {
    const resolver = createResolver([dns.address], 1000);
    assert.deepEqual(await resolveAddresses(resolver, "dual.test"), {
      kind: "addresses",
      addresses: ["127.0.0.1", "::1"],
    });
    assert.deepEqual(await resolveAddresses(resolver, "alias.test"), {
      kind: "addresses",
      addresses: ["127.0.0.1", "::1"],
    });
    assert.deepEqual(await resolveAddresses(resolver, "txt-only.test"), { kind: "addresses", addresses: [] });
    const missing = await resolveAddresses(resolver, "missing.test");
    assert.deepEqual(missing, { kind: "failed", permanent: true, code: "ENOTFOUND" });
  });

  test("the test server answers TXT and picks up records set later", async () => {
    const resolver = createResolver([dns.address], 1000);
    assert.deepEqual(await resolver.resolveTxt("txt-only.test"), [["v=spf1 -all"]]);
    dns.set("late.test", [{ type: "A", value: "127.0.0.1" }]);
    assert.deepEqual(await resolver.resolve4("late.test"), ["127.0.0.1"]);
    dns.remove("late.test");
    await assert.rejects(resolver.resolve4("late.test"), { code: "ENOTFOUND" });
  });
});
