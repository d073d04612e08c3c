import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import {
  AEAD_VERSION,
  open,
  openJson,
  openString,
  SEAL_OVERHEAD,
  seal,
  sealJson,
  sealString,
} from "../../src/crypto/aead.ts";
import { CryptoError } from "../../src/crypto/crypto-error.ts";

const key = randomBytes(32);
const aad = "msg_test:body";

function flipBit(buf: Buffer, index: number): Buffer {
  const copy = Buffer.from(buf);
  copy[index] = (copy[index] ?? 0) ^ 0x01;
  return copy;
}

function assertCryptoError(fn: () => unknown, secret?: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof CryptoError, `expected CryptoError, got ${String(err)}`);
    assert.equal(err.name, "CryptoError");
    if (secret !== undefined) assert.ok(!err.message.includes(secret), "message leaks a secret");
    assert.ok(!err.message.includes(key.toString("hex")), "message leaks the key");
    return true;
  });
}

describe("aead seal/open", () => {
  it("round-trips binary data, including empty input", () => {
    for (const size of [0, 1, 15, 16, 17, 4096, 100_000]) {
      const plain = randomBytes(size);
      const sealed = seal(key, plain, aad);
      assert.equal(sealed.length, plain.length + SEAL_OVERHEAD);
      assert.deepEqual(open(key, sealed, aad), plain);
    }
  });

  it("writes version | iv | ciphertext | tag, with the IV from the random source", () => {
    const iv = Buffer.alloc(12, 7);
    let asked = 0;
    const sealed = seal(key, Buffer.from("hello"), aad, (n) => {
      asked = n;
      return Buffer.from(iv);
    });
    assert.equal(asked, 12);
    assert.equal(sealed[0], AEAD_VERSION);
    assert.equal(sealed[0], 0x01);
    assert.deepEqual(sealed.subarray(1, 13), iv);
    assert.equal(sealed.length, 1 + 12 + 5 + 16);
    assert.equal(openString(key, sealed, aad), "hello");
  });

  it("uses a fresh IV each time, so equal plaintexts give different blobs", () => {
    const a = sealString(key, "same", aad);
    const b = sealString(key, "same", aad);
    assert.notDeepEqual(a, b);
    assert.notDeepEqual(a.subarray(1, 13), b.subarray(1, 13));
  });

  it("does not contain the plaintext", () => {
    const text = "patient: Jane Doe, DOB 1970-01-01";
    const sealed = sealString(key, text, aad);
    assert.ok(!sealed.includes(Buffer.from(text)));
  });

  it("detects a flipped bit in the version, iv, ciphertext and tag", () => {
    const plain = "a secret note";
    const sealed = sealString(key, plain, aad);
    const positions = {
      version: 0,
      ivStart: 1,
      ivEnd: 12,
      ciphertext: 13 + 3,
      tagStart: sealed.length - 16,
      tagEnd: sealed.length - 1,
    };
    for (const [where, index] of Object.entries(positions)) {
      assert.throws(() => open(key, flipBit(sealed, index), aad), CryptoError, `bit flip in ${where}`);
    }
    assertCryptoError(() => openString(key, flipBit(sealed, 20), aad), plain);
  });

  it("rejects an unknown version byte with its own message", () => {
    const sealed = sealString(key, "x", aad);
    const v2 = Buffer.from(sealed);
    v2[0] = 0x02;
    assert.throws(() => open(key, v2, aad), { name: "CryptoError", message: /version/ });
  });

  it("rejects truncated and extended blobs", () => {
    const sealed = sealString(key, "some text", aad);
    assertCryptoError(() => open(key, sealed.subarray(0, sealed.length - 1), aad));
    assertCryptoError(() => open(key, sealed.subarray(0, SEAL_OVERHEAD - 1), aad));
    assertCryptoError(() => open(key, Buffer.alloc(0), aad));
    assertCryptoError(() => open(key, Buffer.concat([sealed, Buffer.of(0)]), aad));
  });

  it("rejects a wrong aad, including the empty string", () => {
    const sealed = sealString(key, "bound", aad);
    assertCryptoError(() => open(key, sealed, "msg_other:body"));
    assertCryptoError(() => open(key, sealed, ""));
    const unbound = sealString(key, "unbound", "");
    assert.equal(openString(key, unbound, ""), "unbound");
    assertCryptoError(() => open(key, unbound, aad));
  });

  it("rejects a wrong key without leaking either key", () => {
    const other = randomBytes(32);
    const sealed = sealString(key, "confidential", aad);
    assert.throws(
      () => open(other, sealed, aad),
      (err: unknown) => {
        assert.ok(err instanceof CryptoError);
        assert.ok(!err.message.includes(other.toString("hex")));
        assert.ok(!err.message.includes(other.toString("base64")));
        assert.ok(!err.message.includes("confidential"));
        return true;
      },
    );
  });

  it("rejects keys that are not 32 bytes", () => {
    for (const bad of [Buffer.alloc(0), randomBytes(16), randomBytes(31), randomBytes(33)]) {
      assertCryptoError(() => seal(bad, Buffer.from("x"), aad));
      assertCryptoError(() => open(bad, seal(key, Buffer.from("x"), aad), aad));
    }
  });

  it("rejects a random source that returns the wrong length", () => {
    assertCryptoError(() => seal(key, Buffer.from("x"), aad, () => Buffer.alloc(8)));
  });
});

describe("aead string and JSON helpers", () => {
  it("round-trips UTF-8 strings", () => {
    const text = "Grüße, 患者 🚑";
    assert.equal(openString(key, sealString(key, text, aad), aad), text);
  });

  it("round-trips JSON values", () => {
    const value = { to: ["a@example.com"], n: 3, nested: { ok: true, none: null }, list: [1, "two"] };
    const opened = openJson<typeof value>(key, sealJson(key, value, aad), aad);
    assert.deepEqual(opened, value);
    assert.equal(openJson<number>(key, sealJson(key, 42, aad), aad), 42);
    assert.equal(openJson<string>(key, sealJson(key, "s", aad), aad), "s");
  });

  it("refuses values JSON cannot represent", () => {
    assertCryptoError(() => sealJson(key, undefined, aad));
    assertCryptoError(() => sealJson(key, () => 1, aad));
  });

  it("openJson on a non-JSON blob fails without quoting the plaintext", () => {
    const sealed = sealString(key, "not json: secret-value", aad);
    assert.throws(
      () => openJson(key, sealed, aad),
      (err: unknown) => {
        assert.ok(err instanceof CryptoError);
        assert.equal(err.cause, undefined);
        assert.ok(!err.message.includes("secret-value"));
        return true;
      },
    );
  });

  it("openJson checks authentication before parsing", () => {
    const sealed = sealJson(key, { a: 1 }, aad);
    assertCryptoError(() => openJson(key, flipBit(sealed, 14), aad));
    assertCryptoError(() => openJson(key, sealed, "other"));
  });
});
