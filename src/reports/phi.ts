import { PHI_CATEGORIES } from "../phi/types.ts";
import { phiSummaryCounts, type Span } from "../store/reports.ts";
import type { OrgScope } from "../store/scope.ts";
import { parseObject, token } from "./evidence.ts";
import type { ComplianceReport, Counts } from "./types.ts";

/**
 * The report's PHI section (ADR 0010 §2): from the accepted messages' stored summaries
 * (`messages.phi`: counts only), how many messages had PHI, the findings by category, and
 * how many subjects were redacted; refused subjects come from the audit chain (the
 * policy-violation count of `phi_in_subject`).
 */
export const PHI_NOTE =
  "count: accepted messages with at least one finding (subject, text or HTML; attachments are not scanned). " +
  "subject_rejected: messages refused with phi_in_subject (single submissions over HTTP and SMTP; a refused batch item is not counted).";

function count(v: unknown): number {
  return typeof v === "number" && Number.isInteger(v) && v > 0 ? v : 0;
}

export async function phiSection(
  scope: OrgScope,
  span: Span,
  subjectRejected: number,
): Promise<ComplianceReport["phi_detections"]> {
  const byCategory: Counts = Object.fromEntries(PHI_CATEGORIES.map((c) => [c, 0]));
  let messages = 0;
  let findings = 0;
  let redacted = 0;
  for (const row of await phiSummaryCounts(scope, span)) {
    const summary = parseObject(row.phi);
    if (summary === null) continue;
    messages += row.n;
    // An accepted message with PHI in its subject had it redacted: `reject` would have refused it.
    if (count(summary.subject) > 0) redacted += row.n;
    const categories = summary.categories;
    if (typeof categories !== "object" || categories === null || Array.isArray(categories)) continue;
    for (const [k, v] of Object.entries(categories)) {
      const key = token(k);
      const n = count(v) * row.n;
      byCategory[key] = (Object.hasOwn(byCategory, key) ? (byCategory[key] ?? 0) : 0) + n;
      findings += n;
    }
  }
  return {
    available: true,
    count: messages,
    findings,
    by_category: byCategory,
    subject_redacted: redacted,
    subject_rejected: subjectRejected,
    note: PHI_NOTE,
  };
}
