/** The generated sections of docs/benchmarks.md, one function per table. */
import type { ProfileSummary } from "../lib/profile.ts";
import type { E2eResult } from "../scenarios/context.ts";
import { n, pct, table } from "./format.ts";
import type { BenchResults } from "./results.ts";

export function e2eRows(results: BenchResults): Array<Array<string | number>> {
  const postfix = results.e2e.find((e) => e.system === "postfix");
  return results.e2e.map((e) => [
    e.name,
    e.entry,
    e.store,
    n(e.messages),
    n(e.accepted),
    n(e.delivered),
    n(e.acceptedPerSecond),
    `**${n(e.deliveredPerSecond)}**`,
    e.deliverSeconds.toFixed(1),
    n(e.firstDeliveryMs),
    e.peakRssMb === null ? "–" : n(e.peakRssMb),
    postfix === undefined || postfix.deliveredPerSecond === 0 || e === postfix
      ? "–"
      : `${(e.deliveredPerSecond / postfix.deliveredPerSecond).toFixed(2)}×`,
    e.cpuMsPerMessage.toFixed(2),
    postfix === undefined || postfix.cpuMsPerMessage === 0 || e === postfix
      ? "–"
      : `${(e.cpuMsPerMessage / postfix.cpuMsPerMessage).toFixed(2)}×`,
    `${e.sink.dkimRsa}/${e.sink.dkimEd25519}`,
    `${e.sink.tls}/${e.sink.plaintext}`,
    e.complete ? "yes" : `**no**${e.notes.length > 0 ? ` (${e.notes.join("; ")})` : ""}`,
  ]);
}

const CPU_ORDER = [
  "sealpost",
  "postfix",
  "postgres backends",
  "receiving server",
  "bench driver",
  "bench tools (smtp-source)",
  "other (rest of machine)",
  "machine busy (all)",
];

export function cpuTable(runs: E2eResult[]): string {
  const seen = new Set(runs.flatMap((r) => Object.keys(r.cpu.parts)));
  const names = [...CPU_ORDER.filter((k) => seen.has(k)), ...[...seen].filter((k) => !CPU_ORDER.includes(k))];
  return table(
    ["run", "wall s", ...names],
    runs.map((r) => [
      r.name,
      r.cpu.wallSeconds.toFixed(1),
      ...names.map((k) => {
        const p = r.cpu.parts[k];
        return p === undefined ? "–" : `${pct(p.percentOfMachine)} (${p.seconds.toFixed(1)} s)`;
      }),
    ]),
  );
}

export function processTable(runs: E2eResult[]): string {
  const own = runs.filter((r) => r.eventLoopDelayMs !== null || r.peakRssMb !== null);
  return table(
    ["run", "event-loop delay p50 / p99 / max ms", "GC s", "peak RSS MB"],
    own.map((r) => [
      r.name,
      r.eventLoopDelayMs === null
        ? "–"
        : `${r.eventLoopDelayMs.p50} / ${r.eventLoopDelayMs.p99} / ${r.eventLoopDelayMs.max}`,
      r.gcSeconds ?? "–",
      r.peakRssMb === null ? "–" : n(r.peakRssMb),
    ]),
  );
}

export function targets(r: BenchResults): string {
  const rest = r.e2e.find((e) => e.name === "rest-sqlite");
  const postfix = r.e2e.find((e) => e.system === "postfix");
  const at500 = r.latency?.levels.find((l) => l.rate === 500);
  const backlog = r.backlog.find((b) => b.store === "sqlite");
  const rows: Array<Array<string | number>> = [];
  if (rest !== undefined)
    rows.push([
      "End to end ≥ 1,000 msg/s on 2 cores (REST, SQLite)",
      `${n(rest.deliveredPerSecond)} msg/s delivered`,
      rest.deliveredPerSecond >= 1000 ? "met" : "**not met**",
    ]);
  if (rest !== undefined && postfix !== undefined && postfix.deliveredPerSecond > 0) {
    const ratio = rest.deliveredPerSecond / postfix.deliveredPerSecond;
    rows.push([
      "Ahead of Postfix (mandatory TLS), same run",
      `${ratio.toFixed(2)}× Postfix`,
      ratio > 1 ? "met" : "**not met**",
    ]);
  }
  if (at500 !== undefined)
    rows.push([
      "API accept p99 < 50 ms at 500 msg/s",
      `p99 ${at500.latencyMs.p99} ms (${at500.errors} errors)`,
      at500.latencyMs.p99 < 50 && at500.errors === 0 ? "met" : "**not met**",
    ]);
  if (backlog?.ratio !== null && backlog !== undefined)
    rows.push([
      `Backlog of ${n(backlog.rows)} queued deliveries costs ≤ 10 % (SQLite)`,
      `throughput ${(backlog.ratio ?? 0).toFixed(3)}× the empty queue's; CPU per message ${(backlog.cpuRatio ?? 0).toFixed(3)}× (empty ÷ backlog)`,
      (backlog.ratio ?? 0) >= 0.9 ? "met" : "**not met**",
    ]);
  if (r.memory !== null)
    rows.push([
      "Memory bounded (25 MB attachment streamed, not copied per recipient)",
      `peak RSS ${n(r.memory.peakRssMb)} MB (idle ${n(r.memory.idleRssMb)} MB; +${r.memory.peakOverAttachment}× attachment), ${r.memory.delivered}/${r.memory.recipients} delivered`,
      r.memory.allDelivered ? "see figures" : "**not all delivered**",
    ]);
  return table(["target (PRODUCT.md)", "this run", "verdict"], rows);
}

export function latencySection(r: BenchResults): string {
  if (r.latency === null) return "_Not run._";
  const l = r.latency;
  return [
    `Store: ${l.store}; the worker was running and delivering during the measurement (realistic).`,
    "",
    table(
      [
        "offered msg/s",
        "window s",
        "requests",
        "accepted",
        "errors",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "max ms",
        "max outstanding",
        "delivered/s during",
        "drain s after",
        "generator lag p99 ms",
        "sealpost event-loop delay p99 / max ms",
        "sealpost GC s",
        "sealpost CPU",
        "machine busy",
      ],
      l.levels.map((v) => [
        n(v.rate),
        (v.durationMs / 1000).toFixed(0),
        n(v.scheduled),
        n(v.accepted),
        n(v.errors),
        v.latencyMs.p50,
        v.latencyMs.p95,
        `**${v.latencyMs.p99}**`,
        v.latencyMs.max,
        v.maxOutstanding,
        n(v.deliveredPerSecondDuring),
        v.drainSeconds < 0 ? "not drained" : v.drainSeconds.toFixed(1),
        v.generatorLagMs.p99,
        v.serverEventLoopMs === null ? "–" : `${v.serverEventLoopMs.p99} / ${v.serverEventLoopMs.max}`,
        v.serverGcSeconds ?? "–",
        pct(v.cpu.parts.sealpost?.percentOfMachine ?? 0),
        pct(v.cpu.parts["machine busy (all)"]?.percentOfMachine ?? 0),
      ]),
    ),
    ...(l.notes.length > 0 ? ["", ...l.notes.map((x) => `- ${x}`)] : []),
  ].join("\n");
}

export function backlogSection(r: BenchResults): string {
  if (r.backlog.length === 0) return "_Not run._";
  return table(
    [
      "store",
      "queued for later",
      "seeded in s",
      "delivered/s with backlog",
      "delivered/s empty queue",
      "throughput ratio",
      "CPU ms/msg with backlog",
      "CPU ms/msg empty",
      "CPU ratio (empty ÷ backlog)",
      "accepted/s with backlog",
      "accepted/s empty",
    ],
    r.backlog.map((b) => [
      b.store,
      n(b.rows),
      b.seedSeconds.toFixed(1),
      n(b.deliveredPerSecond),
      b.emptyDeliveredPerSecond === null ? "–" : n(b.emptyDeliveredPerSecond),
      b.ratio === null ? "–" : `**${b.ratio.toFixed(3)}**`,
      b.cpuMsPerMessage.toFixed(2),
      b.emptyCpuMsPerMessage === null ? "–" : b.emptyCpuMsPerMessage.toFixed(2),
      b.cpuRatio === null ? "–" : `**${b.cpuRatio.toFixed(3)}**`,
      n(b.acceptedPerSecond),
      b.emptyAcceptedPerSecond === null ? "–" : n(b.emptyAcceptedPerSecond),
    ]),
  );
}

export function memorySection(r: BenchResults): string {
  const m = r.memory;
  const rest = r.e2e.filter((e) => e.peakRssMb !== null);
  const lines = [
    "Peak RSS (VmHWM) of the sealpost process during each end-to-end run:",
    "",
    table(
      ["run", "peak RSS MB"],
      rest.map((e) => [e.name, n(e.peakRssMb ?? 0)]),
    ),
    "",
  ];
  if (m === null) return [...lines, "_Large-attachment run not done._"].join("\n");
  return [
    ...lines,
    `One message, ${n(m.attachmentBytes / 1024 / 1024)} MiB attachment (request ${n(m.requestBytes / 1024 / 1024)} MiB of JSON), ${m.recipients} recipients:`,
    "",
    table(
      [
        "status",
        "accepted in s",
        "delivered at sink",
        "delivered per API",
        "all delivered",
        "done after s",
        "idle RSS MB",
        "peak RSS MB",
        "(peak − idle) / attachment",
      ],
      [
        [
          m.status,
          m.acceptSeconds,
          m.delivered,
          m.deliveredByApi,
          m.allDelivered ? "yes" : "**no**",
          m.deliverSeconds,
          n(m.idleRssMb),
          `**${n(m.peakRssMb)}**`,
          `${m.peakOverAttachment}×`,
        ],
      ],
    ),
    ...(m.notes.length > 0 ? ["", ...m.notes.map((x) => `- ${x}`)] : []),
  ].join("\n");
}

function profileTables(title: string, s: ProfileSummary): string {
  return [
    `${title}: busy ${n(s.busyMs)} ms of ${n(s.totalMs)} ms sampled.`,
    "",
    table(
      ["area", "self ms", "% of busy"],
      s.byArea.map((e) => [e.name, n(e.selfMs), pct(e.percent)]),
    ),
    "",
    table(
      ["function", "self ms", "% of busy"],
      s.topFunctions.map((e) => [`\`${e.name}\``, n(e.selfMs), pct(e.percent)]),
    ),
  ].join("\n");
}

export function profileSection(r: BenchResults): string {
  const p = r.profile;
  if (p === null) return "_Not run (BENCH_PROFILE=1 or `--only profile` runs it)._";
  if (p.summary === null) return "_The profile was not written._";
  const s = p.summary;
  return [
    `REST → SQLite, ${n(p.run.messages)} messages, \`node --cpu-prof\` on the sealpost process (${n(p.run.deliveredPerSecond)} msg/s delivered while profiled; the profiles were left in \`${p.dir}\`). Self time per thread; time blocked inside a synchronous call (an fsync in a SQLite commit, say) counts as that function's self time, as it blocks the event loop.`,
    "",
    table(
      ["thread", "busy ms", "sampled ms"],
      s.threads.map((t) => [t.thread, n(t.busyMs), n(t.totalMs)]),
    ),
    "",
    ...(s.main === null ? [] : [profileTables("Main thread (event loop)", s.main), ""]),
    ...(s.workers === null ? [] : [profileTables("Worker threads", s.workers)]),
  ].join("\n");
}
