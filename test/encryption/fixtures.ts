/**
 * Shared pieces of the message-level encryption tests: a message rendered by the real
 * renderer (text, HTML, a binary attachment, a non-ASCII subject, a canary in the body and
 * in a custom header), a temporary working directory, the real tools run on files in it,
 * and a reader for the header block of a message.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { renderMime } from "../../src/core/mime.ts";

/** Must never appear in an encrypted message: it is only in the body and a custom header. */
export const CANARY = "CANARY-7f3a9c-body-only";

export const SUBJECT = "Befund für Jürgen — Ergebnis";
export const TEXT = `Hello Pat,\nyour results are attached. ${CANARY}\n`;
export const HTML = `<p>Hello Pat,</p><p>your results are attached. <b>${CANARY}</b></p>`;

export interface Sample {
  parts: Buffer[];
  attachment: Buffer;
}

export async function renderSample(): Promise<Sample> {
  // Every byte value, then random bytes: the attachment must survive as binary.
  const attachment = Buffer.concat([
    Buffer.from(Array.from({ length: 256 }, (_, i) => i)),
    randomBytes(3000),
  ]);
  const parts = await renderMime({
    messageId: "01JENCRYPTIONTEST0000000000",
    createdAt: Date.UTC(2026, 10, 26, 9, 30),
    content: {
      v: 1,
      from: { name: "Dr. Müller", address: "dr@clinic.example.test" },
      to: ["pat@example.test"],
      cc: ["nurse@clinic.example.test"],
      replyTo: ["desk@clinic.example.test"],
      subject: SUBJECT,
      text: TEXT,
      html: HTML,
      headers: {
        "X-Case-Note": CANARY,
        "List-Unsubscribe": "<https://clinic.example.test/u/1>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        "In-Reply-To": "<earlier@clinic.example.test>",
        References: "<earlier@clinic.example.test>",
      },
      metadata: {},
      attachments: [
        {
          filename: "scan.bin",
          contentType: "application/octet-stream",
          contentId: null,
          size: attachment.length,
        },
      ],
    },
    attachments: [Readable.from([attachment])],
  });
  return { parts, attachment };
}

export interface Workdir {
  readonly path: string;
  file(name: string): string;
  remove(): void;
}

export function workdir(prefix: string): Workdir {
  const path = mkdtempSync(join(tmpdir(), `sealpost-${prefix}-`));
  return {
    path,
    file: (name) => join(path, name),
    remove: () => rmSync(path, { recursive: true, force: true }),
  };
}

/** Runs a tool and answers its stdout; a failure throws with its stderr. */
export function run(command: string, args: readonly string[], env?: NodeJS.ProcessEnv): Buffer {
  return execFileSync(command, args, {
    env: env ?? process.env,
    stdio: ["ignore", "pipe", "pipe"],
    maxBuffer: 64 * 1024 * 1024,
  });
}

/** The header block of a message, unfolded: [name, value] in order. */
export function headerList(message: Buffer): [string, string][] {
  const text = message.toString("latin1");
  const end = text.indexOf("\r\n\r\n");
  if (end === -1) throw new Error("no header block");
  return text
    .slice(0, end)
    .replace(/\r\n[ \t]+/g, " ")
    .split("\r\n")
    .map((line) => {
      const colon = line.indexOf(":");
      return [line.slice(0, colon), line.slice(colon + 1).trim()];
    });
}

/** The body after the header block. */
export function bodyOf(message: Buffer): Buffer {
  const end = message.indexOf("\r\n\r\n");
  return message.subarray(end + 4);
}

/** Line ends normalised to LF, for comparing what a tool wrote back. */
export function lf(data: Buffer): string {
  return data.toString("latin1").replace(/\r\n/g, "\n");
}

/** True when some line end is not CRLF. */
export function hasBareLf(data: Buffer): boolean {
  return /(^|[^\r])\n/.test(data.toString("latin1"));
}

/** The outer header names of the sample, in the composer's order. */
export const SAMPLE_OUTER = [
  "List-Unsubscribe",
  "List-Unsubscribe-Post",
  "In-Reply-To",
  "References",
  "From",
  "To",
  "Cc",
  "Reply-To",
  "Subject",
  "Message-ID",
  "Date",
];
