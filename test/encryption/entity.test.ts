import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { encryptMessage } from "../../src/encryption/encrypt.ts";
import { splitMessage } from "../../src/encryption/entity.ts";
import { ENCRYPTION_ERRORS } from "../../src/encryption/errors.ts";
import { CANARY, headerList, renderSample, SAMPLE_OUTER } from "./fixtures.ts";

function names(headers: Buffer): string[] {
  return headerList(Buffer.concat([headers, Buffer.from("\r\n")])).map(([n]) => n);
}

describe("splitMessage", () => {
  it("keeps the addressing headers outside and moves Content-* and custom headers in", async () => {
    const { parts } = await renderSample();
    const raw = Buffer.concat(parts);
    const { outer, entity } = splitMessage(parts);
    const inner = Buffer.concat(entity);

    assert.deepEqual(names(outer), SAMPLE_OUTER);
    assert.ok(!outer.toString("latin1").includes(CANARY));
    // The folded Subject stays folded, with CRLF.
    assert.match(
      outer.toString("latin1"),
      /\r\nSubject: =\?UTF-8\?Q\?Befund[^\r]*\r\n =\?UTF-8\?Q\?gebnis\?=\r\n/,
    );

    const innerNames = headerList(inner).map(([n]) => n);
    assert.deepEqual(innerNames, ["X-Case-Note", "Content-Type"]);
    assert.ok(!inner.toString("latin1").includes("MIME-Version"));
    // The body after the header block is the rendered body, byte for byte.
    const rawBody = raw.subarray(raw.indexOf("\r\n\r\n") + 4);
    const innerBody = inner.subarray(inner.indexOf("\r\n\r\n") + 4);
    assert.ok(innerBody.equals(rawBody));
  });

  it("finds the end of the header block wherever the parts are cut", async () => {
    const raw = Buffer.concat((await renderSample()).parts);
    const whole = splitMessage(raw);
    const end = raw.indexOf("\r\n\r\n");
    for (let cut = end - 2; cut <= end + 6; cut++) {
      const split = splitMessage([raw.subarray(0, cut), raw.subarray(cut, cut + 5), raw.subarray(cut + 5)]);
      assert.ok(split.outer.equals(whole.outer), `cut at ${cut - end}`);
      assert.ok(Buffer.concat(split.entity).equals(Buffer.concat(whole.entity)), `cut at ${cut - end}`);
    }
  });

  it("accepts bare LF line ends in the header block and writes CRLF", () => {
    const { outer, entity } = splitMessage(
      Buffer.from(
        "From: a@example.test\nX-A: 1\nSubject: hi\n there\nMIME-Version: 1.0\nContent-Type: text/plain\n\nbody\n",
      ),
    );
    assert.equal(outer.toString(), "From: a@example.test\r\nSubject: hi\r\n there\r\n");
    assert.equal(Buffer.concat(entity).toString(), "X-A: 1\r\nContent-Type: text/plain\r\n\r\nbody\n");
  });

  it("refuses something that is not a message, with a fixed message", () => {
    for (const bad of [
      "no header block at all",
      " folded first line: x\r\n\r\nbody",
      "no colon\r\n\r\nbody",
      "",
    ]) {
      assert.throws(() => splitMessage(Buffer.from(bad)), { message: ENCRYPTION_ERRORS.malformedMessage });
    }
  });
});

describe("encryptMessage", () => {
  it("refuses an unknown key kind with a fixed message", async () => {
    const { parts } = await renderSample();
    const key = { id: "rk_1", kind: "rot13", material: "x", fingerprint: "f", notAfter: null };
    // @ts-expect-error: a kind the type does not allow, as a corrupt row would carry.
    await assert.rejects(encryptMessage(parts, key), { message: ENCRYPTION_ERRORS.unknownKind });
  });
});
