/**
 * Reads sealpost's own Prometheus metrics (/metrics): Node's event-loop delay (prom-client
 * resets its histogram on every scrape, so a scrape before and one after a window give the
 * delay during the window) and garbage-collection time.
 */

import { Agent } from "node:http";
import { getJson } from "../load/http.ts";

export interface ProcessMetrics {
  /** Event-loop delay since the previous scrape, ms. */
  eventLoopDelayMs: { p50: number; p99: number; max: number };
  /** Cumulative GC seconds by kind (major, minor, incremental, weakcb). */
  gcSeconds: Record<string, number>;
}

function value(text: string, name: string): number {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+-]+)$`, "m").exec(text);
  return m === null ? 0 : Number(m[1]);
}

export async function scrapeMetrics(baseUrl: string): Promise<ProcessMetrics | null> {
  const agent = new Agent({ keepAlive: false });
  try {
    const res = await getJson(agent, baseUrl, "/metrics", "");
    if (res.status !== 200) return null;
    const text = res.body;
    const gcSeconds: Record<string, number> = {};
    for (const m of text.matchAll(
      /^sealpost_process_nodejs_gc_duration_seconds_sum\{kind="([a-z]+)"\} ([0-9.e+-]+)$/gm,
    ))
      gcSeconds[m[1] ?? "?"] = Number(m[2]);
    const ms = (name: string): number =>
      Math.round(value(text, `sealpost_process_nodejs_eventloop_lag_${name}_seconds`) * 1e5) / 100;
    return { eventLoopDelayMs: { p50: ms("p50"), p99: ms("p99"), max: ms("max") }, gcSeconds };
  } catch {
    return null;
  } finally {
    agent.destroy();
  }
}

/** GC seconds spent between two scrapes, all kinds together. */
export function gcSecondsBetween(before: ProcessMetrics | null, after: ProcessMetrics | null): number | null {
  if (before === null || after === null) return null;
  let sum = 0;
  for (const [kind, v] of Object.entries(after.gcSeconds)) sum += v - (before.gcSeconds[kind] ?? 0);
  return Math.round(sum * 100) / 100;
}
