import type { DkimKeysTable, DomainsTable } from "../store/schema.ts";
import { dkimTxtValue } from "./dkim.ts";

/**
 * The DNS records a sending domain publishes. DKIM is required for live sending; SPF,
 * DMARC, MTA-STS, TLS-RPT and the bounce MX are recommended and reported by verify.
 */
export interface DnsRecord {
  purpose: "dkim" | "spf" | "dmarc" | "mta-sts" | "mta-sts-policy" | "tls-rpt" | "bounce-mx" | "bounce-spf";
  type: "TXT" | "MX" | "HTTPS";
  name: string;
  value: string;
  required: boolean;
  selector?: string;
  algorithm?: string;
}

export function bounceDomain(domain: string): string {
  return `bounce.${domain}`;
}

export function mtaStsPolicyText(mxHosts: readonly string[]): string {
  const mx = mxHosts.length === 0 ? ["<your MX host>"] : mxHosts;
  return ["version: STSv1", "mode: testing", ...mx.map((m) => `mx: ${m}`), "max_age: 604800", ""].join("\n");
}

export function recordsFor(
  domain: DomainsTable,
  keys: readonly DkimKeysTable[],
  opts: { hostname: string; mxHosts: readonly string[] },
): DnsRecord[] {
  const d = domain.name;
  return [
    ...keys.map(
      (k): DnsRecord => ({
        purpose: "dkim",
        type: "TXT",
        name: `${k.selector}._domainkey.${d}`,
        value: dkimTxtValue(k.algorithm, k.public_key),
        required: true,
        selector: k.selector,
        algorithm: k.algorithm,
      }),
    ),
    { purpose: "spf", type: "TXT", name: d, value: `v=spf1 a:${opts.hostname} mx ~all`, required: false },
    {
      purpose: "dmarc",
      type: "TXT",
      name: `_dmarc.${d}`,
      value: `v=DMARC1; p=quarantine; adkim=s; aspf=r; rua=mailto:dmarc-reports@${d}`,
      required: false,
    },
    {
      purpose: "mta-sts",
      type: "TXT",
      name: `_mta-sts.${d}`,
      value: `v=STSv1; id=${domain.mta_sts_id}`,
      required: false,
    },
    {
      purpose: "mta-sts-policy",
      type: "HTTPS",
      name: `https://mta-sts.${d}/.well-known/mta-sts.txt`,
      value: mtaStsPolicyText(opts.mxHosts),
      required: false,
    },
    {
      purpose: "tls-rpt",
      type: "TXT",
      name: `_smtp._tls.${d}`,
      value: `v=TLSRPTv1; rua=mailto:tls-reports@${d}`,
      required: false,
    },
    {
      purpose: "bounce-mx",
      type: "MX",
      name: bounceDomain(d),
      value: `10 ${opts.hostname}`,
      required: false,
    },
    {
      purpose: "bounce-spf",
      type: "TXT",
      name: bounceDomain(d),
      value: `v=spf1 a:${opts.hostname} ~all`,
      required: false,
    },
  ];
}
