/**
 * Measures the PHI detector on the synthetic labelled corpus (ADR 0010 §2,
 * test/fixtures/phi-corpus.jsonl) and asserts the floors documented in docs/phi-detection.md.
 * A finding matches a labelled span of the same category when they overlap; precision is
 * matched findings / findings, recall is matched spans / spans, overall and per category.
 *
 * `node test/phi/corpus.test.ts` prints the table (numbers only; PHI_CORPUS_VERBOSE=1 also
 * lists misses and false alarms, which are synthetic text).
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { detectPhi } from "../../src/phi/detect.ts";
import { PHI_CATEGORIES, type PhiCategory } from "../../src/phi/types.ts";

/** The documented floors (docs/phi-detection.md). */
const FLOOR = { precision: 0.95, recall: 0.9 };
const CATEGORY_FLOOR = { precision: 0.85, recall: 0.8 };

interface Line {
  text: string;
  spans: { category: PhiCategory; text: string }[];
  marked?: string[];
}
interface Tally {
  found: number;
  foundMatched: number;
  labelled: number;
  labelledMatched: number;
}

function load(): Line[] {
  const raw = readFileSync(new URL("../fixtures/phi-corpus.jsonl", import.meta.url), "utf8");
  return raw
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as Line);
}

/** Labelled spans located in the text: each at its first occurrence not taken by an earlier span. */
function locate(line: Line): { category: PhiCategory; start: number; end: number }[] {
  const taken = new Set<number>();
  return line.spans.map((s) => {
    let at = line.text.indexOf(s.text);
    while (at !== -1 && taken.has(at)) at = line.text.indexOf(s.text, at + 1);
    if (at === -1) throw new Error(`span not in its line: ${s.category}`);
    taken.add(at);
    return { category: s.category, start: at, end: at + s.text.length };
  });
}

export function evaluate(lines: readonly Line[], verbose = false) {
  const tally = new Map<PhiCategory, Tally>(
    PHI_CATEGORIES.map((c) => [c, { found: 0, foundMatched: 0, labelled: 0, labelledMatched: 0 }]),
  );
  const overlaps = (a: { start: number; end: number }, b: { start: number; end: number }) =>
    a.start < b.end && b.start < a.end;
  for (const line of lines) {
    const labels = locate(line);
    const found = detectPhi([{ field: "text", text: line.text }], line.marked ?? []);
    for (const f of found) {
      const t = tally.get(f.category);
      if (!t) continue;
      t.found++;
      if (labels.some((l) => l.category === f.category && overlaps(l, f))) t.foundMatched++;
      else if (verbose)
        console.log(`false alarm ${f.category}: ${line.text.slice(f.start, f.end)} | ${line.text}`);
    }
    for (const l of labels) {
      const t = tally.get(l.category);
      if (!t) continue;
      t.labelled++;
      if (found.some((f) => f.category === l.category && overlaps(l, f))) t.labelledMatched++;
      else if (verbose)
        console.log(`missed ${l.category}: ${line.text.slice(l.start, l.end)} | ${line.text}`);
    }
  }
  const sum = (k: keyof Tally) => [...tally.values()].reduce((n, t) => n + t[k], 0);
  const overall: Tally = {
    found: sum("found"),
    foundMatched: sum("foundMatched"),
    labelled: sum("labelled"),
    labelledMatched: sum("labelledMatched"),
  };
  return { tally, overall };
}

const ratio = (a: number, b: number) => (b === 0 ? 1 : a / b);

export function table(lines: readonly Line[], verbose = false): string {
  const { tally, overall } = evaluate(lines, verbose);
  const row = (name: string, t: Tally) =>
    `| ${name.padEnd(8)} | ${String(t.labelled).padStart(5)} | ${String(t.found).padStart(5)} | ` +
    `${ratio(t.foundMatched, t.found).toFixed(3)} | ${ratio(t.labelledMatched, t.labelled).toFixed(3)} |`;
  return [
    `corpus: ${lines.length} lines`,
    "| category | spans | found | precision | recall |",
    "|---|---:|---:|---:|---:|",
    ...[...tally].map(([c, t]) => row(c, t)),
    row("overall", overall),
  ].join("\n");
}

test("the detector reaches the documented precision and recall on the corpus", () => {
  const lines = load();
  assert.ok(lines.length >= 400, "corpus has at least 400 lines");
  console.log(table(lines, process.env.PHI_CORPUS_VERBOSE === "1"));
  const { tally, overall } = evaluate(lines);
  assert.ok(ratio(overall.foundMatched, overall.found) >= FLOOR.precision, "overall precision");
  assert.ok(ratio(overall.labelledMatched, overall.labelled) >= FLOOR.recall, "overall recall");
  for (const [category, t] of tally) {
    assert.ok(t.labelled > 0, `${category} is in the corpus`);
    assert.ok(ratio(t.foundMatched, t.found) >= CATEGORY_FLOOR.precision, `${category} precision`);
    assert.ok(ratio(t.labelledMatched, t.labelled) >= CATEGORY_FLOOR.recall, `${category} recall`);
  }
});

test("the corpus is well formed: every span is in its line, categories are known", () => {
  for (const line of load()) {
    for (const s of line.spans) assert.ok(PHI_CATEGORIES.includes(s.category));
    assert.doesNotThrow(() => locate(line));
  }
});
