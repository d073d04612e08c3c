/**
 * The client address (ADR 0008 §4). Without SEALPOST_TRUSTED_PROXIES the peer address is
 * the client, and X-Forwarded-For is ignored: anyone could write it. With it, Fastify walks
 * X-Forwarded-For from the peer backwards while each hop is a trusted proxy; the first
 * untrusted hop is the client.
 */
import { addressIn, blockListOf, type Cidr, normalizeAddress } from "../core/cidr.ts";

/** Fastify's `trustProxy`: false (the peer is the client), or whether a hop is a trusted proxy. */
export function trustProxyOption(
  trusted: readonly Cidr[],
): false | ((address: string, hop: number) => boolean) {
  if (trusted.length === 0) return false;
  const list = blockListOf(trusted);
  // Any hop may be a trusted proxy (a chain of them), so the hop number does not matter.
  return (address: string, _hop: number) => addressIn(list, address);
}

/** The address used for allowlists and lockout: IPv4-mapped IPv6 (`::ffff:192.0.2.1`) as IPv4. */
export function clientAddress(ip: string): string {
  return normalizeAddress(ip);
}
