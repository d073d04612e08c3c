import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { simpleParser } from "mailparser";
import { BATCH_ROWS, batchesOf } from "../src/cli/send-csv.ts";
import { contentTypeOf, csvRecipients, parseCsv, splitAddresses } from "../src/cli/send-input.ts";
import { auth, eventually, startTestApp, tempDir } from "./helpers/app.ts";

const BIN = fileURLToPath(new URL("../bin/sealpost.js", import.meta.url));

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `sealpost send …` as a real process; asynchronous, as the API answers from this one. */
function send(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [BIN, "send", ...args],
      { env: { PATH: process.env.PATH ?? "", ...env }, encoding: "utf8", timeout: 30_000 },
      (_err, stdout, stderr) => resolve({ status: child.exitCode, stdout, stderr }),
    );
  });
}

async function cliApp(t: import("node:test").TestContext, env: Record<string, string> = {}) {
  const ctx = await startTestApp(t, { env });
  const url = await ctx.app.listen();
  const key = await ctx.key(["messages:send", "messages:read", "messages:read_content"], "test");
  const dir = tempDir("sealpost-cli-send-");
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  /** The sandbox copy of a message, once delivered there, parsed. */
  const captured = async (id: string) => {
    const msg = await eventually(async () => {
      const body = (await ctx.app.api.inject({ url: `/v1/messages/${id}`, headers: auth(key) })).json();
      return body.status === "delivered" ? body : undefined;
    });
    const copy = (
      await ctx.app.api.inject({ url: `/v1/sandbox/messages/${msg.deliveries[0].id}`, headers: auth(key) })
    ).json();
    return simpleParser(Buffer.from(copy.raw, "base64"));
  };
  return { ...ctx, url, key, dir, captured };
}

test("send with --file and --attach: the message arrives (sandbox) with its attachment", async (t) => {
  const { url, key, dir, captured } = await cliApp(t);
  writeFileSync(join(dir, "letter.html"), "<p>Your letter is <b>attached</b>.</p>");
  writeFileSync(join(dir, "letter.pdf"), "%PDF-1.7 referral letter");
  const run = await send([
    "--url",
    url,
    "--key",
    key,
    "--from",
    "Clinic <clinic@example.com>",
    "--to",
    'pat@example.org, "Doe, Jo" <jo@example.org>',
    "--subject",
    "Your referral",
    "--text",
    "Your letter is attached.",
    "--file",
    join(dir, "letter.html"),
    "--attach",
    join(dir, "letter.pdf"),
  ]);
  assert.equal(run.status, 0, run.stderr);
  const m = /^Queued (msg_[0-9a-z]{26}): pat@example\.org queued, jo@example\.org queued\n$/.exec(run.stdout);
  assert.ok(m?.[1], run.stdout);
  const mail = await captured(m[1]);
  assert.equal(mail.subject, "Your referral");
  assert.equal(mail.text?.trim(), "Your letter is attached.");
  assert.equal(mail.html, "<p>Your letter is <b>attached</b>.</p>");
  assert.equal(mail.to && !Array.isArray(mail.to) ? mail.to.value.length : 0, 2);
  assert.equal(mail.attachments[0]?.filename, "letter.pdf");
  assert.equal(mail.attachments[0]?.contentType, "application/pdf");
  assert.equal(mail.attachments[0]?.content.toString(), "%PDF-1.7 referral letter");
});

test("send --json prints the API's answer; the key may come from SEALPOST_API_KEY", async (t) => {
  const { url, key } = await cliApp(t);
  const run = await send(
    ["--url", url, "--from", "clinic@example.com", "--to", "a@example.org", "--to", "b@example.org"].concat([
      "--bcc",
      "records@example.org",
      "--subject",
      "Hello",
      "--text",
      "Hi.",
      "--json",
    ]),
    { SEALPOST_API_KEY: key },
  );
  assert.equal(run.status, 0, run.stderr);
  const answer = JSON.parse(run.stdout);
  assert.match(answer.id, /^msg_[0-9a-z]{26}$/);
  assert.equal(answer.status, "queued");
  assert.ok(!Number.isNaN(Date.parse(answer.created_at)));
  assert.deepEqual(
    answer.deliveries.map((d: { to: string; kind: string; status: string }) => [d.to, d.kind, d.status]),
    [
      ["a@example.org", "to", "queued"],
      ["b@example.org", "to", "queued"],
      ["records@example.org", "bcc", "queued"],
    ],
  );
  for (const d of answer.deliveries) assert.match(d.id, /^dlv_[0-9a-z]{26}$/);
});

test("send: a bad key exits 1 with the problem code; bad usage exits 2", async (t) => {
  const { url, dir } = await cliApp(t);
  const args = ["--url", url, "--from", "clinic@example.com", "--to", "a@example.org", "--subject", "s"];
  const bad = await send([...args, "--text", "t", "--key", "sp_test_wrongwrongwrongwrongwrongwrong"]);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /^error: unauthorized: /);
  assert.equal(bad.stdout, "");
  const badJson = await send([
    ...args,
    "--text",
    "t",
    "--key",
    "sp_test_wrongwrongwrongwrongwrongwrong",
    "--json",
  ]);
  assert.equal(badJson.status, 1);
  assert.equal(JSON.parse(badJson.stdout).code, "unauthorized");

  const noBody = await send([...args, "--key", "k"]);
  assert.equal(noBody.status, 2);
  assert.match(noBody.stderr, /--text, --html or --file/);
  assert.equal((await send([...args, "--text", "t"])).status, 2, "no key");
  assert.equal((await send([...args, "--text", "t", "--key", "k", "--url", "http://192.0.2.1"])).status, 2);
  writeFileSync(join(dir, "nocolumn.csv"), "name\nPat\n");
  const noColumn = await send(
    [...args.slice(0, 4), "--subject", "s", "--text", "t", "--key", "k"].concat([
      "--csv",
      join(dir, "nocolumn.csv"),
    ]),
  );
  assert.equal(noColumn.status, 2);
  assert.match(noColumn.stderr, /"email" \(or "to"\) column/);
});

test("send --csv: one message per row with a summary; a failed row makes the exit non-zero", async (t) => {
  const { app, url, key, dir } = await cliApp(t);
  writeFileSync(
    join(dir, "patients.csv"),
    'first_name,Email,note\r\nPat,pat@example.org,"likes ""quotes"", commas"\r\nJo,jo@example.org,\r\n\r\nSam,sam@example.org,x\r\n',
  );
  const base = ["--url", url, "--key", key, "--from", "clinic@example.com", "--subject", "Reminder"];
  const run = await send([...base, "--text", "See you soon.", "--csv", join(dir, "patients.csv")]);
  assert.equal(run.status, 0, run.stderr);
  assert.equal(run.stdout, "Sent 3 of 3 messages.\n");
  assert.equal(run.stderr, "", "no progress line when stderr is not a terminal");
  const inbox = await eventually(async () => {
    const body = (await app.api.inject({ url: "/v1/sandbox/messages", headers: auth(key) })).json();
    return body.data.length === 3 ? body.data : undefined;
  });
  assert.deepEqual(inbox.map((m: { envelope_to: string }) => m.envelope_to).sort(), [
    "jo@example.org",
    "pat@example.org",
    "sam@example.org",
  ]);

  writeFileSync(join(dir, "one-bad.csv"), "to\na@example.org\nnot-an-address\nc@example.org\n");
  const mixed = await send([...base, "--text", "t", "--csv", join(dir, "one-bad.csv"), "--json"]);
  assert.equal(mixed.status, 1);
  const summary = JSON.parse(mixed.stdout);
  assert.deepEqual([summary.total, summary.sent, summary.failed, summary.skipped], [3, 2, 1, 0]);
  assert.deepEqual(
    summary.results.map((r: { row: number; id?: string; error?: { code: string } }) => [
      r.row,
      r.id === undefined ? r.error?.code : "ok",
    ]),
    [
      [2, "ok"],
      [3, "invalid_address"],
      [4, "ok"],
    ],
  );
  assert.equal(summary.results[1].error.code, "invalid_address");
  assert.equal(summary.results[1].to, "not-an-address");
});

function csvOf(n: number): string {
  return `email\n${Array.from({ length: n }, (_, i) => `p${i}@example.org`).join("\n")}\n`;
}

test("send --csv goes through POST /v1/messages/batch, 100 rows to a request and one commit each", async (t) => {
  const { app, url, key, dir } = await cliApp(t);
  writeFileSync(join(dir, "many.csv"), csvOf(250));
  const base = ["--url", url, "--key", key, "--from", "clinic@example.com", "--subject", "Reminder"];
  const args = [...base, "--text", "t", "--csv", join(dir, "many.csv"), "--idempotency-key", "run-1"];
  const submitAll = t.mock.method(app.submit.committer, "submitAll");
  const submitOne = t.mock.method(app.submit.committer, "submit");
  const run = await send([...args, "--json"]);
  assert.equal(run.status, 0, run.stderr);
  const summary = JSON.parse(run.stdout);
  assert.deepEqual([summary.total, summary.sent, summary.failed, summary.skipped], [250, 250, 0, 0]);
  assert.deepEqual(
    summary.results.map((r: { row: number }) => r.row),
    Array.from({ length: 250 }, (_, i) => i + 2),
  );
  const sizes = submitAll.mock.calls.map((c) => c.arguments[0].length).sort((a, b) => b - a);
  assert.deepEqual(sizes, [100, 100, 50]);
  assert.equal(submitOne.mock.callCount(), 0);

  // The same file with the same key again: every batch is a replay, nothing is stored twice.
  const again = await send([...args, "--json"]);
  assert.equal(again.status, 0, again.stderr);
  assert.deepEqual(
    JSON.parse(again.stdout).results.map((r: { id: string }) => r.id),
    summary.results.map((r: { id: string }) => r.id),
  );
  assert.equal(submitAll.mock.callCount(), 3);

  // A refused key stops the run: nothing is sent, the reason is said once.
  const refused = await send(
    [...args.slice(0, 2), "--key", "sp_test_wrongwrongwrongwrongwrongwrong"].concat(args.slice(4)),
  );
  assert.equal(refused.status, 1);
  assert.match(refused.stderr, /^stopped: the API refused the key: unauthorized: /m);
  assert.equal(refused.stdout, "Sent 0 of 250 messages; 250 not sent.\n");
});

test("send --csv: a batch the API finds too large (413) is split until it fits", async (t) => {
  // The CLI plans batches for its own (default) limit; the server takes 16 KiB bodies.
  const { app, url, key, dir } = await cliApp(t, { SEALPOST_MAX_MESSAGE_BYTES: "16384" });
  writeFileSync(join(dir, "split.csv"), csvOf(150));
  const submitAll = t.mock.method(app.submit.committer, "submitAll");
  const run = await send(
    ["--url", url, "--key", key, "--from", "clinic@example.com", "--subject", "Reminder"].concat([
      "--text",
      "Your appointment is tomorrow. ".repeat(10),
      "--csv",
      join(dir, "split.csv"),
    ]),
  );
  assert.equal(run.status, 0, run.stderr);
  assert.equal(run.stdout, "Sent 150 of 150 messages.\n");
  assert.ok(submitAll.mock.callCount() > 2, "sent in smaller batches");
  for (const c of submitAll.mock.calls) assert.ok(c.arguments[0].length <= 50);
});

test("send input: address lists, CSV quoting and content types", () => {
  assert.deepEqual(splitAddresses(['a@x.example, "Doe, Jo" <jo@y.example>', "b@z.example,", " "]), [
    "a@x.example",
    '"Doe, Jo" <jo@y.example>',
    "b@z.example",
  ]);
  assert.deepEqual(parseCsv('\uFEFFemail,note\n"q@x.example","a ""b"", c\nd"\r\nr@x.example,'), [
    ["email", "note"],
    ["q@x.example", 'a "b", c\nd'],
    ["r@x.example", ""],
  ]);
  assert.deepEqual(csvRecipients("Name,TO\nPat, p@x.example \n,\n"), [{ row: 2, to: "p@x.example" }]);
  assert.equal(csvRecipients("name\nPat\n"), null);
  const rows = Array.from({ length: 250 }, (_, i) => ({ row: i + 2, to: `p${i}@example.org` }));
  const message = { from: "c@example.com", subject: "s", text: "x".repeat(1000) };
  assert.deepEqual(
    batchesOf(rows, message, 40 * 1024 * 1024).map((b) => b.length),
    [BATCH_ROWS, BATCH_ROWS, 50],
  );
  const small = batchesOf(rows, message, 20_000);
  assert.deepEqual(small.flat(), rows, "every row once, in order");
  for (const [i, b] of small.entries()) {
    const bytes = Buffer.byteLength(JSON.stringify({ messages: b.map((r) => ({ ...message, to: r.to })) }));
    // Full up to the last byte that fits one more row, except the last batch.
    assert.ok(bytes <= 20_000, `${b.length} rows: ${bytes} bytes`);
    if (i < small.length - 1) assert.ok(bytes > 20_000 - 1100, `${b.length} rows: ${bytes} bytes`);
  }
  assert.equal(contentTypeOf("/tmp/scan.DCM"), "application/dicom");
  assert.equal(contentTypeOf("notes"), "application/octet-stream");
});
