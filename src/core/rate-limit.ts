/**
 * A rate limit as written in settings, keys and orgs: `<n>/<s|m|h>` (n requests per
 * second, minute or hour, with bursts up to n) or `off`. See ADR 0008 §5.
 */
export type RateLimit = { readonly quota: number; readonly windowMs: number } | "off";

const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000 } as const;

export function parseRateLimit(raw: string): RateLimit | null {
  if (raw === "off") return "off";
  const m = /^([1-9]\d{0,8})\/([smh])$/.exec(raw);
  if (m === null) return null;
  return { quota: Number(m[1]), windowMs: UNIT_MS[m[2] as keyof typeof UNIT_MS] };
}

export function formatRateLimit(limit: RateLimit): string {
  if (limit === "off") return "off";
  const unit = limit.windowMs === 1000 ? "s" : limit.windowMs === 60_000 ? "m" : "h";
  return `${limit.quota}/${unit}`;
}
