/**
 * `npm test`: typecheck, lint, then the whole test suite once per store (SQLite, then
 * PostgreSQL), stopping at the first failure. Node built-ins only.
 *
 *   npm test                                  # everything
 *   npm test -- test/postfix.test.ts          # only these files (both stores)
 *   npm test -- --test-name-pattern=Postfix   # extra `node --test` options (use --opt=value)
 *   SEALPOST_TEST_STORES=sqlite npm test      # one store only
 *
 * Environment:
 *   SEALPOST_TEST_DATABASE_URL  PostgreSQL for the postgres run (default
 *                               postgres://postgres@127.0.0.1:5432/postgres when it answers)
 *   SEALPOST_REQUIRE_TOOLS=1    a missing tool or database fails instead of skipping
 *                               (implied by CI=true)
 *   SEALPOST_TEST_STORES        comma list of stores to run: sqlite,postgres
 *
 * Tests that skip for a missing tool append to SEALPOST_SKIP_LOG (see test/helpers/tools.ts);
 * they are listed at the end. The last line is `N passed, N failed`.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

type Store = "sqlite" | "postgres";

interface RunResult {
  code: number;
  passed: number;
  failed: number;
  skipped: number;
}

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/postgres";
const ALL_STORES: Store[] = ["sqlite", "postgres"];

const isCI = process.env.CI === "true" || process.env.CI === "1";
const requireTools =
  process.env.SEALPOST_REQUIRE_TOOLS === "1" || (isCI && process.env.SEALPOST_REQUIRE_TOOLS !== "0");

const totals = { passed: 0, failed: 0, skipped: 0 };
const notes: string[] = [];
const workDir = mkdtempSync(join(tmpdir(), "sealpost-test-run-"));
const skipLog = join(workDir, "skipped-tools.log");
process.on("exit", () => rmSync(workDir, { recursive: true, force: true }));
const skippedTools: string[] = [];

function banner(lines: string[]): void {
  const bar = "=".repeat(78);
  console.log(`\n${bar}\n${lines.map((l) => `  ${l}`).join("\n")}\n${bar}\n`);
}

function bin(name: string): string {
  const local = join(ROOT, "node_modules", ".bin", name);
  return existsSync(local) ? local : name;
}

/** Runs a command with inherited stdio; resolves with its exit code. */
function exec(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: ROOT, env, stdio: "inherit" });
    child.on("error", (err) => {
      console.error(`cannot run ${command}: ${err.message}`);
      resolve(127);
    });
    child.on("close", (code, signal) => resolve(code ?? (signal === null ? 1 : 128)));
  });
}

function finish(exitCode: number): never {
  if (skippedTools.length > 0) {
    banner([
      `SKIPPED: ${skippedTools.length} test(s) for missing tools. Install them with`,
      "scripts/install-test-tools.sh (CI fails instead of skipping).",
    ]);
    for (const line of skippedTools) console.log(`  - ${line}`);
    console.log("");
  }
  for (const note of notes) console.log(note);
  if (totals.skipped > 0) console.log(`${totals.skipped} skipped`);
  console.log(`${totals.passed} passed, ${totals.failed} failed`);
  process.exit(exitCode);
}

async function step(title: string, command: string, args: string[]): Promise<void> {
  console.log(`\n> ${title}`);
  const code = await exec(command, args);
  if (code !== 0) {
    totals.failed += 1;
    notes.push(`FAILED: ${title} (exit ${code})`);
    finish(1);
  }
}

/** Last `# name N` value in a TAP report (the summary comes last). */
function tapCount(report: string, name: string): number {
  const matches = [...report.matchAll(new RegExp(`^# ${name} (\\d+)$`, "gm"))];
  const last = matches.at(-1);
  return last?.[1] === undefined ? 0 : Number(last[1]);
}

async function runTests(
  store: Store,
  extraEnv: Record<string, string>,
  passThrough: string[],
): Promise<RunResult> {
  const options = passThrough.filter((a) => a.startsWith("-"));
  const files = passThrough.filter((a) => !a.startsWith("-"));
  const tapFile = join(workDir, `${store}.tap`);
  const args = [
    "--test",
    "--test-concurrency=2",
    "--test-reporter=spec",
    "--test-reporter-destination=stdout",
    "--test-reporter=tap",
    `--test-reporter-destination=${tapFile}`,
    ...options,
    ...(files.length > 0 ? files : ["test/**/*.test.ts"]),
  ];
  writeFileSync(skipLog, "");
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...extraEnv,
    SEALPOST_TEST_STORE: store,
    SEALPOST_SKIP_LOG: skipLog,
    ...(requireTools ? { SEALPOST_REQUIRE_TOOLS: "1" } : {}),
  };
  console.log(`\n> node --test (store: ${store})`);
  const code = await exec(process.execPath, args, env);
  const report = existsSync(tapFile) ? readFileSync(tapFile, "utf8") : "";
  for (const line of readFileSync(skipLog, "utf8").split("\n")) {
    if (line.trim() !== "") skippedTools.push(`[${store}] ${line}`);
  }
  const failed = tapCount(report, "fail") + tapCount(report, "cancelled");
  return {
    code,
    passed: tapCount(report, "pass"),
    // A crash that reported no failing test still counts as one failure.
    failed: code !== 0 && failed === 0 ? 1 : failed,
    skipped: tapCount(report, "skipped"),
  };
}

/** True when a TCP connection to host:port opens within timeoutMs. */
function reachable(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

async function postgresEnv(): Promise<Record<string, string> | string> {
  const url = process.env.SEALPOST_TEST_DATABASE_URL || DEFAULT_DATABASE_URL;
  let host = "127.0.0.1";
  let port = 5432;
  try {
    const parsed = new URL(url);
    if (parsed.hostname !== "") host = parsed.hostname.replace(/^\[(.*)\]$/, "$1");
    if (parsed.port !== "") port = Number(parsed.port);
  } catch {
    return "SEALPOST_TEST_DATABASE_URL is not a valid URL";
  }
  if (!(await reachable(host, port, 2000))) return `PostgreSQL at ${host}:${port} does not answer`;
  return { SEALPOST_TEST_DATABASE_URL: url };
}

function selectedStores(): Store[] {
  const raw = process.env.SEALPOST_TEST_STORES;
  if (raw === undefined || raw.trim() === "") return ALL_STORES;
  const wanted = raw.split(",").map((s) => s.trim().toLowerCase());
  const unknown = wanted.filter((s) => !ALL_STORES.includes(s as Store));
  if (unknown.length > 0) {
    console.error(
      `SEALPOST_TEST_STORES: unknown store(s) ${unknown.join(", ")}; use ${ALL_STORES.join(",")}`,
    );
    process.exit(2);
  }
  return ALL_STORES.filter((s) => wanted.includes(s));
}

async function main(): Promise<void> {
  const passThrough = process.argv.slice(2);
  const stores = selectedStores();

  await step("typecheck: tsc --noEmit -p .", bin("tsc"), ["--noEmit", "-p", "."]);
  await step("lint: biome check .", bin("biome"), ["check", "."]);

  // Probed once, so the sqlite run can also reach PostgreSQL-only tests (requireTool "postgres").
  const pg = await postgresEnv();
  const pgEnv = typeof pg === "string" ? {} : pg;

  for (const store of stores) {
    if (store === "postgres" && typeof pg === "string") {
      if (requireTools) {
        totals.failed += 1;
        notes.push(`FAILED: PostgreSQL test run: ${pg} (CI / SEALPOST_REQUIRE_TOOLS=1 forbids skipping)`);
        finish(1);
      }
      const skipped = [
        "SKIPPED: the PostgreSQL test run did not happen.",
        `${pg}. Start PostgreSQL or set SEALPOST_TEST_DATABASE_URL.`,
      ];
      banner(skipped);
      notes.push(skipped.join(" "));
      continue;
    }
    const result = await runTests(store, pgEnv, passThrough);
    totals.passed += result.passed;
    totals.failed += result.failed;
    totals.skipped += result.skipped;
    if (result.code !== 0) {
      notes.push(`FAILED: test run with SEALPOST_TEST_STORE=${store} (exit ${result.code})`);
      finish(1);
    }
  }
  finish(totals.failed > 0 ? 1 : 0);
}

await main();
