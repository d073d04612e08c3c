import { domainToASCII } from "node:url";

/**
 * Email address parsing for the submit path: `addr@domain` or `Display Name <addr@domain>`.
 * Internationalised addresses (UTF-8 local parts, IDN domains; RFC 6531/6532) are
 * accepted. Returns null when invalid; callers report the field, never the value.
 */
export interface ParsedAddress {
  name: string | null;
  address: string;
  /** The domain in its ASCII (punycode) form, lowercased. */
  asciiDomain: string;
}

const ATEXT = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~\\u0080-\\uFFFF-]";
const DOT_ATOM = new RegExp(`^${ATEXT}+(\\.${ATEXT}+)*$`, "u");
const QUOTED = /^"(?:[\x20\x21\x23-\x5b\x5d-\x7e\u0080-\uffff]|\\[\x20-\x7e])*"$/u;
const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: this regex exists to find control characters.
const CONTROL = /[\x00-\x1f\x7f]/;

function validDomain(domain: string): string | null {
  if (domain.length === 0 || domain.length > 253) return null;
  const ascii = domainToASCII(domain);
  if (ascii === "" || ascii.length > 253) return null;
  const labels = ascii.split(".");
  if (labels.length < 2 || !labels.every((l) => LABEL.test(l))) return null;
  return ascii;
}

export function parseBareAddress(value: string): ParsedAddress | null {
  if (value.length > 254 || CONTROL.test(value)) return null;
  const at = value.lastIndexOf("@");
  if (at <= 0) return null;
  const local = value.slice(0, at);
  const domain = value.slice(at + 1);
  if (Buffer.byteLength(local) > 64) return null;
  if (!DOT_ATOM.test(local) && !QUOTED.test(local)) return null;
  const asciiDomain = validDomain(domain);
  if (asciiDomain === null) return null;
  return { name: null, address: `${local}@${domain.toLowerCase()}`, asciiDomain };
}

export function parseAddress(value: string): ParsedAddress | null {
  const trimmed = value.trim();
  if (CONTROL.test(trimmed)) return null;
  const m = /^(.*?)\s*<([^<>]+)>$/su.exec(trimmed);
  if (m === null) return parseBareAddress(trimmed);
  const rawName = (m[1] ?? "").trim();
  const name = rawName.startsWith('"') && rawName.endsWith('"') ? rawName.slice(1, -1) : rawName;
  if (name.length > 256) return null;
  const parsed = parseBareAddress(m[2] ?? "");
  return parsed === null ? null : { ...parsed, name: name === "" ? null : name };
}
