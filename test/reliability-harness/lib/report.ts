/**
 * Output of the harness: one `# reliability-summary <part>: key=value …` line per part (the
 * runner collects them into the closing summary), progress lines, and timing.
 */
export type Fields = Record<string, string | number | boolean>;

function format(fields: Fields): string {
  return Object.entries(fields)
    .map(([k, v]) => `${k}=${v}`)
    .join(" ");
}

export function summary(part: string, fields: Fields): void {
  process.stdout.write(`# reliability-summary ${part}: ${format(fields)}\n`);
}

export function progress(part: string, text: string): void {
  process.stdout.write(`# ${part}: ${text}\n`);
}

export function seconds(sinceMs: number): string {
  return `${((Date.now() - sinceMs) / 1000).toFixed(1)}s`;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `done` every `everyMs` until it is true or `timeoutMs` passed; returns whether it became true. */
export async function waitUntil(
  done: () => boolean | Promise<boolean>,
  timeoutMs: number,
  everyMs = 100,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await done()) return true;
    if (Date.now() > deadline) return false;
    await sleep(everyMs);
  }
}

/** `msg_…` from a Message-ID like `msg_01…@example.com`, else the whole value. */
export function messageIdOf(headerValue: string): string {
  return /^(msg_[0-9a-z]{26})@/.exec(headerValue)?.[1] ?? headerValue;
}
