import assert from "node:assert/strict";
import { createPrivateKey, X509Certificate } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { createServer, type TLSSocket, connect as tlsConnect } from "node:tls";
import { ensureDevCertificate, generateSelfSigned } from "../../src/crypto/tls-cert.ts";

const posix = process.platform !== "win32";
const DAY_MS = 24 * 60 * 60 * 1000;
let root = "";

before(() => {
  root = mkdtempSync(join(tmpdir(), "sealpost-tls-"));
});
after(() => {
  rmSync(root, { recursive: true, force: true });
});

function sans(cert: string): string[] {
  return (new X509Certificate(cert).subjectAltName ?? "").split(", ");
}

/** Starts a TLS server with the pair and connects to it, trusting only that certificate. */
async function handshake(
  pair: { cert: string; key: string },
  host: string,
  servername?: string,
): Promise<string> {
  const server = createServer({ cert: pair.cert, key: pair.key }, (socket) => socket.end("ok"));
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const address = server.address();
  assert.ok(address !== null && typeof address === "object");
  try {
    const socket: TLSSocket = tlsConnect({ host, port: address.port, ca: [pair.cert], servername });
    return await new Promise<string>((resolve, reject) => {
      let data = "";
      socket.on("data", (chunk: Buffer) => {
        data += chunk.toString();
      });
      socket.on("end", () => resolve(data));
      socket.on("error", reject);
    });
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

describe("generateSelfSigned", () => {
  it("makes an RSA-2048 sha256 certificate with the given names as SANs", async () => {
    const pair = await generateSelfSigned(["mx.test.example", "127.0.0.1", "::1"]);
    const x509 = new X509Certificate(pair.cert);
    assert.match(x509.subject, /CN=mx\.test\.example/);
    assert.deepEqual(sans(pair.cert), [
      "DNS:mx.test.example",
      "IP Address:127.0.0.1",
      "IP Address:0:0:0:0:0:0:0:1",
    ]);
    assert.ok(x509.checkPrivateKey(createPrivateKey(pair.key)));
    assert.equal(x509.publicKey.asymmetricKeyType, "rsa");
    assert.equal(x509.publicKey.asymmetricKeyDetails?.modulusLength, 2048);
    assert.equal(x509.ca, false);
    assert.ok(x509.checkHost("mx.test.example"));
    assert.ok(x509.checkIP("127.0.0.1"));
    assert.equal(x509.checkHost("other.example"), undefined);
    const days = (Date.parse(x509.validTo) - Date.parse(x509.validFrom)) / DAY_MS;
    assert.ok(Math.abs(days - 825) < 1, `validity is ${days} days`);
    assert.ok(Date.parse(x509.validFrom) <= Date.now());
  });

  it("defaults to localhost for an empty list", async () => {
    const pair = await generateSelfSigned([]);
    assert.deepEqual(sans(pair.cert), ["DNS:localhost"]);
  });

  it("is accepted by a real TLS handshake against its IP and DNS names", async () => {
    const pair = await generateSelfSigned(["localhost", "127.0.0.1"]);
    assert.equal(await handshake(pair, "127.0.0.1"), "ok");
    assert.equal(await handshake(pair, "127.0.0.1", "localhost"), "ok");
  });
});

describe("ensureDevCertificate", () => {
  it("generates once, then reuses the files", async () => {
    const dataDir = join(root, "data-a");
    const first = await ensureDevCertificate(dataDir);
    assert.equal(first.generated, true);
    assert.equal(first.certPath, join(dataDir, "tls", "dev-cert.pem"));
    assert.equal(first.keyPath, join(dataDir, "tls", "dev-key.pem"));
    assert.equal(readFileSync(first.certPath, "utf8"), first.cert);
    assert.equal(readFileSync(first.keyPath, "utf8"), first.key);
    assert.deepEqual(readdirSync(join(dataDir, "tls")).sort(), ["dev-cert.pem", "dev-key.pem"]);
    if (posix) assert.equal(statSync(first.keyPath).mode & 0o777, 0o600);

    const second = await ensureDevCertificate(dataDir);
    assert.equal(second.generated, false);
    assert.equal(second.cert, first.cert);
    assert.equal(second.key, first.key);
  });

  it("is a localhost certificate with SANs localhost, 127.0.0.1 and ::1", async () => {
    const dev = await ensureDevCertificate(join(root, "data-b"));
    const x509 = new X509Certificate(dev.cert);
    assert.match(x509.subject, /CN=localhost/);
    const names = sans(dev.cert);
    assert.ok(names.includes("DNS:localhost"));
    assert.ok(names.includes("IP Address:127.0.0.1"));
    assert.ok(names.includes("IP Address:0:0:0:0:0:0:0:1"));
    assert.ok(x509.checkIP("127.0.0.1"));
    assert.ok(x509.checkIP("::1"));
    assert.ok(x509.checkPrivateKey(createPrivateKey(dev.key)));
    assert.equal(await handshake(dev, "127.0.0.1"), "ok");
  });

  it("regenerates when a file is missing, corrupt or does not match", async () => {
    const dataDir = join(root, "data-c");
    const first = await ensureDevCertificate(dataDir);

    rmSync(first.certPath);
    const afterMissing = await ensureDevCertificate(dataDir);
    assert.equal(afterMissing.generated, true);
    assert.notEqual(afterMissing.cert, first.cert);

    writeFileSync(afterMissing.certPath, "not a certificate");
    const afterCorrupt = await ensureDevCertificate(dataDir);
    assert.equal(afterCorrupt.generated, true);

    const other = await generateSelfSigned(["localhost"]);
    writeFileSync(afterCorrupt.keyPath, other.key);
    const afterMismatch = await ensureDevCertificate(dataDir);
    assert.equal(afterMismatch.generated, true);
    assert.ok(new X509Certificate(afterMismatch.cert).checkPrivateKey(createPrivateKey(afterMismatch.key)));
    assert.equal((await ensureDevCertificate(dataDir)).generated, false);
  });
});
