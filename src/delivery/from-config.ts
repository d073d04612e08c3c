import type { Resolver } from "node:dns/promises";
import { readFileSync } from "node:fs";
import type { Config } from "../config/schema.ts";
import { createResolver } from "./dns.ts";

/** The DNS resolver every part of a node uses: SEALPOST_DNS_SERVERS, 5 s timeout. */
export function createDnsResolver(config: Config): Resolver {
  return createResolver(
    config.dnsServers.map((s) => (s.host.includes(":") ? `[${s.host}]:${s.port}` : `${s.host}:${s.port}`)),
    5000,
  );
}

/** Trust anchors from SEALPOST_EXTRA_CA_FILE (private PKI), read once. */
export function extraCa(config: Config): string | undefined {
  return config.extraCaFile === undefined ? undefined : readFileSync(config.extraCaFile, "utf8");
}
