import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import {
  attachmentPartAad,
  openAttachmentParts,
  PART_BYTES,
  sealAttachmentParts,
} from "../../src/core/attachment-parts.ts";
import { seal } from "../../src/crypto/aead.ts";

const key = randomBytes(32);

test("an attachment is sealed in 1 MiB parts that open back to the same bytes", async () => {
  for (const size of [0, 1, PART_BYTES - 1, PART_BYTES, PART_BYTES + 1, 3 * PART_BYTES + 17]) {
    const content = randomBytes(size);
    const parts = sealAttachmentParts(key, "org_a", "msg_a", 2, content);
    assert.equal(parts.length, Math.max(1, Math.ceil(size / PART_BYTES)), `parts for ${size}`);
    assert.deepEqual(
      parts.map((p) => p.seq),
      parts.map((_, i) => i),
    );
    const opened = await openAttachmentParts(key, "msg_a", 2, size, parts);
    assert.ok(Buffer.concat(opened).equals(content), `round trip of ${size} bytes`);
  }
});

test("a missing, reordered, moved or truncated part is refused, never a shorter attachment", async () => {
  const content = randomBytes(3 * PART_BYTES);
  const parts = sealAttachmentParts(key, "org_a", "msg_a", 0, content);
  const [p0, p1, p2] = parts;
  assert.ok(p0 !== undefined && p1 !== undefined && p2 !== undefined);
  const size = content.length;
  await assert.rejects(openAttachmentParts(key, "msg_a", 0, size, [p0, p1]), /incomplete/);
  await assert.rejects(openAttachmentParts(key, "msg_a", 0, size, [p0, p2]), /missing/);
  // Swapped contents under the expected numbering fail authentication.
  const swapped = [p0, { ...p2, seq: 1 }, { ...p1, seq: 2 }];
  await assert.rejects(openAttachmentParts(key, "msg_a", 0, size, swapped), /authentication/);
  await assert.rejects(openAttachmentParts(key, "msg_b", 0, size, parts), /authentication/);
  await assert.rejects(openAttachmentParts(key, "msg_a", 1, size, parts), /authentication/);
  await assert.rejects(openAttachmentParts(key, "msg_a", 0, size, []), /incomplete/);
});

test("a single-blob attachment from before parts opens as part 0, whatever its size", async () => {
  const content = randomBytes(2 * PART_BYTES + 5);
  const legacy = seal(key, content, "att:msg_old:0");
  assert.equal(attachmentPartAad("msg_old", 0, 0), "att:msg_old:0");
  const opened = await openAttachmentParts(key, "msg_old", 0, content.length, [{ seq: 0, content: legacy }]);
  assert.ok(Buffer.concat(opened).equals(content));
});
