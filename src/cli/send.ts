import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { parseArgs } from "node:util";
import type { Config } from "../config/schema.ts";
import { print, printError, printJson } from "./output.ts";
import { type CsvRun, sendCsv } from "./send-csv.ts";
import { accepted, post, problemLine, Unreachable } from "./send-http.ts";
import { contentTypeOf, csvRecipients, splitAddresses } from "./send-input.ts";

/**
 * `sealpost send`: a client of the HTTP API (POST /v1/messages), so a message sent from
 * the shell takes exactly the path an application's does. With --csv it sends one message
 * per row through POST /v1/messages/batch (send-csv.ts), with a progress line on a terminal.
 */
export const SEND_USAGE = `usage: sealpost send --from ADDR --to ADDR --subject TEXT (--text TEXT | --html HTML | --file FILE) [options]
       sealpost send --csv FILE --from ADDR --subject TEXT (--text TEXT | --html HTML | --file FILE) [options]

Sends through the HTTP API (POST /v1/messages; with --csv, POST /v1/messages/batch in
batches of up to 100 rows) and prints the message id and each recipient's status.

  --from ADDR            sender, e.g. "Clinic <noreply@clinic.example>"
  --to ADDR              recipient; repeat it or give a comma-separated list
  --cc ADDR, --bcc ADDR  as --to
  --subject TEXT         subject line (never put PHI in it)
  --text TEXT            plain-text body
  --html HTML            HTML body (with --text, the message has both parts)
  --file FILE            body from a file: HTML when FILE ends in .html or .htm, else text
  --attach FILE          attach a file (repeatable); the content type follows the extension
  --sandbox              run the whole pipeline but capture the message in the sandbox inbox
  --idempotency-key KEY  send as Idempotency-Key (with --csv: KEY-<first row>-<last row> per batch),
                         so a retry sends nothing twice
  --csv FILE             one message per row, to the address in the "email" (or "to") column;
                         other columns are ignored until templates exist
  --url URL              API base URL (default: http://SEALPOST_HTTP_HOST:SEALPOST_HTTP_PORT,
                         https when SEALPOST_TLS_CERT is set)
  --key KEY              API key with the messages:send scope (default: SEALPOST_API_KEY)
  --json                 print the API's answer (or the summary of a --csv run) as JSON

Exit status: 0 sent, 1 refused by the API or unreachable (with --csv: any row failed), 2 bad usage.`;

/** A mistake in the command line or in a file it names: exit status 2. */
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

/** Reads a file named on the command line. The error names the option, not the path: a file name can be PHI. */
function readFile(path: string, option: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    throw new UsageError(
      `cannot read the file given to ${option}${typeof code === "string" ? ` (${code})` : ""}`,
    );
  }
}

/** node:util parseArgs quotes the offending argument, which may be a value (an address, a subject): fixed texts only. */
function argumentError(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  if (code === "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL")
    return "unexpected argument: is an option name missing before a value?";
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") return "unknown option";
  if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE")
    return "an option is missing its value, or a flag was given one";
  return "bad arguments";
}

/** The request body without `to`: the same for every row of a --csv run. */
function baseMessage(o: Options): Record<string, unknown> {
  if (o.from === undefined) throw new UsageError("send needs --from");
  if (o.subject === undefined) throw new UsageError("send needs --subject");
  let { text, html } = o;
  if (o.file !== undefined) {
    const content = readFile(o.file, "--file").toString("utf8");
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
    content: readFile(path, "--attach").toString("base64"),
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

interface Delivery {
  to: string;
  kind: string;
  status: string;
}

function acceptedLine(body: Record<string, unknown>): string {
  const deliveries = Array.isArray(body.deliveries) ? (body.deliveries as Delivery[]) : [];
  const each = deliveries.map((d) => `${d.to}${d.kind === "to" ? "" : ` (${d.kind})`} ${d.status}`);
  return `Queued ${String(body.id)}: ${each.join(", ")}`;
}

async function sendOne(
  base: URL,
  key: string,
  o: Options,
  message: Record<string, unknown>,
): Promise<number> {
  const to = splitAddresses(o.to ?? []);
  if (to.length === 0) throw new UsageError("send needs --to (or --csv)");
  const answer = await post(base, key, "v1/messages", { ...message, to }, o["idempotency-key"]);
  const ok = accepted(answer);
  if (o.json === true) printJson(answer.body);
  else if (ok) print(acceptedLine(answer.body));
  else printError(`error: ${problemLine(answer.body)}`);
  return ok ? 0 : 1;
}

function csvRun(config: Config, base: URL, key: string, o: Options, message: Record<string, unknown>) {
  const recipients = csvRecipients(readFile(o.csv ?? "", "--csv").toString("utf8"));
  if (recipients === null) throw new UsageError('the CSV file needs an "email" (or "to") column');
  if (recipients.length === 0) throw new UsageError("the CSV file has no rows");
  const run: CsvRun = {
    base,
    key,
    message,
    idempotencyKey: o["idempotency-key"],
    json: o.json === true,
    maxBodyBytes: config.maxMessageBytes,
  };
  return sendCsv(run, recipients);
}

export async function sendCommand(config: Config, argv: string[]): Promise<number> {
  let o: Options;
  try {
    o = parse(argv);
  } catch (err) {
    printError(`error: ${argumentError(err)}\n\n${SEND_USAGE}`);
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
    return o.csv === undefined
      ? await sendOne(base, key, o, message)
      : await csvRun(config, base, key, o, message);
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
