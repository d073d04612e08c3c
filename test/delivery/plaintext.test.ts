/**
 * `plaintextPermitted` (ADR 0010 §7) against real SMTP servers on loopback: a message that
 * may go without TLS (a portal notice, an honoured allow_non_tls) does so only when the
 * server does not advertise STARTTLS. A refused STARTTLS, a failed handshake, TLS below 1.2
 * and an MTA-STS `enforce` domain stay failures, with no envelope sent.
 */
import assert from "node:assert/strict";
import { createServer, type Socket } from "node:net";
import { describe, test } from "node:test";
import { ManualClock } from "../../src/core/clock.ts";
import { createResolver } from "../../src/delivery/dns.ts";
import { memoryMtaStsCache, mtaStsFetchBackoff } from "../../src/delivery/mta-sts.ts";
import { SessionPool } from "../../src/delivery/pool.ts";
import { deliverToDomain } from "../../src/delivery/route.ts";
import { deliverOnce } from "../../src/delivery/smtp-client.ts";
import { startDnsServer } from "../helpers/dns-server.ts";
import { startPolicyServer } from "../helpers/policy-server.ts";
import { type SmtpSink, type SmtpSinkOptions, startSmtpSink } from "../helpers/smtp-sink.ts";
import { testCa } from "../helpers/test-ca.ts";
import { requireTool } from "../helpers/tools.ts";
import { BASE_OPTS, ENVELOPE, RAW } from "./fixtures.ts";

const PERMITTED = { ...BASE_OPTS, plaintextPermitted: true };
const LEGACY_TLS = { minVersion: "TLSv1", maxVersion: "TLSv1.1", ciphers: "DEFAULT@SECLEVEL=0" };

async function withSink<T>(opts: SmtpSinkOptions, fn: (sink: SmtpSink) => Promise<T>): Promise<T> {
  const sink = await startSmtpSink(opts);
  try {
    return await fn(sink);
  } finally {
    await sink.close();
  }
}

/**
 * A scripted server that advertises STARTTLS; `onStartTls` answers the command. Counts the
 * MAIL FROM commands it sees, which must stay 0.
 */
async function startTlsLiar(
  onStartTls: (socket: Socket) => void,
): Promise<{ port: number; mailFrom(): number; close(): Promise<void> }> {
  let mail = 0;
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
    socket.setTimeout(5000, () => socket.destroy());
    socket.write("220 liar.test ESMTP\r\n");
    let buffered = "";
    socket.on("data", (chunk) => {
      buffered += chunk.toString("latin1");
      let end = buffered.indexOf("\r\n");
      while (end >= 0) {
        const line = buffered.slice(0, end).toUpperCase();
        buffered = buffered.slice(end + 2);
        if (line.startsWith("EHLO")) socket.write("250-liar.test\r\n250-PIPELINING\r\n250 STARTTLS\r\n");
        else if (line.startsWith("STARTTLS")) onStartTls(socket);
        else if (line.startsWith("MAIL FROM")) {
          mail += 1;
          socket.write("250 ok\r\n");
        } else if (line.startsWith("QUIT")) socket.end("221 bye\r\n");
        else socket.write("250 ok\r\n");
        end = buffered.indexOf("\r\n");
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no port");
  return {
    port: address.port,
    mailFrom: () => mail,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

describe("plaintextPermitted", () => {
  test("no STARTTLS, not permitted: tls_unavailable, nothing sent (as before)", async () => {
    await withSink({ starttls: false }, async (sink) => {
      const outcome = await deliverOnce({ host: "127.0.0.1", port: sink.port }, ENVELOPE, RAW, BASE_OPTS);
      assert.equal(outcome.kind === "soft_fail" && outcome.reason, "tls_unavailable");
      assert.equal(sink.dataCount(), 0);
    });
  });

  test("no STARTTLS, permitted: delivered in plaintext, the evidence says tls_version null", async () => {
    await withSink({ starttls: false }, async (sink) => {
      const outcome = await deliverOnce({ host: "127.0.0.1", port: sink.port }, ENVELOPE, RAW, PERMITTED);
      assert.equal(outcome.kind, "sent");
      assert.equal(outcome.evidence?.tlsVersion, null);
      assert.equal(outcome.evidence?.cipher, null);
      assert.equal(outcome.evidence?.certVerified, false);
      assert.equal(outcome.evidence?.ip, "127.0.0.1");
      await sink.waitFor(1);
      assert.equal(sink.messages[0]?.secure, false);
      assert.equal(sink.plaintextDataCount(), 1);
    });
  });

  test("STARTTLS offered, permitted: TLS is still used", async () => {
    await withSink({}, async (sink) => {
      const outcome = await deliverOnce({ host: "127.0.0.1", port: sink.port }, ENVELOPE, RAW, PERMITTED);
      assert.equal(outcome.kind, "sent");
      assert.match(outcome.evidence?.tlsVersion ?? "", /^TLSv1\.[23]$/);
      await sink.waitFor(1);
      assert.equal(sink.messages[0]?.secure, true);
      assert.equal(sink.plaintextDataCount(), 0);
    });
  });

  test("TLS 1.0/1.1 only, permitted: sent over the old TLS (better than plaintext), evidence says so", async () => {
    await withSink({ tls: LEGACY_TLS }, async (sink) => {
      const outcome = await deliverOnce({ host: "127.0.0.1", port: sink.port }, ENVELOPE, RAW, PERMITTED);
      assert.equal(outcome.kind, "sent");
      assert.match(outcome.evidence?.tlsVersion ?? "", /^TLSv1(\.1)?$/);
      await sink.waitFor(1);
      assert.equal(sink.messages[0]?.secure, true);
      assert.equal(sink.plaintextDataCount(), 0);
    });
  });

  test("TLS 1.0/1.1 only, not permitted: refused, no DATA", async () => {
    await withSink({ tls: LEGACY_TLS }, async (sink) => {
      const outcome = await deliverOnce({ host: "127.0.0.1", port: sink.port }, ENVELOPE, RAW, BASE_OPTS);
      assert.equal(outcome.kind === "soft_fail" && outcome.reason, "tls_unavailable");
      assert.equal(sink.dataCount(), 0);
    });
  });

  test("STARTTLS advertised but refused (454), permitted: refused, no MAIL FROM", async () => {
    const liar = await startTlsLiar((socket) => socket.write("454 4.7.0 TLS not available\r\n"));
    try {
      const outcome = await deliverOnce({ host: "127.0.0.1", port: liar.port }, ENVELOPE, RAW, PERMITTED);
      assert.equal(outcome.kind === "soft_fail" && outcome.reason, "tls_unavailable");
      assert.equal(liar.mailFrom(), 0);
    } finally {
      await liar.close();
    }
  });

  test("STARTTLS accepted but the handshake fails, permitted: refused, no MAIL FROM", async () => {
    const liar = await startTlsLiar((socket) => {
      socket.write("220 go ahead\r\n");
      // Not a TLS server hello: the handshake fails.
      setTimeout(() => socket.write("250 this is not TLS\r\n"), 20);
    });
    try {
      const outcome = await deliverOnce({ host: "127.0.0.1", port: liar.port }, ENVELOPE, RAW, PERMITTED);
      assert.equal(outcome.kind, "soft_fail");
      assert.equal(outcome.evidence?.tlsVersion ?? null, null);
      assert.equal(liar.mailFrom(), 0);
    } finally {
      await liar.close();
    }
  });

  test("through a relay and the session pool: the same rule (pool bypassed, plaintext allowed)", async () => {
    await withSink({ starttls: false }, async (sink) => {
      const pool = new SessionPool({ maxPerDestination: 2 });
      try {
        const common = {
          ...BASE_OPTS,
          relay: new URL(`smtp://127.0.0.1:${sink.port}`),
          resolver: createResolver(["127.0.0.1:9"], 1000),
          deliveryPort: 25,
          pool,
        };
        const refused = await deliverToDomain("hospital.example", ENVELOPE, RAW, common);
        assert.equal(refused.outcome.kind === "soft_fail" && refused.outcome.reason, "tls_unavailable");
        assert.equal(sink.dataCount(), 0);
        const sent = await deliverToDomain("hospital.example", ENVELOPE, RAW, {
          ...common,
          plaintextPermitted: true,
        });
        assert.equal(sent.outcome.kind, "sent");
        assert.equal(sent.outcome.evidence?.tlsVersion, null);
        assert.equal(sink.plaintextDataCount(), 1);
      } finally {
        await pool.close();
      }
    });
  });

  test("an MTA-STS enforce domain never gets plaintext, even when permitted", async (t) => {
    if (!requireTool(t, "dns-server")) return;
    const sink = await startSmtpSink({ starttls: false });
    const ca = await testCa();
    const policies = await startPolicyServer({
      ...(await ca.issue(["mta-sts.enforce.test"])),
      policies: { "enforce.test": "version: STSv1\nmode: enforce\nmx: localhost\nmax_age: 86400\n" },
    });
    const dns = await startDnsServer({
      localhost: [{ type: "A", value: "127.0.0.1" }],
      "enforce.test": [{ type: "MX", value: "localhost", priority: 10 }],
      "_mta-sts.enforce.test": [{ type: "TXT", value: "v=STSv1; id=1" }],
      "mta-sts.enforce.test": [{ type: "A", value: "127.0.0.1" }],
    });
    t.after(async () => {
      await Promise.all([sink.close(), policies.close(), dns.close()]);
    });
    const resolver = createResolver([dns.address], 1000);
    const clock = new ManualClock(Date.now());
    const result = await deliverToDomain("enforce.test", ENVELOPE, RAW, {
      ...PERMITTED,
      relay: null,
      resolver,
      deliveryPort: sink.port,
      mtaSts: {
        resolver,
        cache: memoryMtaStsCache(),
        now: () => clock.now(),
        backoff: mtaStsFetchBackoff(),
        timeoutMs: 2000,
        httpsPort: policies.port,
        ca: ca.caCert,
      },
    });
    assert.equal(result.mtaSts?.mode, "enforce");
    assert.equal(result.outcome.kind === "soft_fail" && result.outcome.reason, "tls_unavailable");
    assert.equal(sink.dataCount(), 0);
  });
});
