/**
 * One scanner per PHI category (ADR 0010 §2): each runs its pattern over a text, checks the
 * context around every match (labels that confirm it, labels that veto it) and the number
 * rules, and returns candidates. Candidates may overlap; `detect.ts` keeps one per place.
 */
import { digitsOf, npiValid, ssnIssuable } from "./checks.ts";
import {
  ADDRESS,
  DOB,
  ICD10,
  ICD10_LABELLED,
  ICD10_VETO_AFTER,
  ICD10_VETO_BEFORE,
  MRN,
  NPI_CONTEXT,
  NUMBER_VETO_BEFORE,
  PHONE,
  PHONE_CONTEXT,
  SSN,
  SSN_CONTEXT,
  TEN_DIGITS,
} from "./patterns.ts";
import type { PhiCategory } from "./types.ts";

export interface Candidate {
  readonly category: PhiCategory;
  readonly start: number;
  readonly end: number;
  /** Which candidate wins an overlap: labelled identifiers beat bare number shapes. */
  readonly rank: number;
}

/** How far back a confirming label may be. */
const CONTEXT_CHARS = 32;

function before(text: string, at: number, chars = CONTEXT_CHARS): string {
  return text.slice(Math.max(0, at - chars), at);
}

function vetoed(text: string, at: number): boolean {
  return NUMBER_VETO_BEFORE.test(before(text, at));
}

function scanSsn(text: string, out: Candidate[]): void {
  for (const m of text.matchAll(SSN)) {
    const [, area = "", sep = "", group = "", serial = ""] = m;
    const labelled = SSN_CONTEXT.test(before(text, m.index));
    // Dashed and issuable: an SSN by its shape. Spaces, no separator or an unissued range: only labelled.
    const byShape = sep === "-" && ssnIssuable(area, group, serial) && !vetoed(text, m.index);
    if (labelled || byShape) {
      out.push({ category: "ssn", start: m.index, end: m.index + m[0].length, rank: labelled ? 5 : 3 });
    }
  }
}

function scanGroup(text: string, re: RegExp, category: PhiCategory, rank: number, out: Candidate[]): void {
  for (const m of text.matchAll(re)) {
    const span = m.indices?.[1];
    if (!span) continue;
    if (category === "mrn" && digitsOf(m[1] ?? "").length < 4) continue;
    out.push({ category, start: span[0], end: span[1], rank });
  }
}

function scanPhone(text: string, out: Candidate[]): void {
  for (const m of text.matchAll(PHONE)) {
    if (vetoed(text, m.index)) continue;
    out.push({ category: "phone", start: m.index, end: m.index + m[0].length, rank: 3 });
  }
}

/** Ten bare digits: a phone with a phone label or +1, an NPI when the check digit fits. */
function scanTenDigits(text: string, out: Candidate[]): void {
  for (const m of text.matchAll(TEN_DIGITS)) {
    const [, plusOne, ten = ""] = m;
    const end = m.index + m[0].length;
    const context = before(text, m.index);
    if (NPI_CONTEXT.test(context) && npiValid(ten)) {
      out.push({ category: "npi", start: end - 10, end, rank: 4 });
      continue;
    }
    if (vetoed(text, m.index)) continue;
    const nanp = /^[2-9]\d{2}[2-9]/.test(ten);
    if (nanp && (plusOne || PHONE_CONTEXT.test(context))) {
      out.push({ category: "phone", start: m.index, end, rank: 3 });
    } else if (npiValid(ten)) {
      out.push({ category: "npi", start: end - 10, end, rank: 2 });
    }
  }
}

function scanIcd10(text: string, out: Candidate[]): void {
  for (const m of text.matchAll(ICD10)) {
    const end = m.index + m[0].length;
    if (ICD10_VETO_BEFORE.test(before(text, m.index, 16))) continue;
    if (ICD10_VETO_AFTER.test(text.slice(end, end + 8))) continue;
    out.push({ category: "icd10", start: m.index, end, rank: 2 });
  }
  for (const m of text.matchAll(ICD10_LABELLED)) {
    const span = m.indices?.[1];
    if (span && /^[A-Z]/.test(m[1] ?? ""))
      out.push({ category: "icd10", start: span[0], end: span[1], rank: 2 });
  }
}

function scanAddress(text: string, out: Candidate[]): void {
  for (const m of text.matchAll(ADDRESS)) {
    out.push({ category: "address", start: m.index, end: m.index + m[0].length, rank: 4 });
  }
}

/**
 * Every candidate in `text`, in no particular order. Unicode dashes and no-break spaces are
 * read as `-` and space first (one UTF-16 unit for one, so offsets stay those of `text`).
 */
export function scanText(original: string): Candidate[] {
  const text = original
    .replace(/[\u2010-\u2015\u2212\uFE63\uFF0D]/g, "-")
    .replace(/[\u00A0\u2007\u202F]/g, " ");
  const out: Candidate[] = [];
  scanGroup(text, MRN, "mrn", 6, out);
  scanGroup(text, DOB, "dob", 6, out);
  scanSsn(text, out);
  scanPhone(text, out);
  scanTenDigits(text, out);
  scanIcd10(text, out);
  scanAddress(text, out);
  return out;
}
