import { DAY_MS } from "./period.ts";
import type { ReportPeriod, UnusualDay, UnusualVolume } from "./types.ts";

/**
 * Unusual volume against the org's own baseline (ADR 0009 §5): a UTC day of the period is
 * unusual when its message count exceeds the mean plus three standard deviations of the 28
 * days before it. A baseline needs at least 7 of those days to fall on or after the org's
 * creation day (days before it existed are not history); a day without one is not judged.
 */
export const BASELINE_DAYS = 28;
export const MIN_HISTORY_DAYS = 7;
export const SIGMAS = 3;

export const VOLUME_METHOD = `messages per UTC day above the mean + ${SIGMAS} standard deviations of the previous ${BASELINE_DAYS} days (at least ${MIN_HISTORY_DAYS} days of the org's history)`;

/** Days since the epoch (UTC) that the period touches: the first, and the last. */
export function periodDays(period: ReportPeriod): { first: number; last: number } {
  return { first: Math.floor(period.from / DAY_MS), last: Math.floor((period.to - 1) / DAY_MS) };
}

/** The span of message counts the detection needs: the baseline before the first day through the last. */
export function volumeSpan(period: ReportPeriod): ReportPeriod {
  const { first, last } = periodDays(period);
  return { from: (first - BASELINE_DAYS) * DAY_MS, to: (last + 1) * DAY_MS };
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

function isoDate(day: number): string {
  return new Date(day * DAY_MS).toISOString().slice(0, 10);
}

/** `daily`: messages per day since the epoch (days absent: none sent), over volumeSpan(period). */
export function unusualVolume(
  period: ReportPeriod,
  orgCreatedAt: number,
  daily: ReadonlyMap<number, number>,
): UnusualVolume {
  const { first, last } = periodDays(period);
  const createdDay = Math.floor(orgCreatedAt / DAY_MS);
  const unusual: UnusualDay[] = [];
  let evaluated = 0;
  let withoutHistory = 0;
  for (let day = first; day <= last; day++) {
    const history: number[] = [];
    for (let h = Math.max(day - BASELINE_DAYS, createdDay); h < day; h++) history.push(daily.get(h) ?? 0);
    if (history.length < MIN_HISTORY_DAYS) {
      withoutHistory++;
      continue;
    }
    evaluated++;
    const mean = history.reduce((a, b) => a + b, 0) / history.length;
    const stddev = Math.sqrt(history.reduce((a, b) => a + (b - mean) ** 2, 0) / history.length);
    const threshold = mean + SIGMAS * stddev;
    const messages = daily.get(day) ?? 0;
    if (messages > threshold)
      unusual.push({
        date: isoDate(day),
        messages,
        baseline_days: history.length,
        baseline_mean: round2(mean),
        baseline_stddev: round2(stddev),
        threshold: round2(threshold),
      });
  }
  return {
    method: VOLUME_METHOD,
    status: evaluated === 0 ? "insufficient_history" : "evaluated",
    days_evaluated: evaluated,
    days_without_history: withoutHistory,
    unusual_days: unusual,
  };
}
