import { BlockList, isIP } from "node:net";

/** CIDR lists (API-key allowlists, trusted proxies, lockout exemptions), checked with `net.BlockList`. */
export interface Cidr {
  readonly address: string;
  readonly prefix: number;
  readonly family: "ipv4" | "ipv6";
}

/** `192.0.2.0/24`, `2001:db8::/32`, or a bare address (a /32 or /128); null when not valid. */
export function parseCidr(raw: string): Cidr | null {
  const m = /^([0-9A-Fa-f:.]+)(?:\/(\d{1,3}))?$/.exec(raw.trim());
  if (m === null) return null;
  const address = m[1] as string;
  const version = isIP(address);
  if (version === 0) return null;
  const max = version === 4 ? 32 : 128;
  const prefix = m[2] === undefined ? max : Number(m[2]);
  if (prefix > max) return null;
  return { address, prefix, family: version === 4 ? "ipv4" : "ipv6" };
}

export function formatCidr(c: Cidr): string {
  return `${c.address}/${c.prefix}`;
}

export function blockListOf(cidrs: readonly Cidr[]): BlockList {
  const list = new BlockList();
  for (const c of cidrs) list.addSubnet(c.address, c.prefix, c.family);
  return list;
}

/** Normalizes an IPv4-mapped IPv6 peer (`::ffff:192.0.2.1`) to IPv4. */
export function normalizeAddress(address: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return m === null ? address : (m[1] as string);
}

/** Whether `address` is in `list`; false for anything that is not an IP address. */
export function addressIn(list: BlockList, address: string): boolean {
  const a = normalizeAddress(address);
  const version = isIP(a);
  if (version === 0) return false;
  return list.check(a, version === 4 ? "ipv4" : "ipv6");
}

/** Whether every address of `inner` lies in one of `outer` (a key granting a narrower allowlist). */
export function cidrWithin(inner: Cidr, outer: readonly Cidr[]): boolean {
  return outer.some(
    (o) =>
      o.family === inner.family && inner.prefix >= o.prefix && addressIn(blockListOf([o]), inner.address),
  );
}
