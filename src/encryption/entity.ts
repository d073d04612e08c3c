/**
 * Splits a rendered message (nodemailer's composer output, src/core/mime.ts) into the outer
 * headers that stay in clear and the content entity that gets encrypted (ADR 0010 §4, §5).
 *
 * Outer: the addressing and threading headers a mail client needs before it can decrypt
 * (From, To, Subject — already PHI-checked —, Date, Message-ID, …). Everything else goes
 * inside the entity: the Content-* headers with the body, and custom X- headers, which may
 * carry anything. MIME-Version is dropped from both; the encrypted message writes it once.
 *
 * Only the header block is copied: the body parts are passed on as slices of the rendered
 * buffers. The encryptors still need the entity whole (CMS and OpenPGP encrypt one buffer),
 * so this saves a copy, not the memory of the message.
 */
import type { MessageBody } from "../core/body.ts";
import { bodyParts } from "../core/body.ts";
import { ENCRYPTION_ERRORS } from "./errors.ts";

/** Lower-case names of the headers kept on the outer message. */
export const OUTER_HEADERS: ReadonlySet<string> = new Set([
  "from",
  "sender",
  "to",
  "cc",
  "reply-to",
  "subject",
  "date",
  "message-id",
  "in-reply-to",
  "references",
  "list-unsubscribe",
  "list-unsubscribe-post",
]);

/** A header block longer than this is not composer output. */
const MAX_HEADER_BYTES = 256 * 1024;

export interface SplitMessage {
  /** The outer header fields, each with its folded lines and CRLF, in their original order. */
  readonly outer: Buffer;
  /** The content entity: its headers, an empty line and the body (CRLF line ends). */
  readonly entity: readonly Buffer[];
}

export function splitMessage(raw: MessageBody): SplitMessage {
  const { header, rest } = cutHeaderBlock(bodyParts(raw));
  const outer: string[] = [];
  const inner: string[] = [];
  for (const field of headerFields(header)) {
    const name = field.slice(0, field.indexOf(":")).trim().toLowerCase();
    if (name === "mime-version") continue;
    (OUTER_HEADERS.has(name) ? outer : inner).push(field);
  }
  return {
    outer: Buffer.from(outer.join(""), "latin1"),
    entity: [Buffer.from(`${inner.join("")}\r\n`, "latin1"), ...rest],
  };
}

/** The header block (without the empty line) and the body parts after it. */
function cutHeaderBlock(parts: readonly Buffer[]): { header: string; rest: Buffer[] } {
  let seen: Buffer = Buffer.alloc(0);
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i] ?? Buffer.alloc(0);
    // Look back three bytes so a CRLFCRLF split across two parts is found.
    const from = Math.max(0, seen.length - 3);
    seen = seen.length === 0 ? part : Buffer.concat([seen, part]);
    const end = findBlankLine(seen, from);
    if (end !== null) {
      const bodyStart = end.bodyStart - (seen.length - part.length);
      const rest = [part.subarray(bodyStart), ...parts.slice(i + 1)].filter((b) => b.length > 0);
      return { header: seen.subarray(0, end.headerEnd).toString("latin1"), rest };
    }
    if (seen.length > MAX_HEADER_BYTES) break;
  }
  throw new Error(ENCRYPTION_ERRORS.malformedMessage);
}

/** Where the first empty line is: the header block ends before it, the body starts after it. */
function findBlankLine(buf: Buffer, from: number): { headerEnd: number; bodyStart: number } | null {
  const crlf = buf.indexOf("\r\n\r\n", from, "latin1");
  // A bare-LF empty line counts only before the first CRLF one (never scan the whole body).
  const window = crlf === -1 ? buf.subarray(from) : buf.subarray(from, crlf);
  const lf = window.indexOf("\n\n", 0, "latin1");
  if (lf !== -1) return { headerEnd: from + lf + 1, bodyStart: from + lf + 2 };
  if (crlf !== -1) return { headerEnd: crlf + 2, bodyStart: crlf + 4 };
  return null;
}

/** Each header field with its continuation lines, normalised to CRLF line ends. */
function headerFields(block: string): string[] {
  const fields: string[] = [];
  for (const line of block.split(/\r?\n/)) {
    if (line === "") continue;
    if (line.startsWith(" ") || line.startsWith("\t")) {
      if (fields.length === 0) throw new Error(ENCRYPTION_ERRORS.malformedMessage);
      fields[fields.length - 1] += `${line}\r\n`;
    } else {
      if (line.indexOf(":") < 1) throw new Error(ENCRYPTION_ERRORS.malformedMessage);
      fields.push(`${line}\r\n`);
    }
  }
  return fields;
}
