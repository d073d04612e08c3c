import { createReadStream } from "node:fs";
import { analyzeHeaders, type HeaderAnalysis, type Hop } from "../tools/analyze-headers.ts";
import { MAX_HEADER_CHARS } from "../tools/received-parse.ts";
import { printError } from "./output.ts";

export interface AnalyzeHeadersArgs {
  json: boolean;
  /** The message (or its header block): stdin, or a file from `headerInput(path)`. */
  input: NodeJS.ReadableStream;
  /** Where output goes; stdout by default. */
  write?: (text: string) => void;
}

const USAGE = "usage: sealpost analyze-headers [FILE] [--json]   (reads the message from stdin without FILE)";

/** The input stream: the file at `path`, or stdin when there is none. */
export function headerInput(path: string | undefined): NodeJS.ReadableStream {
  return path === undefined || path === "-" ? process.stdin : createReadStream(path);
}

/** Reads at most what the analysis reads (the header size limit), so memory stays bounded. */
async function readHeaders(input: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of input) {
    const buf = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
    chunks.push(buf);
    size += buf.length;
    if (size > MAX_HEADER_CHARS + 4) break;
  }
  return Buffer.concat(chunks);
}

const TLS_LABEL: Record<Hop["tls"], string> = {
  tls: "TLS",
  likely_plaintext: "NO TLS (likely plaintext)",
  unknown: "unknown",
  internal: "internal",
};

function hopText(hop: Hop): string {
  const from = `${hop.from ?? "?"}${hop.from_ip === null ? "" : ` [${hop.from_ip}]`}`;
  const when = hop.time === null ? "time not recorded" : hop.time.replace(".000Z", "Z");
  const how = [hop.tls_version, hop.cipher].filter((v) => v !== null).join(" ");
  return [
    `${String(hop.index).padStart(3)}  ${from} → ${hop.by ?? "?"}`,
    `     ${when}${hop.with === null ? "" : `, with ${hop.with}`}`,
    `     ${TLS_LABEL[hop.tls]}${how === "" ? "" : ` ${how}`} — ${hop.evidence}`,
  ].join("\n");
}

/** The human form: one block per hop, oldest first, then the conclusion. */
export function formatAnalysis(analysis: HeaderAnalysis): string {
  const blocks = analysis.hops.map(hopText);
  blocks.push(`Conclusion: ${analysis.conclusion.verdict}. ${analysis.conclusion.summary}`);
  return blocks.join("\n\n");
}

/**
 * `sealpost analyze-headers [FILE] [--json]`: reports, hop by hop, whether the Received
 * lines of a message record TLS. Exit 0 once analysed (the verdict is in the output),
 * 1 when the input cannot be read, 2 on a terminal with nothing piped in.
 */
export async function analyzeHeadersCommand(args: AnalyzeHeadersArgs): Promise<number> {
  const write = args.write ?? ((text: string) => process.stdout.write(text));
  if ("isTTY" in args.input && args.input.isTTY === true) {
    printError(USAGE);
    return 2;
  }
  let raw: Buffer;
  try {
    raw = await readHeaders(args.input);
  } catch (err) {
    const code = typeof err === "object" && err !== null && "code" in err ? String(err.code) : "";
    printError(`cannot read the message${/^E[A-Z]{2,12}$/.test(code) ? ` (${code})` : ""}`);
    return 1;
  }
  const analysis = analyzeHeaders(raw);
  write(args.json ? `${JSON.stringify(analysis, null, 2)}\n` : `${formatAnalysis(analysis)}\n`);
  return 0;
}
