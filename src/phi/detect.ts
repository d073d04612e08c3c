import type { PhiFinding, PhiInput, PhiSummary } from "./types.ts";

/**
 * Finds PHI in the given texts (ADR 0010 §2). `marked`: values of template data fields
 * marked as PHI, found wherever they appear (category `marked`).
 *
 * Contract stub (ADR 0010 step 0): package A replaces the body.
 */
export function detectPhi(_inputs: readonly PhiInput[], _marked: readonly string[] = []): PhiFinding[] {
  return [];
}

/** `text` with every finding in it replaced by `[redacted]`. */
export function redact(text: string, findings: readonly PhiFinding[]): string {
  let out = "";
  let at = 0;
  for (const f of [...findings].sort((a, b) => a.start - b.start)) {
    if (f.start < at) continue;
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
