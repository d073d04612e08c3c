import type { Clock } from "../core/clock.ts";
import { type PurgeDeps, runPurge } from "./purge.ts";

/**
 * The purge on worker nodes (ADR 0009 §4): once when the worker starts, then every
 * 10 minutes. A run never overlaps the previous one; the timer does not keep the process
 * alive; stop() waits for a run in progress.
 */
export const PURGE_INTERVAL_MS = 10 * 60_000;

export interface PeriodicJob {
  start(): void;
  stop(): Promise<void>;
}

export function purgeJob(deps: PurgeDeps & { clock: Clock }, intervalMs = PURGE_INTERVAL_MS): PeriodicJob {
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<void> | null = null;
  const tick = (): void => {
    if (running !== null) return;
    running = runPurge(deps, deps.clock.now())
      .then(() => undefined)
      .catch((err: unknown) => deps.logger.error({ err }, "retention purge run failed"))
      .finally(() => {
        running = null;
      });
  };
  return {
    start() {
      if (timer !== null) return;
      timer = setInterval(tick, intervalMs);
      timer.unref();
      tick();
    },
    async stop() {
      if (timer !== null) clearInterval(timer);
      timer = null;
      await running;
    },
  };
}
