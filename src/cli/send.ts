import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { parseArgs } from "node:util";
import type { Config } from "../config/schema.ts";
import { print, printError, printJson } from "./output.ts";
import { contentTypeOf, csvRecipients, splitAddresses } from "./send-input.ts";

/**
 * `sealpost send`: a client of the HTTP API (POST /v1/messages), so a message sent from
 * the shell takes exactly the path an application's does. With --csv it sends one message
 * per row, a few at a time, with a progress line on a terminal.
 */
export const SEND_USAGE = `usage: sealpost send --from ADDR --to ADDR --subject TEXT (--text TEXT | --html HTML | --file FILE) [options]
       sealpost send --csv FILE --from ADDR --subject TEXT (--text TEXT | --html HTML | --file FILE) [options]

Sends through the HTTP API (POST /v1/messages) and prints the message id and each
recipient's status.

  --from ADDR            sender, e.g. "Clinic <noreply@clinic.example>"
  --to ADDR              recipient; repeat it or give a comma-separated list
  --cc ADDR, --bcc ADDR  as --to
  --subject TEXT         subject line (never put PHI in it)
  --text TEXT            plain-text body
  --html HTML            HTML body (with --text, the message has both parts)
  --file FILE            body from a file: HTML when FILE ends in .html or .htm, else text
  --attach FILE          attach a file (repeatable); the content type follows the extension
  --sandbox              run the whole pipeline but capture the message in the sandbox inbox
  --idempotency-key KEY  send as Idempotency-Key (with --csv: KEY-<row>), so a retry sends nothing twice
  --csv FILE             one message per row, to the address in the "email" (or "to") column;
                         other columns are ignored until templates exist
  --url URL              API base URL (default: http://SEALPOST_HTTP_HOST:SEALPOST_HTTP_PORT,
                         https when SEALPOST_TLS_CERT is set)
  --key KEY              API key with the messages:send scope (default: SEALPOST_API_KEY)
  --json                 print the API's answer (or the summary of a --csv run) as JSON

Exit status: 0 sent, 1 refused by the API or unreachable (with --csv: any row failed), 2 bad usage.`;

/** Rows sent at once with --csv. */
const CONCURRENCY = 4;
const TIMEOUT_MS = 120_000;

class UsageError extends Error {}

interface Options {
  from?: string | undefined;
  to?: string[] | undefined;
  cc?: string[] | undefined;
  bcc?: string[] | undefined;
  subject?: string | undefined;
  text?: string | undefined;
  html?: string | undefined;
  file?: string | undefined;
  attach?: string[] | undefined;
  sandbox?: boolean | undefined;
  "idempotency-key"?: string | undefined;
  csv?: string | undefined;
  url?: string | undefined;
  key?: string | undefined;
  json?: boolean | undefined;
  help?: boolean | undefined;
}

function parse(argv: string[]): Options {
  const list = { type: "string", multiple: true } as const;
  const one = { type: "string" } as const;
  return parseArgs({
    args: argv,
    allowPositionals: false,
    options: {
      from: one,
      to: list,
      cc: list,
      bcc: list,
      subject: one,
      text: one,
      html: one,
      file: one,
      attach: list,
      sandbox: { type: "boolean" },
      "idempotency-key": one,
      csv: one,
      url: one,
      key: one,
      json: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  }).values;
}

function readFile(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch {
    throw new UsageError(`cannot read ${path}`);
  }
}

/** The request body without `to`: the same for every row of a --csv run. */
function baseMessage(o: Options): Record<string, unknown> {
  if (o.from === undefined) throw new UsageError("send needs --from");
  if (o.subject === undefined) throw new UsageError("send needs --subject");
  let { text, html } = o;
  if (o.file !== undefined) {
    const content = readFile(o.file).toString("utf8");
    const isHtml = /\.html?$/i.test(o.file);
    if ((isHtml ? html : text) !== undefined)
      throw new UsageError(
        `--file gives the ${isHtml ? "HTML" : "text"} body: leave out --${isHtml ? "html" : "text"}`,
      );
    if (isHtml) html = content;
    else text = content;
  }
  if (text === undefined && html === undefined) throw new UsageError("send needs --text, --html or --file");
  const attachments = (o.attach ?? []).map((path) => ({
    filename: basename(path),
    content_type: contentTypeOf(path),
    content: readFile(path).toString("base64"),
  }));
  const cc = splitAddresses(o.cc ?? []);
  const bcc = splitAddresses(o.bcc ?? []);
  return {
    from: o.from,
    ...(cc.length === 0 ? {} : { cc }),
    ...(bcc.length === 0 ? {} : { bcc }),
    subject: o.subject,
    ...(text === undefined ? {} : { text }),
    ...(html === undefined ? {} : { html }),
    ...(attachments.length === 0 ? {} : { attachments }),
    ...(o.sandbox === true ? { sandbox: true } : {}),
  };
}

function isLoopback(host: string): boolean {
  return host === "localhost" || host === "[::1]" || /^127\./.test(host);
}

export function apiBase(config: Config, url: string | undefined): URL {
  let base: URL;
  if (url === undefined) {
    const host = ["0.0.0.0", "::"].includes(config.httpHost) ? "127.0.0.1" : config.httpHost;
    const scheme = config.tlsCert === undefined ? "http" : "https";
    base = new URL(`${scheme}://${host.includes(":") ? `[${host}]` : host}:${config.httpPort}/`);
  } else {
    try {
      base = new URL(url.endsWith("/") ? url : `${url}/`);
    } catch {
      throw new UsageError("--url must be an http:// or https:// URL");
    }
  }
  if (base.protocol !== "http:" && base.protocol !== "https:")
    throw new UsageError("--url must be an http:// or https:// URL");
  if (base.protocol === "http:" && !isLoopback(base.hostname))
    throw new UsageError("--url: plain http:// is only for loopback; the API key would travel in clear");
  return base;
}

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

class Unreachable extends Error {}

async function post(base: URL, key: string, body: unknown, idempotencyKey?: string): Promise<Answer> {
  let res: Response;
  try {
    res = await fetch(new URL("v1/messages", base), {
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

interface Delivery {
  to: string;
  kind: string;
  status: string;
}

function problemLine(body: Record<string, unknown>): string {
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

function acceptedLine(body: Record<string, unknown>): string {
  const deliveries = Array.isArray(body.deliveries) ? (body.deliveries as Delivery[]) : [];
  const each = deliveries.map((d) => `${d.to}${d.kind === "to" ? "" : ` (${d.kind})`} ${d.status}`);
  return `Queued ${String(body.id)}: ${each.join(", ")}`;
}

function accepted(answer: Answer): boolean {
  return answer.status >= 200 && answer.status < 300;
}

async function sendOne(
  base: URL,
  key: string,
  o: Options,
  message: Record<string, unknown>,
): Promise<number> {
  const to = splitAddresses(o.to ?? []);
  if (to.length === 0) throw new UsageError("send needs --to (or --csv)");
  const answer = await post(base, key, { ...message, to }, o["idempotency-key"]);
  const ok = accepted(answer);
  if (o.json === true) printJson(answer.body);
  else if (ok) print(acceptedLine(answer.body));
  else printError(`error: ${problemLine(answer.body)}`);
  return ok ? 0 : 1;
}

interface RowResult extends Answer {
  row: number;
  to: string;
}

/** One message per CSV row, CONCURRENCY at a time; stops early when the key is refused. */
async function sendCsv(
  base: URL,
  key: string,
  o: Options,
  message: Record<string, unknown>,
): Promise<number> {
  const recipients = csvRecipients(readFile(o.csv ?? "").toString("utf8"));
  if (recipients === null) throw new UsageError('the CSV file needs an "email" (or "to") column');
  if (recipients.length === 0) throw new UsageError("the CSV file has no rows");
  const results: RowResult[] = [];
  const progress = process.stderr.isTTY === true;
  let next = 0;
  let failed = 0;
  let stopped: string | null = null;
  const show = (): void => {
    if (!progress) return;
    const filled = Math.round((results.length / recipients.length) * 20);
    const bar = `[${"#".repeat(filled)}${"-".repeat(20 - filled)}]`;
    const tail = failed > 0 ? `, ${failed} failed` : "";
    process.stderr.write(`\r${bar} ${results.length}/${recipients.length}${tail}`);
  };
  const worker = async (): Promise<void> => {
    for (let r = recipients[next++]; r !== undefined && stopped === null; r = recipients[next++]) {
      const idem = o["idempotency-key"] === undefined ? undefined : `${o["idempotency-key"]}-${r.row}`;
      let answer: Answer;
      try {
        answer = await post(base, key, { ...message, to: r.to }, idem);
      } catch (err) {
        if (!(err instanceof Unreachable)) throw err;
        stopped = err.message;
        return;
      }
      results.push({ row: r.row, to: r.to, ...answer });
      if (!accepted(answer)) failed++;
      // A refused key fails every row alike: stop instead of sending the rest.
      if (answer.status === 401 || answer.status === 403)
        stopped = `the API refused the key: ${problemLine(answer.body)}`;
      show();
    }
  };
  show();
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, recipients.length) }, worker));
  if (progress) process.stderr.write("\n");
  results.sort((a, b) => a.row - b.row);
  const sent = results.length - failed;
  const skipped = recipients.length - results.length;
  if (o.json === true)
    printJson({
      total: recipients.length,
      sent,
      failed,
      skipped,
      results: results.map((r) =>
        accepted(r)
          ? { row: r.row, to: r.to, id: r.body.id, deliveries: r.body.deliveries }
          : { row: r.row, to: r.to, error: r.body },
      ),
    });
  else {
    for (const r of results) if (!accepted(r)) printError(`row ${r.row}: ${problemLine(r.body)}`);
    if (stopped !== null) printError(`stopped: ${stopped}`);
    print(
      `Sent ${sent} of ${recipients.length} messages${failed > 0 ? `; ${failed} failed` : ""}${skipped > 0 ? `; ${skipped} not sent` : ""}.`,
    );
  }
  return failed === 0 && skipped === 0 ? 0 : 1;
}

export async function sendCommand(config: Config, argv: string[]): Promise<number> {
  let o: Options;
  try {
    o = parse(argv);
  } catch (err) {
    printError(`${err instanceof Error ? err.message : "bad arguments"}\n\n${SEND_USAGE}`);
    return 2;
  }
  if (o.help === true) {
    print(SEND_USAGE);
    return 0;
  }
  try {
    const key = o.key ?? config.apiKey;
    if (key === undefined) throw new UsageError("no API key: pass --key or set SEALPOST_API_KEY");
    const base = apiBase(config, o.url);
    if (o.csv !== undefined && o.to !== undefined) throw new UsageError("--csv and --to do not go together");
    const message = baseMessage(o);
    return o.csv === undefined ? await sendOne(base, key, o, message) : await sendCsv(base, key, o, message);
  } catch (err) {
    if (err instanceof UsageError) {
      printError(`error: ${err.message}\n(see sealpost send --help)`);
      return 2;
    }
    if (err instanceof Unreachable) {
      printError(`error: ${err.message}`);
      return 1;
    }
    throw err;
  }
}
