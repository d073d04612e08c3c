/**
 * A profiled end-to-end run (REST, SQLite): the sealpost process runs with `--cpu-prof` and
 * the profile it writes at exit is summarised (self time by function and by area). The
 * throughput of this run is not reported with the others (the profiler costs a little).
 */
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { summariseThreads, type ThreadProfiles } from "../lib/profile.ts";
import { profileFiles } from "../lib/sealpost.ts";
import type { BenchContext, E2eResult } from "./context.ts";
import { runSealpostE2e } from "./e2e.ts";

export interface ProfileResult {
  run: E2eResult;
  /** Where the .cpuprofile files were left (open them in Chrome DevTools or speedscope). */
  dir: string;
  summary: ThreadProfiles | null;
}

const PREFIX = "sealpost-bench-profile-";

export async function runProfile(ctx: BenchContext): Promise<ProfileResult> {
  // Only the latest profile is kept.
  for (const old of readdirSync(tmpdir()).filter((d) => d.startsWith(PREFIX)))
    rmSync(join(tmpdir(), old), { recursive: true, force: true });
  const dir = mkdtempSync(join(tmpdir(), PREFIX));
  const run = await runSealpostE2e(ctx, {
    name: "profile-rest-sqlite",
    store: "sqlite",
    entry: "rest",
    messages: ctx.config.profileMessages,
    nodeArgs: ["--cpu-prof", "--cpu-prof-dir", dir],
  });
  const files = profileFiles(dir);
  return { run, dir, summary: files.length === 0 ? null : summariseThreads(files) };
}
