/**
 * What a Received line says about TLS, in the forms common receivers write, and which
 * receivers are known to write TLS down whenever they use it (so that a line of theirs
 * without it most likely records a plaintext hop).
 *
 * Every pattern is a literal prefix followed by bounded character classes: matching is
 * linear in the length of the line.
 */

export interface TlsRecord {
  /** Normalised version (`TLSv1.2`), or as written when it names no single version. */
  readonly version: string | null;
  readonly cipher: string | null;
  /** A fixed phrase naming the form matched; never text from the header. */
  readonly evidence: string;
}

/** Where the line is from, for naming the form: the protocol and the receiving host. */
export interface TlsContext {
  readonly protocol: string | null;
  readonly by: string | null;
}

const VERSION = String.raw`(?:TLS|SSL)v?\d(?:[._]\d)?`;
const CIPHER = "[A-Za-z0-9_-]{1,100}";

const POSTFIX = new RegExp(String.raw`\busing (${VERSION}) with cipher (${CIPHER})`, "i");
const VERSION_EQ = new RegExp(String.raw`\bversion=([A-Za-z0-9_./]{1,32})(?:,? ?cipher=(${CIPHER}))?`, "i");
const EXIM_TLS = new RegExp(String.raw`\((${VERSION})\) tls (${CIPHER})`, "i");
const EXIM_COLON = new RegExp(String.raw`\((${VERSION}):(${CIPHER})(?::\d{1,4})?\)`, "i");
const EXIM_X = new RegExp(String.raw`\bX=(${VERSION}):(${CIPHER})`, "i");
const VERSION_COMMENT = new RegExp(String.raw`\((${VERSION})\)`, "i");
const CISCO = new RegExp(`^E?SMTP/TLS/(${CIPHER})$`, "i");
/** RFC 3848 (and RFC 6531) protocol names that say TLS was used. */
const RFC3848_TLS = /^(?:UTF8)?E?(?:SMTP|LMTP)SA?$/i;
/** RFC 3848 names that say the client authenticated without TLS. */
const RFC3848_AUTH_ONLY = /^(?:UTF8)?E?(?:SMTP|LMTP)A$/i;

/**
 * `TLSv1.2`, `TLS1_2`, `TLS1.2` → `TLSv1.2`; `TLSv1` → `TLSv1.0`; `SSLv3` stays. Anything
 * else (sendmail's `TLSv1/SSLv3`, meaning "some SSL/TLS version") is kept as written.
 */
export function normalizeTlsVersion(raw: string): string {
  const m = /^(TLS|SSL)v?(\d)(?:[._](\d))?$/i.exec(raw);
  if (m === null) return raw;
  const [, proto = "", major = "", minor] = m;
  if (proto.toUpperCase() === "SSL") return `SSLv${major}`;
  return `TLSv${major}.${minor ?? "0"}`;
}

function isExchange(ctx: TlsContext): boolean {
  return ctx.protocol !== null && /^Microsoft SMTP Server\b/i.test(ctx.protocol);
}

function isGoogle(host: string | null): boolean {
  return host !== null && /(?:^|\.)google\.com$/i.test(host);
}

function record(version: string | undefined, cipher: string | undefined, evidence: string): TlsRecord {
  return {
    version: version === undefined ? null : normalizeTlsVersion(version),
    cipher: cipher ?? null,
    evidence,
  };
}

/**
 * Finds TLS written in a Received line (`flat`: words and comments joined by spaces).
 * Returns null when nothing about TLS is written, or `{ none: true }` when the line says
 * explicitly that no TLS was used (sendmail's `version=NONE`).
 */
export function findTls(flat: string, ctx: TlsContext): TlsRecord | { readonly none: true } | null {
  let m = POSTFIX.exec(flat);
  if (m !== null) return record(m[1], m[2], "Postfix TLS comment (using … with cipher …)");
  m = VERSION_EQ.exec(flat);
  if (m !== null) {
    if (m[1]?.toUpperCase() === "NONE") return { none: true };
    const form = isExchange(ctx) ? "Exchange" : isGoogle(ctx.by) ? "Gmail" : "sendmail";
    return record(m[1], m[2], `${form} TLS comment (version= cipher=)`);
  }
  m = EXIM_TLS.exec(flat);
  if (m !== null) return record(m[1], m[2], "Exim TLS fields ((version) tls cipher)");
  m = EXIM_COLON.exec(flat);
  if (m !== null) return record(m[1], m[2], "Exim TLS comment (version:cipher:bits)");
  m = EXIM_X.exec(flat);
  if (m !== null) return record(m[1], m[2], "Exim TLS field (X=version:cipher)");
  const protocol = ctx.protocol ?? "";
  m = CISCO.exec(protocol);
  if (m !== null) return record(undefined, m[1], "Cisco protocol (ESMTP/TLS/cipher)");
  if (flat.includes("(Google Transport Security)"))
    return record(undefined, undefined, "Google Transport Security");
  m = VERSION_COMMENT.exec(flat);
  if (m !== null) return record(m[1], undefined, "TLS version comment");
  if (flat.includes("(TLS)")) return record(undefined, undefined, "TLS comment ((TLS))");
  if (RFC3848_TLS.test(protocol))
    return record(undefined, undefined, `RFC 3848 protocol ${protocol.toUpperCase()}`);
  if (/\bwith STARTTLS\b/i.test(flat)) return record(undefined, undefined, "STARTTLS noted");
  return null;
}

/**
 * Why a receiver that wrote nothing about TLS most likely did not use it: it is known to
 * write TLS down whenever it uses it. Null when there is no such reason.
 */
export function recordsTlsWhenUsed(flat: string, ctx: TlsContext): string | null {
  const protocol = ctx.protocol ?? "";
  if (RFC3848_AUTH_ONLY.test(protocol))
    return `protocol ${protocol.toUpperCase()} (RFC 3848) says authenticated without TLS`;
  const by = ctx.by ?? "";
  if (/(?:^|\.)(?:pphosted|ppe-hosted)\.com$/i.test(by)) return "Proofpoint records TLS when it is used";
  if (isGoogle(by)) return "Google records TLS when it is used";
  if (isExchange(ctx)) return "Exchange records TLS when it is used";
  if (/\(Postfix[,)]/.test(flat)) return "Postfix writes ESMTPS when TLS is used";
  if (/\(Exim \d/.test(flat)) return "Exim writes esmtps when TLS is used";
  return null;
}
