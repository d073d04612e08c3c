import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createResolver } from "../../src/delivery/dns.ts";
import { SessionPool } from "../../src/delivery/pool.ts";
import {
  type DomainDeliveryOptions,
  deliverToDomain,
  parseRelayUrl,
  resolveRoute,
} from "../../src/delivery/route.ts";
import { type DnsTestServer, startDnsServer } from "../helpers/dns-server.ts";
import { startSmtpSink } from "../helpers/smtp-sink.ts";
import { BASE_OPTS, closedPort, ENVELOPE, RAW, sinkPair } from "./fixtures.ts";

// In these zones "v4" hosts resolve to 127.0.0.1 and "v6" hosts to ::1. A sink listens on one
// address (or a pair of sinks on both, same port), so the other address refuses connections.
const ZONE = {
  "v4.mx.test": [{ type: "A" as const, value: "127.0.0.1" }],
  "v6.mx.test": [{ type: "AAAA" as const, value: "::1" }],
  "no-address.mx.test": [{ type: "TXT" as const, value: "nothing here" }],
  "ordered.test": [
    // Listed highest number first: the order must come from the priorities.
    { type: "MX" as const, value: "v4.mx.test", priority: 20 },
    { type: "MX" as const, value: "v6.mx.test", priority: 10 },
  ],
  "v4-first.test": [
    { type: "MX" as const, value: "v6.mx.test", priority: 20 },
    { type: "MX" as const, value: "v4.mx.test", priority: 10 },
  ],
  "nullmx.test": [{ type: "MX" as const, value: ".", priority: 0 }],
  "implicit.test": [{ type: "A" as const, value: "127.0.0.1" }],
  "no-address.test": [{ type: "TXT" as const, value: "v=spf1 -all" }],
  "mx-without-address.test": [{ type: "MX" as const, value: "no-address.mx.test", priority: 10 }],
};

describe("resolveRoute / deliverToDomain", () => {
  let dns: DnsTestServer;
  before(async () => {
    dns = await startDnsServer(ZONE);
  });
  after(() => dns.close());

  const options = (deliveryPort: number, relay: URL | null = null): DomainDeliveryOptions => ({
    ...BASE_OPTS,
    relay,
    deliveryPort,
    resolver: createResolver([dns.address], 1000),
  });

  test("MX targets come in priority order with their addresses", async () => {
    const route = await resolveRoute("ordered.test", options(2525));
    assert.deepEqual(route, {
      kind: "targets",
      targets: [
        { host: "v6.mx.test", port: 2525, ip: "::1" },
        { host: "v4.mx.test", port: 2525, ip: "127.0.0.1" },
      ],
    });
  });

  test("delivers to the lowest-priority-value MX and stops there", async () => {
    const sink = await startSmtpSink({ host: "127.0.0.1" });
    try {
      const result = await deliverToDomain("v4-first.test", ENVELOPE, RAW, options(sink.port));
      assert.equal(result.outcome.kind, "sent");
      assert.equal(result.attempts.length, 1);
      assert.equal(result.attempts[0]?.target.host, "v4.mx.test");
      assert.equal(sink.messages.length, 1);
    } finally {
      await sink.close();
    }
  });

  test("falls back to the second MX when the first refuses the connection", async () => {
    const sink = await startSmtpSink({ host: "127.0.0.1" });
    try {
      const result = await deliverToDomain("ordered.test", ENVELOPE, RAW, options(sink.port));
      assert.equal(result.outcome.kind, "sent");
      assert.deepEqual(
        result.attempts.map((a) => [a.target.host, a.outcome.kind === "sent" ? "sent" : a.outcome.reason]),
        [
          ["v6.mx.test", "connection_failed"],
          ["v4.mx.test", "sent"],
        ],
      );
      assert.equal(result.attempts[1]?.outcome.evidence?.ip, "127.0.0.1");
      await sink.waitFor(1);
    } finally {
      await sink.close();
    }
  });

  test("falls back to the second MX when the first offers no STARTTLS; nothing sent to the first", async () => {
    const [plain, good] = await sinkPair({ starttls: false }, {});
    try {
      const result = await deliverToDomain("v4-first.test", ENVELOPE, RAW, options(plain.port));
      assert.equal(result.outcome.kind, "sent");
      assert.deepEqual(
        result.attempts.map((a) => (a.outcome.kind === "sent" ? "sent" : a.outcome.reason)),
        ["tls_unavailable", "sent"],
      );
      assert.equal(plain.dataCount(), 0);
      assert.equal(good.messages.length, 1);
    } finally {
      await plain.close();
      await good.close();
    }
  });

  test("a 5xx from the first MX is final: the second is not tried", async () => {
    const [rejecting, good] = await sinkPair({ rejectRcpt: () => 550 }, {});
    try {
      const result = await deliverToDomain("v4-first.test", ENVELOPE, RAW, options(rejecting.port));
      assert.equal(result.outcome.kind, "hard_fail");
      assert.equal(result.outcome.kind === "hard_fail" && result.outcome.reason, "rejected_permanent");
      assert.equal(result.attempts.length, 1);
      assert.equal(good.messages.length, 0);
      assert.ok(!JSON.stringify(result).includes("@"));
    } finally {
      await rejecting.close();
      await good.close();
    }
  });

  test("every MX failing: the last soft failure, with all attempts", async () => {
    const port = await closedPort();
    const result = await deliverToDomain("ordered.test", ENVELOPE, RAW, options(port));
    assert.equal(result.outcome.kind === "soft_fail" && result.outcome.reason, "connection_failed");
    assert.equal(result.attempts.length, 2);
  });

  test("null MX: hard null_mx without connecting", async () => {
    const result = await deliverToDomain("nullmx.test", ENVELOPE, RAW, options(await closedPort()));
    assert.equal(result.outcome.kind === "hard_fail" && result.outcome.reason, "null_mx");
    assert.deepEqual(result.attempts, []);
  });

  test("implicit MX: a domain with only an A record receives at that address", async () => {
    const sink = await startSmtpSink();
    try {
      const result = await deliverToDomain("implicit.test", ENVELOPE, RAW, options(sink.port));
      assert.equal(result.outcome.kind, "sent");
      assert.deepEqual(result.attempts[0]?.target, {
        host: "implicit.test",
        port: sink.port,
        ip: "127.0.0.1",
      });
      assert.equal(sink.messages.length, 1);
    } finally {
      await sink.close();
    }
  });

  test("DNS outcomes: NXDOMAIN hard, no address at all hard, MX host without address soft", async () => {
    const port = await closedPort();
    const nx = await resolveRoute("missing.test", options(port));
    assert.deepEqual(nx, {
      kind: "error",
      outcome: { kind: "hard_fail", reason: "dns_failed", evidence: null, reply: null },
    });
    const none = await resolveRoute("no-address.test", options(port));
    assert.equal(none.kind === "error" && none.outcome.kind, "hard_fail");
    assert.equal(none.kind === "error" && none.outcome.reason, "no_route");
    const mxNone = await resolveRoute("mx-without-address.test", options(port));
    assert.equal(mxNone.kind === "error" && mxNone.outcome.kind, "soft_fail");
    const dead = await resolveRoute("ordered.test", {
      ...options(port),
      resolver: createResolver([`127.0.0.1:${port}`], 200),
    });
    assert.equal(dead.kind === "error" && dead.outcome.kind, "soft_fail");
    assert.equal(dead.kind === "error" && dead.outcome.reason, "dns_failed");
  });

  test("relay: DNS is bypassed and the relay receives the message", async () => {
    const sink = await startSmtpSink();
    try {
      const relay = new URL(`smtp://127.0.0.1:${sink.port}`);
      // missing.test is NXDOMAIN: delivery only works because the relay bypasses DNS.
      const result = await deliverToDomain("missing.test", ENVELOPE, RAW, options(await closedPort(), relay));
      assert.equal(result.outcome.kind, "sent");
      assert.deepEqual(result.attempts[0]?.target, { host: "127.0.0.1", port: sink.port, ip: "127.0.0.1" });
      assert.equal(sink.messages.length, 1);
    } finally {
      await sink.close();
    }
  });

  test("with a pool: failover as without one, then the working MX's session is reused", async () => {
    const [plain, good] = await sinkPair({ starttls: false }, {});
    const pool = new SessionPool();
    try {
      const opts = { ...options(plain.port), pool };
      const first = await deliverToDomain("v4-first.test", ENVELOPE, RAW, opts);
      assert.deepEqual(
        first.attempts.map((a) => [a.target.host, a.outcome.kind === "sent" ? "sent" : a.outcome.reason]),
        [
          ["v4.mx.test", "tls_unavailable"],
          ["v6.mx.test", "sent"],
        ],
      );
      assert.equal(first.attempts[1]?.outcome.evidence?.ip, "::1");
      const second = await deliverToDomain("v4-first.test", ENVELOPE, RAW, opts);
      assert.equal(second.outcome.kind, "sent");
      assert.equal(plain.dataCount(), 0);
      assert.equal(good.messages.length, 2);
      assert.equal(good.connections(), 1);
    } finally {
      await pool.close();
      await plain.close();
      await good.close();
    }
  });

  test("with a pool: a 5xx from the first MX is still final", async () => {
    const [rejecting, good] = await sinkPair({ rejectRcpt: () => 550 }, {});
    const pool = new SessionPool();
    try {
      const result = await deliverToDomain("v4-first.test", ENVELOPE, RAW, {
        ...options(rejecting.port),
        pool,
      });
      assert.equal(result.outcome.kind === "hard_fail" && result.outcome.reason, "rejected_permanent");
      assert.equal(result.attempts.length, 1);
      assert.equal(good.messages.length, 0);
      assert.ok(!JSON.stringify(result).includes("@"));
    } finally {
      await pool.close();
      await rejecting.close();
      await good.close();
    }
  });

  test("with a pool: the domain's rate limit defers a message that would wait too long", async () => {
    const sink = await startSmtpSink({ host: "127.0.0.1" });
    const pool = new SessionPool({ ratePerDomain: 1 });
    try {
      const opts = { ...options(sink.port), pool, timeoutMs: 300 };
      assert.equal((await deliverToDomain("v4-first.test", ENVELOPE, RAW, opts)).outcome.kind, "sent");
      const paced = await deliverToDomain("v4-first.test", ENVELOPE, RAW, opts);
      assert.equal(paced.outcome.kind === "soft_fail" && paced.outcome.reason, "timeout");
      assert.deepEqual(paced.attempts, []);
      // Another domain is not held back.
      assert.equal((await deliverToDomain("implicit.test", ENVELOPE, RAW, opts)).outcome.kind, "sent");
      assert.equal(sink.messages.length, 2);
    } finally {
      await pool.close();
      await sink.close();
    }
  });

  test("relay URLs: port 25 by default, IPv6 literals, only smtp:// without credentials", () => {
    assert.deepEqual(parseRelayUrl(new URL("smtp://relay.internal")), { host: "relay.internal", port: 25 });
    assert.deepEqual(parseRelayUrl(new URL("smtp://[::1]:2525")), { host: "::1", port: 2525 });
    assert.throws(() => parseRelayUrl(new URL("https://relay.internal")), { code: "validation_failed" });
    assert.throws(() => parseRelayUrl(new URL("smtp://user:pw@relay.internal")), {
      code: "validation_failed",
    });
  });
});
