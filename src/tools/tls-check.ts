import type { Resolver } from "node:dns/promises";
import { isIP } from "node:net";
import { resolveAddresses, resolveMx } from "../delivery/dns.ts";
import {
  getMtaStsPolicy,
  type MtaStsOptions,
  memoryMtaStsCache,
  mxMatchesPolicy,
} from "../delivery/mta-sts.ts";
import { type ProbeResult, probeStarttls } from "./starttls-probe.ts";

/**
 * `sealpost tls-check DOMAIN`: what a sender would find when delivering to DOMAIN — its MX
 * hosts, whether each offers STARTTLS, the TLS version and cipher negotiated, the
 * certificate (verified, name match, expiry), the MTA-STS policy and TLS-RPT record —
 * and a verdict on whether sealpost can deliver there over TLS.
 */
export type Verdict = "strong" | "tls" | "tls_unverified" | "insecure" | "unreachable" | "no_mail";

export interface TlsCheckDeps {
  resolver: Resolver;
  port: number;
  heloName: string;
  timeoutMs: number;
  ca?: string | Buffer | undefined;
  now: () => number;
  mtaSts: Omit<MtaStsOptions, "cache" | "resolver" | "now">;
}

async function txtRecords(resolver: Resolver, name: string): Promise<string[]> {
  try {
    return (await resolver.resolveTxt(name)).map((c) => c.join(""));
  } catch {
    return [];
  }
}

export async function tlsCheck(domainInput: string, deps: TlsCheckDeps) {
  const domain = domainInput.trim().toLowerCase().replace(/\.$/, "");
  const notes: string[] = [];
  const mx = await resolveMx(deps.resolver, domain);
  const [sts, tlsRpt] = await Promise.all([
    getMtaStsPolicy(domain, {
      ...deps.mtaSts,
      resolver: deps.resolver,
      cache: memoryMtaStsCache(),
      now: deps.now,
    }),
    txtRecords(deps.resolver, `_smtp._tls.${domain}`),
  ]);
  const policy = sts.kind === "policy" ? sts.policy : null;
  const mtaSts = {
    mode: policy?.mode ?? "none",
    id: policy?.id ?? null,
    mx: policy?.mx ?? [],
    max_age: policy?.maxAgeSeconds ?? null,
    error: sts.kind === "error" ? (sts.detail ?? sts.reason) : null,
  };
  const tlsRptRecord = tlsRpt.find((t) => /^v=TLSRPTv1\s*;/.test(t)) ?? null;
  if (mx.kind === "null_mx" || mx.kind === "failed") {
    return {
      domain,
      mx: [],
      null_mx: mx.kind === "null_mx",
      mta_sts: mtaSts,
      tls_rpt: tlsRptRecord,
      verdict: "no_mail" as Verdict,
      notes: [
        mx.kind === "null_mx"
          ? "The domain publishes a null MX: it accepts no mail."
          : "The MX lookup failed.",
      ],
    };
  }
  const hosts = await Promise.all(
    mx.hosts.slice(0, 10).map(async (h) => {
      const addrs =
        isIP(h.host) !== 0
          ? { kind: "addresses" as const, addresses: [h.host] }
          : await resolveAddresses(deps.resolver, h.host);
      const addresses = addrs.kind === "addresses" ? addrs.addresses : [];
      const first = addresses[0];
      const probe: ProbeResult | null =
        first === undefined
          ? null
          : await probeStarttls(
              { host: h.host, ip: first, port: deps.port },
              {
                heloName: deps.heloName,
                timeoutMs: deps.timeoutMs,
                now: deps.now(),
                ...(deps.ca === undefined ? {} : { ca: deps.ca }),
              },
            );
      return {
        host: h.host,
        priority: h.priority,
        addresses,
        policy_match: policy === null ? null : mxMatchesPolicy(h.host, policy),
        probe,
      };
    }),
  );
  const reachable = hosts.filter((h) => h.probe?.connected === true && h.probe.error === null);
  const modern = (p: ProbeResult | null) =>
    p !== null && (p.tls_version === "TLSv1.2" || p.tls_version === "TLSv1.3");
  const verified = (p: ProbeResult | null) => p?.cert_verified === true && p.name_match === true;
  let verdict: Verdict;
  if (reachable.length === 0) verdict = "unreachable";
  else if (reachable.some((h) => !modern(h.probe))) verdict = "insecure";
  else if (reachable.every((h) => verified(h.probe)) && policy?.mode === "enforce") verdict = "strong";
  else if (reachable.every((h) => verified(h.probe))) verdict = "tls";
  else verdict = "tls_unverified";
  for (const h of hosts) {
    const p = h.probe;
    if (p === null) notes.push(`${h.host}: no address.`);
    else if (!p.connected || p.error !== null) notes.push(`${h.host}: ${p.error ?? "unreachable"}.`);
    else if (!p.starttls) notes.push(`${h.host}: no STARTTLS; sealpost never delivers there.`);
    else if (!modern(p))
      notes.push(`${h.host}: only ${p.tls_version ?? "old TLS"}; sealpost requires TLS 1.2 or newer.`);
    else if (!verified(p))
      notes.push(`${h.host}: certificate not verified (${p.cert_error ?? "name mismatch"}).`);
    if (p?.days_left !== null && p?.days_left !== undefined && p.days_left < 14)
      notes.push(`${h.host}: certificate expires in ${p.days_left} days.`);
    if (h.policy_match === false) notes.push(`${h.host}: not allowed by the MTA-STS policy.`);
  }
  if (policy === null)
    notes.push("No MTA-STS policy: a network attacker could strip STARTTLS for other senders.");
  if (tlsRptRecord === null) notes.push("No TLS-RPT record: the domain gets no reports of TLS failures.");
  return {
    domain,
    mx: hosts,
    null_mx: false,
    implicit_mx: mx.implicit,
    mta_sts: mtaSts,
    tls_rpt: tlsRptRecord,
    verdict,
    notes,
  };
}
