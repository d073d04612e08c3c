/** The benchmark message: 2 KB of text, one recipient, from the verified sending domain. */
import { SENDING_DOMAIN } from "../lib/sealpost.ts";

export const TEXT_BYTES = 2048;
export const FROM = `Bench Clinic <noreply@${SENDING_DOMAIN}>`;
export const ENVELOPE_FROM = `noreply@${SENDING_DOMAIN}`;

/** 2,048 bytes of plain ASCII prose: 32 lines of 62 characters, CRLF between them. */
export function messageText(): string {
  const prose = "Your lab results are ready. Please sign in to the patient portal to read them. ";
  const line = (n: number): string => prose.repeat(2).slice(n % prose.length, (n % prose.length) + 62);
  const lines = Array.from({ length: 32 }, (_, n) => line(n * 7));
  return lines.join("\r\n").padEnd(TEXT_BYTES, ".").slice(0, TEXT_BYTES);
}

export function recipient(i: number): string {
  return `patient${i}@dest.example`;
}

/** The REST body of message `i`. */
export function restBody(i: number, text: string): Buffer {
  return Buffer.from(
    JSON.stringify({ from: FROM, to: recipient(i), subject: `Bench message ${i}`, text }),
    "utf8",
  );
}

/** The MIME message of message `i` for SMTP submission. */
export function mimeMessage(i: number, text: string): Buffer {
  const header = [
    `From: ${FROM}`,
    `To: <${recipient(i)}>`,
    `Subject: Bench message ${i}`,
    `Date: ${new Date().toUTCString().replace("GMT", "+0000")}`,
    `Message-ID: <bench-${i}-${Date.now()}@client.bench>`,
    "MIME-Version: 1.0",
    "Content-Type: text/plain; charset=us-ascii",
    "Content-Transfer-Encoding: 7bit",
  ].join("\r\n");
  return Buffer.from(`${header}\r\n\r\n${text}\r\n`, "latin1");
}
