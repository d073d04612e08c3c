/**
 * Regenerates docs/benchmarks.md from a results file without running anything:
 *   node bench/render.ts [bench/results/<file>.json]     (default: the newest full run, else quick)
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { writeMarkdown } from "./report/markdown.ts";
import { type BenchResults, RESULTS_DIR } from "./report/results.ts";

function newest(): string {
  const files = readdirSync(RESULTS_DIR).filter((f) => f.endsWith(".json"));
  const full = files.filter((f) => !f.endsWith("-quick.json")).sort();
  const pick = full.at(-1) ?? files.sort().at(-1);
  if (pick === undefined) throw new Error("no results in bench/results: run npm run bench first");
  return join(RESULTS_DIR, pick);
}

const path = process.argv[2] === undefined ? newest() : resolve(process.argv[2]);
const results = JSON.parse(readFileSync(path, "utf8")) as BenchResults;
writeMarkdown(results, path);
console.log(`docs/benchmarks.md rendered from ${path}`);
