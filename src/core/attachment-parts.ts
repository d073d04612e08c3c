import { open, seal } from "../crypto/aead.ts";
import { CryptoError } from "../crypto/crypto-error.ts";
import type { AttachmentPartsTable } from "../store/schema.ts";

/**
 * Attachments are stored as sealed parts of at most 1 MiB (ADR 0006), so neither store
 * nor the worker ever holds a second whole copy of a large attachment. Each part's AAD
 * binds message, attachment and position; part 0 keeps the AAD single-blob rows had.
 */
export const PART_BYTES = 1 << 20;

export function attachmentPartAad(messageId: string, idx: number, seq: number): string {
  return seq === 0 ? `att:${messageId}:${idx}` : `att:${messageId}:${idx}:${seq}`;
}

export function sealAttachmentParts(
  key: Buffer,
  messageId: string,
  idx: number,
  content: Buffer,
): AttachmentPartsTable[] {
  const parts: AttachmentPartsTable[] = [];
  let seq = 0;
  do {
    const slice = content.subarray(seq * PART_BYTES, (seq + 1) * PART_BYTES);
    parts.push({
      message_id: messageId,
      idx,
      seq,
      content: seal(key, slice, attachmentPartAad(messageId, idx, seq)),
    });
    seq++;
  } while (seq * PART_BYTES < content.length);
  return parts;
}

/**
 * Opens one attachment's parts (in `seq` order) and checks it is whole: parts numbered
 * 0…n−1 and plaintext adding up to `size` (from the sealed content). A missing,
 * reordered or truncated part is an error, never a shorter attachment.
 */
export function openAttachmentParts(
  key: Buffer,
  messageId: string,
  idx: number,
  size: number,
  rows: readonly { seq: number; content: Uint8Array }[],
): Buffer[] {
  const out: Buffer[] = [];
  let total = 0;
  for (const [i, row] of rows.entries()) {
    if (row.seq !== i) throw new CryptoError("attachment part missing");
    const sealed = Buffer.from(row.content.buffer, row.content.byteOffset, row.content.byteLength);
    const plain = open(key, sealed, attachmentPartAad(messageId, idx, i));
    total += plain.length;
    out.push(plain);
  }
  if (rows.length === 0 || total !== size) throw new CryptoError("attachment parts incomplete");
  return out;
}
