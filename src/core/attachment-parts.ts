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
  orgId: string,
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
      org_id: orgId,
      idx,
      seq,
      content: seal(key, slice, attachmentPartAad(messageId, idx, seq)),
    });
    seq++;
  } while (seq * PART_BYTES < content.length);
  return parts;
}

export interface PartRow {
  seq: number;
  content: Uint8Array;
}

/**
 * Opens one attachment part by part, as they are read (in `seq` order), and checks the
 * whole at the end: parts numbered 0…n−1 and plaintext adding up to `size` (from the
 * sealed content). A missing, reordered or truncated part is an error, never a shorter
 * attachment. Only one part is held at a time.
 */
export async function* openAttachmentStream(
  key: Buffer,
  messageId: string,
  idx: number,
  size: number,
  rows: AsyncIterable<PartRow> | Iterable<PartRow>,
): AsyncGenerator<Buffer> {
  let seq = 0;
  let total = 0;
  for await (const row of rows) {
    if (row.seq !== seq) throw new CryptoError("attachment part missing");
    const sealed = Buffer.from(row.content.buffer, row.content.byteOffset, row.content.byteLength);
    const plain = open(key, sealed, attachmentPartAad(messageId, idx, seq));
    total += plain.length;
    seq++;
    if (total > size) throw new CryptoError("attachment parts incomplete");
    yield plain;
  }
  if (seq === 0 || total !== size) throw new CryptoError("attachment parts incomplete");
}

/** All of an attachment's parts at once (tests, small attachments). */
export async function openAttachmentParts(
  key: Buffer,
  messageId: string,
  idx: number,
  size: number,
  rows: readonly PartRow[],
): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const part of openAttachmentStream(key, messageId, idx, size, rows)) out.push(part);
  return out;
}
