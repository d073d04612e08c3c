/**
 * PGP/MIME against the real decryptor: keys made by gpg in a temporary GNUPGHOME (RSA-3072
 * and ed25519/cv25519), the message encrypted by encryptMessage, the armored part decrypted
 * by `gpg --decrypt`, the result parsed by mailparser.
 */
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { simpleParser } from "mailparser";
import { encryptMessage } from "../../src/encryption/encrypt.ts";
import { splitMessage } from "../../src/encryption/entity.ts";
import { ENCRYPTION_ERRORS } from "../../src/encryption/errors.ts";
import type { RecipientKey } from "../../src/encryption/types.ts";
import { requireTool } from "../helpers/tools.ts";
import {
  bodyOf,
  CANARY,
  HTML,
  hasBareLf,
  headerList,
  renderSample,
  run,
  SAMPLE_OUTER,
  type Sample,
  TEXT,
  type Workdir,
  workdir,
} from "./fixtures.ts";

let dir: Workdir;
let sample: Sample;
let env: NodeJS.ProcessEnv;

before(async () => {
  dir = workdir("pgp");
  sample = await renderSample();
  const home = dir.file("gnupg");
  mkdirSync(home, { mode: 0o700 });
  env = { ...process.env, GNUPGHOME: home };
});
after(() => {
  // Stop the gpg-agent this GNUPGHOME started before its directory goes.
  try {
    run("gpgconf", ["--kill", "all"], env);
  } catch {
    // no agent was started
  }
  dir.remove();
});

function gpg(args: readonly string[]): Buffer {
  return run("gpg", ["--batch", "--pinentry-mode", "loopback", "--passphrase", "", ...args], env);
}

/**
 * Generates a key for `uid` and answers its armored public key. With an explicit algorithm
 * `--quick-gen-key` makes only a signing primary key, so `sub` adds the encryption subkey.
 */
function generate(uid: string, algo: string, usage: string, sub?: string): string {
  gpg(["--quick-gen-key", uid, algo, usage, "never"]);
  if (sub !== undefined) {
    const listing = gpg(["--with-colons", "--list-keys", uid]).toString();
    const fingerprint = /^fpr:+([0-9A-F]{40,64}):/m.exec(listing)?.[1] ?? "";
    gpg(["--quick-add-key", fingerprint, sub, "encr", "never"]);
  }
  return gpg(["--armor", "--export", uid]).toString();
}

function pgpKey(material: string): RecipientKey {
  return { id: "rk_test", kind: "pgp", material, fingerprint: "f", notAfter: null };
}

/** The parts of a multipart body: each part's bytes between the boundary lines. */
function multipartParts(body: Buffer, boundary: string): string[] {
  const text = body.toString("latin1");
  const closing = `\r\n--${boundary}--\r\n`;
  assert.ok(text.endsWith(closing), "ends with the closing boundary");
  const chunks = text.slice(0, -closing.length).split(`\r\n--${boundary}\r\n`);
  chunks.shift(); // the preamble
  return chunks;
}

describe("OpenPGP encryption", () => {
  for (const [label, uid, algo, sub] of [
    ["RSA-3072", "Pat <pat@example.test>", "rsa3072", "rsa3072"],
    // future-default on gpg 2.2: an ed25519 primary with a cv25519 encryption subkey.
    ["ed25519/cv25519", "Pat Curve <pat-curve@example.test>", "future-default", undefined],
  ] as const) {
    it(`writes PGP/MIME that gpg decrypts to the same entity (${label})`, async (t) => {
      if (!requireTool(t, "gpg")) return;
      const publicKey = generate(uid, algo, "default", sub);
      const encrypted = await encryptMessage(sample.parts, pgpKey(publicKey));

      const headers = headerList(encrypted);
      assert.deepEqual(
        headers.map(([n]) => n),
        [...SAMPLE_OUTER, "MIME-Version", "Content-Type"],
      );
      assert.deepEqual(headers[SAMPLE_OUTER.length], ["MIME-Version", "1.0"]);
      const contentType = headers[SAMPLE_OUTER.length + 1]?.[1] ?? "";
      const m = /^multipart\/encrypted; protocol="application\/pgp-encrypted"; boundary="([^"]+)"$/.exec(
        contentType,
      );
      assert.ok(m !== null, contentType);
      const boundary = m[1] ?? "";
      assert.ok(!hasBareLf(encrypted));
      assert.ok(!encrypted.toString("latin1").includes(CANARY));
      assert.ok(!encrypted.toString("latin1").includes("Hello Pat"));

      const [version, payload, ...more] = multipartParts(bodyOf(encrypted), boundary);
      assert.equal(more.length, 0);
      assert.match(version ?? "", /^Content-Type: application\/pgp-encrypted\r\n(.+\r\n)*\r\nVersion: 1\r\n/);
      const payloadHead = (payload ?? "").slice(0, (payload ?? "").indexOf("\r\n\r\n"));
      assert.match(payloadHead, /^Content-Type: application\/octet-stream; name="encrypted\.asc"\r\n/);
      const armored = (payload ?? "").slice(payloadHead.length + 4);
      assert.match(armored, /^-----BEGIN PGP MESSAGE-----\r\n[\s\S]+\r\n-----END PGP MESSAGE-----\r\n$/);

      const file = dir.file(`${algo}.asc`);
      writeFileSync(file, armored);
      const decrypted = gpg(["--decrypt", file]);
      const entity = Buffer.concat(splitMessage(sample.parts).entity);
      assert.ok(decrypted.equals(entity), "the literal data is the entity, byte for byte");

      const parsed = await simpleParser(decrypted);
      assert.equal(parsed.text, TEXT);
      assert.equal(parsed.html, HTML);
      assert.equal(parsed.attachments.length, 1);
      assert.equal(parsed.attachments[0]?.filename, "scan.bin");
      assert.ok(parsed.attachments[0]?.content.equals(sample.attachment));
    });
  }

  it("uses a fresh random boundary for each message", async (t) => {
    if (!requireTool(t, "gpg")) return;
    const publicKey = generate("Pat Two <pat-two@example.test>", "ed25519", "sign", "cv25519");
    const boundaries = new Set<string>();
    for (let i = 0; i < 3; i++) {
      const encrypted = await encryptMessage(sample.parts, pgpKey(publicKey));
      boundaries.add(/boundary="([^"]+)"/.exec(encrypted.toString("latin1"))?.[1] ?? "");
    }
    assert.equal(boundaries.size, 3);
  });

  it("refuses a key that cannot encrypt with a fixed message", async (t) => {
    for (const material of [
      "garbage",
      "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nAAAA\n-----END PGP PUBLIC KEY BLOCK-----\n",
    ]) {
      await assert.rejects(encryptMessage(sample.parts, pgpKey(material)), {
        message: ENCRYPTION_ERRORS.unusablePgpKey,
      });
    }
    if (!requireTool(t, "gpg")) return;
    // A signing-only key: no (sub)key may encrypt.
    const signOnly = generate("Signer <signer@example.test>", "ed25519", "sign");
    await assert.rejects(encryptMessage(sample.parts, pgpKey(signOnly)), (err: Error) => {
      assert.equal(err.message, ENCRYPTION_ERRORS.unusablePgpKey);
      assert.equal(err.cause, undefined);
      return true;
    });

    // A revoked key: gpg's own revocation certificate imported, the key exported again.
    const revokedUid = "Revoked <revoked@example.test>";
    generate(revokedUid, "future-default", "default");
    const listing = gpg(["--with-colons", "--list-keys", revokedUid]).toString();
    const fingerprint = /^fpr:+([0-9A-F]{40,64}):/m.exec(listing)?.[1] ?? "";
    const revocation = readFileSync(
      join(env.GNUPGHOME ?? "", "openpgp-revocs.d", `${fingerprint}.rev`),
      "utf8",
    );
    const revFile = dir.file("revoke.asc");
    writeFileSync(revFile, revocation.replace(/^:-----BEGIN/m, "-----BEGIN"));
    gpg(["--import", revFile]);
    const revoked = gpg(["--armor", "--export", revokedUid]).toString();
    await assert.rejects(encryptMessage(sample.parts, pgpKey(revoked)), {
      message: ENCRYPTION_ERRORS.unusablePgpKey,
    });
  });
});
