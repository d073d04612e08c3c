import assert from "node:assert/strict";
import { createHmac, randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { SealpostError } from "../../src/core/errors.ts";
import {
  addressDomain,
  blindIndex,
  normalizeAddress,
  normalizeDomain,
} from "../../src/crypto/blind-index.ts";
import { CryptoError } from "../../src/crypto/crypto-error.ts";

const key = randomBytes(32);

describe("normalizeAddress", () => {
  it("trims and lowercases both the local part and the domain", () => {
    assert.equal(normalizeAddress("  Jane.Doe@Example.COM \n"), "jane.doe@example.com");
    assert.equal(normalizeAddress("JANE+tag@example.com"), "jane+tag@example.com");
  });

  it("converts IDN domains to ASCII", () => {
    assert.equal(normalizeAddress("Max@Bücher.DE"), "max@xn--bcher-kva.de");
    assert.equal(normalizeAddress("max@xn--bcher-kva.de"), "max@xn--bcher-kva.de");
    assert.equal(normalizeAddress("a@例え.テスト"), "a@xn--r8jz45g.xn--zckzah");
  });

  it("lowercases and NFC-normalizes a Unicode local part", () => {
    const decomposed = "Jose\u0301@example.com"; // e + combining acute
    assert.equal(normalizeAddress(decomposed), "jos\u00e9@example.com");
    assert.equal(normalizeAddress("ÉLODIE@example.com"), "élodie@example.com");
  });

  it("splits at the last @ and drops one trailing dot from the domain", () => {
    assert.equal(normalizeAddress('"A@B"@Example.com'), '"a@b"@example.com');
    assert.equal(normalizeAddress("a@example.com."), "a@example.com");
  });

  it("keeps address literals", () => {
    assert.equal(normalizeAddress("a@[192.0.2.1]"), "a@[192.0.2.1]");
    assert.equal(normalizeAddress("a@[IPv6:2001:DB8::1]"), "a@[ipv6:2001:db8::1]");
  });

  it("is idempotent", () => {
    for (const addr of ["Jane@Example.com", "Max@Bücher.DE", "x@[IPv6:::1]"]) {
      const once = normalizeAddress(addr);
      assert.equal(normalizeAddress(once), once);
    }
  });

  it("rejects malformed addresses with invalid_address and without echoing them", () => {
    for (const bad of [
      "",
      "   ",
      "no-at-sign",
      "@example.com",
      "jane@",
      "jane@ex ample.com",
      "jane@a..b",
      "jane@[]",
    ]) {
      assert.throws(
        () => normalizeAddress(bad),
        (err: unknown) => {
          assert.ok(err instanceof SealpostError, `expected SealpostError for ${JSON.stringify(bad)}`);
          assert.equal(err.code, "invalid_address");
          if (bad.trim() !== "") assert.ok(!err.message.includes(bad.trim()));
          return true;
        },
      );
    }
  });
});

describe("addressDomain and normalizeDomain", () => {
  it("returns the normalized domain", () => {
    assert.equal(addressDomain("Jane@Example.COM"), "example.com");
    assert.equal(addressDomain("max@Bücher.de"), "xn--bcher-kva.de");
    assert.equal(addressDomain('"x@y"@Mail.Example.org.'), "mail.example.org");
    assert.equal(normalizeDomain(" Bücher.DE "), "xn--bcher-kva.de");
    assert.throws(() => addressDomain("nope"), SealpostError);
    assert.throws(() => normalizeDomain(""), SealpostError);
  });
});

describe("blindIndex", () => {
  it("is HMAC-SHA256(key, purpose \\0 value) truncated to 20 bytes, base64url", () => {
    const expected = createHmac("sha256", key)
      .update("address\0jane@example.com")
      .digest()
      .subarray(0, 20)
      .toString("base64url");
    const index = blindIndex(key, "jane@example.com", "address");
    assert.equal(index, expected);
    assert.equal(index.length, 27);
    assert.match(index, /^[A-Za-z0-9_-]{27}$/);
  });

  it("is deterministic", () => {
    assert.equal(blindIndex(key, "a@example.com", "address"), blindIndex(key, "a@example.com", "address"));
    assert.equal(blindIndex(key, "example.com", "domain"), blindIndex(key, "example.com", "domain"));
  });

  it("is case-insensitive and whitespace-insensitive", () => {
    const base = blindIndex(key, "jane.doe@example.com", "address");
    for (const variant of ["Jane.Doe@Example.com", "JANE.DOE@EXAMPLE.COM", "  jane.doe@example.com\n"]) {
      assert.equal(blindIndex(key, variant, "address"), base);
    }
    assert.equal(blindIndex(key, "EXAMPLE.com", "domain"), blindIndex(key, "example.com", "domain"));
  });

  it("treats an IDN and its punycode form as the same", () => {
    assert.equal(
      blindIndex(key, "max@Bücher.de", "address"),
      blindIndex(key, "max@xn--bcher-kva.de", "address"),
    );
    assert.equal(blindIndex(key, "bücher.de", "domain"), blindIndex(key, "XN--BCHER-KVA.DE", "domain"));
  });

  it("differs by key, purpose and value", () => {
    const a = blindIndex(key, "example.com", "domain");
    assert.notEqual(blindIndex(randomBytes(32), "example.com", "domain"), a);
    assert.notEqual(blindIndex(key, "example.org", "domain"), a);
    assert.notEqual(
      blindIndex(key, "jane@example.com", "address"),
      blindIndex(key, "john@example.com", "address"),
    );
    // The same normalized string under the other purpose gives a different index.
    const asAddress = createHmac("sha256", key).update("address\0example.com").digest().subarray(0, 20);
    assert.notEqual(a, asAddress.toString("base64url"));
    const asDomain = createHmac("sha256", key).update("domain\0example.com").digest().subarray(0, 20);
    assert.equal(a, asDomain.toString("base64url"));
  });

  it("does not reveal the value", () => {
    const index = blindIndex(key, "jane@example.com", "address");
    assert.ok(!index.includes("jane"));
    assert.ok(!index.includes("example"));
  });

  it("refuses short keys", () => {
    assert.throws(() => blindIndex(Buffer.alloc(0), "a@b.c", "address"), CryptoError);
    assert.throws(() => blindIndex(randomBytes(16), "a@b.c", "address"), CryptoError);
  });

  it("rejects an invalid value for its purpose", () => {
    assert.throws(() => blindIndex(key, "not an address", "address"), SealpostError);
    assert.throws(() => blindIndex(key, "a..b", "domain"), SealpostError);
  });
});
