/**
 * Recipient keys made by the real tools, for the validation and API tests: S/MIME
 * certificates by `openssl req -x509`, OpenPGP keys by `gpg --batch` in a temporary
 * GNUPGHOME. Made once per test file in a temporary directory that is removed afterwards.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface KeyWorkshop {
  /** A self-signed certificate (PEM) and its private key (PEM) for `address`. */
  smime(
    address: string,
    opts?: { key?: string; days?: number; ext?: readonly string[]; san?: boolean },
  ): { cert: string; key: string };
  /** The certificate as base64 DER (no PEM armor). */
  der(pem: string): string;
  /** A gpg key for `address`: primary `algo` with `usage`, plus an encryption subkey when `sub` is given. */
  pgp(
    address: string,
    opts?: { algo?: string; usage?: string; sub?: string; expire?: string },
  ): { fingerprint: string; publicKey: string };
  secretKey(fingerprint: string): string;
  /** Two keys in one armored block. */
  exportBoth(fingerprint: string, otherAddress: string): string;
  /** Imports the key's own revocation certificate and answers the revoked public key. */
  revoke(fingerprint: string): string;
  remove(): void;
}

/** `-newkey` arguments; `ec-p256` is an EC key on P-256. */
function newKey(spec: string): string[] {
  return spec === "ec-p256" ? ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"] : ["-newkey", spec];
}

export function keyWorkshop(): KeyWorkshop {
  const dir = mkdtempSync(join(tmpdir(), "sealpost-rk-"));
  const home = join(dir, "gnupg");
  execFileSync("mkdir", ["-m", "700", home]);
  const env = { ...process.env, GNUPGHOME: home };
  const gpg = (args: string[]) =>
    execFileSync("gpg", ["--batch", "--pinentry-mode", "loopback", "--passphrase", "", ...args], {
      env,
      stdio: ["ignore", "pipe", "pipe"],
    }).toString();
  let n = 0;
  return {
    smime(address, opts = {}) {
      const base = join(dir, `c${++n}`);
      const san = opts.san === false ? [] : ["-addext", `subjectAltName=email:${address}`];
      const subject = opts.san === false ? `/CN=Recipient/emailAddress=${address}` : "/CN=Recipient";
      const ext = (opts.ext ?? []).flatMap((e) => ["-addext", e]);
      execFileSync(
        "openssl",
        [
          "req",
          "-x509",
          ...newKey(opts.key ?? "rsa:2048"),
          "-nodes",
          "-keyout",
          `${base}.key`,
          "-out",
          `${base}.pem`,
          "-days",
          String(opts.days ?? 30),
          "-subj",
          subject,
          ...san,
          ...ext,
        ],
        { stdio: ["ignore", "ignore", "pipe"] },
      );
      return { cert: readFileSync(`${base}.pem`, "utf8"), key: readFileSync(`${base}.key`, "utf8") };
    },
    der(pem) {
      const file = join(dir, `d${++n}.pem`);
      writeFileSync(file, pem);
      return execFileSync("openssl", ["x509", "-in", file, "-outform", "DER"]).toString("base64");
    },
    pgp(address, opts = {}) {
      gpg([
        "--quick-gen-key",
        `Recipient <${address}>`,
        opts.algo ?? "ed25519",
        opts.usage ?? "sign,cert",
        opts.expire ?? "1y",
      ]);
      const listing = gpg(["--with-colons", "--list-keys", `<${address}>`]);
      const fingerprint = /^fpr:+([0-9A-F]{40,64}):/m.exec(listing)?.[1] ?? "";
      if (opts.sub !== undefined)
        gpg(["--quick-add-key", fingerprint, opts.sub, "encr", opts.expire ?? "1y"]);
      return { fingerprint, publicKey: gpg(["--export", "--armor", fingerprint]) };
    },
    exportBoth(fingerprint, otherAddress) {
      return gpg(["--export", "--armor", fingerprint, `<${otherAddress}>`]);
    },
    secretKey(fingerprint) {
      return gpg(["--export-secret-keys", "--armor", fingerprint]);
    },
    revoke(fingerprint) {
      const rev = readFileSync(join(home, "openpgp-revocs.d", `${fingerprint}.rev`), "utf8");
      const file = join(dir, `r${++n}.asc`);
      writeFileSync(file, rev.replace(/^:-----BEGIN/m, "-----BEGIN"));
      gpg(["--import", file]);
      return gpg(["--export", "--armor", fingerprint]);
    },
    remove() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
