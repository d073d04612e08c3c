import { parseArgs } from "node:util";
import { CLI_ACTOR, reportEntry } from "../audit/entries.ts";
import type { Config } from "../config/schema.ts";
import { systemClock } from "../core/clock.ts";
import { SealpostError } from "../core/errors.ts";
import { complianceReport } from "../reports/compliance.ts";
import { reportCsv } from "../reports/csv.ts";
import { parseFormat, parsePeriod, type ReportFormat } from "../reports/period.ts";
import type { ReportPeriod } from "../reports/types.ts";
import { findOrgByName } from "../store/orgs.ts";
import { systemScope } from "../store/scope.ts";
import { printError, printJson } from "./output.ts";
import { withStore } from "./store.ts";

/**
 * `sealpost report --from ISO --to ISO [--org NAME] [--format json|csv]`: the compliance
 * report (ADR 0009 §5, docs/compliance.md) of one org, read from the store directly as
 * the operator. Exit status: 0 printed, 1 no such org, 2 bad usage or period.
 */
export const REPORT_USAGE =
  "usage: sealpost report --from ISO --to ISO [--org default] [--format json|csv]\n" +
  "  the compliance report of an org for [from, to): dates (2026-01-01) or date-times with Z or an offset;\n" +
  "  at most 366 days";

interface ReportArgs {
  period: ReportPeriod;
  format: ReportFormat;
  org: string;
}

/** The arguments, or the reason they are not usable (printed with the usage, exit 2). */
function parse(argv: string[]): ReportArgs | string {
  let values: { from?: string; to?: string; org?: string; format?: string };
  try {
    ({ values } = parseArgs({
      args: argv,
      allowPositionals: false,
      options: {
        from: { type: "string" },
        to: { type: "string" },
        org: { type: "string" },
        format: { type: "string" },
      },
    }));
  } catch {
    return "unknown option or missing value";
  }
  try {
    return {
      period: parsePeriod(values.from, values.to),
      format: parseFormat(values.format),
      org: values.org ?? "default",
    };
  } catch (err) {
    if (!(err instanceof SealpostError)) throw err;
    return `--${err.field ?? "?"}: ${err.code === "missing_field" ? "required" : (err.detail ?? err.message)}`;
  }
}

export async function reportCommand(config: Config, argv: string[]): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(`${REPORT_USAGE}\n`);
    return 0;
  }
  const args = parse(argv);
  if (typeof args === "string") {
    printError(`${args}\n${REPORT_USAGE}`);
    return 2;
  }
  return withStore(config, async (db, _keyring, _wrapper, audit) => {
    const org = await findOrgByName(db, args.org);
    if (org === undefined) {
      printError("No such org (sealpost orgs list shows them).");
      return 1;
    }
    const report = await complianceReport(
      systemScope(db, org.id, "cli"),
      org,
      args.period,
      systemClock.now(),
    );
    await audit.recordNow(reportEntry(CLI_ACTOR, org.id, { from: report.period.from, to: report.period.to }));
    if (args.format === "csv") process.stdout.write(reportCsv(report));
    else printJson(report);
    return 0;
  });
}
