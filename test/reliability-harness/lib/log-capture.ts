/**
 * sealpost's own logger (allow-list redaction included) writing into memory, so a part can
 * count warnings and errors the server logged while it was being fuzzed.
 */
import { createLogger, type Logger } from "../../../src/logging/logger.ts";

export interface CapturedLog {
  logger: Logger;
  /** Lines by pino level name (warn, error, fatal, …). */
  counts(): Record<string, number>;
  /** The error/fatal lines (already redacted by sealpost's logger), the first 10,000. */
  errors(): string[];
}

const LEVELS: Record<number, string> = {
  10: "trace",
  20: "debug",
  30: "info",
  40: "warn",
  50: "error",
  60: "fatal",
};

export function captureLog(level = "warn"): CapturedLog {
  const counts: Record<string, number> = {};
  const errors: string[] = [];
  const logger = createLogger({
    level,
    destination: {
      write(line: string) {
        const n = Number(/"level":(\d+)/.exec(line)?.[1] ?? 0);
        const name = LEVELS[n] ?? String(n);
        counts[name] = (counts[name] ?? 0) + 1;
        if (n >= 50 && errors.length < 10_000) errors.push(line.trim());
      },
    },
  });
  return { logger, counts: () => ({ ...counts }), errors: () => [...errors] };
}
