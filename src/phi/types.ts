/**
 * PHI detection results (ADR 0010 §2). A finding says what kind of identifier was found
 * and where; the value itself never leaves the detector's caller's memory.
 */
export type PhiCategory = "ssn" | "mrn" | "dob" | "phone" | "icd10" | "npi" | "address" | "marked";

export const PHI_CATEGORIES: readonly PhiCategory[] = [
  "ssn",
  "mrn",
  "dob",
  "phone",
  "icd10",
  "npi",
  "address",
  "marked",
];

/** The part of a message a finding is in. */
export type PhiField = "subject" | "text" | "html";

export interface PhiFinding {
  readonly category: PhiCategory;
  readonly field: PhiField;
  /** UTF-16 offsets into the scanned text: [start, end). */
  readonly start: number;
  readonly end: number;
}

export interface PhiInput {
  readonly field: PhiField;
  readonly text: string;
}

/** What is stored in `messages.phi` and counted by the report: counts only. */
export interface PhiSummary {
  readonly subject: number;
  readonly body: number;
  readonly categories: Partial<Record<PhiCategory, number>>;
}
