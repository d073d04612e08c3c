/**
 * DKIM signing's two routes (domains/dkim.ts): the direct one (mailauth's parts called with
 * keys parsed once) must give byte for byte what mailauth's streaming signer gives, for
 * every shape of message sealpost signs; what the direct route does not take (bare LFs, no
 * empty line, no From) goes through the streaming signer. RSA PKCS#1 v1.5 and Ed25519
 * signatures are deterministic, so equal inputs give equal bytes. Real verification of the
 * result (dkimverify, over DNS) is in domains.test.ts.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { bodyParts } from "../../src/core/body.ts";
import {
  dkimSignatures,
  generateDkimKey,
  type SigningKey,
  signDirect,
  signStreaming,
} from "../../src/domains/dkim.ts";

const NOW = Date.UTC(2026, 10, 26, 12, 0, 0);
const KEYS: SigningKey[] = (["rsa", "ed25519"] as const).map((algorithm) => {
  const k = generateDkimKey(algorithm, NOW);
  return { selector: k.selector, algorithm, privateKeyPem: k.privateKeyPem };
});

const crlf = (lines: string[]) => Buffer.from(lines.join("\r\n"), "utf8");

const HEADERS = [
  "From: Clinic <noreply@clinic.example>",
  "To: patient@dest.example",
  "Subject: Your results",
  "Date: Thu, 26 Nov 2026 12:00:00 +0000",
  "Message-ID: <m1@clinic.example>",
  "MIME-Version: 1.0",
  "Content-Type: text/plain; charset=utf-8",
];

const SHAPES: Record<string, Buffer | Buffer[]> = {
  plain: crlf([...HEADERS, "", "Hello.", "Your results are ready.", ""]),
  "folded and repeated headers, odd spacing": crlf([
    "From:   Clinic   <noreply@clinic.example>  ",
    "Subject: a very long subject that the client folded",
    "\tonto a second line   with   spaces",
    "X-Other: not signed",
    "To: a@dest.example,",
    " b@dest.example",
    "Received: from x by y",
    "Received: from y by z",
    "",
    "Body  with   spaces  \t",
    "",
    "",
    "",
  ]),
  "encoded-word subject": crlf([
    ...HEADERS.slice(0, 2),
    "Subject: =?UTF-8?B?w4RyenRlYnJpZWY=?=",
    ...HEADERS.slice(3),
    "",
    "Grüße",
    "",
  ]),
  "empty body": crlf([...HEADERS, "", ""]),
  "no final CRLF": crlf([...HEADERS, "", "last line without a line end"]),
  "body in several parts, split inside a CRLF": [
    crlf([...HEADERS, "", "first part\r"]),
    Buffer.from("\nsecond part\r\n", "utf8"),
    Buffer.alloc(70_000, "A"),
    Buffer.from("\r\n\r\n", "utf8"),
  ],
};

for (const [name, raw] of Object.entries(SHAPES)) {
  test(`direct and streaming DKIM signatures are the same bytes: ${name}`, async () => {
    const direct = signDirect(bodyParts(raw), "clinic.example", KEYS, NOW);
    assert.ok(direct !== null, "the direct route takes it");
    assert.equal(await dkimSignatures(raw, "clinic.example", KEYS, NOW), direct);
    const streaming = await signStreaming(raw, "clinic.example", KEYS, NOW);
    assert.match(
      direct,
      /^DKIM-Signature: v=1; a=rsa-sha256;[\s\S]*\r\nDKIM-Signature: v=1; a=ed25519-sha256;[\s\S]*\r\n$/,
    );
    assert.equal(direct, streaming);
  });
}

test("messages the direct route does not take are signed by the streaming signer", async () => {
  const bareLf = Buffer.from(`${HEADERS.join("\n")}\n\nbody\nwith bare LFs\n`, "utf8");
  assert.equal(signDirect([bareLf], "clinic.example", KEYS, NOW), null);
  const signed = await dkimSignatures(bareLf, "clinic.example", KEYS, NOW);
  assert.equal(signed, await signStreaming(bareLf, "clinic.example", KEYS, NOW));
  assert.match(signed, /a=rsa-sha256/);
  // No empty line: all header. No From: mailauth refuses, and so do we.
  const headerOnly = crlf(HEADERS);
  assert.equal(signDirect([headerOnly], "clinic.example", KEYS, NOW), null);
  assert.equal(
    await dkimSignatures(headerOnly, "clinic.example", KEYS, NOW),
    await signStreaming(headerOnly, "clinic.example", KEYS, NOW),
  );
  // An empty line first: an empty header section, whatever follows (RFC 5322).
  const emptyHeader = crlf(["", ...HEADERS, "", "body"]);
  assert.equal(signDirect([emptyHeader], "clinic.example", KEYS, NOW), null);
  await assert.rejects(dkimSignatures(emptyHeader, "clinic.example", KEYS, NOW), /dkim signing failed/);
  // A key labelled with the other algorithm, an unsafe selector: refused by mailauth.
  const swapped = KEYS.map((k, i) => ({ ...k, privateKeyPem: KEYS[1 - i]?.privateKeyPem ?? "" }));
  const plain = crlf([...HEADERS, "", "body"]);
  assert.equal(signDirect([plain], "clinic.example", swapped, NOW), null);
  await assert.rejects(dkimSignatures(plain, "clinic.example", swapped, NOW), /dkim signing failed/);
  const unsafe = KEYS.map((k) => ({ ...k, selector: "s1; h=from" }));
  assert.equal(signDirect([plain], "clinic.example", unsafe, NOW), null);
  await assert.rejects(dkimSignatures(plain, "clinic.example", unsafe, NOW), /dkim signing failed/);
  const noFrom = crlf([...HEADERS.slice(1), "", "body"]);
  assert.equal(signDirect([noFrom], "clinic.example", KEYS, NOW), null);
  await assert.rejects(dkimSignatures(noFrom, "clinic.example", KEYS, NOW), /dkim signing failed/);
});

test("no keys, no signatures", async () => {
  assert.equal(await dkimSignatures(crlf([...HEADERS, "", "x"]), "clinic.example", [], NOW), "");
});
