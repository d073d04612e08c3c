import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { requireTool } from "../helpers/tools.ts";
import { QUEUED, received, relayedApp, smtpApp } from "./setup.ts";

const SCRIPT = fileURLToPath(new URL("../fixtures/smtplib-submit.py", import.meta.url));

interface Outcome {
  ok: boolean;
  extensions?: string[];
  size?: string;
  code?: number;
  reply?: string;
  error?: string;
}

/** Runs Python's smtplib (starttls + login + sendmail) against the app, asynchronously. */
async function smtplib(spec: Record<string, unknown>): Promise<Outcome> {
  const run = await promisify(execFile)("python3", [SCRIPT, JSON.stringify({ host: "127.0.0.1", ...spec })], {
    encoding: "utf8",
    timeout: 30_000,
  });
  return JSON.parse(run.stdout) as Outcome;
}

const message = {
  user: "api",
  from: "clinic@example.com",
  to: ["pat@example.org"],
  subject: "Results from Python",
  text: "Grüße — your results are attached.\n",
};

test("Python smtplib: starttls() + login() + sendmail; the message reaches the receiving server intact", async (t) => {
  if (!requireTool(t, "python3")) return;
  const { adminKey, ports, sink, config } = await relayedApp(t);
  const out = await smtplib({
    ...message,
    port: ports.smtp,
    password: adminKey,
    attachment: { filename: "results.txt", content: "glucose 5.4 mmol/L" },
  });
  assert.equal(out.ok, true, JSON.stringify(out));
  assert.match(`${out.code} ${out.reply}`, QUEUED);
  for (const ext of ["8bitmime", "smtputf8", "pipelining", "enhancedstatuscodes", "size", "auth"])
    assert.ok(out.extensions?.includes(ext), `${ext} advertised: ${out.extensions}`);
  for (const ext of ["dsn", "requiretls", "starttls"])
    assert.ok(!out.extensions?.includes(ext), `${ext} not advertised`);
  assert.equal(out.size, String(config.maxMessageBytes));
  const got = await received(sink);
  assert.equal(got.subject, "Results from Python");
  assert.equal(got.text?.trim(), "Grüße — your results are attached.");
  assert.equal(got.attachments[0]?.filename, "results.txt");
  assert.equal(got.attachments[0]?.content.toString(), "glucose 5.4 mmol/L");
});

test("Python smtplib: AUTH before STARTTLS, a wrong key, a foreign sender and SIZE are refused", async (t) => {
  if (!requireTool(t, "python3")) return;
  const { adminKey, ports } = await smtpApp(t, { SEALPOST_MAX_MESSAGE_BYTES: "65536" });
  const base = { ...message, port: ports.smtp, password: adminKey };

  const plain = await smtplib({ ...base, starttls: false });
  assert.equal(plain.error, "SMTPAuthenticationError");
  assert.equal(plain.code, 538);
  assert.match(plain.reply ?? "", /^5\.7\.0 /);

  const wrong = await smtplib({ ...base, password: "sp_live_wrongwrongwrongwrongwrongwrong" });
  assert.equal(wrong.error, "SMTPAuthenticationError");
  assert.equal(wrong.code, 535);
  assert.match(wrong.reply ?? "", /^5\.7\.8 /);

  const foreign = await smtplib({ ...base, from: "someone@elsewhere.example" });
  assert.equal(foreign.error, "SMTPSenderRefused");
  assert.equal(foreign.code, 550);
  assert.match(foreign.reply ?? "", /^5\.7\.1 /);
  assert.doesNotMatch(foreign.reply ?? "", /elsewhere/, "the reply does not echo the address");

  // smtplib sends SIZE=<length> because the server advertises SIZE: refused at MAIL FROM.
  const big = await smtplib({ ...base, pad_bytes: 100_000 });
  assert.equal(big.error, "SMTPSenderRefused");
  assert.equal(big.code, 552);
  assert.match(big.reply ?? "", /^5\.3\.4 /);
});
