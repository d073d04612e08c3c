import type { Config } from "../config/schema.ts";
import { SealpostError } from "../core/errors.ts";
import { normalizeDomainName } from "../domains/service.ts";
import { toolDeps } from "../main.ts";
import { tlsCheck } from "../tools/tls-check.ts";
import { print, printError, printJson } from "./output.ts";

export async function tlsCheckCommand(
  config: Config,
  domainArg: string | undefined,
  json: boolean,
): Promise<number> {
  let domain: string;
  try {
    domain = normalizeDomainName(domainArg);
  } catch (err) {
    if (!(err instanceof SealpostError)) throw err;
    printError("usage: sealpost tls-check DOMAIN [--json]");
    return 2;
  }
  const report = await tlsCheck(domain, toolDeps(config));
  if (json) {
    printJson(report);
    return 0;
  }
  print(`TLS check for ${report.domain}: ${report.verdict}`);
  for (const h of report.mx) {
    const p = h.probe;
    const tls =
      p === null ? "no address" : !p.starttls ? "no STARTTLS" : `${p.tls_version ?? "?"} ${p.cipher ?? ""}`;
    const cert =
      p?.tls_version == null
        ? ""
        : `cert ${p.cert_verified && p.name_match ? "verified" : `not verified (${p.cert_error ?? "name mismatch"})`}, expires ${p.not_after ?? "?"}`;
    print(
      `  MX ${h.priority} ${h.host} [${h.addresses.join(", ")}]: ${tls}${cert === "" ? "" : `; ${cert}`}`,
    );
  }
  print(`  MTA-STS: ${report.mta_sts.mode}${report.mta_sts.id === null ? "" : ` (id ${report.mta_sts.id})`}`);
  print(`  TLS-RPT: ${report.tls_rpt ?? "none"}`);
  for (const n of report.notes) print(`  - ${n}`);
  return 0;
}
