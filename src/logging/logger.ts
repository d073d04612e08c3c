import { type DestinationStream, type Logger as PinoLogger, pino } from "pino";

/**
 * The project logger: pino, JSON lines, redaction by allow-list. Only the fields named in
 * ALLOWED survive; everything else a caller passes is dropped before it is written. Error
 * objects are reduced to their name and code: third-party error messages (an SMTP reply,
 * a database error) can carry addresses or content, so their text is never logged.
 */
export type Logger = PinoLogger;

const ALLOWED = new Set([
  "msg",
  "role",
  "roles",
  "reqId",
  "method",
  "route",
  "status",
  "code",
  "durationMs",
  "orgId",
  "keyId",
  "messageId",
  "deliveryId",
  "attempt",
  "outcome",
  "count",
  "claimed",
  "mxHost",
  "tlsVersion",
  "cipher",
  "replyCode",
  "listen",
  "url",
  "store",
  "workerId",
  "version",
  "err",
  "dataDir",
  "signal",
]);

interface SafeError {
  name: string;
  code?: string;
}

function safeError(value: unknown): SafeError {
  if (value instanceof Error) {
    const code = (value as { code?: unknown }).code;
    return typeof code === "string" ? { name: value.name, code } : { name: value.name };
  }
  return { name: typeof value };
}

/** Keeps only allow-listed fields; scalar values only, except `err`. Exported for tests. */
export function redact(obj: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(obj)) {
    if (!ALLOWED.has(key)) continue;
    if (key === "err") {
      out.err = safeError(value);
      continue;
    }
    if (value === null || ["string", "number", "boolean"].includes(typeof value)) out[key] = value;
    else if (Array.isArray(value) && value.every((v) => typeof v === "string")) out[key] = value;
  }
  return out;
}

export interface LoggerOptions {
  level?: string;
  destination?: DestinationStream;
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  return pino(
    {
      level: opts.level ?? "info",
      base: undefined,
      // The message string itself is written by our code only, from fixed texts.
      formatters: { log: (obj) => redact(obj) },
      serializers: {},
    },
    opts.destination ?? pino.destination({ dest: 1, sync: false }),
  );
}

/** A logger that writes nowhere, for tests that do not inspect logs. */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
