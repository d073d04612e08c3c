import type { Resolver } from "node:dns/promises";
import type { DnsRecord } from "./records.ts";

/**
 * Checks each published record in DNS (through sealpost's resolver) and reports it.
 * Only the facts are reported: present and matching, present but different, or missing.
 */
export type CheckStatus = "ok" | "mismatch" | "missing" | "dns_error";

export interface RecordCheck {
  purpose: DnsRecord["purpose"];
  name: string;
  required: boolean;
  status: CheckStatus;
  selector?: string;
}

async function txt(resolver: Resolver, name: string): Promise<string[] | "missing" | "dns_error"> {
  try {
    return (await resolver.resolveTxt(name)).map((chunks) => chunks.join(""));
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    return code === "ENOTFOUND" || code === "ENODATA" ? "missing" : "dns_error";
  }
}

function tags(value: string): Map<string, string> {
  return new Map(
    value
      .split(";")
      .map((part) =>
        part
          .trim()
          .split("=", 2)
          .map((s) => s.trim()),
      )
      .filter((kv): kv is [string, string] => kv.length === 2 && kv[0] !== undefined && kv[0] !== "")
      .map(([k, v]) => [k.toLowerCase(), v.replace(/\s+/g, "")]),
  );
}

async function checkOne(resolver: Resolver, r: DnsRecord): Promise<CheckStatus> {
  if (r.type === "HTTPS") return "missing";
  if (r.type === "MX") {
    try {
      return (await resolver.resolveMx(r.name)).length > 0 ? "ok" : "missing";
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      return code === "ENOTFOUND" || code === "ENODATA" ? "missing" : "dns_error";
    }
  }
  const found = await txt(resolver, r.name);
  if (typeof found === "string") return found;
  switch (r.purpose) {
    case "dkim": {
      const want = tags(r.value).get("p");
      const records = found.map(tags).filter((t) => (t.get("v") ?? "DKIM1") === "DKIM1" && t.has("p"));
      if (records.length === 0) return "missing";
      return records.some((t) => t.get("p") === want) ? "ok" : "mismatch";
    }
    case "spf":
    case "bounce-spf":
      return found.some((v) => /^v=spf1(\s|$)/i.test(v)) ? "ok" : "missing";
    case "dmarc":
      return found.some((v) => /^v=DMARC1\s*;/i.test(v)) ? "ok" : "missing";
    case "mta-sts":
      return found.some((v) => /^v=STSv1\s*;/.test(v)) ? "ok" : "missing";
    case "tls-rpt":
      return found.some((v) => /^v=TLSRPTv1\s*;/.test(v)) ? "ok" : "missing";
    default:
      return "missing";
  }
}

export async function checkRecords(
  resolver: Resolver,
  records: readonly DnsRecord[],
): Promise<RecordCheck[]> {
  const checkable = records.filter((r) => r.type !== "HTTPS");
  const statuses = await Promise.all(checkable.map((r) => checkOne(resolver, r)));
  return checkable.map((r, i) => ({
    purpose: r.purpose,
    name: r.name,
    required: r.required,
    status: statuses[i] ?? "dns_error",
    ...(r.selector === undefined ? {} : { selector: r.selector }),
  }));
}
