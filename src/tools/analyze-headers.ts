import { isIP } from "node:net";
import {
  type Clause,
  MAX_RECEIVED,
  type ParsedReceived,
  parseReceived,
  receivedLines,
} from "./received-parse.ts";
import { findTls, recordsTlsWhenUsed, type TlsContext } from "./received-tls.ts";

/**
 * What one hop's Received line says about transport security:
 * - `tls`: the receiver wrote down that TLS was used (with version and cipher when written);
 * - `likely_plaintext`: nothing about TLS is written, and the receiver is known to write it
 *   down whenever it uses TLS (its product does, or it does on another hop of this message):
 *   the hop was most likely not encrypted;
 * - `unknown`: nothing about TLS is written and the receiver is not known to write it: no
 *   conclusion (many servers simply never record TLS; this is not "insecure");
 * - `internal`: the message did not cross a network between hosts (same host, loopback,
 *   local submission).
 */
export type HopTls = "tls" | "likely_plaintext" | "unknown" | "internal";

/**
 * The overall conclusion:
 * - `all_tls`: every hop between hosts recorded TLS (internal hops aside);
 * - `gap`: at least one hop is `likely_plaintext`, listed in `unprotected_hops`;
 * - `unknown`: no hop looks plaintext but some recorded nothing (`unknown_hops`), or
 *   there are no Received lines at all;
 * - `internal_only`: every hop is internal; the message never crossed a network.
 */
export type Verdict = "all_tls" | "gap" | "unknown" | "internal_only";

export interface Hop {
  /** 1 is the oldest hop (the bottom Received line). */
  index: number;
  from: string | null;
  from_ip: string | null;
  by: string | null;
  /** The protocol after `with` (`ESMTPS`, `Microsoft SMTP Server`, `esmtps`). */
  with: string | null;
  time: string | null;
  tls: HopTls;
  tls_version: string | null;
  cipher: string | null;
  /** A short fixed phrase naming what was matched; never header text. */
  evidence: string;
}

export interface HeaderAnalysis {
  /** Oldest first. */
  hops: Hop[];
  conclusion: {
    verdict: Verdict;
    summary: string;
    /** Hops that were most likely not encrypted (`likely_plaintext`). */
    unprotected_hops: number[];
    /** Hops that recorded nothing about TLS, where no conclusion is possible. */
    unknown_hops: number[];
  };
  /** True when an input limit cut off part of the headers (see docs/tools.md). */
  truncated: boolean;
}

const HOST = /^[\p{L}\p{N}_.:%[\]-]{1,253}$/u;

function cleanHost(raw: string | null | undefined): string | null {
  if (raw === null || raw === undefined) return null;
  const host = raw.replace(/\.$/, "");
  return HOST.test(host) ? host : null;
}

function cleanProtocol(words: readonly string[]): string | null {
  const text = words.slice(0, 4).join(" ");
  return text === "" || text.length > 64 || /[^\x21-\x7e ]/.test(text) ? null : text;
}

/** The IP inside an address literal such as `[IPv6:2001:db8::1]` or `[192.0.2.1]:25`. */
function literalIp(text: string): string | null {
  const m = /^\[(?:IPv6:)?([0-9A-Fa-f:.]{2,45})(?:%[\w.-]{1,16})?\](?::\d{1,5})?$/i.exec(text);
  const ip = m?.[1] ?? text.replace(/%[\w.-]{1,16}$/, "");
  return isIP(ip) === 0 ? null : ip;
}

function isLoopback(ip: string): boolean {
  const v4 = ip.replace(/^::ffff:/i, "");
  if (isIP(v4) === 4) return v4.startsWith("127.");
  return /^(?:0{0,4}:){2,7}0{0,3}1$/.test(ip);
}

function isLocalName(name: string | null): boolean {
  return name !== null && /^localhost(?:\.|$)/i.test(name);
}

interface FromInfo {
  name: string | null;
  rdns: string | null;
  ip: string | null;
  forged: boolean;
}

/**
 * The sending host from the `from` clause. RFC 5321 puts the connection's address in the
 * TCP-info comment (`from helo (rdns [ip])`); Proofpoint writes `from rdns [ip] (EHLO helo)`,
 * Exim `from [ip] (helo=name)`, Exchange and qmail the bare IP in parentheses.
 */
function fromInfo(clause: Clause): FromInfo {
  let ip: string | null = null;
  let rdns: string | null = null;
  let helo: string | null = null;
  let forged = false;
  for (const comment of clause.comments) {
    if (comment.includes("may be forged")) forged = true;
    const h = /(?:^|\s)(?:helo|ehlo)[= ]([^\s()[\]]{1,253})/i.exec(comment);
    if (h !== null && helo === null) helo = h[1] ?? null;
    const words = comment.split(" ");
    for (let i = 0; i < words.length; i++) {
      const word = words[i] ?? "";
      if (i > 0 && /^(?:helo|ehlo)=$/i.test(words[i - 1] ?? "")) continue;
      const found = literalIp(word.replace(/^(?:helo|ehlo)=.*$/i, ""));
      if (found !== null) {
        ip = found;
        if (i > 0) rdns = cleanHost(words[i - 1]);
      }
    }
  }
  if (ip === null)
    for (const word of clause.words) {
      const found = word.startsWith("[") ? literalIp(word) : null;
      if (found !== null) ip = found;
    }
  const value = clause.value ?? "";
  if (ip === null && value.startsWith("[")) ip = literalIp(value);
  const own = value.startsWith("[") || /^unknown$/i.test(value) ? null : cleanHost(value);
  const name = own ?? cleanHost(helo) ?? (rdns !== null && !/^unknown$/i.test(rdns) ? rdns : null);
  return { name, rdns, ip, forged };
}

function byIps(clause: Clause | undefined): string[] {
  if (clause === undefined) return [];
  return clause.comments.flatMap((c) => c.split(" ").flatMap((w) => literalIp(w) ?? []));
}

function sameHost(a: string | null, b: string | null): boolean {
  return a !== null && b !== null && a.toLowerCase() === b.toLowerCase();
}

/** Why a hop is internal (never crossed a network between hosts), or null. */
function internalReason(p: ParsedReceived, from: FromInfo | null, by: string | null): string | null {
  const protocol = (p.clauses.get("with")?.value ?? "").toLowerCase();
  if (protocol === "local" || protocol.startsWith("local-")) return "local submission (Exim)";
  if (protocol === "mapi") return "local submission (Exchange MAPI)";
  if (from === null) {
    const byComments = p.clauses.get("by")?.comments.join(" ") ?? "";
    if (p.leading.some((c) => /^from [^\s@]{1,64}@\S+$/.test(c))) return "local submission (sendmail)";
    if (/\bfrom userid\b/.test(byComments)) return "local submission (Postfix pickup)";
    if (p.leading.some((c) => /\binvoked (?:by|for) /.test(c))) return "local submission (qmail)";
    if (/\/Submit\b/.test(byComments)) return "local submission (sendmail)";
    if (by !== null) return "local origin: no sending host recorded";
    return null;
  }
  if (from.ip !== null) {
    if (isLoopback(from.ip)) return "loopback address";
    if (byIps(p.clauses.get("by")).includes(from.ip)) return "same host (same address)";
    if (!from.forged && sameHost(from.rdns, by) && sameHost(from.name, by)) return "same host";
    return null;
  }
  if (isLocalName(from.name) || isLocalName(from.rdns)) return "localhost";
  if (sameHost(from.name, by)) return "same host";
  return null;
}

function parseTime(date: string | null): string | null {
  if (date === null) return null;
  const m =
    /^(?:[A-Za-z]{3},? ?)?\d{1,2} [A-Za-z]{3} \d{2,4} \d{1,2}:\d{2}(?::\d{2})?(?: [+-]\d{4}| [A-Za-z]{1,5})?/.exec(
      date.slice(0, 128),
    );
  if (m === null) return null;
  const ms = Date.parse(m[0]);
  return Number.isNaN(ms) ? null : new Date(ms).toISOString();
}

interface Draft {
  hop: Hop;
  /** Nothing about TLS recorded: decided once every hop is known. */
  open: boolean;
  explicitNone: boolean;
  flat: string;
  ctx: TlsContext;
}

const PROTOCOL_NAMES = new Map([
  ["smtp", "SMTP"],
  ["esmtp", "ESMTP"],
  ["lmtp", "LMTP"],
  ["http", "HTTP"],
  ["https", "HTTPS"],
  ["microsoft smtpsvc", "Microsoft SMTPSVC"],
]);

function nothingRecorded(protocol: string | null): string {
  const name = protocol === null ? undefined : PROTOCOL_NAMES.get(protocol.toLowerCase());
  return name === undefined ? "nothing about TLS recorded" : `with ${name}: nothing about TLS recorded`;
}

function draftHop(value: string, index: number): Draft {
  const p = parseReceived(value);
  const fromClause = p.clauses.get("from");
  const withClause = p.clauses.get("with");
  const by = cleanHost(p.clauses.get("by")?.value);
  const protocol = withClause === undefined ? null : cleanProtocol(withClause.head);
  const from = fromClause === undefined ? null : fromInfo(fromClause);
  const localUser = p.leading
    .map((c) => /^from [^\s@]{1,64}@(\S+)$/.exec(c)?.[1])
    .find((h) => h !== undefined);
  const ctx: TlsContext = { protocol, by };
  const hop: Hop = {
    index,
    from: from?.name ?? cleanHost(localUser),
    from_ip: from?.ip ?? null,
    by,
    with: protocol,
    time: parseTime(p.date),
    tls: "unknown",
    tls_version: null,
    cipher: null,
    evidence: nothingRecorded(protocol),
  };
  const draft = { hop, open: false, explicitNone: false, flat: p.flat, ctx };
  const tls = findTls(p.flat, ctx);
  if (tls !== null && !("none" in tls))
    return {
      ...draft,
      hop: { ...hop, tls: "tls", tls_version: tls.version, cipher: tls.cipher, evidence: tls.evidence },
    };
  const internal = internalReason(p, from, by);
  if (internal !== null) return { ...draft, hop: { ...hop, tls: "internal", evidence: internal } };
  if (fromClause === undefined && by === null)
    return { ...draft, hop: { ...hop, evidence: "no sending or receiving host recorded" } };
  return { ...draft, open: true, explicitNone: tls !== null };
}

function hopList(indexes: readonly number[]): string {
  if (indexes.length === 1) return `Hop ${indexes[0]}`;
  return `Hops ${indexes.slice(0, -1).join(", ")} and ${indexes.at(-1)}`;
}

function conclude(hops: readonly Hop[], truncated: boolean): HeaderAnalysis["conclusion"] {
  const unprotected = hops.filter((h) => h.tls === "likely_plaintext").map((h) => h.index);
  const unknown = hops.filter((h) => h.tls === "unknown").map((h) => h.index);
  const crossing = hops.filter((h) => h.tls !== "internal");
  const parts: string[] = [];
  let verdict: Verdict;
  if (hops.length === 0) {
    verdict = "unknown";
    parts.push("No Received lines were found, so nothing can be said about TLS.");
  } else if (unprotected.length > 0 || unknown.length > 0) {
    verdict = unprotected.length > 0 ? "gap" : "unknown";
    if (unprotected.length > 0)
      parts.push(
        `${hopList(unprotected)} recorded no TLS although the receiving server records TLS when it is used: most likely not encrypted.`,
      );
    if (unknown.length > 0)
      parts.push(`${hopList(unknown)} recorded nothing about TLS: whether encrypted is unknown.`);
    if (unprotected.length + unknown.length < hops.length)
      parts.push("Every other hop used TLS or stayed inside one host.");
  } else if (crossing.length === 0) {
    verdict = "internal_only";
    parts.push("Every hop stayed inside one host; the message never crossed a network.");
  } else {
    verdict = "all_tls";
    parts.push(
      crossing.length === hops.length
        ? "Every hop recorded TLS."
        : "Every hop between hosts recorded TLS; the others stayed inside one host.",
    );
  }
  if (truncated)
    parts.push(`Input limits cut part of the headers off (at most ${MAX_RECEIVED} Received lines are read).`);
  return { verdict, summary: parts.join(" "), unprotected_hops: unprotected, unknown_hops: unknown };
}

/**
 * Reads the Received lines of a message (or a bare header block) and reports, hop by hop
 * and oldest first, whether TLS was recorded, then an overall conclusion. The input is
 * untrusted: it is bounded (see received-parse.ts) and garbage gives zero hops and the
 * verdict `unknown`; this never throws.
 */
export function analyzeHeaders(raw: string | Buffer): HeaderAnalysis {
  const { values, truncated } = receivedLines(raw);
  const drafts = values.toReversed().map((v, i) => draftHop(v, i + 1));
  const recordingHosts = new Set(
    drafts.flatMap((d) => (d.hop.tls === "tls" && d.hop.by !== null ? [d.hop.by.toLowerCase()] : [])),
  );
  const hops = drafts.map(({ hop, open, explicitNone, flat, ctx }): Hop => {
    if (!open) return hop;
    const reason = explicitNone
      ? "the server wrote version=NONE"
      : (recordsTlsWhenUsed(flat, ctx) ??
        (hop.by !== null && recordingHosts.has(hop.by.toLowerCase())
          ? "this server records TLS on another hop"
          : null));
    return reason === null
      ? hop
      : { ...hop, tls: "likely_plaintext", evidence: `no TLS recorded; ${reason}` };
  });
  return { hops, conclusion: conclude(hops, truncated), truncated };
}
