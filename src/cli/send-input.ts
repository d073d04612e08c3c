import { extname } from "node:path";

/**
 * Input helpers of `sealpost send`: content types by file extension, address lists and
 * the recipients of a --csv file. Pure functions, no I/O.
 */
const CONTENT_TYPES: Record<string, string> = {
  ".pdf": "application/pdf",
  ".txt": "text/plain",
  ".csv": "text/csv",
  ".htm": "text/html",
  ".html": "text/html",
  ".xml": "application/xml",
  ".json": "application/json",
  ".ics": "text/calendar",
  ".rtf": "application/rtf",
  ".doc": "application/msword",
  ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
  ".xls": "application/vnd.ms-excel",
  ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
  ".odt": "application/vnd.oasis.opendocument.text",
  ".zip": "application/zip",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".gif": "image/gif",
  ".webp": "image/webp",
  ".tif": "image/tiff",
  ".tiff": "image/tiff",
  ".heic": "image/heic",
  ".svg": "image/svg+xml",
  ".dcm": "application/dicom",
};

export function contentTypeOf(file: string): string {
  return CONTENT_TYPES[extname(file).toLowerCase()] ?? "application/octet-stream";
}

/** Splits "a@x, \"Doe, Jane\" <j@y>" at the commas that separate addresses. */
export function splitAddresses(values: readonly string[]): string[] {
  const out: string[] = [];
  for (const value of values) {
    let current = "";
    let quoted = false;
    let angle = false;
    for (const ch of value) {
      if (ch === '"') quoted = !quoted;
      else if (ch === "<" && !quoted) angle = true;
      else if (ch === ">" && !quoted) angle = false;
      if (ch === "," && !quoted && !angle) {
        out.push(current);
        current = "";
      } else current += ch;
    }
    out.push(current);
  }
  return out.map((a) => a.trim()).filter((a) => a !== "");
}

/** RFC 4180 CSV: quoted fields, "" inside quotes, CRLF or LF; a leading BOM is dropped. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  const src = text.startsWith("\uFEFF") ? text.slice(1) : text;
  for (let i = 0; i < src.length; i++) {
    const ch = src[i];
    if (quoted) {
      if (ch === '"' && src[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"' && field === "") quoted = true;
    else if (ch === ",") {
      row.push(field);
      field = "";
    } else if (ch === "\n" || ch === "\r") {
      if (ch === "\r" && src[i + 1] === "\n") i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
    } else field += ch;
  }
  if (field !== "" || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

export interface CsvRecipient {
  /** Row number as a spreadsheet shows it: the header is row 1. */
  row: number;
  to: string;
}

/**
 * The recipients of a --csv file: the "email" column, else the "to" column (names compared
 * without case). Other columns are ignored until templates exist. Blank rows are skipped.
 * Null when the header has neither column.
 */
export function csvRecipients(text: string): CsvRecipient[] | null {
  const [header, ...rows] = parseCsv(text);
  const names = (header ?? []).map((h) => h.trim().toLowerCase());
  const column = names.includes("email") ? names.indexOf("email") : names.indexOf("to");
  if (column < 0) return null;
  return rows.flatMap((cells, i) =>
    cells.every((c) => c.trim() === "") ? [] : [{ row: i + 2, to: (cells[column] ?? "").trim() }],
  );
}
