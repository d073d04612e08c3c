/**
 * PHI detection (ADR 0010 §2): finds identifiers in a message's subject, text and HTML text
 * (see `html-text.ts`) with context-checked regular expressions, and redacts or summarises
 * them. Findings carry a category and offsets only; the caller keeps them in memory and
 * stores counts (`summarize`), never the values.
 */
import { literal } from "./patterns.ts";
import { type Candidate, scanText } from "./scan.ts";
import type { PhiFinding, PhiInput, PhiSummary } from "./types.ts";

/**
 * Finds PHI in the given texts (ADR 0010 §2). `marked`: values of template data fields
 * marked as PHI, found wherever they appear, case-insensitively (category `marked`).
 * Where patterns of different categories overlap, one finding is kept (the labelled one:
 * an MRN or DOB beats a bare number shape); `marked` findings are kept in addition.
 */
export function detectPhi(inputs: readonly PhiInput[], marked: readonly string[] = []): PhiFinding[] {
  const values = [...new Set(marked.filter((v) => v.trim() !== ""))];
  const findings: PhiFinding[] = [];
  for (const { field, text } of inputs) {
    for (const c of resolveOverlaps(scanText(text))) {
      findings.push({ category: c.category, field, start: c.start, end: c.end });
    }
    for (const value of values) {
      for (const m of text.matchAll(literal(value))) {
        findings.push({ category: "marked", field, start: m.index, end: m.index + m[0].length });
      }
    }
  }
  return findings;
}

/**
 * Keeps, in each run of overlapping candidates, the highest-ranked (then longest) ones that
 * do not overlap each other. Runs are short, so this is O(n log n) overall.
 */
function resolveOverlaps(candidates: Candidate[]): Candidate[] {
  candidates.sort((a, b) => a.start - b.start || b.end - a.end);
  const kept: Candidate[] = [];
  let run: Candidate[] = [];
  let runEnd = -1;
  const flush = () => {
    const chosen: Candidate[] = [];
    for (const c of run.sort((a, b) => b.rank - a.rank || b.end - b.start - (a.end - a.start))) {
      if (chosen.every((k) => c.end <= k.start || c.start >= k.end)) chosen.push(c);
    }
    kept.push(...chosen.sort((a, b) => a.start - b.start));
    run = [];
  };
  for (const c of candidates) {
    if (c.start >= runEnd && run.length > 0) flush();
    run.push(c);
    runEnd = Math.max(runEnd, c.end);
  }
  if (run.length > 0) flush();
  return kept;
}

/** `text` with every finding in it replaced by `[redacted]` (overlapping findings merge). */
export function redact(text: string, findings: readonly PhiFinding[]): string {
  let out = "";
  let at = 0;
  for (const f of [...findings].sort((a, b) => a.start - b.start)) {
    if (f.start < at) {
      at = Math.max(at, f.end);
      continue;
    }
    out += `${text.slice(at, f.start)}[redacted]`;
    at = f.end;
  }
  return out + text.slice(at);
}

export function summarize(findings: readonly PhiFinding[]): PhiSummary | null {
  if (findings.length === 0) return null;
  const categories: Record<string, number> = {};
  let subject = 0;
  for (const f of findings) {
    categories[f.category] = (categories[f.category] ?? 0) + 1;
    if (f.field === "subject") subject++;
  }
  return { subject, body: findings.length - subject, categories };
}
