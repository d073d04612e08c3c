/**
 * Recipient key validation (ADR 0010 §3) on keys made by openssl and gpg: good S/MIME
 * certificates (PEM and base64 DER) and OpenPGP keys are accepted with their facts; each
 * bad case is refused with `recipient_key_invalid`, its field and a fixed detail that
 * carries neither the address nor the key.
 */
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { isSealpostError } from "../../src/core/errors.ts";
import { validateRecipientKey } from "../../src/recipient-keys/validate.ts";
import { keyWorkshop } from "./real-keys.ts";

const tools = keyWorkshop();
after(() => tools.remove());
const DAY = 86_400_000;
const ADDRESS = "pat.doe@example.org";

async function refusal(kind: "smime" | "pgp", text: string, address = ADDRESS, now = Date.now()) {
  try {
    await validateRecipientKey(kind, text, address, now);
  } catch (err) {
    assert.ok(isSealpostError(err), String(err));
    assert.equal(err.code, "recipient_key_invalid");
    assert.equal(err.field, kind === "smime" ? "certificate" : "public_key");
    assert.doesNotMatch(err.detail ?? "", /@|pat|example|BEGIN/i);
    return err.detail;
  }
  assert.fail("the key was accepted");
}

test("an S/MIME certificate with the address in its SAN is accepted, as PEM and as base64 DER", async () => {
  const { cert } = tools.smime(ADDRESS, {
    key: "rsa:3072",
    ext: ["keyUsage=digitalSignature,keyEncipherment", "extendedKeyUsage=emailProtection"],
  });
  const v = await validateRecipientKey("smime", cert, "Pat.Doe@EXAMPLE.org", Date.now());
  assert.equal(v.kind, "smime");
  assert.equal(v.algorithm, "rsa-3072");
  assert.match(v.fingerprint, /^[0-9a-f]{64}$/);
  assert.equal(v.keyId, v.fingerprint.slice(-16));
  assert.ok(v.notAfter !== null && v.notAfter > Date.now() + 29 * DAY);
  assert.match(v.material, /^-----BEGIN CERTIFICATE-----\r?\n/);
  const der = await validateRecipientKey("smime", tools.der(cert), ADDRESS, Date.now());
  assert.equal(der.fingerprint, v.fingerprint);
  // Without a SAN the subject's emailAddress names the owner.
  const subjectOnly = tools.smime(ADDRESS, { san: false }).cert;
  assert.equal((await validateRecipientKey("smime", subjectOnly, ADDRESS, Date.now())).kind, "smime");
});

test("bad S/MIME certificates are refused with a fixed detail each", async () => {
  const good = tools.smime(ADDRESS);
  const now = Date.now();
  assert.equal(await refusal("smime", good.cert, ADDRESS, now + 31 * DAY), "The certificate has expired.");
  assert.equal(await refusal("smime", good.cert, ADDRESS, now - DAY), "The certificate is not valid yet.");
  assert.equal(
    await refusal("smime", good.cert, "someone.else@example.org"),
    "The certificate does not name this address.",
  );
  assert.equal(
    await refusal("smime", tools.smime(ADDRESS, { key: "rsa:1024" }).cert),
    "The certificate's RSA key is shorter than 2048 bits.",
  );
  assert.equal(
    await refusal("smime", tools.smime(ADDRESS, { key: "ec-p256" }).cert),
    "The certificate's key must be RSA (S/MIME key transport here is RSA).",
  );
  assert.equal(
    await refusal("smime", tools.smime(ADDRESS, { ext: ["keyUsage=digitalSignature"] }).cert),
    "The certificate's key usage does not allow key encipherment.",
  );
  assert.equal(
    await refusal("smime", tools.smime(ADDRESS, { ext: ["extendedKeyUsage=serverAuth"] }).cert),
    "The certificate's extended key usage does not include email protection.",
  );
  assert.equal(await refusal("smime", good.key), "A private key was submitted; submit the certificate only.");
  assert.equal(
    await refusal("smime", `${good.cert}\n${tools.smime(ADDRESS).cert}`),
    "Submit exactly one certificate.",
  );
  assert.equal(
    await refusal("smime", "not a certificate at all!"),
    "The certificate is neither PEM nor base64 DER.",
  );
  assert.equal(await refusal("smime", "AAAA"), "The certificate cannot be parsed as X.509.");
  assert.equal(await refusal("smime", "A".repeat(70_000)), "The key is too large.");
});

test("an OpenPGP key with an encryption subkey is accepted; RSA and Curve25519 alike", async () => {
  const ecc = tools.pgp(ADDRESS, { sub: "cv25519" });
  const v = await validateRecipientKey("pgp", ecc.publicKey, "PAT.doe@example.org", Date.now());
  assert.equal(v.kind, "pgp");
  assert.equal(v.fingerprint, ecc.fingerprint.toLowerCase());
  assert.equal(v.keyId, v.fingerprint.slice(-16));
  assert.equal(v.algorithm, "curve25519");
  assert.ok(v.notAfter !== null && v.notAfter > Date.now() + 300 * DAY);
  assert.match(v.material, /^-----BEGIN PGP PUBLIC KEY BLOCK-----/);
  const rsa = tools.pgp("rsa.holder@example.org", {
    algo: "rsa3072",
    usage: "cert,sign,encr",
    expire: "never",
  });
  const r = await validateRecipientKey("pgp", rsa.publicKey, "rsa.holder@example.org", Date.now());
  assert.equal(r.algorithm, "rsa-3072");
  assert.equal(r.notAfter, null);
});

test("bad OpenPGP keys are refused with a fixed detail each", async () => {
  const good = tools.pgp("good.pgp@example.org", { sub: "cv25519" });
  const now = Date.now();
  assert.equal(
    await refusal("pgp", good.publicKey, "good.pgp@example.org", now + 400 * DAY),
    "The key has expired.",
  );
  assert.equal(
    await refusal("pgp", good.publicKey, "good.pgp@example.org", now - DAY),
    "The key is not valid yet.",
  );
  assert.equal(await refusal("pgp", good.publicKey, ADDRESS), "No user id of the key carries this address.");
  const signOnly = tools.pgp("sign.only@example.org", { algo: "rsa3072", usage: "sign,cert" });
  assert.equal(
    await refusal("pgp", signOnly.publicKey, "sign.only@example.org"),
    "The key has no encryption key valid now.",
  );
  const weak = tools.pgp("weak.rsa@example.org", { algo: "rsa1024", usage: "cert,sign,encr" });
  assert.equal(
    await refusal("pgp", weak.publicKey, "weak.rsa@example.org"),
    "The key's RSA size is shorter than 2048 bits.",
  );
  assert.equal(
    await refusal("pgp", tools.secretKey(good.fingerprint), "good.pgp@example.org"),
    "A private key was submitted; submit the public key only.",
  );
  const revoked = tools.pgp("revoked.pgp@example.org", { sub: "cv25519" });
  assert.equal(
    await refusal("pgp", tools.revoke(revoked.fingerprint), "revoked.pgp@example.org"),
    "The key has been revoked.",
  );
  tools.pgp("second@example.org", { sub: "cv25519" });
  const both = tools.exportBoth(good.fingerprint, "second@example.org");
  assert.equal(await refusal("pgp", both, "good.pgp@example.org"), "Submit exactly one OpenPGP key.");
  assert.equal(await refusal("pgp", "garbage"), "The key is not an armored OpenPGP public key.");
  assert.equal(
    await refusal(
      "pgp",
      "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nAAAA\n-----END PGP PUBLIC KEY BLOCK-----\n",
    ),
    "The OpenPGP key cannot be read.",
  );
});
