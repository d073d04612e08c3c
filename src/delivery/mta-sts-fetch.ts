/**
 * Fetching one MTA-STS policy file (RFC 8461 section 3.3) and parsing it (section 3.2).
 *
 * The policy host `mta-sts.<domain>` is resolved through the delivery resolver (never the
 * system one) and its addresses are connected to in order, on port 443 unless told otherwise,
 * with SNI and the certificate check for `mta-sts.<domain>`: chain to a trusted root (the
 * system store plus `ca`), DNS-ID subjectAltName only (no CN fallback), TLS 1.2 or newer.
 * Only a 200 `text/plain` answer of at most 64 KB counts; redirects are not followed, no
 * HTTP cache is used, and the whole fetch has one deadline.
 *
 * Failures are values carrying a closed `failure` and, where there is one, the Node/OpenSSL
 * error code, never free text.
 */
import { X509Certificate } from "node:crypto";
import type { Resolver } from "node:dns/promises";
import type { IncomingMessage } from "node:http";
import { request } from "node:https";
import { checkServerIdentity, getCACertificates, type PeerCertificate } from "node:tls";
import { parsePolicy } from "mailauth/lib/mta-sts.js";
import { resolveAddresses } from "./dns.ts";
import { CERT_ERROR_CODES, certErrorCode } from "./tls-check.ts";

export const POLICY_PATH = "/.well-known/mta-sts.txt";
/** RFC 8461 section 3.3: senders SHOULD cap the body at 64 KB. */
export const MAX_POLICY_BYTES = 64 * 1024;
/** RFC 8461 section 3.2: max_age is at most 31557600 seconds (about a year). */
export const MAX_AGE_LIMIT_SECONDS = 31_557_600;
/** Whole-fetch deadline when none is given (DNS for the policy host, connect, TLS, body). */
export const DEFAULT_POLICY_TIMEOUT_MS = 60_000;

export type PolicyMode = "enforce" | "testing" | "none";

export interface ParsedPolicy {
  mode: PolicyMode;
  /** Lower-case MX patterns, `*.` wildcards kept; empty only for mode `none`. */
  mx: string[];
  maxAgeSeconds: number;
}

export type PolicyFetchFailure =
  /** The policy host has no A/AAAA record. */
  | "no_address"
  /** Resolving the policy host failed (SERVFAIL, timeout, refused). */
  | "dns_failed"
  | "connection_failed"
  | "timeout"
  | "cert_invalid"
  /** Not 200 (a redirect included). */
  | "http_status"
  | "content_type"
  | "too_large"
  | "invalid_policy";

export type PolicyFetchResult =
  | { kind: "fetched"; policy: ParsedPolicy }
  | {
      kind: "failed";
      failure: PolicyFetchFailure;
      /** Node/OpenSSL/DNS error code or HTTP status ("HTTP_404"), or a parser code; no free text. */
      code: string | null;
    };

export interface PolicyFetchOptions {
  resolver: Resolver;
  /** Default 443. */
  port?: number;
  /** Trust anchors added to the system store for the policy host certificate. */
  ca?: string | Buffer;
  /** Deadline for the whole fetch; default 60 s. */
  timeoutMs?: number;
}

/** Error codes from the parser (mailauth) and the size check. */
const CODE_SHAPE = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;

function errorCode(err: unknown): string | null {
  const code = typeof err === "object" && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === "string" && CODE_SHAPE.test(code) ? code : null;
}

/**
 * Parses a policy file. Field names and the mode are matched case-insensitively and
 * surrounding white space is ignored (mailauth's lenient parser: a receiver's evident intent
 * is honoured, which only ever adds protection); the version must be `STSv1`, the mode one of
 * the three, `max_age` a whole number of seconds up to 31557600, and `mx` present unless the
 * mode is `none`. Unknown fields are ignored; for a repeated field other than `mx` the first wins.
 */
export function parsePolicyText(
  text: string,
): { kind: "ok"; policy: ParsedPolicy } | { kind: "invalid"; code: string } {
  let parsed: ReturnType<typeof parsePolicy>;
  try {
    parsed = parsePolicy(text);
  } catch (err) {
    return { kind: "invalid", code: errorCode(err) ?? "invalid_sts_policy" };
  }
  const maxAge = parsed.maxAge;
  if (maxAge === undefined || !Number.isSafeInteger(maxAge) || maxAge < 0 || maxAge > MAX_AGE_LIMIT_SECONDS) {
    return { kind: "invalid", code: "invalid_sts_max_age" };
  }
  const mx = (parsed.mx ?? []).map((p) => p.toLowerCase().replace(/\.$/, "")).filter((p) => p.length > 0);
  if (parsed.mode !== "none" && mx.length === 0) return { kind: "invalid", code: "invalid_sts_mx" };
  return { kind: "ok", policy: { mode: parsed.mode, mx: [...new Set(mx)], maxAgeSeconds: maxAge } };
}

/**
 * RFC 8461 section 3.3 wants the RFC 6125 identity check: a DNS-ID subjectAltName must match,
 * the subject CN is never used, and a wildcard may only be the whole left-most label.
 */
function checkPolicyHostIdentity(host: string, cert: PeerCertificate): Error | undefined {
  const err = checkServerIdentity(host, cert);
  if (err !== undefined) return err;
  try {
    const x509 = new X509Certificate(cert.raw);
    const match = x509.checkHost(host, {
      subject: "never",
      wildcards: true,
      partialWildcards: false,
      multiLabelWildcards: false,
      singleLabelSubdomains: false,
    });
    if (match !== undefined) return undefined;
  } catch {
    // fall through: an unreadable certificate is not valid for the host
  }
  return Object.assign(new Error("policy host certificate has no matching DNS-ID"), {
    code: "ERR_TLS_CERT_ALTNAME_INVALID",
  });
}

function trustAnchors(ca: string | Buffer | undefined): string[] | undefined {
  if (ca === undefined) return undefined;
  return [...getCACertificates("default"), ca.toString()];
}

type Attempt = { kind: "response"; result: PolicyFetchResult } | { kind: "unreachable"; code: string | null };

function failed(failure: PolicyFetchFailure, code: string | null): PolicyFetchResult {
  return { kind: "failed", failure, code };
}

function classifyRequestError(err: unknown): Attempt {
  const code = errorCode(err);
  if (code !== null && CERT_ERROR_CODES.has(code)) {
    return { kind: "response", result: failed("cert_invalid", certErrorCode(err)) };
  }
  // Anything before a TLS session (refused, reset, unreachable): the next address may work.
  return { kind: "unreachable", code };
}

function readBody(res: IncomingMessage, signal: AbortSignal): Promise<PolicyFetchResult> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (result: PolicyFetchResult) => {
      if (done) return;
      done = true;
      signal.removeEventListener("abort", onAbort);
      resolve(result);
    };
    const onAbort = () => {
      res.destroy();
      finish(failed("timeout", "ETIMEDOUT"));
    };
    signal.addEventListener("abort", onAbort, { once: true });
    res.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_POLICY_BYTES) {
        res.destroy();
        finish(failed("too_large", null));
        return;
      }
      chunks.push(chunk);
    });
    res.on("end", () => {
      const parsed = parsePolicyText(Buffer.concat(chunks, size).toString("utf8"));
      finish(
        parsed.kind === "ok"
          ? { kind: "fetched", policy: parsed.policy }
          : failed("invalid_policy", parsed.code),
      );
    });
    res.on("error", (err) => finish(failed("connection_failed", errorCode(err))));
    res.on("close", () => {
      if (!res.complete) finish(failed("connection_failed", "ECONNRESET"));
    });
  });
}

function handleResponse(res: IncomingMessage, signal: AbortSignal): Promise<PolicyFetchResult> {
  if (res.statusCode !== 200) {
    res.resume();
    return Promise.resolve(failed("http_status", `HTTP_${res.statusCode ?? 0}`));
  }
  const mediaType = (res.headers["content-type"] ?? "").split(";")[0]?.trim().toLowerCase();
  if (mediaType !== "text/plain") {
    res.resume();
    return Promise.resolve(failed("content_type", null));
  }
  if (Number(res.headers["content-length"] ?? 0) > MAX_POLICY_BYTES) {
    res.destroy();
    return Promise.resolve(failed("too_large", null));
  }
  return readBody(res, signal);
}

function fetchFrom(
  ip: string,
  host: string,
  opts: PolicyFetchOptions,
  signal: AbortSignal,
): Promise<Attempt> {
  const port = opts.port ?? 443;
  const ca = trustAnchors(opts.ca);
  return new Promise((resolve) => {
    let settled = false;
    const settle = (attempt: Attempt) => {
      if (settled) return;
      settled = true;
      resolve(attempt);
    };
    const req = request(
      {
        host: ip,
        port,
        path: POLICY_PATH,
        method: "GET",
        servername: host,
        headers: {
          host: port === 443 ? host : `${host}:${port}`,
          accept: "text/plain",
          "cache-control": "no-cache",
        },
        // A fresh connection each time: never one pooled under other TLS options.
        agent: false,
        rejectUnauthorized: true,
        minVersion: "TLSv1.2",
        checkServerIdentity: (_name: string, cert: PeerCertificate) => checkPolicyHostIdentity(host, cert),
        ...(ca === undefined ? {} : { ca }),
        signal,
      },
      (res) => {
        void handleResponse(res, signal).then((result) => settle({ kind: "response", result }));
      },
    );
    req.on("error", (err) => {
      if (signal.aborted) settle({ kind: "response", result: failed("timeout", "ETIMEDOUT") });
      else settle(classifyRequestError(err));
    });
    req.end();
  });
}

/** Fetches and parses the policy of `domain` (lower-case A-label form, no trailing dot). */
export async function fetchPolicy(domain: string, opts: PolicyFetchOptions): Promise<PolicyFetchResult> {
  const host = `mta-sts.${domain}`;
  const signal = AbortSignal.timeout(opts.timeoutMs ?? DEFAULT_POLICY_TIMEOUT_MS);
  const addresses = await resolveAddresses(opts.resolver, host);
  if (addresses.kind === "failed") {
    return addresses.permanent ? failed("no_address", addresses.code) : failed("dns_failed", addresses.code);
  }
  if (addresses.addresses.length === 0) return failed("no_address", "ENODATA");
  let last: string | null = null;
  for (const ip of addresses.addresses) {
    if (signal.aborted) return failed("timeout", "ETIMEDOUT");
    const attempt = await fetchFrom(ip, host, opts, signal);
    if (attempt.kind === "response") return attempt.result;
    last = attempt.code;
  }
  return failed("connection_failed", last);
}
