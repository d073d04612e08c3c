/**
 * A self-signed test certificate for `localhost`, `127.0.0.1` and `::1`.
 *
 * Generated once per process (the promise is cached in module memory) so every test server
 * in one `node --test` file shares it. The certificate is its own issuer: pass `cert` as the
 * `ca` of a client to make verification succeed, leave it out to get
 * `DEPTH_ZERO_SELF_SIGNED_CERT`.
 */
import { generate } from "selfsigned";

export interface TestCertificate {
  /** PEM certificate; also the trust anchor to pass as `ca`. */
  cert: string;
  /** PEM private key (PKCS#8). */
  key: string;
}

let cached: Promise<TestCertificate> | null = null;

async function create(): Promise<TestCertificate> {
  const notBeforeDate = new Date(Date.now() - 60 * 60 * 1000);
  const notAfterDate = new Date(Date.now() + 7 * 24 * 60 * 60 * 1000);
  const pems = await generate([{ name: "commonName", value: "localhost" }], {
    keyType: "rsa",
    keySize: 2048,
    algorithm: "sha256",
    notBeforeDate,
    notAfterDate,
    extensions: [
      { name: "basicConstraints", cA: true },
      { name: "keyUsage", digitalSignature: true, keyEncipherment: true, keyCertSign: true },
      { name: "extKeyUsage", serverAuth: true },
      {
        name: "subjectAltName",
        altNames: [
          { type: 2, value: "localhost" },
          { type: 7, ip: "127.0.0.1" },
          { type: 7, ip: "::1" },
        ],
      },
    ],
  });
  return { cert: pems.cert, key: pems.private };
}

/** The process-wide test certificate; the first call generates it. */
export function testCertificate(): Promise<TestCertificate> {
  if (cached === null) {
    cached = create().catch((err: unknown) => {
      cached = null;
      throw err;
    });
  }
  return cached;
}
