import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { seal } from "../../src/crypto/aead.ts";
import { CryptoError } from "../../src/crypto/crypto-error.ts";
import { type KeyWrapper, localKeyWrapper } from "../../src/crypto/key-provider.ts";
import { deriveKey, generateDataKey, unwrapKey, wrapKey } from "../../src/crypto/keys.ts";
import { masterKeyId } from "../../src/crypto/master-key.ts";

describe("data keys", () => {
  it("generates distinct 32-byte keys", () => {
    const a = generateDataKey();
    const b = generateDataKey();
    assert.equal(a.length, 32);
    assert.notDeepEqual(a, b);
  });

  it("uses the injected random source", () => {
    const fixed = Buffer.alloc(32, 9);
    assert.deepEqual(
      generateDataKey(() => Buffer.from(fixed)),
      fixed,
    );
    assert.throws(() => generateDataKey(() => Buffer.alloc(16)), CryptoError);
  });

  it("wraps and unwraps a data key bound to its aad", () => {
    const kek = randomBytes(32);
    const dek = generateDataKey();
    const wrapped = wrapKey(kek, dek, "dek:org_a");
    assert.ok(!wrapped.includes(dek));
    assert.deepEqual(unwrapKey(kek, wrapped, "dek:org_a"), dek);
    assert.throws(() => unwrapKey(kek, wrapped, "dek:org_b"), CryptoError);
    assert.throws(() => unwrapKey(randomBytes(32), wrapped, "dek:org_a"), CryptoError);
    const tampered = Buffer.from(wrapped);
    tampered[20] = (tampered[20] ?? 0) ^ 0x80;
    assert.throws(() => unwrapKey(kek, tampered, "dek:org_a"), CryptoError);
  });

  it("refuses to wrap or unwrap something that is not a 32-byte key", () => {
    const kek = randomBytes(32);
    assert.throws(() => wrapKey(kek, randomBytes(16), "dek"), CryptoError);
    assert.throws(() => wrapKey(randomBytes(16), randomBytes(32), "dek"), CryptoError);
    const notAKey = seal(kek, Buffer.from("short"), "dek");
    assert.throws(() => unwrapKey(kek, notAKey, "dek"), CryptoError);
  });

  it("derives stable, independent subkeys", () => {
    const ikm = randomBytes(32);
    const a = deriveKey(ikm, "sealpost blind-index");
    assert.equal(a.length, 32);
    assert.deepEqual(deriveKey(ikm, "sealpost blind-index"), a);
    assert.notDeepEqual(deriveKey(ikm, "sealpost other"), a);
    assert.notDeepEqual(deriveKey(randomBytes(32), "sealpost blind-index"), a);
    assert.notDeepEqual(a, ikm);
    assert.throws(() => deriveKey(randomBytes(8), "x"), CryptoError);
  });
});

describe("localKeyWrapper", () => {
  const key = randomBytes(32);
  const master = { keyId: masterKeyId(key), key };

  it("implements KeyWrapper with the master key's id", async () => {
    const wrapper: KeyWrapper = localKeyWrapper(master);
    assert.equal(wrapper.keyId, master.keyId);
    const dek = generateDataKey();
    const wrapped = await wrapper.wrap(dek, "dek:org_a");
    assert.deepEqual(await wrapper.unwrap(wrapped, "dek:org_a"), dek);
    // Interoperates with keys.ts: the local wrapper is plain aead under the master key.
    assert.deepEqual(unwrapKey(key, wrapped, "dek:org_a"), dek);
  });

  it("rejects a wrong aad, a wrong master key and tampering", async () => {
    const wrapper = localKeyWrapper(master);
    const wrapped = await wrapper.wrap(generateDataKey(), "dek:org_a");
    await assert.rejects(wrapper.unwrap(wrapped, "dek:org_b"), CryptoError);
    const otherKey = randomBytes(32);
    const other = localKeyWrapper({ keyId: masterKeyId(otherKey), key: otherKey });
    await assert.rejects(other.unwrap(wrapped, "dek:org_a"), CryptoError);
    const tampered = Buffer.from(wrapped);
    tampered[tampered.length - 1] = (tampered[tampered.length - 1] ?? 0) ^ 1;
    await assert.rejects(wrapper.unwrap(tampered, "dek:org_a"), CryptoError);
  });

  it("keeps its own copy of the key", async () => {
    const mutable = Buffer.from(key);
    const wrapper = localKeyWrapper({ keyId: master.keyId, key: mutable });
    const wrapped = await wrapper.wrap(Buffer.from("k"), "aad");
    mutable.fill(0);
    assert.deepEqual(await wrapper.unwrap(wrapped, "aad"), Buffer.from("k"));
  });

  it("refuses a master key of the wrong size up front", () => {
    assert.throws(() => localKeyWrapper({ keyId: "mk_x", key: randomBytes(16) }), CryptoError);
  });
});
