/**
 * Canary PHI for the leak tests (test/pipeline/canary.test.ts): synthetic values that must
 * never appear outside encrypted storage, and a collector that greps every output surface
 * (HTTP answers, SMTP replies, CLI output, logs, store files, a pg_dump) and lists each
 * surface a value escaped to, so one run reports every leak rather than the first.
 *
 *   const surfaces = new Surfaces();
 *   surfaces.response("POST /v1/messages/batch", res, ECHO.batch);
 *   surfaces.check("SMTP replies", replies);
 *   assert.deepEqual(surfaces.leaks, []);
 *
 * A value counts as found when the surface holds it whole, its distinctive token
 * (`Canary…`, compared without case, so a lower-cased or truncated copy is caught too), any
 * SSN in it, or the start of its base64 form.
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { Writable } from "node:stream";
import type { TestContext } from "node:test";
import { testStore } from "./app.ts";
import { requireTool } from "./tools.ts";

export const CANARY = {
  // A subject with detectable PHI is refused (ADR 0010 §2), so the SSN rides in the text;
  // the subject keeps a name, which the detector does not find unless it is marked.
  subject: "CanarySubjectQX7 for Jane Canaryfield",
  text: "CanaryTextZP3 patient Jane Canaryfield MRN 44831902 SSN 078-05-1120",
  html: "<p>CanaryHtmlWK9 diagnosis E11.9</p>",
  attachment: "CanaryAttachmentRT5 lab result",
  /** The local part of the recipient address (the domain is example.org). */
  recipient: "canaryrecipientvm2",
  header: "CanaryHeaderHB4",
  metadata: "CanaryMetaJD6",
  /** A recipient the receiving server refuses with a reply that echoes the address. */
  rejected: "canaryrejectedNN8",
  /** Stem of an attachment file name. */
  filename: "CanaryFileNameFN3",
  /** Idempotency keys are stored as keyed hashes only (docs/security.md). */
  idempotency: "CanaryIdemKeyIK2",
};

export type CanaryName = keyof typeof CANARY;

const TOKEN = /canary[a-z0-9]+/i;

function markers(value: string): string[] {
  const token = TOKEN.exec(value)?.[0];
  // An SSN-shaped run; plain digit runs could turn up by chance in hex or timestamps.
  const digits = value.match(/\d{3}-\d{2}-\d{4}/g) ?? [];
  return [...(token === undefined ? [] : [token.toLowerCase()]), ...digits];
}

const MARKERS = Object.entries(CANARY).map(([name, value]) => ({
  name,
  value,
  markers: markers(value),
  base64: Buffer.from(value).toString("base64").slice(0, 16),
}));

/** The names of the canary values found in `haystack`. */
export function hits(haystack: string | Buffer): string[] {
  const text = Buffer.isBuffer(haystack) ? haystack.toString("latin1") : haystack;
  const lower = text.toLowerCase();
  return MARKERS.filter(
    (m) => text.includes(m.value) || text.includes(m.base64) || m.markers.some((k) => lower.includes(k)),
  ).map((m) => m.name);
}

export const base64 = (s: string): string => Buffer.from(s).toString("base64");

/** A stream that keeps what is written (the JSON log lines of an in-process app). */
export function collector() {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(chunk.toString());
      cb();
    },
  });
  return { stream, text: () => chunks.join("") };
}

/**
 * Drops one documented echo from a parsed JSON answer: `path` names object keys, `*` every
 * element of a list. The caller's own input echoed back on purpose (the recipient addresses
 * of a submit answer, docs/api.md) is not a leak; anything anywhere else is.
 */
export function omit(value: unknown, path: readonly string[]): unknown {
  const [head, ...rest] = path;
  if (head === undefined) return value;
  if (head === "*") return Array.isArray(value) ? value.map((v) => omit(v, rest)) : value;
  if (typeof value !== "object" || value === null || Array.isArray(value)) return value;
  const obj: Record<string, unknown> = { ...value };
  if (!(head in obj)) return value;
  if (rest.length === 0) delete obj[head];
  else obj[head] = omit(obj[head], rest);
  return obj;
}

/** A path to an echoed field: object keys, `*` for every element of a list. */
export type EchoPath = readonly string[];

/** Where an answer echoes the caller's input by design (docs/api.md, docs/paubox-compatibility.md). */
export const ECHO = {
  none: [] as EchoPath[],
  /** POST /v1/messages answer, message view, cancel answer: `deliveries[].to` (scope messages:read). */
  message: [["deliveries", "*", "to"]] as EchoPath[],
  list: [["data", "*", "deliveries", "*", "to"]] as EchoPath[],
  batch: [["data", "*", "message", "deliveries", "*", "to"]] as EchoPath[],
  /** Paubox echoes the custom headers sent ("customHeaders"). */
  pauboxSend: [["customHeaders"]] as EchoPath[],
  pauboxBulk: [["messages", "*", "customHeaders"]] as EchoPath[],
  /** A receipt names each delivery's recipient. */
  receipt: [["data", "message", "message_deliveries", "*", "recipient"]] as EchoPath[],
};

interface Answer {
  statusCode: number;
  body: string;
  headers: Record<string, unknown>;
}

/** Every surface checked, and the ones a canary value escaped to. */
export class Surfaces {
  readonly leaks: string[] = [];
  readonly checked: string[] = [];

  check(label: string, content: string | Buffer): void {
    this.checked.push(label);
    const found = hits(content);
    if (found.length > 0) this.leaks.push(`${label}: ${found.join(", ")}`);
  }

  /** A JSON text, without the documented echoes; a text that is not JSON is checked whole. */
  json(label: string, body: string, echoes: readonly EchoPath[] = []): void {
    let value: unknown;
    try {
      value = JSON.parse(body);
    } catch {
      this.check(label, body);
      return;
    }
    for (const p of echoes) value = omit(value, p);
    this.check(label, JSON.stringify(value));
  }

  /** An HTTP answer: its body (without the documented echoes) and its headers. */
  response(label: string, res: Answer, echoes: readonly EchoPath[] = []): void {
    this.json(`${label} [${res.statusCode}]`, res.body, echoes);
    this.check(`${label} [${res.statusCode}] headers`, JSON.stringify(res.headers));
  }
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

/**
 * The store at rest: every file of the data dir (on SQLite the database itself, and keys and
 * certificates on both stores), and on PostgreSQL a data-only pg_dump. Returns false when
 * pg_dump is not installed; pass that to `requirePgDump` after the test's own assertions
 * (a skip there cannot hide a failure).
 */
export function checkStore(
  surfaces: Pick<Surfaces, "check">,
  dataDir: string,
  databaseUrl: string | undefined,
): boolean {
  const files = filesUnder(dataDir);
  if (testStore() === "sqlite")
    assert(
      files.some((f) => /sealpost\.db/.test(f)),
      "the SQLite file exists",
    );
  for (const f of files) surfaces.check(`data dir ${f.slice(dataDir.length + 1)}`, readFileSync(f));
  if (testStore() === "sqlite") return true;
  let dump: Buffer;
  try {
    dump = execFileSync("pg_dump", ["--data-only", databaseUrl ?? ""], { maxBuffer: 256 * 1024 * 1024 });
  } catch (err) {
    if ((err as { code?: unknown }).code === "ENOENT") return false;
    throw err;
  }
  assert(dump.length > 1000, "the dump has data");
  surfaces.check("pg_dump", dump);
  return true;
}

/** A PostgreSQL run that could not dump: skipped (failed with SEALPOST_REQUIRE_TOOLS=1). */
export function requirePgDump(t: TestContext, dumped: boolean): void {
  if (dumped || !requireTool(t, "postgres")) return;
  throw new Error("pg_dump is not installed: install with scripts/install-test-tools.sh");
}

function assert(ok: boolean, what: string): void {
  if (!ok) throw new Error(`expected: ${what}`);
}

/**
 * A submitted message as an SMTP client writes it (multipart/alternative text and HTML,
 * one attachment), CRLF line ends, ready for DATA (ends with the lone dot).
 */
export function mimeMessage(o: {
  from: string;
  to: string;
  subject: string;
  headers: Record<string, string>;
  text: string;
  html: string;
  attachment: { filename: string; content: string };
}): string {
  const mixed = "b1_sealpost_test";
  const alt = "b2_sealpost_test";
  return [
    `From: ${o.from}`,
    `To: ${o.to}`,
    `Subject: ${o.subject}`,
    `Date: ${new Date().toUTCString()}`,
    "MIME-Version: 1.0",
    ...Object.entries(o.headers).map(([k, v]) => `${k}: ${v}`),
    `Content-Type: multipart/mixed; boundary="${mixed}"`,
    "",
    `--${mixed}`,
    `Content-Type: multipart/alternative; boundary="${alt}"`,
    "",
    `--${alt}`,
    "Content-Type: text/plain; charset=utf-8",
    "",
    o.text,
    `--${alt}`,
    "Content-Type: text/html; charset=utf-8",
    "",
    o.html,
    `--${alt}--`,
    `--${mixed}`,
    `Content-Type: text/plain; name="${o.attachment.filename}"`,
    `Content-Disposition: attachment; filename="${o.attachment.filename}"`,
    "Content-Transfer-Encoding: base64",
    "",
    base64(o.attachment.content),
    `--${mixed}--`,
    ".",
    "",
  ].join("\r\n");
}
