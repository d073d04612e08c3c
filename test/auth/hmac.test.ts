/**
 * SP1-HMAC-SHA256 primitives (ADR 0008 §4): the worked example of docs/authentication.md
 * as a fixed vector, every signed part changing the signature, and strict parsing.
 */
import assert from "node:assert/strict";
import { createHash, createHmac } from "node:crypto";
import { test } from "node:test";
import {
  canonicalRequest,
  contentDigestHeader,
  contentDigestMatches,
  createDigestHasher,
  deriveSigningKey,
  formatHmacAuthorization,
  HMAC_SCHEME,
  HMAC_WINDOW_MS,
  type HmacCredentials,
  parseHmacAuthorization,
  signRequest,
  verifySignature,
} from "../../src/auth/hmac.ts";
import type { SignedRequest } from "../../src/auth/types.ts";

/** The worked example, as docs/authentication.md and ADR 0008 show it. */
const TOKEN = "sp_live_01kb2m9x7ad3qz8v4c6n5t1r0w_3xAmPlEsEcReTnOtReAl0123456789abcdefghijkLM";
const KEY_ID = "key_01kb2m9x7ad3qz8v4c6n5t1r0w";
const BODY = Buffer.from('{"from":"clinic@example.com","to":"p@example.org","subject":"Hi","text":"Hello"}');
const DIGEST = "sha-256=:zbnznLlMnMWo2sBkyF59l65o3gDcWjEGRsMfMnwhtEI=:";
const K_SIGN = "a4e3299ea76e48a556303a97641c549339a340564448f845a807fd672e35d992";
const SIGNATURE = "57eeaa44ddd95973a441223c94b143fb36291067f90ee0ed64e180ede868fdc2";
const AUTHORIZATION = `SP1-HMAC-SHA256 KeyId=${KEY_ID}, Timestamp=1767225600, Nonce=n0nce-4f9a2c7e1b3d5a6f, Signature=${SIGNATURE}`;
const REQUEST: SignedRequest = { method: "POST", url: "/v1/messages", contentDigest: DIGEST };

function exampleCredentials(): HmacCredentials {
  const c = parseHmacAuthorization(AUTHORIZATION);
  assert.equal(c.kind, "hmac");
  return c as HmacCredentials;
}

test("the worked example is a fixed vector", () => {
  assert.equal(HMAC_SCHEME, "SP1-HMAC-SHA256");
  assert.equal(HMAC_WINDOW_MS, 300_000);
  assert.equal(contentDigestHeader(BODY), DIGEST);
  const kSign = deriveSigningKey(TOKEN);
  assert.equal(kSign.toString("hex"), K_SIGN);
  const c = exampleCredentials();
  assert.deepEqual(c, {
    kind: "hmac",
    keyId: KEY_ID,
    timestamp: 1767225600,
    nonce: "n0nce-4f9a2c7e1b3d5a6f",
    signature: SIGNATURE,
  });
  assert.equal(
    canonicalRequest(c, REQUEST),
    ["SP1-HMAC-SHA256", KEY_ID, "1767225600", "n0nce-4f9a2c7e1b3d5a6f", "POST", "/v1/messages", DIGEST].join(
      "\n",
    ),
  );
  assert.equal(signRequest(kSign, c, REQUEST), SIGNATURE);
  assert.equal(verifySignature(kSign, c, REQUEST), true);
  assert.equal(formatHmacAuthorization(c), AUTHORIZATION);
});

test("the vector matches a from-scratch computation of the specified algorithm", () => {
  const digest = `sha-256=:${createHash("sha256").update(BODY).digest("base64")}:`;
  const kSign = createHmac("sha256", TOKEN).update("sp1-request-signing").digest();
  const canonical = `SP1-HMAC-SHA256\n${KEY_ID}\n1767225600\nn0nce-4f9a2c7e1b3d5a6f\nPOST\n/v1/messages\n${digest}`;
  assert.equal(digest, DIGEST);
  assert.equal(kSign.toString("hex"), K_SIGN);
  assert.equal(createHmac("sha256", kSign).update(canonical).digest("hex"), SIGNATURE);
});

test("the method is signed upper case", () => {
  const c = exampleCredentials();
  const kSign = deriveSigningKey(TOKEN);
  assert.equal(verifySignature(kSign, c, { ...REQUEST, method: "post" }), true);
});

test("changing any signed part, or the key, breaks the signature", () => {
  const c = exampleCredentials();
  const kSign = deriveSigningKey(TOKEN);
  const tampered: [string, HmacCredentials, SignedRequest][] = [
    ["body digest", c, { ...REQUEST, contentDigest: contentDigestHeader(Buffer.from(`${BODY} `)) }],
    ["missing digest", c, { ...REQUEST, contentDigest: null }],
    ["path", c, { ...REQUEST, url: "/v1/messages/batch" }],
    ["query", c, { ...REQUEST, url: "/v1/messages?x=1" }],
    ["method", c, { ...REQUEST, method: "PUT" }],
    ["timestamp", { ...c, timestamp: c.timestamp + 1 }, REQUEST],
    ["nonce", { ...c, nonce: "n0nce-4f9a2c7e1b3d5a6g" }, REQUEST],
    ["key id", { ...c, keyId: "key_01kb2m9x7ad3qz8v4c6n5t1r0x" }, REQUEST],
  ];
  for (const [what, creds, request] of tampered) {
    assert.notEqual(signRequest(kSign, creds, request), SIGNATURE, what);
    assert.equal(verifySignature(kSign, creds, request), false, what);
  }
  const otherKey = deriveSigningKey(TOKEN.replace(/M$/, "N"));
  assert.equal(verifySignature(otherKey, c, REQUEST), false, "another token");
  const flipped = { ...c, signature: `${SIGNATURE.slice(0, 63)}3` };
  assert.equal(verifySignature(kSign, flipped, REQUEST), false, "a changed signature");
  assert.equal(verifySignature(kSign, { ...c, signature: "ab" }, REQUEST), false, "a short signature");
});

test("parameters may come in any order, quoted, with names in any case, and without the scheme", () => {
  const expected = exampleCredentials();
  const variants = [
    `SP1-HMAC-SHA256 Signature=${SIGNATURE}, Nonce=n0nce-4f9a2c7e1b3d5a6f, Timestamp=1767225600, KeyId=${KEY_ID}`,
    `sp1-hmac-sha256   KeyId="${KEY_ID}",Timestamp="1767225600" ,\tNonce=n0nce-4f9a2c7e1b3d5a6f, Signature=${SIGNATURE}`,
    `SP1-HMAC-SHA256 keyid=${KEY_ID}, TIMESTAMP=1767225600, nonce=n0nce-4f9a2c7e1b3d5a6f, signature=${SIGNATURE}`,
    `KeyId=${KEY_ID}, Timestamp=1767225600, Nonce=n0nce-4f9a2c7e1b3d5a6f, Signature=${SIGNATURE}`,
  ];
  for (const value of variants) assert.deepEqual(parseHmacAuthorization(value), expected, value);
});

test("anything else is signature_malformed", () => {
  const ok = {
    KeyId: KEY_ID,
    Timestamp: "1767225600",
    Nonce: "n0nce-4f9a2c7e1b3d5a6f",
    Signature: SIGNATURE,
  };
  const build = (params: Record<string, string>) =>
    `SP1-HMAC-SHA256 ${Object.entries(params)
      .map(([k, v]) => `${k}=${v}`)
      .join(", ")}`;
  const bad: [string, string][] = [
    ["empty", ""],
    ["scheme only", "SP1-HMAC-SHA256"],
    ["scheme and space", "SP1-HMAC-SHA256 "],
    ["missing KeyId", build({ Timestamp: ok.Timestamp, Nonce: ok.Nonce, Signature: ok.Signature })],
    ["missing Signature", build({ KeyId: ok.KeyId, Timestamp: ok.Timestamp, Nonce: ok.Nonce })],
    ["duplicate", `${build(ok)}, Nonce=${ok.Nonce}`],
    ["duplicate, other case", `${build(ok)}, nonce=${ok.Nonce}`],
    ["unknown parameter", `${build(ok)}, Region=eu`],
    ["trailing comma", `${build(ok)},`],
    ["empty member", build(ok).replace(", ", ", , ")],
    ["space around =", build(ok).replace("Nonce=", "Nonce = ")],
    ["unterminated quote", build({ ...ok, Nonce: `"${ok.Nonce}` })],
    ["key id not a key id", build({ ...ok, KeyId: "org_01kb2m9x7ad3qz8v4c6n5t1r0w" })],
    ["key id too short", build({ ...ok, KeyId: "key_01kb2m9x7ad3qz8v4c6n5t1r0" })],
    ["key id with an excluded letter", build({ ...ok, KeyId: "key_01kb2m9x7ad3qz8v4c6n5t1r0u" })],
    ["nonce of 15", build({ ...ok, Nonce: "a".repeat(15) })],
    ["nonce of 65", build({ ...ok, Nonce: "a".repeat(65) })],
    ["nonce with a dot", build({ ...ok, Nonce: "n0nce.4f9a2c7e1b3d5a6f" })],
    ["nonce with a plus", build({ ...ok, Nonce: "n0nce+4f9a2c7e1b3d5a6f" })],
    ["timestamp in ms", build({ ...ok, Timestamp: "1767225600000" })],
    ["timestamp negative", build({ ...ok, Timestamp: "-1767225600" })],
    ["timestamp decimal", build({ ...ok, Timestamp: "1767225600.5" })],
    ["timestamp leading zero", build({ ...ok, Timestamp: "01767225600" })],
    ["timestamp empty", build({ ...ok, Timestamp: "" })],
    ["signature upper case", build({ ...ok, Signature: SIGNATURE.toUpperCase() })],
    ["signature of 63", build({ ...ok, Signature: SIGNATURE.slice(1) })],
    ["signature of 65", build({ ...ok, Signature: `${SIGNATURE}0` })],
    ["signature base64", build({ ...ok, Signature: Buffer.from(SIGNATURE, "hex").toString("base64") })],
    ["another scheme", build(ok).replace(HMAC_SCHEME, "AWS4-HMAC-SHA256")],
  ];
  for (const [what, value] of bad) {
    assert.deepEqual(parseHmacAuthorization(value), { kind: "malformed", code: "signature_malformed" }, what);
  }
  assert.deepEqual(parseHmacAuthorization(build(ok)), exampleCredentials());
  assert.deepEqual(parseHmacAuthorization(build({ ...ok, Nonce: "a".repeat(16) })).kind, "hmac");
  assert.deepEqual(parseHmacAuthorization(build({ ...ok, Nonce: "-_".repeat(32) })).kind, "hmac");
});

test("the streaming hasher gives the same Content-Digest as hashing at once", () => {
  const hasher = createDigestHasher();
  for (let i = 0; i < BODY.length; i += 7) hasher.update(BODY.subarray(i, i + 7));
  assert.equal(hasher.digest(), DIGEST);
  assert.equal(createDigestHasher().digest(), contentDigestHeader(Buffer.alloc(0)));
  assert.equal(
    contentDigestHeader(Buffer.alloc(0)),
    "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:",
  );
});

test("Content-Digest matches only its one sha-256 member", () => {
  assert.equal(contentDigestMatches(DIGEST, DIGEST), true);
  assert.equal(
    contentDigestMatches(`sha-512=:AAAA:, ${DIGEST}`, DIGEST),
    true,
    "other algorithms are ignored",
  );
  assert.equal(contentDigestMatches(null, DIGEST), false);
  assert.equal(contentDigestMatches("", DIGEST), false);
  assert.equal(contentDigestMatches("sha-512=:AAAA:", DIGEST), false);
  assert.equal(contentDigestMatches(contentDigestHeader(Buffer.from("x")), DIGEST), false);
  assert.equal(contentDigestMatches(`${DIGEST}, ${DIGEST}`, DIGEST), false, "a repeated member is ambiguous");
  assert.equal(contentDigestMatches(DIGEST.replace(/:$/, ""), DIGEST), false);
});
