import type { AuditLogTable } from "../store/schema.ts";

/**
 * Exports as JSON Lines (ADR 0009 §3): one full row per line, every column, so that an
 * export verifies offline (`sealpost audit verify --file`) with nothing but the file.
 * Lines are in seq order; a line holds ids, codes and counts only (the log has no PHI).
 */
const COLUMNS = [
  "chain",
  "seq",
  "id",
  "at",
  "actor_type",
  "actor_id",
  "action",
  "target_type",
  "target_id",
  "outcome",
  "status",
  "source_ip",
  "request_id",
  "details",
  "prev_hash",
  "hash",
] as const satisfies readonly (keyof AuditLogTable)[];

/** One row as a line (no trailing newline), its columns in table order. */
export function exportLine(row: AuditLogTable): string {
  return JSON.stringify(Object.fromEntries(COLUMNS.map((c) => [c, row[c]])));
}

export async function* exportLines(rows: AsyncIterable<AuditLogTable>): AsyncGenerator<string> {
  for await (const row of rows) yield `${exportLine(row)}\n`;
}

const NULLABLE_TEXT = ["actor_id", "target_type", "target_id", "source_ip", "request_id"] as const;
const TEXT = ["chain", "id", "actor_type", "action", "outcome", "details", "prev_hash", "hash"] as const;

function isRow(v: unknown): v is AuditLogTable {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const r = v as Record<string, unknown>;
  return (
    Number.isInteger(r.seq) &&
    Number.isInteger(r.at) &&
    (r.status === null || Number.isInteger(r.status)) &&
    TEXT.every((c) => typeof r[c] === "string") &&
    NULLABLE_TEXT.every((c) => r[c] === null || typeof r[c] === "string")
  );
}

export class ExportFormatError extends Error {
  readonly line: number;
  constructor(line: number) {
    super(`line ${line} is not an audit entry`);
    this.line = line;
  }
}

/** The rows of an export; blank lines are skipped, a line that is not an entry is an error. */
export function parseExport(text: string): AuditLogTable[] {
  const rows: AuditLogTable[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]?.trim() ?? "";
    if (line === "") continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new ExportFormatError(i + 1);
    }
    if (!isRow(value)) throw new ExportFormatError(i + 1);
    rows.push(Object.fromEntries(COLUMNS.map((c) => [c, value[c]])) as unknown as AuditLogTable);
  }
  return rows;
}

/** Groups rows by chain, each in the order given. */
export function byChain(rows: readonly AuditLogTable[]): Map<string, AuditLogTable[]> {
  const out = new Map<string, AuditLogTable[]>();
  for (const r of rows) {
    const list = out.get(r.chain) ?? [];
    list.push(r);
    out.set(r.chain, list);
  }
  return out;
}
