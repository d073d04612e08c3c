/**
 * The Postfix test helper against the real thing: a private Postfix with STARTTLS accepts
 * mail from nodemailer and swaks and delivers it byte-intact into its Maildir.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type TestContext, test } from "node:test";
import { simpleParser } from "mailparser";
import { createTransport } from "nodemailer";
import { type PostfixInstance, startPostfix } from "./helpers/postfix.ts";
import { requireTool } from "./helpers/tools.ts";

interface Pem {
  cert: string;
  key: string;
}

function run(command: string, args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { timeout: 60_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === "number" ? err.code : 1;
      resolve({ code, output: `${stdout}${stderr}` });
    });
  });
}

/** A throwaway self-signed certificate from the openssl CLI. */
async function opensslCertificate(): Promise<Pem> {
  const dir = await mkdtemp(join(tmpdir(), "sealpost-cert-"));
  try {
    const keyFile = join(dir, "key.pem");
    const certFile = join(dir, "cert.pem");
    const result = await run("openssl", [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      keyFile,
      "-out",
      certFile,
      "-days",
      "2",
      "-subj",
      "/CN=postfix.test",
      "-addext",
      "subjectAltName=DNS:postfix.test,IP:127.0.0.1",
    ]);
    assert.equal(result.code, 0, result.output);
    return { cert: await readFile(certFile, "utf8"), key: await readFile(keyFile, "utf8") };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function startTestPostfix(t: TestContext): Promise<PostfixInstance> {
  const pem = await opensslCertificate();
  const postfix = await startPostfix({ tlsCert: pem.cert, tlsKey: pem.key });
  t.after(() => postfix.stop());
  return postfix;
}

/** Header fields of a raw message, unfolded, in order. */
function headerFields(raw: Buffer, name: string): string[] {
  const text = raw.toString("latin1");
  const end = text.search(/\r?\n\r?\n/);
  const header = end === -1 ? text : text.slice(0, end);
  const prefix = `${name.toLowerCase()}:`;
  return header
    .split(/\r?\n(?![ \t])/)
    .map((field) => field.replace(/\r?\n[ \t]+/g, " "))
    .filter((field) => field.toLowerCase().startsWith(prefix));
}

test("postfix accepts nodemailer mail over STARTTLS and delivers it intact", async (t) => {
  if (!requireTool(t, "postfix") || !requireTool(t, "openssl")) return;
  const postfix = await startTestPostfix(t);

  const testId = randomUUID();
  const text = "Your lab result is ready.\nLog in to read it.";
  const html = "<p>Your lab result is <b>ready</b>.</p>";
  const pdf = Buffer.concat([
    Buffer.from("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog >> endobj\n", "latin1"),
    randomBytes(200 * 1024),
    Buffer.from("\n%%EOF\n"),
  ]);

  const transport = createTransport({
    host: postfix.host,
    port: postfix.port,
    secure: false,
    requireTLS: true,
    tls: { rejectUnauthorized: false },
  });
  t.after(() => transport.close());
  const info = await transport.sendMail({
    from: "Clinic <noreply@sealpost.test>",
    to: "someone@example.test",
    subject: "Lab result ready",
    text,
    html,
    headers: { "X-Sealpost-Test-Id": testId },
    attachments: [{ filename: "result.pdf", content: pdf, contentType: "application/pdf" }],
  });
  assert.deepEqual(info.accepted, ["someone@example.test"]);

  const [raw] = await postfix.waitForMessages(1);
  assert.ok(raw !== undefined);
  const mail = await simpleParser(raw);
  assert.equal(mail.subject, "Lab result ready");
  assert.equal(mail.from?.text, '"Clinic" <noreply@sealpost.test>');
  assert.equal(mail.headers.get("x-sealpost-test-id"), testId);
  assert.equal(mail.messageId, info.messageId);
  assert.equal(mail.text?.trim(), text);
  assert.equal(mail.html, html);
  assert.equal(mail.attachments.length, 1);
  const [attachment] = mail.attachments;
  assert.equal(attachment?.filename, "result.pdf");
  assert.equal(attachment?.contentType, "application/pdf");
  assert.ok(attachment?.content.equals(pdf), "attachment bytes changed in transit");

  // Postfix's own Received header (the newest, so the first) records the TLS hop.
  const [received] = headerFields(raw, "Received");
  assert.ok(received !== undefined, "no Received header");
  assert.match(received, /by postfix\.test \(Postfix\) with ESMTPS/);
  assert.match(received, /using TLSv1\.[23] with cipher \S+/);
  assert.deepEqual(headerFields(raw, "Delivered-To"), ["Delivered-To: someone@example.test"]);
});

test("postfix accepts swaks over STARTTLS and refuses other domains", async (t) => {
  if (!requireTool(t, "postfix") || !requireTool(t, "openssl") || !requireTool(t, "swaks")) return;
  const postfix = await startTestPostfix(t);
  const server = `${postfix.host}:${postfix.port}`;
  const common = ["--server", server, "--tls", "--helo", "client.test", "--from", "sender@sealpost.test"];

  const sent = await run("swaks", [
    ...common,
    "--to",
    "x@example.test",
    "--header",
    "Subject: swaks over TLS",
  ]);
  assert.equal(sent.code, 0, sent.output);
  assert.match(sent.output, /<~ {2}250 2\.0\.0 Ok: queued as/);

  const [raw] = await postfix.waitForMessages(1);
  assert.ok(raw !== undefined);
  const mail = await simpleParser(raw);
  assert.equal(mail.subject, "swaks over TLS");
  assert.match(headerFields(raw, "Received")[0] ?? "", /using TLSv1\.[23] with cipher/);

  const refused = await run("swaks", [...common, "--to", "x@elsewhere.test"]);
  assert.notEqual(refused.code, 0);
  assert.match(refused.output, /554 5\.7\.1 <x@elsewhere\.test>: Relay access denied/);
});
