/** Shared pieces of the MTA-STS tests (not a test file itself). */
import type { DnsRecord } from "../helpers/dns-server.ts";

export const ENFORCE_POLICY =
  "version: STSv1\r\nmode: enforce\r\nmx: mx1.good.test\r\nmx: *.pool.good.test\r\nmax_age: 86400\r\n";
export const TESTING_POLICY = "version: STSv1\nmode: testing\nmx: mx1.good.test\nmax_age: 3600\n";

/** TXT and policy-host records for a domain whose policy host is 127.0.0.1. */
export function stsRecords(domain: string, id: string): Record<string, DnsRecord[]> {
  return {
    [`_mta-sts.${domain}`]: [{ type: "TXT", value: `v=STSv1; id=${id}` }],
    [`mta-sts.${domain}`]: [{ type: "A", value: "127.0.0.1" }],
  };
}

/** A policy text with the given fields, one per line. */
export function policyText(fields: Record<string, string | string[]>): string {
  return Object.entries(fields)
    .flatMap(([k, v]) => (Array.isArray(v) ? v : [v]).map((x) => `${k}: ${x}\n`))
    .join("");
}
