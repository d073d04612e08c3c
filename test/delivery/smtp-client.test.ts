import assert from "node:assert/strict";
import { createServer, type Socket } from "node:net";
import { before, describe, test } from "node:test";
import { deliverOnce } from "../../src/delivery/smtp-client.ts";
import { testCertificate } from "../helpers/certs.ts";
import { type SmtpSink, type SmtpSinkOptions, startSmtpSink } from "../helpers/smtp-sink.ts";
import { BASE_OPTS, closedPort, ENVELOPE, RAW, RECIPIENT } from "./fixtures.ts";

const LEGACY_TLS = { minVersion: "TLSv1", maxVersion: "TLSv1.1", ciphers: "DEFAULT@SECLEVEL=0" };

async function withSink<T>(opts: SmtpSinkOptions, fn: (sink: SmtpSink) => Promise<T>): Promise<T> {
  const sink = await startSmtpSink(opts);
  try {
    return await fn(sink);
  } finally {
    await sink.close();
  }
}

/** A raw TCP server answering each connection with `onConnect`; for misbehaving servers. */
async function rawServer(
  onConnect: (socket: Socket) => void,
): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
    socket.setTimeout(5000, () => socket.destroy());
    onConnect(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no port");
  return {
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

describe("deliverOnce", () => {
  let cert = "";
  before(async () => {
    cert = (await testCertificate()).cert;
  });

  test("delivers over STARTTLS and records the TLS evidence (self-signed: not verified)", async () => {
    await withSink({}, async (sink) => {
      const target = { host: "localhost", ip: "127.0.0.1", port: sink.port };
      const outcome = await deliverOnce(target, ENVELOPE, RAW, BASE_OPTS);
      assert.equal(outcome.kind, "sent");
      assert.ok(outcome.evidence !== null);
      assert.match(outcome.evidence.tlsVersion ?? "", /^TLSv1\.[23]$/);
      assert.ok((outcome.evidence.cipher ?? "").length > 0);
      assert.equal(outcome.evidence.certVerified, false);
      assert.equal(outcome.evidence.certError, "DEPTH_ZERO_SELF_SIGNED_CERT");
      assert.equal(outcome.evidence.host, "localhost");
      assert.equal(outcome.evidence.ip, "127.0.0.1");
      assert.equal(outcome.evidence.port, sink.port);
      assert.equal(outcome.reply?.code, 250);

      await sink.waitFor(1);
      const [message] = sink.messages;
      assert.ok(message !== undefined);
      assert.equal(message.secure, true);
      assert.equal(message.tlsProtocol, outcome.evidence.tlsVersion);
      assert.deepEqual(message.to, [RECIPIENT]);
      assert.ok(message.raw.toString().includes("See you at 10."));
    });
  });

  test("verifies the certificate when the CA is trusted and verification is required", async () => {
    await withSink({}, async (sink) => {
      const target = { host: "localhost", ip: "127.0.0.1", port: sink.port };
      const outcome = await deliverOnce(target, ENVELOPE, RAW, {
        ...BASE_OPTS,
        requireVerifiedCert: true,
        ca: cert,
      });
      assert.equal(outcome.kind, "sent");
      assert.equal(outcome.evidence?.certVerified, true);
      assert.equal(outcome.evidence?.certError, null);
      assert.equal(sink.messages.length, 1);
    });
  });

  test("delivers over IPv6 loopback", async () => {
    await withSink({ host: "::1" }, async (sink) => {
      const outcome = await deliverOnce({ host: "localhost", ip: "::1", port: sink.port }, ENVELOPE, RAW, {
        ...BASE_OPTS,
        requireVerifiedCert: true,
        ca: cert,
      });
      assert.equal(outcome.kind, "sent");
      assert.equal(outcome.evidence?.ip, "::1");
    });
  });

  test("server without STARTTLS: tls_unavailable, no DATA reaches the server", async () => {
    await withSink({ starttls: false }, async (sink) => {
      const outcome = await deliverOnce({ host: "127.0.0.1", port: sink.port }, ENVELOPE, RAW, BASE_OPTS);
      assert.equal(outcome.kind, "soft_fail");
      assert.equal(outcome.kind === "soft_fail" && outcome.reason, "tls_unavailable");
      assert.equal(outcome.evidence?.tlsVersion, null);
      assert.equal(sink.dataCount(), 0);
      assert.equal(sink.messages.length, 0);
    });
  });

  test("server offering only TLS 1.0/1.1: tls_unavailable, no DATA reaches the server", async () => {
    await withSink({ tls: LEGACY_TLS }, async (sink) => {
      const outcome = await deliverOnce({ host: "127.0.0.1", port: sink.port }, ENVELOPE, RAW, BASE_OPTS);
      assert.equal(outcome.kind, "soft_fail");
      assert.equal(outcome.kind === "soft_fail" && outcome.reason, "tls_unavailable");
      assert.equal(sink.dataCount(), 0);
      assert.equal(sink.messages.length, 0);
    });
  });

  test("self-signed certificate when verification is required: cert_invalid, no DATA", async () => {
    await withSink({}, async (sink) => {
      const target = { host: "localhost", ip: "127.0.0.1", port: sink.port };
      const outcome = await deliverOnce(target, ENVELOPE, RAW, { ...BASE_OPTS, requireVerifiedCert: true });
      assert.equal(outcome.kind, "soft_fail");
      assert.equal(outcome.kind === "soft_fail" && outcome.reason, "cert_invalid");
      assert.equal(outcome.evidence?.certVerified, false);
      assert.equal(outcome.evidence?.certError, "DEPTH_ZERO_SELF_SIGNED_CERT");
      assert.equal(sink.dataCount(), 0);
    });
  });

  test("certificate for another name when verification is required: cert_invalid", async () => {
    await withSink({}, async (sink) => {
      const target = { host: "mx.elsewhere.example", ip: "127.0.0.1", port: sink.port };
      const outcome = await deliverOnce(target, ENVELOPE, RAW, {
        ...BASE_OPTS,
        requireVerifiedCert: true,
        ca: cert,
      });
      assert.equal(outcome.kind === "soft_fail" && outcome.reason, "cert_invalid");
      assert.equal(outcome.evidence?.certError, "ERR_TLS_CERT_ALTNAME_INVALID");
      assert.equal(sink.dataCount(), 0);
    });
  });

  test("5xx on RCPT: hard rejected_permanent with a sanitized reply", async () => {
    await withSink({ rejectRcpt: () => 550 }, async (sink) => {
      const outcome = await deliverOnce({ host: "127.0.0.1", port: sink.port }, ENVELOPE, RAW, BASE_OPTS);
      assert.equal(outcome.kind, "hard_fail");
      assert.equal(outcome.kind === "hard_fail" && outcome.reason, "rejected_permanent");
      assert.equal(outcome.reply?.code, 550);
      assert.equal(outcome.reply?.enhanced, "5.1.1");
      const json = JSON.stringify(outcome);
      assert.ok(!json.includes("@"), json);
      assert.ok(!json.includes("patient"), json);
      assert.ok(!json.includes("hospital.example"), json);
      assert.equal(sink.messages.length, 0);
    });
  });

  test("4xx on RCPT: soft rejected_temporary", async () => {
    await withSink({ rejectRcpt: () => 451 }, async (sink) => {
      const outcome = await deliverOnce({ host: "127.0.0.1", port: sink.port }, ENVELOPE, RAW, BASE_OPTS);
      assert.equal(outcome.kind, "soft_fail");
      assert.equal(outcome.kind === "soft_fail" && outcome.reason, "rejected_temporary");
      assert.equal(outcome.reply?.code, 451);
      assert.ok(!JSON.stringify(outcome).includes("@"));
    });
  });

  test("connection refused: soft connection_failed", async () => {
    const port = await closedPort();
    const outcome = await deliverOnce({ host: "127.0.0.1", port }, ENVELOPE, RAW, BASE_OPTS);
    assert.equal(outcome.kind, "soft_fail");
    assert.equal(outcome.kind === "soft_fail" && outcome.reason, "connection_failed");
    assert.equal(outcome.evidence?.tlsVersion, null);
  });

  test("server that never greets: soft timeout within the step limit", async () => {
    const server = await rawServer(() => {});
    try {
      const started = Date.now();
      const outcome = await deliverOnce({ host: "127.0.0.1", port: server.port }, ENVELOPE, RAW, {
        ...BASE_OPTS,
        timeoutMs: 300,
      });
      assert.equal(outcome.kind === "soft_fail" && outcome.reason, "timeout");
      assert.ok(Date.now() - started < 3000);
    } finally {
      await server.close();
    }
  });

  test("a 554 greeting does not bounce (soft, the next MX may accept)", async () => {
    const server = await rawServer((socket) => socket.end("554 5.7.1 No service for <x@y.example>\r\n"));
    try {
      const outcome = await deliverOnce({ host: "127.0.0.1", port: server.port }, ENVELOPE, RAW, BASE_OPTS);
      assert.equal(outcome.kind === "soft_fail" && outcome.reason, "rejected_temporary");
      assert.equal(outcome.reply?.code, 554);
      assert.equal(outcome.reply?.text, "No service for");
    } finally {
      await server.close();
    }
  });

  test("an envelope address with a line break is refused before connecting", async () => {
    const port = await closedPort();
    const outcome = await deliverOnce(
      { host: "127.0.0.1", port },
      { from: "a@b.example", to: "x@y.example>\r\nRCPT TO:<z@w.example" },
      RAW,
      BASE_OPTS,
    );
    assert.equal(outcome.kind === "hard_fail" && outcome.reason, "protocol_error");
  });
});
