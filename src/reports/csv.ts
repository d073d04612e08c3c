import type { ComplianceReport } from "./types.ts";

/**
 * The report as CSV: one `section,key,value` row per number or note, in the order of the
 * JSON form. `section` is a top-level key (`report` for the heading fields), `key` the path
 * below it joined with dots (`by_encryption.tls`); list items are keyed by their `date`.
 * Values are quoted per RFC 4180 when needed; the report holds no value a spreadsheet could
 * take for a formula (counts, codes, ids, dates and fixed notes only).
 */
type Row = readonly [section: string, key: string, value: string];

function cell(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

function flatten(section: string, prefix: string, value: unknown, out: Row[]): void {
  if (Array.isArray(value)) {
    value.forEach((item, i) => {
      const name =
        typeof item === "object" && item !== null && "date" in item
          ? String((item as { date: unknown }).date)
          : String(i);
      flatten(section, prefix === "" ? name : `${prefix}.${name}`, item, out);
    });
    return;
  }
  if (typeof value === "object" && value !== null) {
    for (const [k, v] of Object.entries(value)) {
      if (k === "date" && prefix !== "") continue;
      flatten(section, prefix === "" ? k : `${prefix}.${k}`, v, out);
    }
    return;
  }
  out.push([section, prefix, String(value)]);
}

const HEADING = new Set(["object", "version", "org", "period", "generated_at"]);

export function reportCsv(report: ComplianceReport): string {
  const rows: Row[] = [
    ["report", "version", String(report.version)],
    ["report", "org_id", report.org.id],
    ["report", "org_name", report.org.name],
    ["report", "from", report.period.from],
    ["report", "to", report.period.to],
    ["report", "generated_at", report.generated_at],
  ];
  for (const [section, value] of Object.entries(report))
    if (!HEADING.has(section)) flatten(section, "", value, rows);
  return `${["section,key,value", ...rows.map((r) => r.map(cell).join(","))].join("\r\n")}\r\n`;
}
