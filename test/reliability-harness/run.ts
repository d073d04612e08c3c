/**
 * `npm run test:reliability`: the long reliability harness, separate from `npm test` (its
 * files end in `.harness.ts`, so the `test/**\/*.test.ts` glob never picks them up).
 *
 *   npm run test:reliability                       # every part, one after the other
 *   npm run test:reliability -- crash fuzz-api     # only files whose name contains these
 *   SEALPOST_RELIABILITY_SEED=123 npm run test:reliability   # replay a run
 *
 * One seed per run (printed first; random unless SEALPOST_RELIABILITY_SEED is set) drives the
 * kill schedules, fault choices and fuzz inputs of every part. PostgreSQL comes from
 * SEALPOST_TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres); under CI
 * or SEALPOST_REQUIRE_TOOLS=1 a missing PostgreSQL fails the parts that need it.
 *
 * Prints each part's `reliability-summary` line again at the end, then `N passed, N failed`.
 * The whole run is stopped after SEALPOST_RELIABILITY_DEADLINE_MINUTES (default 25).
 */
import { spawn } from "node:child_process";
import { randomInt } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = dirname(dirname(HERE));

function tapCount(report: string, name: string): number {
  const matches = [...report.matchAll(new RegExp(`^# ${name} (\\d+)$`, "gm"))];
  const last = matches.at(-1);
  return last?.[1] === undefined ? 0 : Number(last[1]);
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const options = args.filter((a) => a.startsWith("-"));
  const filters = args.filter((a) => !a.startsWith("-"));
  const files = readdirSync(HERE)
    .filter((f) => f.endsWith(".harness.ts"))
    .filter((f) => filters.length === 0 || filters.some((p) => f.includes(p)))
    .sort();
  if (files.length === 0) {
    console.error(`no harness file matches ${filters.join(", ")}`);
    return 2;
  }

  const raw = process.env.SEALPOST_RELIABILITY_SEED;
  const seed = raw !== undefined && raw !== "" ? raw : String(randomInt(0, 0x7fffffff));
  const isCI = process.env.CI === "true" || process.env.CI === "1";
  const deadlineMin = Number(process.env.SEALPOST_RELIABILITY_DEADLINE_MINUTES ?? 25);
  console.log(`reliability harness: seed ${seed}; replay with SEALPOST_RELIABILITY_SEED=${seed}`);
  console.log(`parts: ${files.join(", ")}`);

  const work = mkdtempSync(join(tmpdir(), "sealpost-reliability-run-"));
  const tapFile = join(work, "report.tap");
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    SEALPOST_RELIABILITY_SEED: seed,
    SEALPOST_TEST_DATABASE_URL:
      process.env.SEALPOST_TEST_DATABASE_URL || "postgres://postgres@127.0.0.1:5432/postgres",
    ...(isCI && process.env.SEALPOST_REQUIRE_TOOLS === undefined ? { SEALPOST_REQUIRE_TOOLS: "1" } : {}),
  };
  const started = Date.now();
  const child = spawn(
    process.execPath,
    [
      "--test",
      "--test-concurrency=1",
      "--test-reporter=spec",
      "--test-reporter-destination=stdout",
      "--test-reporter=tap",
      `--test-reporter-destination=${tapFile}`,
      ...options,
      ...files.map((f) => relative(ROOT, join(HERE, f))),
    ],
    { cwd: ROOT, env, stdio: ["ignore", "pipe", "inherit"], detached: true },
  );
  // The children run in their own process group: stop the whole group with this runner.
  const stopGroup = (): void => {
    if (child.pid !== undefined && child.exitCode === null) process.kill(-child.pid, "SIGKILL");
  };
  process.once("SIGINT", stopGroup);
  process.once("SIGTERM", stopGroup);
  const summaries: string[] = [];
  let pending = "";
  child.stdout.on("data", (chunk: Buffer) => {
    process.stdout.write(chunk);
    pending += chunk.toString("utf8");
    const lines = pending.split("\n");
    pending = lines.pop() ?? "";
    for (const line of lines) {
      const at = line.indexOf("# reliability-summary ");
      if (at >= 0) summaries.push(line.slice(at + "# reliability-summary ".length));
    }
  });
  let timedOut = false;
  const deadline = setTimeout(() => {
    timedOut = true;
    console.error(`\nreliability harness: still running after ${deadlineMin} minutes; stopping it`);
    stopGroup();
  }, deadlineMin * 60_000);
  const code = await new Promise<number>((resolve) => {
    child.on("close", (c, signal) => resolve(c ?? (signal === null ? 1 : 128)));
  });
  clearTimeout(deadline);
  const report = existsSync(tapFile) ? readFileSync(tapFile, "utf8") : "";
  rmSync(work, { recursive: true, force: true });

  const passed = tapCount(report, "pass");
  let failed = tapCount(report, "fail") + tapCount(report, "cancelled");
  if ((code !== 0 || timedOut) && failed === 0) failed = 1;
  console.log(
    `\n${"=".repeat(78)}\n  reliability summary (seed ${seed}, ${((Date.now() - started) / 60_000).toFixed(1)} min)`,
  );
  for (const s of summaries) console.log(`  ${s}`);
  const todo = tapCount(report, "todo");
  if (todo > 0) console.log(`  ${todo} known issue(s) reported as TODO (see the ⚠ lines above)`);
  const skipped = tapCount(report, "skipped");
  if (skipped > 0) console.log(`  ${skipped} skipped`);
  console.log(`${"=".repeat(78)}`);
  console.log(`${passed} passed, ${failed} failed`);
  return code !== 0 || timedOut ? 1 : 0;
}

process.exitCode = await main();
