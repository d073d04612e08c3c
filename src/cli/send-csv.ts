import { print, printError, printJson } from "./output.ts";
import { type Answer, accepted, post, problemLine, Unreachable } from "./send-http.ts";
import type { CsvRecipient } from "./send-input.ts";

/**
 * `sealpost send --csv`: one message per row, sent through POST /v1/messages/batch so that
 * up to BATCH_ROWS rows cost one request and one durable commit. A batch also stays under
 * the API's body limit; one the API still finds too large (413) is split in half and sent
 * again, down to single rows.
 */
export const BATCH_ROWS = 100;
/** Batches in flight at once. */
const CONCURRENCY = 2;

export interface CsvRun {
  base: URL;
  key: string;
  /** The request body without `to`: the same for every row. */
  message: Record<string, unknown>;
  /** With --idempotency-key KEY, each batch is sent with `KEY-<first row>-<last row>`. */
  idempotencyKey: string | undefined;
  json: boolean;
  /** Largest request body the API takes (SEALPOST_MAX_MESSAGE_BYTES). */
  maxBodyBytes: number;
}

interface RowResult extends Answer {
  row: number;
  to: string;
}

/** The API refused the key: every further row would be refused alike. */
class KeyRefused extends Error {}

/** Consecutive rows, at most BATCH_ROWS to a batch and at most `maxBodyBytes` of JSON. */
export function batchesOf(
  recipients: readonly CsvRecipient[],
  message: Record<string, unknown>,
  maxBodyBytes: number,
): CsvRecipient[][] {
  // {"messages":[…]} around the items, a comma between them; an item is the message with
  // its `to` (the size of `"to":""` is in `base`, only the address varies).
  const envelope = Buffer.byteLength('{"messages":[]}');
  const base = Buffer.byteLength(JSON.stringify({ ...message, to: "" }));
  const batches: CsvRecipient[][] = [];
  let current: CsvRecipient[] = [];
  let bytes = envelope;
  for (const r of recipients) {
    const size = base + Buffer.byteLength(JSON.stringify(r.to)) - 2 + 1;
    if (current.length > 0 && (current.length === BATCH_ROWS || bytes + size > maxBodyBytes)) {
      batches.push(current);
      current = [];
      bytes = envelope;
    }
    current.push(r);
    bytes += size;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

/** The answer of one batch, per row. */
function rowResults(rows: readonly CsvRecipient[], answer: Answer): RowResult[] {
  const items = answer.body.data;
  if (answer.status !== 200 || !Array.isArray(items) || items.length !== rows.length)
    // A refusal of the whole request (or an answer that is not a batch) is every row's.
    return rows.map((r) => ({ row: r.row, to: r.to, ...answer }));
  return rows.map((r, i) => {
    const item = (items[i] ?? {}) as { status?: unknown; message?: unknown; error?: unknown };
    const status = typeof item.status === "number" ? item.status : 0;
    const body = (status === 202 ? item.message : item.error) ?? {};
    return { row: r.row, to: r.to, status, body: body as Record<string, unknown> };
  });
}

/** Sends one batch and adds its rows to `out` (at once, so an error later loses none). */
async function sendBatch(run: CsvRun, rows: readonly CsvRecipient[], out: RowResult[]): Promise<void> {
  const first = rows[0]?.row ?? 0;
  const last = rows[rows.length - 1]?.row ?? 0;
  const idem = run.idempotencyKey === undefined ? undefined : `${run.idempotencyKey}-${first}-${last}`;
  const body = { messages: rows.map((r) => ({ ...run.message, to: r.to })) };
  const answer = await post(run.base, run.key, "v1/messages/batch", body, idem);
  if (answer.status === 401 || answer.status === 403)
    throw new KeyRefused(`the API refused the key: ${problemLine(answer.body)}`);
  if (answer.status === 413 && rows.length > 1) {
    const half = Math.ceil(rows.length / 2);
    await sendBatch(run, rows.slice(0, half), out);
    await sendBatch(run, rows.slice(half), out);
    return;
  }
  out.push(...rowResults(rows, answer));
}

function printSummary(run: CsvRun, total: number, results: RowResult[], stopped: string | null): void {
  const failed = results.filter((r) => !accepted(r)).length;
  const sent = results.length - failed;
  const skipped = total - results.length;
  if (run.json) {
    printJson({
      total,
      sent,
      failed,
      skipped,
      results: results.map((r) =>
        accepted(r)
          ? { row: r.row, to: r.to, id: r.body.id, deliveries: r.body.deliveries }
          : { row: r.row, to: r.to, error: r.body },
      ),
    });
    return;
  }
  for (const r of results) if (!accepted(r)) printError(`row ${r.row}: ${problemLine(r.body)}`);
  if (stopped !== null) printError(`stopped: ${stopped}`);
  print(
    `Sent ${sent} of ${total} messages${failed > 0 ? `; ${failed} failed` : ""}${skipped > 0 ? `; ${skipped} not sent` : ""}.`,
  );
}

/** Sends every row; stops early when the key is refused or the API cannot be reached. Exit status. */
export async function sendCsv(run: CsvRun, recipients: readonly CsvRecipient[]): Promise<number> {
  const batches = batchesOf(recipients, run.message, run.maxBodyBytes);
  const results: RowResult[] = [];
  const progress = process.stderr.isTTY === true;
  let next = 0;
  let stopped: string | null = null;
  const show = (): void => {
    if (!progress) return;
    const failed = results.filter((r) => !accepted(r)).length;
    const filled = Math.round((results.length / recipients.length) * 20);
    const bar = `[${"#".repeat(filled)}${"-".repeat(20 - filled)}]`;
    const tail = failed > 0 ? `, ${failed} failed` : "";
    process.stderr.write(`\r${bar} ${results.length}/${recipients.length}${tail}`);
  };
  const worker = async (): Promise<void> => {
    for (let b = batches[next++]; b !== undefined && stopped === null; b = batches[next++]) {
      try {
        await sendBatch(run, b, results);
      } catch (err) {
        if (!(err instanceof Unreachable || err instanceof KeyRefused)) throw err;
        stopped = err.message;
        return;
      }
      show();
    }
  };
  show();
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, batches.length) }, worker));
  if (progress) process.stderr.write("\n");
  results.sort((a, b) => a.row - b.row);
  printSummary(run, recipients.length, results, stopped);
  return results.length === recipients.length && results.every(accepted) ? 0 : 1;
}
