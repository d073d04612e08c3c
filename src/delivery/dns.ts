/**
 * DNS lookups for delivery: MX (RFC 5321 section 5.1, RFC 7505 null MX) and A/AAAA, through a
 * `node:dns/promises` Resolver built once and passed in (no module-level resolver).
 *
 * Failures are values, classified from the resolver's error code: NXDOMAIN (ENOTFOUND) and a
 * malformed name (EBADNAME) are permanent, everything else (SERVFAIL, timeouts, refused) is
 * temporary.
 */
import { Resolver } from "node:dns/promises";

export interface DnsFailure {
  kind: "failed";
  permanent: boolean;
  /** The resolver's error code, e.g. ENOTFOUND, ESERVFAIL, ETIMEOUT. */
  code: string;
}

export interface MxHost {
  host: string;
  priority: number;
}

export type MxResult =
  /** `implicit`: the domain has no MX records and its own name is the mail host. */
  | { kind: "hosts"; hosts: MxHost[]; implicit: boolean }
  /** The domain publishes a null MX (RFC 7505): it accepts no mail. */
  | { kind: "null_mx" }
  | DnsFailure;

export type AddressResult = { kind: "addresses"; addresses: string[] } | DnsFailure;

const PERMANENT_CODES: ReadonlySet<string> = new Set(["ENOTFOUND", "EBADNAME"]);
const NO_DATA = "ENODATA";

/**
 * A resolver for the given servers ("host:port" or "[v6]:port"; empty = the system's). Each
 * query tries every server at most twice, `timeoutMs` per try.
 */
export function createResolver(servers: readonly string[], timeoutMs: number): Resolver {
  const resolver = new Resolver({ timeout: timeoutMs, tries: 2, maxTimeout: timeoutMs });
  if (servers.length > 0) resolver.setServers([...servers]);
  return resolver;
}

function errorCode(err: unknown): string {
  const code = typeof err === "object" && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === "string" ? code : "EUNKNOWN";
}

function failure(code: string): DnsFailure {
  return { kind: "failed", permanent: PERMANENT_CODES.has(code), code };
}

/** Lower case, no trailing dot. */
export function normalizeName(name: string): string {
  return name.trim().toLowerCase().replace(/\.$/, "");
}

function shuffleInPlace<T>(items: T[], random: () => number): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const a = items[i];
    const b = items[j];
    if (a === undefined || b === undefined) continue;
    items[i] = b;
    items[j] = a;
  }
}

/**
 * The mail hosts of `domain`, lowest priority value first; hosts of equal priority in random
 * order (`random` is injectable for tests). No MX records (NODATA) means the implicit MX, the
 * domain itself. A null MX ("." ) among other MX records is ignored.
 */
export async function resolveMx(
  resolver: Resolver,
  domain: string,
  random: () => number = Math.random,
): Promise<MxResult> {
  const name = normalizeName(domain);
  if (name.length === 0) return failure("EBADNAME");
  let records: Array<{ exchange: string; priority: number }>;
  try {
    records = await resolver.resolveMx(name);
  } catch (err) {
    const code = errorCode(err);
    if (code === NO_DATA) return { kind: "hosts", hosts: [{ host: name, priority: 0 }], implicit: true };
    return failure(code);
  }
  const real = records.filter((r) => normalizeName(r.exchange).length > 0);
  if (real.length === 0) {
    if (records.length > 0) return { kind: "null_mx" };
    return { kind: "hosts", hosts: [{ host: name, priority: 0 }], implicit: true };
  }
  const byPriority = new Map<number, MxHost[]>();
  const seen = new Set<string>();
  for (const r of real) {
    const host = normalizeName(r.exchange);
    if (seen.has(host)) continue;
    seen.add(host);
    const group = byPriority.get(r.priority) ?? [];
    group.push({ host, priority: r.priority });
    byPriority.set(r.priority, group);
  }
  const hosts: MxHost[] = [];
  for (const priority of [...byPriority.keys()].sort((a, b) => a - b)) {
    const group = byPriority.get(priority) ?? [];
    shuffleInPlace(group, random);
    hosts.push(...group);
  }
  return { kind: "hosts", hosts, implicit: false };
}

/**
 * The IPv4 then IPv6 addresses of `host`. Addresses from one family are returned even when
 * the other lookup failed; with none, the failure (permanent only for NXDOMAIN) or, when both
 * families answered "no data", an empty list.
 */
export async function resolveAddresses(resolver: Resolver, host: string): Promise<AddressResult> {
  const name = normalizeName(host);
  const [v4, v6] = await Promise.allSettled([resolver.resolve4(name), resolver.resolve6(name)]);
  const addresses = [
    ...(v4.status === "fulfilled" ? v4.value : []),
    ...(v6.status === "fulfilled" ? v6.value : []),
  ];
  if (addresses.length > 0) return { kind: "addresses", addresses: [...new Set(addresses)] };
  const codes = [v4, v6].flatMap((r) => (r.status === "rejected" ? [errorCode(r.reason)] : []));
  const temporary = codes.find((c) => c !== NO_DATA && !PERMANENT_CODES.has(c));
  if (temporary !== undefined) return failure(temporary);
  const permanent = codes.find((c) => PERMANENT_CODES.has(c));
  if (permanent !== undefined) return failure(permanent);
  return { kind: "addresses", addresses: [] };
}
