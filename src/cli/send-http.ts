/**
 * The HTTP side of `sealpost send`: one POST to the API and the texts of its answers.
 * Nothing here knows about the command line.
 */
const TIMEOUT_MS = 120_000;

export interface Answer {
  status: number;
  body: Record<string, unknown>;
}

/** The API did not answer (refused, reset, timed out): whatever was sent may or may not be stored. */
export class Unreachable extends Error {}

export async function post(
  base: URL,
  key: string,
  path: "v1/messages" | "v1/messages/batch",
  body: unknown,
  idempotencyKey?: string,
): Promise<Answer> {
  let res: Response;
  try {
    res = await fetch(new URL(path, base), {
      method: "POST",
      headers: {
        authorization: `Bearer ${key}`,
        "content-type": "application/json",
        ...(idempotencyKey === undefined ? {} : { "idempotency-key": idempotencyKey }),
      },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (err) {
    const cause = (err as { cause?: { code?: unknown; message?: unknown } }).cause;
    const why = typeof cause?.code === "string" ? cause.code : cause?.message;
    throw new Unreachable(`cannot reach ${base.origin}${typeof why === "string" ? ` (${why})` : ""}`);
  }
  const raw = await res.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    parsed = undefined;
  }
  const answerBody =
    typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : { code: `http_${res.status}`, title: "The answer is not JSON." };
  return { status: res.status, body: answerBody };
}

export function accepted(answer: Answer): boolean {
  return answer.status >= 200 && answer.status < 300;
}

/** `code: detail (field)` of an RFC 9457 problem, with one line per field issue. */
export function problemLine(body: Record<string, unknown>): string {
  const code = typeof body.code === "string" ? body.code : "error";
  const detail =
    typeof body.detail === "string" ? body.detail : typeof body.title === "string" ? body.title : "";
  const field = typeof body.field === "string" ? ` (${body.field})` : "";
  const issues = Array.isArray(body.errors)
    ? (body.errors as { field?: unknown; code?: unknown; detail?: unknown }[]).map(
        (e) => `\n  ${String(e.field)}: ${String(e.code)}: ${String(e.detail)}`,
      )
    : [];
  return `${code}: ${detail}${field}${issues.join("")}`;
}
