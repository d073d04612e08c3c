import { createPrivateKey, randomBytes, X509Certificate } from "node:crypto";
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { isIP } from "node:net";
import { join } from "node:path";
import { generate } from "selfsigned";

/**
 * Self-signed certificates: one for local development (so the API and SMTP listeners
 * can offer TLS on first start) and throwaway ones for test servers. Never used for
 * outbound delivery, where certificates are verified.
 */
export interface CertificatePair {
  /** PEM certificate. */
  readonly cert: string;
  /** PEM private key (PKCS#8, unencrypted). */
  readonly key: string;
}

export interface DevCertificate extends CertificatePair {
  /** True when this call created the files. */
  readonly generated: boolean;
  readonly certPath: string;
  readonly keyPath: string;
}

const VALID_DAYS = 825;
const DAY_MS = 24 * 60 * 60 * 1000;
/** Backdate notBefore so a peer whose clock lags a little still accepts the cert. */
const BACKDATE_MS = 5 * 60 * 1000;
const DEV_HOSTNAMES = ["localhost", "127.0.0.1", "::1"];

/**
 * An RSA-2048, SHA-256, self-signed server certificate valid for 825 days. Each entry of
 * `hostnames` becomes a subjectAltName (an IP address entry when it is an IP literal, a
 * DNS entry otherwise); the first is also the CN ("localhost" when the list is empty).
 */
export async function generateSelfSigned(hostnames: string[]): Promise<CertificatePair> {
  const names = hostnames.length > 0 ? hostnames : ["localhost"];
  const notBeforeDate = new Date(Date.now() - BACKDATE_MS);
  const notAfterDate = new Date(notBeforeDate.getTime() + VALID_DAYS * DAY_MS);
  const altNames = names.map((name) =>
    isIP(name) === 0 ? { type: 2 as const, value: name } : { type: 7 as const, ip: name },
  );
  const pems = await generate([{ name: "commonName", value: names[0] ?? "localhost" }], {
    keyType: "rsa",
    keySize: 2048,
    algorithm: "sha256",
    notBeforeDate,
    notAfterDate,
    extensions: [
      { name: "basicConstraints", cA: false, critical: true },
      { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
      { name: "extKeyUsage", serverAuth: true },
      { name: "subjectAltName", altNames },
    ],
  });
  return { cert: pems.cert, key: pems.private };
}

/**
 * Returns the development certificate in `<dataDir>/tls/`, creating it (CN localhost,
 * SANs localhost, 127.0.0.1 and ::1) when either file is missing, unparseable,
 * expired, or the key does not match the certificate. The key file is written with mode
 * 0600; both files are replaced atomically.
 */
export async function ensureDevCertificate(dataDir: string): Promise<DevCertificate> {
  const dir = join(dataDir, "tls");
  const certPath = join(dir, "dev-cert.pem");
  const keyPath = join(dir, "dev-key.pem");
  const existing = readUsablePair(certPath, keyPath);
  if (existing !== undefined) return { ...existing, generated: false, certPath, keyPath };

  const pair = await generateSelfSigned(DEV_HOSTNAMES);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  // Key first: the pair only counts as present once the certificate exists too.
  writeAtomic(keyPath, pair.key, 0o600);
  writeAtomic(certPath, pair.cert, 0o644);
  return { ...pair, generated: true, certPath, keyPath };
}

function readUsablePair(certPath: string, keyPath: string): CertificatePair | undefined {
  let cert: string;
  let key: string;
  try {
    cert = readFileSync(certPath, "utf8");
    key = readFileSync(keyPath, "utf8");
  } catch {
    return undefined;
  }
  try {
    const x509 = new X509Certificate(cert);
    if (Date.parse(x509.validTo) <= Date.now()) return undefined;
    if (!x509.checkPrivateKey(createPrivateKey(key))) return undefined;
  } catch {
    return undefined;
  }
  return { cert, key };
}

function writeAtomic(path: string, content: string, mode: number): void {
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(6).toString("hex")}`;
  const fd = openSync(tmp, "wx", mode);
  try {
    writeSync(fd, content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    renameSync(tmp, path);
  } catch (err) {
    unlinkSync(tmp);
    throw err;
  }
}
