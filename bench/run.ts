/**
 * `npm run bench`: every figure of PRODUCT.md "Performance targets" in one bounded run on
 * this machine, side by side with Postfix. Writes bench/results/<timestamp>.json and
 * docs/benchmarks.md. See docs/benchmarks.md for what is measured and how.
 */

import { runCleanups } from "./lib/cleanup.ts";
import { loadBenchConfig, type ScenarioName } from "./lib/config.ts";
import { describeMachine } from "./lib/machine.ts";
import { postgresVersion } from "./lib/pg.ts";
import { preflight } from "./lib/preflight.ts";
import { writeMarkdown } from "./report/markdown.ts";
import { type BacklogComparison, type BenchResults, writeResults } from "./report/results.ts";
import type { BenchContext, E2eResult } from "./scenarios/context.ts";
import { runSealpostE2e } from "./scenarios/e2e.ts";
import { runLatency } from "./scenarios/latency.ts";
import { runMemory } from "./scenarios/memory.ts";
import { runPostfixAnchor } from "./scenarios/postfix.ts";
import { runProfile } from "./scenarios/profile.ts";
import { startSink } from "./sink/client.ts";

const config = loadBenchConfig();
const started = new Date();
const runDeadline = started.getTime() + config.maxMinutes * 60_000;
const log = (line: string): void => {
  const t = ((Date.now() - started.getTime()) / 1000).toFixed(0).padStart(4);
  console.log(`[${t}s] ${line}`);
};

// The whole run is bounded: past the deadline (plus time to clean up) everything is stopped.
const hardStop = setTimeout(
  () => {
    console.error(`bench: ${config.maxMinutes} min exceeded; stopping`);
    void runCleanups(10_000).finally(() => process.exit(3));
  },
  config.maxMinutes * 60_000 + 60_000,
);
hardStop.unref();
for (const signal of ["SIGINT", "SIGTERM"] as const)
  process.once(signal, () => {
    console.error(`bench: ${signal}; cleaning up`);
    void runCleanups(10_000).finally(() => process.exit(130));
  });

const problems = preflight(config);
const pgVersion = await postgresVersion(config.postgresUrl);
const skipped: { scenario: string; message: string }[] = [];
if (pgVersion === null) {
  for (const s of config.scenarios.filter((name) => name.endsWith("postgres")))
    skipped.push({
      scenario: s,
      message: `skipped: PostgreSQL does not answer at ${new URL(config.postgresUrl).host}`,
    });
  config.scenarios = config.scenarios.filter((name) => !name.endsWith("postgres"));
}
if (problems.length > 0) {
  console.error(
    `bench: cannot run:\n${problems.map((p) => `  - ${p}`).join("\n")}\nrun: bash bench/setup.sh`,
  );
  process.exit(2);
}
const machine = describeMachine(pgVersion);
log(
  `sealpost bench (${config.quick ? "quick" : "full"}): N=${config.messages}, scenarios ${config.scenarios.join(", ")}; ${machine.cores} × ${machine.cpuModel}`,
);

// The admin URL may carry a password: it stays out of the results.
const { postgresUrl: _adminUrl, ...publicConfig } = config;
const sink = await startSink();
const ctx: BenchContext = { config, sink, runDeadline, log };
const results: BenchResults = {
  format: 1,
  mode: config.quick ? "quick" : "full",
  startedAt: started.toISOString(),
  finishedAt: "",
  durationSeconds: 0,
  command: [
    ...Object.entries(process.env)
      .filter(([k]) => k.startsWith("BENCH_") && k !== "BENCH_DATABASE_URL")
      .map(([k, v]) => `${k}=${v}`),
    ...Object.entries(config.sealpostEnv).map(([k, v]) => `${k}=${v}`),
    "npm run bench",
    ...(process.argv.length > 2 ? ["--", ...process.argv.slice(2)] : []),
  ].join(" "),
  config: publicConfig,
  machine,
  e2e: [],
  postfix: null,
  ratiosToPostfix: {},
  latency: null,
  backlog: [],
  memory: null,
  profile: null,
  errors: [...skipped],
};

async function step(name: ScenarioName, fn: () => Promise<void>): Promise<void> {
  if (!config.scenarios.includes(name)) return;
  if (Date.now() > runDeadline - 60_000) {
    results.errors.push({ scenario: name, message: "skipped: the run's time budget is used up" });
    return;
  }
  log(`${name}…`);
  try {
    await fn();
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    log(`${name} failed: ${message}`);
    results.errors.push({ scenario: name, message: message.slice(0, 2000) });
  }
}

function reportE2e(r: E2eResult): void {
  results.e2e.push(r);
  log(
    `  ${r.name}: accepted ${r.acceptedPerSecond}/s, delivered ${r.deliveredPerSecond}/s (${r.delivered}/${r.messages} in ${r.deliverSeconds} s), peak RSS ${r.peakRssMb ?? "–"} MB`,
  );
}

const e2e = (name: ScenarioName, store: "sqlite" | "postgres", entry: "rest" | "smtp") =>
  step(name, async () =>
    reportE2e(await runSealpostE2e(ctx, { name, store, entry, messages: config.messages })),
  );

const backlog = (name: ScenarioName, store: "sqlite" | "postgres") =>
  step(name, async () => {
    const r = await runSealpostE2e(ctx, {
      name,
      store,
      entry: "rest",
      messages: config.messages,
      backlog: config.backlogRows,
    });
    reportE2e(r);
    const empty = results.e2e.find((e) => e.name === `rest-${store}`);
    const comparison: BacklogComparison = {
      store,
      rows: r.backlogRows ?? 0,
      seedSeconds: r.backlogSeedSeconds ?? 0,
      deliveredPerSecond: r.deliveredPerSecond,
      emptyDeliveredPerSecond: empty?.deliveredPerSecond ?? null,
      acceptedPerSecond: r.acceptedPerSecond,
      emptyAcceptedPerSecond: empty?.acceptedPerSecond ?? null,
      ratio:
        empty === undefined || empty.deliveredPerSecond === 0
          ? null
          : Math.round((r.deliveredPerSecond / empty.deliveredPerSecond) * 1000) / 1000,
      cpuMsPerMessage: r.cpuMsPerMessage,
      emptyCpuMsPerMessage: empty?.cpuMsPerMessage ?? null,
      cpuRatio:
        empty === undefined || r.cpuMsPerMessage === 0
          ? null
          : Math.round((empty.cpuMsPerMessage / r.cpuMsPerMessage) * 1000) / 1000,
    };
    results.backlog.push(comparison);
    log(
      `  backlog ratio (${store}): throughput ${comparison.ratio ?? "n/a (no empty-queue run)"}, CPU per message ${comparison.cpuRatio ?? "n/a"}`,
    );
  });

try {
  // Most important first: when the time budget runs out, the last ones are skipped.
  await e2e("rest-sqlite", "sqlite", "rest");
  await step("postfix", async () => {
    const run = await runPostfixAnchor(ctx, config.messages);
    results.postfix = { command: run.command, settings: run.settings };
    reportE2e(run.result);
  });
  await step("latency", async () => {
    results.latency = await runLatency(ctx, "sqlite");
  });
  await backlog("backlog-sqlite", "sqlite");
  await step("memory", async () => {
    results.memory = await runMemory(ctx);
    log(
      `  25 MB × ${results.memory.recipients}: peak RSS ${results.memory.peakRssMb} MB (idle ${results.memory.idleRssMb} MB), delivered ${results.memory.delivered}/${results.memory.recipients}`,
    );
  });
  await e2e("rest-postgres", "postgres", "rest");
  await backlog("backlog-postgres", "postgres");
  await e2e("smtp-sqlite", "sqlite", "smtp");
  await e2e("smtp-postgres", "postgres", "smtp");
  await step("profile", async () => {
    results.profile = await runProfile(ctx);
    log(`  profile: ${results.profile.summary === null ? "not written" : results.profile.dir}`);
  });
} finally {
  await sink.stop();
  await runCleanups();
}

const postfixRun = results.e2e.find((e) => e.system === "postfix");
if (postfixRun !== undefined && postfixRun.deliveredPerSecond > 0)
  for (const e of results.e2e)
    if (e !== postfixRun)
      results.ratiosToPostfix[e.name] =
        Math.round((e.deliveredPerSecond / postfixRun.deliveredPerSecond) * 100) / 100;
const finished = new Date();
results.finishedAt = finished.toISOString();
results.durationSeconds = Math.round((finished.getTime() - started.getTime()) / 1000);
const path = writeResults(results);
writeMarkdown(results, path);
log(`wrote ${path} and docs/benchmarks.md`);
if (Object.keys(results.ratiosToPostfix).length > 0)
  log(`sealpost / Postfix delivered/s: ${JSON.stringify(results.ratiosToPostfix)}`);
if (results.errors.length > 0) {
  log(`${results.errors.length} scenario(s) failed or were skipped`);
  process.exitCode = 1;
}
clearTimeout(hardStop);
