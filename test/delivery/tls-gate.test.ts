/**
 * The gate between STARTTLS and MAIL FROM, tested on real sockets without the handshake's own
 * minVersion: proves the second layer refuses TLS 1.1 by itself.
 */
import assert from "node:assert/strict";
import { connect as netConnect, createServer as netServer } from "node:net";
import { after, before, describe, test } from "node:test";
import { connect, createServer, type Server, type TLSSocket } from "node:tls";
import { checkTlsSession, emptyEvidence } from "../../src/delivery/tls-check.ts";
import { testCertificate } from "../helpers/certs.ts";

type Versions = { minVersion: "TLSv1" | "TLSv1.2"; maxVersion: "TLSv1.1" | "TLSv1.3" };

async function tlsServer(versions: Versions): Promise<{ server: Server; port: number }> {
  const { cert, key } = await testCertificate();
  const server = createServer({ cert, key, ...versions, ciphers: "DEFAULT@SECLEVEL=0" }, (socket) => {
    socket.on("error", () => {});
    socket.end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no port");
  return { server, port: address.port };
}

function tlsClient(port: number, ca?: string): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: "127.0.0.1",
      port,
      servername: "localhost",
      minVersion: "TLSv1",
      ciphers: "DEFAULT@SECLEVEL=0",
      rejectUnauthorized: false,
      ...(ca === undefined ? {} : { ca }),
    });
    socket.setTimeout(3000, () => socket.destroy(new Error("timeout")));
    socket.once("secureConnect", () => resolve(socket));
    socket.once("error", reject);
  });
}

describe("checkTlsSession", () => {
  let legacy: { server: Server; port: number };
  let modern: { server: Server; port: number };
  before(async () => {
    legacy = await tlsServer({ minVersion: "TLSv1", maxVersion: "TLSv1.1" });
    modern = await tlsServer({ minVersion: "TLSv1.2", maxVersion: "TLSv1.3" });
  });
  after(() => {
    legacy.server.close();
    modern.server.close();
  });

  test("refuses a session that negotiated TLS 1.1, recording the version", async () => {
    const socket = await tlsClient(legacy.port);
    try {
      const evidence = emptyEvidence("localhost", null, legacy.port);
      const refused = checkTlsSession(socket, true, false, evidence);
      assert.equal(refused?.kind, "soft_fail");
      assert.equal(refused?.reason, "tls_unavailable");
      assert.equal(evidence.tlsVersion, "TLSv1.1");
    } finally {
      socket.destroy();
    }
  });

  test("accepts TLS 1.2+ and reads the evidence", async () => {
    const { cert } = await testCertificate();
    const socket = await tlsClient(modern.port, cert);
    try {
      const evidence = emptyEvidence("localhost", null, modern.port);
      assert.equal(checkTlsSession(socket, true, true, evidence), null);
      assert.match(evidence.tlsVersion ?? "", /^TLSv1\.[23]$/);
      assert.equal(evidence.certVerified, true);
      assert.equal(evidence.ip, "127.0.0.1");
    } finally {
      socket.destroy();
    }
  });

  test("an unverified certificate passes only when verification is not required", async () => {
    const socket = await tlsClient(modern.port);
    try {
      const lenient = emptyEvidence("localhost", null, modern.port);
      assert.equal(checkTlsSession(socket, true, false, lenient), null);
      assert.equal(lenient.certError, "DEPTH_ZERO_SELF_SIGNED_CERT");
      const strict = emptyEvidence("localhost", null, modern.port);
      assert.equal(checkTlsSession(socket, true, true, strict)?.reason, "cert_invalid");
    } finally {
      socket.destroy();
    }
  });

  test("refuses a plain TCP socket", async () => {
    const server = netServer((s) => s.end());
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    if (address === null || typeof address === "string") throw new Error("no port");
    const socket = netConnect(address.port, "127.0.0.1");
    socket.on("error", () => {});
    try {
      const evidence = emptyEvidence("localhost", null, address.port);
      assert.equal(checkTlsSession(socket, true, false, evidence)?.reason, "tls_unavailable");
      assert.equal(checkTlsSession(false, false, false, evidence)?.reason, "tls_unavailable");
    } finally {
      socket.destroy();
      server.close();
    }
  });
});
