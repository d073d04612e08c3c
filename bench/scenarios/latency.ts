/**
 * API accept latency at fixed offered loads (open loop), on SQLite with the worker running
 * and delivering to the receiving server at the same time, as in production. Each rate gets
 * a short discarded warm-up, then the measured window; the queue is drained before the next
 * rate so each starts from an empty queue.
 */
import { type CpuReport, startCpuMeter } from "../lib/cpu-meter.ts";
import { gcSecondsBetween, scrapeMetrics } from "../lib/metrics.ts";
import { loadAverage } from "../lib/proc.ts";
import {
  BENCH_KEY,
  prepareInstance,
  type RunningInstance,
  type Store,
  startInstance,
} from "../lib/sealpost.ts";
import { messageText, restBody } from "../load/message.ts";
import { type OpenLoopResult, runOpenLoop } from "../load/open-loop.ts";
import { type BenchContext, phaseMs } from "./context.ts";

export interface LatencyLevel extends OpenLoopResult {
  /** Messages delivered at the sink during the measured window, per second. */
  deliveredPerSecondDuring: number;
  /** Time after the window until every accepted message was delivered, s. */
  drainSeconds: number;
  cpu: CpuReport;
  /** sealpost's event-loop delay during the window, from its /metrics. */
  serverEventLoopMs: { p50: number; p99: number; max: number } | null;
  serverGcSeconds: number | null;
  loadAverage: number;
}

export interface LatencyResult {
  store: Store;
  workerRunning: true;
  levels: LatencyLevel[];
  peakRssMb: number;
  notes: string[];
}

const MAX_SOCKETS = 256;

export async function runLatency(ctx: BenchContext, store: Store = "sqlite"): Promise<LatencyResult> {
  const { config, sink } = ctx;
  const prepared = await prepareInstance({
    store,
    sinkPort: sink.port,
    postgresUrl: config.postgresUrl,
    passthrough: config.sealpostEnv,
  });
  let inst: RunningInstance | null = null;
  const notes: string[] = [];
  try {
    inst = await startInstance(prepared);
    await sink.reset();
    const text = messageText();
    const body = (i: number): Buffer => restBody(i, text);
    let expected = 0;
    let index = 0;
    const levels: LatencyLevel[] = [];
    const warmupMs = config.quick ? 1000 : 2000;
    for (const rate of config.latencyRates) {
      if (phaseMs(ctx, 120_000) < 30_000) {
        notes.push(`skipped ${rate} msg/s: run deadline near`);
        continue;
      }
      const warm = await runOpenLoop({
        baseUrl: inst.baseUrl,
        token: BENCH_KEY,
        rate,
        durationMs: warmupMs,
        body,
        maxSockets: MAX_SOCKETS,
        drainMs: 10_000,
        firstIndex: index,
      });
      index += warm.scheduled;
      expected += warm.accepted;
      const before = await sink.stats();
      const metricsBefore = await scrapeMetrics(inst.baseUrl);
      const meter = await startCpuMeter({ trees: { sealpost: inst.pid, "receiving server": sink.pid } });
      const windowStart = Date.now();
      const level = await runOpenLoop({
        baseUrl: inst.baseUrl,
        token: BENCH_KEY,
        rate,
        durationMs: config.latencySeconds * 1000,
        body,
        maxSockets: MAX_SOCKETS,
        drainMs: 30_000,
        firstIndex: index,
      });
      const windowEnd = Date.now();
      const cpu = await meter.stop();
      const metricsAfter = await scrapeMetrics(inst.baseUrl);
      const during = await sink.stats();
      index += level.scheduled;
      expected += level.accepted;
      const drained = await sink.waitForMessages(expected, phaseMs(ctx, 120_000));
      const drainSeconds =
        drained.messages >= expected ? Math.max(0, (drained.lastAt - windowEnd) / 1000) : -1;
      if (drained.messages < expected)
        notes.push(`${rate} msg/s: queue not drained (${drained.messages}/${expected})`);
      levels.push({
        ...level,
        deliveredPerSecondDuring:
          Math.round(((during.messages - before.messages) / ((windowEnd - windowStart) / 1000)) * 10) / 10,
        drainSeconds: Math.round(drainSeconds * 100) / 100,
        cpu,
        serverEventLoopMs: metricsAfter?.eventLoopDelayMs ?? null,
        serverGcSeconds: gcSecondsBetween(metricsBefore, metricsAfter),
        loadAverage: loadAverage(),
      });
      ctx.log(
        `  ${rate} msg/s: p50 ${level.latencyMs.p50} ms, p95 ${level.latencyMs.p95} ms, p99 ${level.latencyMs.p99} ms, errors ${level.errors}`,
      );
    }
    return {
      store,
      workerRunning: true,
      levels,
      peakRssMb: Math.round(inst.peakRssKb() / 102.4) / 10,
      notes,
    };
  } finally {
    await inst?.stop();
    await prepared.dispose();
  }
}
