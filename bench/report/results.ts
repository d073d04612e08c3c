/** The results of one run, as written to bench/results/<timestamp>.json. */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { BenchConfig } from "../lib/config.ts";
import type { Machine } from "../lib/machine.ts";
import type { E2eResult } from "../scenarios/context.ts";
import type { LatencyResult } from "../scenarios/latency.ts";
import type { MemoryResult } from "../scenarios/memory.ts";
import type { ProfileResult } from "../scenarios/profile.ts";

export const RESULTS_DIR = fileURLToPath(new URL("../results/", import.meta.url));

export interface BacklogComparison {
  store: string;
  rows: number;
  seedSeconds: number;
  deliveredPerSecond: number;
  /** The same run on an empty queue (the rest-<store> run of this bench). */
  emptyDeliveredPerSecond: number | null;
  acceptedPerSecond: number;
  emptyAcceptedPerSecond: number | null;
  /** backlog / empty delivered/s (1.0 = no cost). */
  ratio: number | null;
  cpuMsPerMessage: number;
  emptyCpuMsPerMessage: number | null;
  /** empty / backlog CPU per message (1.0 = no cost, 0.9 = 10 % more CPU per message). */
  cpuRatio: number | null;
}

export interface BenchResults {
  format: 1;
  mode: "quick" | "full";
  startedAt: string;
  finishedAt: string;
  durationSeconds: number;
  command: string;
  config: Omit<BenchConfig, "postgresUrl">;
  machine: Machine;
  e2e: E2eResult[];
  postfix: { command: string; settings: Array<[string, string]> } | null;
  /** sealpost delivered/s divided by Postfix delivered/s, per sealpost run. */
  ratiosToPostfix: Record<string, number>;
  latency: LatencyResult | null;
  backlog: BacklogComparison[];
  memory: MemoryResult | null;
  profile: ProfileResult | null;
  errors: { scenario: string; message: string }[];
}

/**
 * Writes the results as `<timestamp>[-quick].json` and removes older files of the same mode,
 * so the directory holds the latest full run and the latest quick run.
 */
export function writeResults(results: BenchResults): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const stamp = results.startedAt.replace(/[:.]/g, "-").replace(/-\d{3}Z$/, "Z");
  const suffix = results.mode === "quick" ? "-quick" : "";
  const name = `${stamp}${suffix}.json`;
  for (const old of readdirSync(RESULTS_DIR)) {
    const isQuick = old.endsWith("-quick.json");
    if (old.endsWith(".json") && old !== name && isQuick === (results.mode === "quick"))
      rmSync(join(RESULTS_DIR, old));
  }
  const path = join(RESULTS_DIR, name);
  writeFileSync(path, `${JSON.stringify(results, null, 2)}\n`);
  return path;
}
