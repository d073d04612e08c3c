/**
 * The requests of the canary leak test (test/pipeline/canary.test.ts), one builder per entry
 * point: REST bodies (single, batch), Paubox bodies, SMTP transactions and `sealpost send`
 * command lines. Valid ones carry a canary (test/helpers/canary.ts) in every field that takes
 * one; invalid ones carry canaries in the very values that are wrong (a malformed address,
 * an oversize field, a CR/LF, a wrong type), since a refusal must not echo what it refuses.
 */
import { BOOTSTRAP_KEY } from "./app.ts";
import { base64, CANARY, mimeMessage } from "./canary.ts";
import { sdkMessage } from "./paubox-sdk.ts";

export const RCPT = `${CANARY.recipient}@example.org`;
export const REJECTED = `${CANARY.rejected}@example.org`;
const BCC_INJECTION = "\r\nBcc: x@example.org";

/** A POST /v1/messages body with a canary in every field that takes one. */
export const canaryMessage = {
  from: "Clinic <clinic@example.com>",
  to: [RCPT, REJECTED],
  subject: CANARY.subject,
  text: CANARY.text,
  html: CANARY.html,
  attachments: [
    { filename: `${CANARY.filename}.txt`, content: base64(CANARY.attachment), content_type: "text/plain" },
  ],
  headers: { "X-Ref": CANARY.header },
  metadata: { note: CANARY.metadata },
};

/** Every field wrong, each wrong value carrying a canary: invalid, oversize, CR/LF, wrong type. */
export const everyFieldBad = {
  from: `${CANARY.recipient}@`,
  to: [`${CANARY.recipient}@`, `Jane <${CANARY.rejected}(at)example.org>`],
  cc: `${RCPT}${BCC_INJECTION}`,
  reply_to: CANARY.subject,
  subject: `${CANARY.subject}${BCC_INJECTION}`,
  text: CANARY.text,
  html: CANARY.html,
  attachments: [
    {
      filename: CANARY.filename.repeat(20),
      content: CANARY.attachment,
      content_type: `${CANARY.metadata} x`,
    },
    { filename: `${CANARY.filename}\r\n.txt`, content: base64(CANARY.attachment) },
  ],
  headers: { "X-Ref": CANARY.header.repeat(70), "X-Other": `${CANARY.header}${BCC_INJECTION}` },
  tags: [`${CANARY.metadata} tag`],
  metadata: { note: CANARY.metadata.repeat(40) },
  encryption: CANARY.header,
  send_at: CANARY.subject,
  allow_non_tls: CANARY.text,
  sandbox: CANARY.text,
};

/** POST /v1/messages/batch: valid, invalid and scheduled items, with each item's expected status. */
export function batchItems(sendAt: string): [unknown, number][] {
  return [
    [canaryMessage, 202],
    [{ ...canaryMessage, to: `${CANARY.recipient}@` }, 422],
    [{ ...canaryMessage, subject: `${CANARY.subject} ${"x".repeat(1000)}` }, 422],
    [everyFieldBad, 422],
    [{ ...canaryMessage, from: `${CANARY.recipient}@unverified.example` }, 422],
    [CANARY.text, 422],
    [{ ...canaryMessage, send_at: sendAt }, 202],
    [{ ...canaryMessage, headers: { "X-Ref": `${CANARY.header}${BCC_INJECTION}` } }, 422],
    [{ ...canaryMessage, send_at: "2020-01-01T00:00:00Z" }, 422],
  ];
}

/** Batch bodies refused as a whole, and the status each gets. */
export const batchRefusals: [string, string | object, number][] = [
  ["unknown key", { messages: [canaryMessage], [CANARY.subject]: true }, 422],
  ["messages not a list", { messages: CANARY.text }, 422],
  [
    "501 messages",
    { messages: Array(501).fill({ to: RCPT, subject: CANARY.subject, text: CANARY.text }) },
    422,
  ],
  ["not JSON", `{"messages":[{"to":"${RCPT}","subject":"${CANARY.subject}","text":"${CANARY.text}"`, 400],
];

/** Paubox `data.message` bodies: accepted, every field bad, From on an unverified domain. */
export function pauboxMessages() {
  const ok = sdkMessage({
    from: "clinic@example.com",
    to: [RCPT, REJECTED],
    subject: CANARY.subject,
    custom_headers: { "X-Ref": CANARY.header },
    text_content: CANARY.text,
    html_content: CANARY.html,
    attachments: [
      { fileName: `${CANARY.filename}.txt`, contentType: "text/plain", content: base64(CANARY.attachment) },
    ],
  });
  const bad = {
    ...ok,
    recipients: [`${CANARY.recipient}@`, `Jane <${CANARY.rejected}(at)example.org>`],
    cc: [`${RCPT}${BCC_INJECTION}`],
    headers: {
      ...ok.headers,
      from: `${CANARY.recipient}@`,
      subject: `${CANARY.subject}${BCC_INJECTION}`,
      "reply-to": CANARY.subject,
      "X-Ref": CANARY.header.repeat(70),
    },
    attachments: [
      {
        fileName: CANARY.filename.repeat(20),
        contentType: `${CANARY.metadata} x`,
        content: CANARY.attachment,
      },
    ],
  };
  const unverified = { ...ok, headers: { ...ok.headers, from: `${CANARY.recipient}@unverified.example` } };
  const refusals: [string, unknown][] = [
    ["every field bad", { data: { message: bad } }],
    ["unverified from", { data: { message: unverified } }],
    ["message not an object", { data: { message: CANARY.text } }],
    ["allowNonTLS", { data: { message: { ...ok, allowNonTLS: CANARY.metadata } } }],
    ["forceSecureNotification", { data: { message: { ...ok, forceSecureNotification: CANARY.header } } }],
  ];
  const truncated = `{"data":{"message":{"recipients":["${RCPT}"],"headers":{"subject":"${CANARY.subject}"`;
  return { ok, bad, unverified, refusals, truncated };
}

/** A submitted MIME message with canaries everywhere; `headers` adds to (or overrides) X-Ref. */
export function smtpMessage(headers: Record<string, string>, from = "Clinic <clinic@example.com>"): string {
  return mimeMessage({
    from,
    to: `${RCPT}, ${REJECTED}`,
    subject: CANARY.subject,
    headers: { "X-Ref": CANARY.header, ...headers },
    text: CANARY.text,
    html: CANARY.html,
    attachment: { filename: `${CANARY.filename}.txt`, content: CANARY.attachment },
  });
}

/** SMTP transactions refused after DATA, with the reply code each gets. */
export const smtpRefusals: [string, string][] = [
  ["550", smtpMessage({}, `Pat <${CANARY.rejected}@unverified.example>`)],
  ["554", smtpMessage({ "X-Sealpost-Encryption": CANARY.header })],
  ["554", smtpMessage({ "X-Sealpost-Tags": `${CANARY.metadata} tag` })],
];

export interface CliCase {
  label: string;
  args: string[];
  status: number;
}

/**
 * `sealpost send` command lines against the node at `base`: two accepted (the first prints
 * the documented `Queued <id>: <recipients>` line, the second --json), then the failures.
 * `file` holds CANARY.attachment and is named after CANARY.filename; `csv` has a good and a
 * bad row; `closedPort` has no listener.
 */
export function cliCases(o: { base: string; file: string; csv: string; closedPort: number }): CliCase[] {
  const conn = ["--url", o.base, "--key", BOOTSTRAP_KEY];
  const subject = ["--subject", CANARY.subject];
  const body = ["--text", CANARY.text, "--html", CANARY.html, "--attach", o.file];
  const from = ["--from", "Clinic <clinic@example.com>"];
  const unverified = ["--from", `Pat <${CANARY.recipient}@unverified.example>`, "--to", RCPT, ...subject];
  const toRcpt = [...conn, ...from, "--to", RCPT];
  return [
    {
      label: "accepted",
      args: [...conn, ...from, "--to", `${RCPT}, ${REJECTED}`, ...subject, ...body],
      status: 0,
    },
    {
      label: "accepted --json",
      args: [...toRcpt, ...subject, ...body, "--idempotency-key", CANARY.idempotency, "--json"],
      status: 0,
    },
    { label: "unverified domain", args: [...conn, ...unverified, ...body], status: 1 },
    { label: "unverified domain --json", args: [...conn, ...unverified, ...body, "--json"], status: 1 },
    {
      label: "invalid fields --json",
      args: [
        ...conn,
        ...from,
        ...["--to", `${CANARY.recipient}@`, "--subject", `${CANARY.subject}\r\nBcc: x`],
        ...body,
        "--json",
      ],
      status: 1,
    },
    {
      label: "--csv with a bad row",
      args: [...conn, ...from, "--csv", o.csv, ...subject, ...body],
      status: 1,
    },
    // A shell script that lost an option name: the value becomes a stray argument.
    { label: "a value without its option", args: [...toRcpt, ...subject, CANARY.text], status: 2 },
    {
      label: "an attachment that is not there",
      args: [...toRcpt, ...subject, ...body, "--attach", `${o.file}.missing`],
      status: 2,
    },
    {
      label: "unreachable",
      args: ["--url", `http://127.0.0.1:${o.closedPort}`, ...toRcpt.slice(2), ...subject, ...body],
      status: 1,
    },
  ];
}
