/** What every scenario gets: the options, the shared receiving server and the run's deadline. */
import type { BenchConfig } from "../lib/config.ts";
import type { CpuReport } from "../lib/cpu-meter.ts";
import type { Sink } from "../sink/client.ts";
import type { SinkStats } from "../sink/protocol.ts";

export interface BenchContext {
  config: BenchConfig;
  sink: Sink;
  /** Epoch ms when the whole run must be over. */
  runDeadline: number;
  log(line: string): void;
}

/** Milliseconds left before the run deadline, keeping `reserveMs` for cleanup and the report. */
export function remainingMs(ctx: BenchContext, reserveMs = 30_000): number {
  return Math.max(0, ctx.runDeadline - reserveMs - Date.now());
}

/** A bound for one phase: `wanted`, but never past the run deadline. */
export function phaseMs(ctx: BenchContext, wanted: number): number {
  return Math.max(1000, Math.min(wanted, remainingMs(ctx)));
}

export interface E2eResult {
  name: string;
  /** sealpost-rest, sealpost-smtp or postfix. */
  system: string;
  store: string;
  entry: string;
  messages: number;
  sent: number;
  accepted: number;
  errors: number;
  failures: Record<string, number>;
  delivered: number;
  complete: boolean;
  /** From the first request sent: until the last acceptance / the last delivery at the sink. */
  acceptSeconds: number;
  deliverSeconds: number;
  acceptedPerSecond: number;
  deliveredPerSecond: number;
  /** Delay from the first request to the first delivery at the sink, ms. */
  firstDeliveryMs: number;
  sink: SinkStats;
  cpu: CpuReport;
  /**
   * CPU the system under test spent per delivered message, ms: the sealpost process (all its
   * threads) plus its PostgreSQL backends, or Postfix's whole process tree. Far less sensitive
   * to other load on the machine than the rates.
   */
  cpuMsPerMessage: number;
  /** sealpost's event-loop delay during the run, from its /metrics (null for Postfix). */
  eventLoopDelayMs: { p50: number; p99: number; max: number } | null;
  /** Seconds sealpost spent in garbage collection during the run (null for Postfix). */
  gcSeconds: number | null;
  /** Peak RSS (VmHWM) of the sealpost process, MB; null for Postfix. */
  peakRssMb: number | null;
  loadAverageBefore: number;
  loadAverageAfter: number;
  /** Rows already queued for later (backlog runs). */
  backlogRows?: number;
  backlogSeedSeconds?: number;
  notes: string[];
}

const r1 = (n: number): number => Math.round(n * 10) / 10;

export function rates(
  accepted: number,
  delivered: number,
  startAt: number,
  lastAcceptAt: number,
  lastDeliveryAt: number,
): Pick<E2eResult, "acceptSeconds" | "deliverSeconds" | "acceptedPerSecond" | "deliveredPerSecond"> {
  const acceptSeconds = lastAcceptAt > startAt ? (lastAcceptAt - startAt) / 1000 : 0;
  const deliverSeconds = lastDeliveryAt > startAt ? (lastDeliveryAt - startAt) / 1000 : 0;
  return {
    acceptSeconds: Math.round(acceptSeconds * 100) / 100,
    deliverSeconds: Math.round(deliverSeconds * 100) / 100,
    acceptedPerSecond: acceptSeconds > 0 ? r1(accepted / acceptSeconds) : 0,
    deliveredPerSecond: deliverSeconds > 0 ? r1(delivered / deliverSeconds) : 0,
  };
}

/** CPU ms per delivered message of the named parts of a CPU report. */
export function cpuPerMessage(cpu: CpuReport, parts: readonly string[], delivered: number): number {
  if (delivered <= 0) return 0;
  const seconds = parts.reduce((sum, p) => sum + (cpu.parts[p]?.seconds ?? 0), 0);
  return Math.round(((seconds * 1000) / delivered) * 100) / 100;
}
