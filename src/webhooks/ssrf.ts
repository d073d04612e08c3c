import { lookup as dnsLookup } from "node:dns/promises";
import { isIP } from "node:net";
import ipaddr from "ipaddr.js";
import type { Config } from "../config/schema.ts";
import { SealpostError } from "../core/errors.ts";

/**
 * SSRF protection of webhook URLs (ADR 0011 §3): `https:` only (plain `http:` only to
 * loopback with SEALPOST_WEBHOOK_ALLOW_HTTP_LOOPBACK), and every address the host resolves
 * to must be public (unless SEALPOST_WEBHOOK_ALLOW_PRIVATE). Checked on create and update
 * and again at each send, and the send connects to the address checked here, so a DNS
 * answer that changes between the check and the connection cannot redirect it.
 * Refusals are 422 webhook_url_refused with one of the fixed details below: never the URL.
 */
export interface UrlPolicy {
  /** SEALPOST_WEBHOOK_ALLOW_PRIVATE: the admin allows private-network receivers. */
  readonly allowPrivate: boolean;
  /** SEALPOST_WEBHOOK_ALLOW_HTTP_LOOPBACK: loopback receivers, over http too (development). */
  readonly allowHttpLoopback: boolean;
}

export function urlPolicyOf(
  config: Pick<Config, "webhookAllowPrivate" | "webhookAllowHttpLoopback">,
): UrlPolicy {
  return { allowPrivate: config.webhookAllowPrivate, allowHttpLoopback: config.webhookAllowHttpLoopback };
}

export interface ResolvedAddress {
  readonly address: string;
  readonly family: 4 | 6;
}

/** Resolves a host name to all its addresses (the system resolver by default). */
export type HostLookup = (host: string) => Promise<ResolvedAddress[]>;

export const systemLookup: HostLookup = async (host) =>
  (await dnsLookup(host, { all: true, verbatim: true })).map((a) => ({
    address: a.address,
    family: a.family === 6 ? 6 : 4,
  }));

export const REFUSALS = {
  url: "The URL must be an absolute https URL of at most 2048 characters.",
  credentials: "The URL must not carry a user name or password.",
  http: "Plain http is allowed only to a loopback address in development; use https.",
  unresolved: "The URL's host does not resolve.",
  address: "The URL's host resolves to a private, loopback, link-local or other non-public address.",
} as const;

export type Refusal = keyof typeof REFUSALS;

export function refused(reason: Refusal): SealpostError {
  return new SealpostError("webhook_url_refused", { field: "url", detail: REFUSALS[reason] });
}

/** Ranges never called, whatever the settings: no one listens there. */
const NEVER = new Set(["unspecified", "broadcast", "multicast"]);

/** The range of an address, IPv4-mapped IPv6 forms taken as the IPv4 address they carry. */
export function rangeOf(address: string): string {
  return ipaddr.process(address).range();
}

export function addressAllowed(address: string, policy: UrlPolicy): boolean {
  if (!ipaddr.isValid(address)) return false;
  const range = rangeOf(address);
  if (range === "unicast") return true;
  if (NEVER.has(range)) return false;
  if (range === "loopback" && policy.allowHttpLoopback) return true;
  return policy.allowPrivate;
}

/** The URL's syntax, scheme and credentials; a failing URL throws webhook_url_refused. */
export function parseWebhookUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw refused("url");
  }
  if (raw.length > 2048 || (url.protocol !== "https:" && url.protocol !== "http:") || url.hostname === "")
    throw refused("url");
  if (url.username !== "" || url.password !== "") throw refused("credentials");
  return url;
}

/** The host of a URL without IPv6 brackets. */
export function hostOf(url: URL): string {
  return url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
}

/**
 * Checks a URL and resolves its host: the addresses to connect to (all of them passed).
 * Refuses when any address is not allowed, so a name with one public and one private
 * address cannot be used to reach the private one.
 */
export async function checkWebhookUrl(
  raw: string,
  policy: UrlPolicy,
  lookup: HostLookup = systemLookup,
): Promise<{ url: URL; addresses: ResolvedAddress[] }> {
  const url = parseWebhookUrl(raw);
  const host = hostOf(url);
  const family = isIP(host);
  let addresses: ResolvedAddress[];
  if (family !== 0) addresses = [{ address: host, family: family === 6 ? 6 : 4 }];
  else {
    try {
      addresses = await lookup(host);
    } catch {
      throw refused("unresolved");
    }
    if (addresses.length === 0) throw refused("unresolved");
  }
  for (const a of addresses) if (!addressAllowed(a.address, policy)) throw refused("address");
  if (url.protocol === "http:") {
    const loopback = addresses.every((a) => rangeOf(a.address) === "loopback");
    if (!policy.allowHttpLoopback || !loopback) throw refused("http");
  }
  return { url, addresses };
}
