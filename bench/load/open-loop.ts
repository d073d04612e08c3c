/**
 * Open-loop REST load at a constant offered rate: request i is due at start + i/rate and is
 * sent then whether or not earlier ones were answered. Latency is measured from the due
 * time, not from the moment the request left, so a stalled server or a late generator shows
 * up in the figures instead of silently lowering the load (no coordinated omission).
 */
import { monitorEventLoopDelay } from "node:perf_hooks";
import { RawHttpPool } from "./raw-http.ts";

export interface OpenLoopOptions {
  baseUrl: string;
  token: string;
  rate: number;
  durationMs: number;
  body: (i: number) => Buffer;
  /** Connections the generator may open; further requests wait (and that wait counts). */
  maxSockets: number;
  /** How long to wait for the last answers after the schedule ended. */
  drainMs: number;
  /** First message index (so recipients stay unique across runs). */
  firstIndex: number;
}

export interface OpenLoopResult {
  rate: number;
  durationMs: number;
  scheduled: number;
  accepted: number;
  errors: number;
  failures: Record<string, number>;
  /** Answers still missing when the drain time ran out (counted as errors too). */
  unanswered: number;
  /** Accept latency percentiles from the intended send time, ms. */
  latencyMs: { p50: number; p95: number; p99: number; max: number; mean: number };
  /** How late the generator itself sent requests (its event loop), ms: p99 and max. */
  generatorLagMs: { p99: number; max: number };
  /** Most requests outstanding at once (open loop: grows when the server falls behind). */
  maxOutstanding: number;
}

export function percentile(sorted: Float64Array | number[], p: number): number {
  if (sorted.length === 0) return 0;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx] ?? 0;
}

const round = (n: number): number => Math.round(n * 100) / 100;

export async function runOpenLoop(opts: OpenLoopOptions): Promise<OpenLoopResult> {
  const pool = new RawHttpPool(opts.baseUrl, opts.maxSockets);
  let outstanding = 0;
  let maxOutstanding = 0;
  const total = Math.max(1, Math.round((opts.rate * opts.durationMs) / 1000));
  const interval = 1000 / opts.rate;
  const latencies = new Float64Array(total).fill(Number.NaN);
  const intendedAt = new Float64Array(total);
  let answered = 0;
  let accepted = 0;
  let errors = 0;
  const failures: Record<string, number> = {};
  const lags = monitorEventLoopDelay({ resolution: 1 });
  lags.enable();
  const start = performance.now() + 20;
  let issued = 0;
  let finish: () => void = () => {};
  const allAnswered = new Promise<void>((resolve) => {
    finish = resolve;
  });

  const fire = (i: number, intended: number): void => {
    intendedAt[i] = intended;
    maxOutstanding = Math.max(maxOutstanding, ++outstanding);
    pool
      .request(pool.post("/v1/messages", opts.token, opts.body(opts.firstIndex + i)))
      .then(
        (res) => {
          latencies[i] = performance.now() - intended;
          if (res.status === 202) accepted++;
          else {
            errors++;
            failures[String(res.status)] = (failures[String(res.status)] ?? 0) + 1;
          }
        },
        (err: unknown) => {
          latencies[i] = performance.now() - intended;
          errors++;
          const key = (err as { code?: string }).code ?? "error";
          failures[key] = (failures[key] ?? 0) + 1;
        },
      )
      .finally(() => {
        outstanding--;
        if (++answered === total) finish();
      });
  };

  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const now = performance.now();
      const due = Math.min(total, Math.floor((now - start) / interval) + 1);
      while (issued < due) {
        fire(issued, start + issued * interval);
        issued++;
      }
      if (issued >= total) {
        resolve();
        return;
      }
      const wait = start + issued * interval - performance.now();
      if (wait <= 1) setImmediate(tick);
      else setTimeout(tick, Math.floor(wait));
    };
    setTimeout(tick, 20);
  });
  const drain = new Promise<void>((resolve) => setTimeout(resolve, opts.drainMs).unref());
  await Promise.race([allAnswered, drain]);
  lags.disable();
  const unanswered = total - answered;
  pool.close();
  // A request still unanswered counts with the time it has waited so far.
  const end = performance.now();
  for (let i = 0; i < issued; i++)
    if (Number.isNaN(latencies[i])) latencies[i] = end - (intendedAt[i] ?? end);
  const sorted = latencies.slice(0, issued).sort();
  const sum = sorted.reduce((a, b) => a + b, 0);
  return {
    rate: opts.rate,
    durationMs: opts.durationMs,
    scheduled: total,
    accepted,
    errors: errors + unanswered,
    failures: unanswered > 0 ? { ...failures, unanswered } : failures,
    unanswered,
    latencyMs: {
      p50: round(percentile(sorted, 50)),
      p95: round(percentile(sorted, 95)),
      p99: round(percentile(sorted, 99)),
      max: round(sorted.at(-1) ?? 0),
      mean: round(sorted.length === 0 ? 0 : sum / sorted.length),
    },
    generatorLagMs: { p99: round(lags.percentile(99) / 1e6), max: round(lags.max / 1e6) },
    maxOutstanding,
  };
}
