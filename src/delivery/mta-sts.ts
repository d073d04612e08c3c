/**
 * MTA-STS (RFC 8461) for direct MX delivery: discover and cache a recipient domain's policy,
 * and apply it to the route's targets.
 *
 * `getMtaStsPolicy` follows sections 3 and 5.1:
 *  - the `_mta-sts.<domain>` TXT record (`v=STSv1; id=…`) is looked up through the delivery
 *    resolver; a cached policy whose max_age has not run out and whose id is still the
 *    published one is used without a fetch;
 *  - a new id, or no usable cached policy, fetches `https://mta-sts.<domain>/.well-known/mta-sts.txt`
 *    (see mta-sts-fetch.ts) and caches the result until fetched_at + max_age;
 *  - no TXT record (or one that is not a single valid `v=STSv1` record) with no usable cached
 *    policy: the domain has no policy (`none`). With one, the cached policy is kept (3.3,
 *    10.2: removing the record does not switch a cached policy off before it expires);
 *  - DNS or fetch failure: the usable cached policy if any, else none. Both cases come back as
 *    `error`, carrying `cached`, so that the caller records the failure and applies
 *    `effectivePolicy(result)`. Without a cached policy the RFC (3.3) says: "senders MUST
 *    continue with delivery as though the domain has not implemented MTA-STS".
 *  - after a failed fetch, the same policy id is not fetched again for 5 minutes (section
 *    3.3's SHOULD) when `opts.backoff` (from `mtaStsFetchBackoff()`) is passed.
 *
 * Cache read/write errors (database down) are not caught: they throw to the caller.
 *
 * `applyPolicy` then filters the targets (enforce), or only reports (testing).
 */
import type { Resolver } from "node:dns/promises";
import { domainToASCII } from "node:url";
import { resolvePolicy, validateMx } from "mailauth/lib/mta-sts.js";
import { normalizeName } from "./dns.ts";
import { fetchPolicy, type PolicyFetchFailure, type PolicyMode } from "./mta-sts-fetch.ts";

export type { PolicyFetchFailure, PolicyMode } from "./mta-sts-fetch.ts";
export { MAX_AGE_LIMIT_SECONDS, MAX_POLICY_BYTES, parsePolicyText } from "./mta-sts-fetch.ts";

export interface MtaStsPolicy {
  /** The `id` of the TXT record the policy was fetched under. */
  id: string;
  mode: PolicyMode;
  /** Lower-case MX patterns (`mx.example.com`, `*.example.com`). */
  mx: string[];
  maxAgeSeconds: number;
  /** Epoch ms. The policy is usable until fetchedAt + maxAgeSeconds * 1000. */
  fetchedAt: number;
}

/** Where fetched policies are kept, by recipient domain (lower-case A-label, no trailing dot). */
export interface MtaStsCache {
  get(domain: string): Promise<MtaStsPolicy | null>;
  put(domain: string, policy: MtaStsPolicy): Promise<void>;
}

/** Remembers failed fetches per domain and policy id, to rate-limit them (RFC 8461 3.3). */
export interface MtaStsFetchBackoff {
  /** True when fetching `id` for `domain` failed less than the backoff period before `now`. */
  recentlyFailed(domain: string, id: string, now: number): boolean;
  recordFailure(domain: string, id: string, now: number): void;
}

export interface MtaStsOptions {
  /** The delivery resolver (configured DNS servers), never the system one. */
  resolver: Resolver;
  cache: MtaStsCache;
  /** Epoch ms. */
  now: () => number;
  /** Port of the policy host; default 443 (tests use their server's port). */
  httpsPort?: number;
  /** Trust anchors added to the system store for the policy host (a test or private CA). */
  ca?: string | Buffer;
  /** Deadline for one policy fetch; default 60 s. */
  timeoutMs?: number;
  /** Rate-limits repeated fetches of a failing policy; none given: no limit. */
  backoff?: MtaStsFetchBackoff;
}

export type MtaStsErrorReason = "policy_fetch_failed" | "dns_failed";

export type MtaStsResult =
  | { kind: "policy"; policy: MtaStsPolicy; fromCache: boolean }
  | { kind: "none" }
  | {
      kind: "error";
      reason: MtaStsErrorReason;
      /** What went wrong, for the evidence: a fetch failure, or "dns" for the TXT lookup. */
      detail: PolicyFetchFailure | "dns" | "recently_failed";
      /** Node/OpenSSL/DNS error code, HTTP status ("HTTP_404") or parser code; never free text. */
      code: string | null;
      /** The cached policy that is still usable (apply it), or null (deliver as without MTA-STS). */
      cached: MtaStsPolicy | null;
    };

/** RFC 8461 3.3: "five minutes or longer per version ID". */
export const DEFAULT_FETCH_RETRY_MS = 5 * 60 * 1000;

const NO_RECORD_CODES: ReadonlySet<string> = new Set(["ENOTFOUND", "ENODATA"]);
/** mailauth's "more than one v=STSv1 record": section 3.1 says to treat that as no policy. */
const MULTIPLE_RECORDS = "multi_sts_records";

/** Expiry of a cached policy, epoch ms. */
export function policyExpiresAt(policy: MtaStsPolicy): number {
  return policy.fetchedAt + policy.maxAgeSeconds * 1000;
}

/** The policy to apply for a result: the live or cached one, or null for none. */
export function effectivePolicy(result: MtaStsResult): MtaStsPolicy | null {
  if (result.kind === "policy") return result.policy;
  if (result.kind === "error") return result.cached;
  return null;
}

/** An in-memory cache (tests, or a process without a database). */
export function memoryMtaStsCache(): MtaStsCache {
  const entries = new Map<string, MtaStsPolicy>();
  return {
    get: (domain) => Promise.resolve(entries.get(domain) ?? null),
    put: (domain, policy) => {
      entries.set(domain, { ...policy, mx: [...policy.mx] });
      return Promise.resolve();
    },
  };
}

/** In-memory fetch backoff; holds at most `maxEntries` domains (oldest dropped first). */
export function mtaStsFetchBackoff(
  retryAfterMs = DEFAULT_FETCH_RETRY_MS,
  maxEntries = 10_000,
): MtaStsFetchBackoff {
  const failures = new Map<string, { id: string; at: number }>();
  return {
    recentlyFailed(domain, id, now) {
      const entry = failures.get(domain);
      return entry !== undefined && entry.id === id && now - entry.at < retryAfterMs;
    },
    recordFailure(domain, id, now) {
      failures.delete(domain);
      failures.set(domain, { id, at: now });
      if (failures.size > maxEntries) {
        const oldest = failures.keys().next();
        if (oldest.done !== true) failures.delete(oldest.value);
      }
    },
  };
}

function errorCode(err: unknown): string {
  const code = typeof err === "object" && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === "string" ? code : "EUNKNOWN";
}

type TxtLookup = { kind: "id"; id: string } | { kind: "absent" } | { kind: "failed"; code: string };

/**
 * The policy id published for `domain`. A missing record, records that are not exactly one
 * valid `v=STSv1` record (3.1), are all "absent"; resolver failures other than NXDOMAIN/NODATA
 * are "failed".
 */
async function lookupPolicyId(domain: string, resolver: Resolver): Promise<TxtLookup> {
  try {
    const id = await resolvePolicy(domain, {
      resolver: async (name, rrtype) => {
        if (rrtype !== "TXT") throw Object.assign(new Error("unexpected query"), { code: "ENOTIMP" });
        return resolver.resolveTxt(name);
      },
    });
    return id === false ? { kind: "absent" } : { kind: "id", id };
  } catch (err) {
    const code = errorCode(err);
    if (NO_RECORD_CODES.has(code) || code === MULTIPLE_RECORDS) return { kind: "absent" };
    return { kind: "failed", code };
  }
}

/** `domain` as cached and queried: lower case, A-label, no trailing dot; "" when invalid. */
export function mtaStsDomain(domain: string): string {
  const name = normalizeName(domain);
  return name === "" ? "" : domainToASCII(name);
}

/** Discovers the MTA-STS policy of a recipient domain (see the module comment). */
export async function getMtaStsPolicy(domain: string, opts: MtaStsOptions): Promise<MtaStsResult> {
  const name = mtaStsDomain(domain);
  if (name === "") {
    return { kind: "error", reason: "dns_failed", detail: "dns", code: "EBADNAME", cached: null };
  }
  const now = opts.now();
  const stored = await opts.cache.get(name);
  const cached = stored !== null && now < policyExpiresAt(stored) ? stored : null;

  const txt = await lookupPolicyId(name, opts.resolver);
  if (txt.kind === "failed")
    return { kind: "error", reason: "dns_failed", detail: "dns", code: txt.code, cached };
  if (txt.kind === "absent")
    return cached === null ? { kind: "none" } : { kind: "policy", policy: cached, fromCache: true };
  if (cached !== null && cached.id === txt.id) return { kind: "policy", policy: cached, fromCache: true };

  if (opts.backoff?.recentlyFailed(name, txt.id, now) === true) {
    return { kind: "error", reason: "policy_fetch_failed", detail: "recently_failed", code: null, cached };
  }
  const fetched = await fetchPolicy(name, {
    resolver: opts.resolver,
    ...(opts.httpsPort === undefined ? {} : { port: opts.httpsPort }),
    ...(opts.ca === undefined ? {} : { ca: opts.ca }),
    ...(opts.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs }),
  });
  if (fetched.kind === "failed") {
    opts.backoff?.recordFailure(name, txt.id, opts.now());
    return {
      kind: "error",
      reason: "policy_fetch_failed",
      detail: fetched.failure,
      code: fetched.code,
      cached,
    };
  }
  const policy: MtaStsPolicy = { id: txt.id, ...fetched.policy, fetchedAt: opts.now() };
  await opts.cache.put(name, policy);
  return { kind: "policy", policy, fromCache: false };
}

/**
 * RFC 8461 4.1: does the MX host name match one of the policy's `mx` patterns? Exact names
 * match case-insensitively (trailing dot ignored, U-labels compared as A-labels); `*.example.com`
 * matches exactly one extra left-most label (`a.example.com`, not `example.com` nor
 * `a.b.example.com`). The mode is not looked at.
 */
export function mxMatchesPolicy(mxHost: string, policy: Pick<MtaStsPolicy, "mx">): boolean {
  return validateMx(mxHost, { mode: "enforce", mx: policy.mx }).valid;
}

export interface MtaStsEvidence {
  mode: PolicyMode | null;
  policy_id: string | null;
  /** MX hosts skipped (enforce) or that would have been skipped (testing), each once. */
  mx_mismatch: string[];
}

export interface AppliedPolicy<T> {
  targets: T[];
  /** True in enforce mode: every target's certificate must verify for its MX host name. */
  requireVerifiedCert: boolean;
  evidence: MtaStsEvidence;
}

/**
 * Applies a policy to the route's targets (RFC 8461 section 5). `enforce`: only targets whose
 * host matches the policy remain, in their order, and certificates must verify (an empty list
 * means: defer, never bounce, per 5.1 step 3). `testing`: all targets stay, nothing more is
 * required, mismatches are reported. `none` or no policy: unchanged.
 */
export function applyPolicy<T extends { host: string; port: number; ip?: string }>(
  targets: T[],
  policy: MtaStsPolicy | null,
): AppliedPolicy<T> {
  if (policy === null || policy.mode === "none") {
    return {
      targets: [...targets],
      requireVerifiedCert: false,
      evidence: { mode: policy?.mode ?? null, policy_id: policy?.id ?? null, mx_mismatch: [] },
    };
  }
  const mismatch = new Set<string>();
  const kept = targets.filter((t) => {
    const ok = mxMatchesPolicy(t.host, policy);
    if (!ok) mismatch.add(normalizeName(t.host));
    return ok;
  });
  const enforce = policy.mode === "enforce";
  return {
    targets: enforce ? kept : [...targets],
    requireVerifiedCert: enforce,
    evidence: { mode: policy.mode, policy_id: policy.id, mx_mismatch: [...mismatch] },
  };
}
