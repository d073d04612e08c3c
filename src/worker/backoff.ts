/**
 * Retry schedule for temporary failures (SEALPOST_RETRY_SCHEDULE; default 1m, 5m, 15m,
 * 30m, 1h, 2h, then every 4h), each delay with ±10% jitter so retries to one destination
 * spread out.
 */
export const DEFAULT_SCHEDULE_MS: readonly number[] = [
  60_000, 300_000, 900_000, 1_800_000, 3_600_000, 7_200_000, 14_400_000,
];

export function retryDelay(
  attempt: number,
  random: () => number = Math.random,
  schedule: readonly number[] = DEFAULT_SCHEDULE_MS,
): number {
  const base = schedule[Math.min(Math.max(attempt, 1), schedule.length) - 1] ?? 14_400_000;
  return Math.round(base * (0.9 + 0.2 * random()));
}
