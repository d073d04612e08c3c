/**
 * A private certificate authority for tests: a self-signed CA certificate (basicConstraints
 * cA) and leaf certificates it signs for given DNS names and IP addresses.
 *
 *   const ca = await testCa();
 *   const { cert, key } = await ca.issue(["mta-sts.example.test", "127.0.0.1"]);
 *   // server: https.createServer({ cert, key }); client: trusts `ca.caCert` only when told to.
 *
 * Each call makes a new CA (with its own name), so a test can build a second, untrusted one. Keys are ECDSA
 * P-256 (fast to generate); certificates are valid from an hour ago for a week.
 */
import { randomBytes } from "node:crypto";
import { isIP } from "node:net";
import { generate } from "selfsigned";

export interface IssuedCertificate {
  /** PEM leaf certificate, signed by the CA. */
  cert: string;
  /** PEM private key (PKCS#8). */
  key: string;
}

export interface TestCa {
  /** PEM CA certificate: the trust anchor to pass as `ca`. */
  caCert: string;
  /** A server certificate for `hostnames` (DNS names and/or IP addresses) signed by this CA. */
  issue(hostnames: string[]): Promise<IssuedCertificate>;
}

const HOUR_MS = 60 * 60 * 1000;

function validity(): { notBeforeDate: Date; notAfterDate: Date } {
  return {
    notBeforeDate: new Date(Date.now() - HOUR_MS),
    notAfterDate: new Date(Date.now() + 7 * 24 * HOUR_MS),
  };
}

export async function testCa(): Promise<TestCa> {
  // A distinct name per CA: a leaf from another test CA then fails as "issuer unknown".
  const name = `sealpost test CA ${randomBytes(4).toString("hex")}`;
  const ca = await generate([{ name: "commonName", value: name }], {
    keyType: "ec",
    curve: "P-256",
    algorithm: "sha256",
    ...validity(),
    extensions: [
      { name: "basicConstraints", cA: true, critical: true },
      { name: "keyUsage", keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    ],
  });
  const caKey = { cert: ca.cert, key: ca.private };
  return {
    caCert: ca.cert,
    async issue(hostnames) {
      const first = hostnames[0];
      if (first === undefined) throw new Error("testCa.issue: at least one host name is needed");
      const leaf = await generate([{ name: "commonName", value: first }], {
        keyType: "ec",
        curve: "P-256",
        algorithm: "sha256",
        ...validity(),
        ca: caKey,
        extensions: [
          { name: "basicConstraints", cA: false },
          { name: "keyUsage", digitalSignature: true, keyEncipherment: true },
          { name: "extKeyUsage", serverAuth: true },
          {
            name: "subjectAltName",
            altNames: hostnames.map((h) => (isIP(h) === 0 ? { type: 2, value: h } : { type: 7, ip: h })),
          },
        ],
      });
      return { cert: leaf.cert, key: leaf.private };
    },
  };
}
