/** Retry schedule for temporary failures: 1m, 5m, 15m, 30m, 1h, 2h, then every 4h, ±10% jitter. */
const STEPS_MS = [60_000, 300_000, 900_000, 1_800_000, 3_600_000, 7_200_000, 14_400_000];

export function retryDelay(attempt: number, random: () => number = Math.random): number {
  const base = STEPS_MS[Math.min(Math.max(attempt, 1), STEPS_MS.length) - 1] ?? 14_400_000;
  return Math.round(base * (0.9 + 0.2 * random()));
}
