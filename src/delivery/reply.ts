/**
 * Parsing and sanitizing SMTP replies. A reply text can echo the recipient address ("550 5.1.1
 * <bob@example.org>: user unknown"), so before a reply is stored, logged or returned its text
 * loses every token containing '@' and everything inside <...>, and is cut to 200 characters.
 */
import type { SmtpReply } from "./outcome.ts";

const MAX_TEXT = 200;
const MAX_INPUT = 4096;

/** Removes addresses and bracketed parts; collapses whitespace; at most 200 characters. */
export function sanitizeReplyText(text: string): string {
  const withoutBrackets = text
    .slice(0, MAX_INPUT)
    .replace(/<[^>]*>?/g, " ")
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is removed
    .replace(/[\u0000-\u001f\u007f]/g, " ");
  const tokens = withoutBrackets.split(/\s+/).filter((t) => t.length > 0 && !t.includes("@"));
  return tokens
    .join(" ")
    .replace(/^[:;,.\-\s]+/, "")
    .slice(0, MAX_TEXT);
}

const FIRST_LINE = /^([2-5]\d\d)(?:[ -](.*))?$/;
const ENHANCED = /^([245]\.\d{1,3}\.\d{1,3})(?:\s+|$)/;

/**
 * Parses a (possibly multi-line) reply as nodemailer reports it, lines joined by "\n".
 * Returns null when it does not start with a 2xx-5xx code.
 */
export function parseReply(raw: string): SmtpReply | null {
  const lines = raw
    .slice(0, MAX_INPUT)
    .split(/\r?\n/)
    .filter((l) => l.trim().length > 0);
  const first = FIRST_LINE.exec((lines[0] ?? "").trim());
  if (first === null || first[1] === undefined) return null;
  const code = Number(first[1]);
  let enhanced: string | null = null;
  const parts: string[] = [];
  for (const line of lines) {
    let rest = line.replace(/^\d{3}[ -]?/, "");
    const m = ENHANCED.exec(rest);
    if (m?.[1] !== undefined) {
      enhanced ??= m[1];
      rest = rest.slice(m[0].length);
    }
    parts.push(rest);
  }
  return { code, enhanced, text: sanitizeReplyText(parts.join(" ")) };
}
