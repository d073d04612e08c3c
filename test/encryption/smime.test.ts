/**
 * S/MIME against the real decryptors: a recipient made by openssl, the message encrypted
 * by encryptMessage, decrypted by `openssl cms`, parsed by mailparser.
 */
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
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
  lf,
  renderSample,
  run,
  SAMPLE_OUTER,
  type Sample,
  SUBJECT,
  TEXT,
  type Workdir,
  workdir,
} from "./fixtures.ts";

let dir: Workdir;
let sample: Sample;

before(async () => {
  dir = workdir("smime");
  sample = await renderSample();
});
after(() => dir.remove());

/** A self-signed recipient certificate for pat@example.test; answers the file names. */
function recipient(name: string, newkey: readonly string[]): { cert: string; key: string } {
  const cert = dir.file(`${name}.pem`);
  const key = dir.file(`${name}.key`);
  run("openssl", [
    "req",
    "-x509",
    ...newkey,
    "-nodes",
    "-keyout",
    key,
    "-out",
    cert,
    "-days",
    "30",
    "-subj",
    "/CN=Pat Example",
    "-addext",
    "subjectAltName=email:pat@example.test",
  ]);
  return { cert, key };
}

function smimeKey(certFile: string): RecipientKey {
  return smimeMaterial(readFileSync(certFile, "utf8"));
}

function smimeMaterial(material: string): RecipientKey {
  return { id: "rk_test", kind: "smime", material, fingerprint: "f", notAfter: null };
}

describe("S/MIME encryption", () => {
  it("writes an enveloped-data message that openssl decrypts to the same entity", async (t) => {
    if (!requireTool(t, "openssl")) return;
    const pat = recipient("pat", ["-newkey", "rsa:2048"]);
    const encrypted = await encryptMessage(sample.parts, smimeKey(pat.cert));
    const file = dir.file("smime.eml");
    writeFileSync(file, encrypted);

    // Outer headers: the sample's, then exactly the S/MIME ones.
    const headers = headerList(encrypted);
    assert.deepEqual(
      headers.map(([n]) => n),
      [...SAMPLE_OUTER, "MIME-Version", "Content-Type", "Content-Transfer-Encoding", "Content-Disposition"],
    );
    assert.deepEqual(headers.slice(SAMPLE_OUTER.length), [
      ["MIME-Version", "1.0"],
      ["Content-Type", 'application/pkcs7-mime; smime-type=enveloped-data; name="smime.p7m"'],
      ["Content-Transfer-Encoding", "base64"],
      ["Content-Disposition", 'attachment; filename="smime.p7m"'],
    ]);
    assert.ok(!hasBareLf(encrypted));
    const lines = bodyOf(encrypted).toString("latin1").split("\r\n");
    assert.equal(lines.pop(), "");
    assert.ok(lines.every((l) => /^[A-Za-z0-9+/=]{1,76}$/.test(l)));
    assert.ok(lines.slice(0, -1).every((l) => l.length === 76));
    // Nothing of the body in clear.
    assert.ok(!encrypted.toString("latin1").includes(CANARY));
    assert.ok(!encrypted.toString("latin1").includes("Hello Pat"));

    // The CMS structure: OAEP-SHA-256 key transport to issuer+serial, AES-256-CBC content.
    const printed = run("openssl", ["cms", "-cmsout", "-print", "-in", file]).toString();
    assert.match(printed, /contentType: pkcs7-envelopedData/);
    assert.match(printed, /version: 0/);
    assert.match(printed, /d\.issuerAndSerialNumber:/);
    assert.match(printed, /algorithm: rsaesOaep/);
    assert.match(printed, /OBJECT\s+:sha256/);
    assert.match(printed, /algorithm: aes-256-cbc/);

    const entity = Buffer.concat(splitMessage(sample.parts).entity);
    const viaCms = run("openssl", ["cms", "-decrypt", "-in", file, "-inkey", pat.key, "-recip", pat.cert]);
    assert.equal(lf(viaCms), lf(entity));
    assert.ok(viaCms.equals(entity), "openssl cms writes the entity back byte for byte");
    // `openssl smime` is not run: it is the PKCS#7 tool and cannot unwrap an RSAES-OAEP key,
    // not even from `openssl cms -encrypt -keyopt rsa_padding_mode:oaep` (docs/delivery.md).

    const parsed = await simpleParser(viaCms);
    assert.equal(parsed.text, TEXT);
    assert.equal(parsed.html, HTML);
    assert.equal(parsed.attachments.length, 1);
    assert.equal(parsed.attachments[0]?.filename, "scan.bin");
    assert.ok(parsed.attachments[0]?.content.equals(sample.attachment));
    assert.equal(parsed.headers.get("x-case-note"), CANARY);
    // The subject travels outside; the whole encrypted message parses with it.
    assert.equal((await simpleParser(encrypted)).subject, SUBJECT);
  });

  it("encrypts for a 4096-bit key too, and each message under a fresh content key", async (t) => {
    if (!requireTool(t, "openssl")) return;
    const big = recipient("big", ["-newkey", "rsa:4096"]);
    const one = await encryptMessage(sample.parts, smimeKey(big.cert));
    const two = await encryptMessage(sample.parts, smimeKey(big.cert));
    assert.ok(!bodyOf(one).equals(bodyOf(two)));
    const file = dir.file("big.eml");
    writeFileSync(file, two);
    const out = run("openssl", ["cms", "-decrypt", "-in", file, "-inkey", big.key, "-recip", big.cert]);
    assert.equal(lf(out), lf(Buffer.concat(splitMessage(sample.parts).entity)));
  });

  it("refuses an unusable certificate with a fixed message", async (t) => {
    const garbage = [
      "not a certificate",
      "-----BEGIN CERTIFICATE-----\nTUlJQmdhcmJhZ2U=\n-----END CERTIFICATE-----\n",
      "-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n",
    ];
    for (const material of garbage) {
      await assert.rejects(encryptMessage(sample.parts, smimeMaterial(material)), {
        message: ENCRYPTION_ERRORS.unusableCertificate,
      });
    }
    if (!requireTool(t, "openssl")) return;
    // Not RSA, and RSA below 2048 bits: refused, not silently used.
    for (const [name, newkey] of [
      ["ec", ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]],
      ["short", ["-newkey", "rsa:1024"]],
    ] as const) {
      const cert = recipient(name, newkey).cert;
      await assert.rejects(encryptMessage(sample.parts, smimeKey(cert)), (err: Error) => {
        assert.equal(err.message, ENCRYPTION_ERRORS.unusableCertificate);
        assert.equal(err.cause, undefined);
        return true;
      });
    }
  });
});
