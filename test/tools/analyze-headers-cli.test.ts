import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { Readable } from "node:stream";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { analyzeHeadersCommand, headerInput } from "../../src/cli/analyze-headers.ts";
import { analyzeHeaders } from "../../src/tools/analyze-headers.ts";

const FIXTURE = fileURLToPath(new URL("../fixtures/received/hotmail-to-luxsci.eml", import.meta.url));

async function run(input: NodeJS.ReadableStream, json: boolean): Promise<{ code: number; out: string }> {
  let out = "";
  const code = await analyzeHeadersCommand({ json, input, write: (text) => (out += text) });
  return { code, out };
}

test("analyze-headers --json prints the analysis of the message on stdin", async () => {
  const { code, out } = await run(Readable.from([readFileSync(FIXTURE)]), true);
  assert.equal(code, 0);
  assert.deepEqual(JSON.parse(out), analyzeHeaders(readFileSync(FIXTURE)));
});

test("analyze-headers prints one block per hop, oldest first, then the conclusion", async () => {
  const { code, out } = await run(headerInput(FIXTURE), false);
  assert.equal(code, 0);
  const lines = out.trimEnd().split("\n");
  assert.equal(lines[0], "  1  BAY403-EAS373 [65.54.190.199] → bay0-omc4-s14.bay0.outlook.com");
  assert.ok(
    lines.includes(
      "     NO TLS (likely plaintext) — no TLS recorded; Proofpoint records TLS when it is used",
    ),
  );
  assert.ok(
    lines.includes("     TLS TLSv1/SSLv3 DHE-RSA-AES256-SHA — sendmail TLS comment (version= cipher=)"),
  );
  assert.match(lines.at(-1) ?? "", /^Conclusion: gap\. Hop 2 recorded no TLS/);
});

test("analyze-headers reads a message arriving in small chunks, and only up to the header limit", async () => {
  const raw = readFileSync(FIXTURE);
  const chunks = Array.from({ length: Math.ceil(raw.length / 7) }, (_, i) => raw.subarray(i * 7, i * 7 + 7));
  const { out } = await run(Readable.from(chunks), true);
  assert.deepEqual(JSON.parse(out), analyzeHeaders(raw));

  let pulled = 0;
  const endless = new Readable({
    read() {
      pulled++;
      this.push(Buffer.alloc(64 * 1024, "x"));
    },
  });
  const { code, out: big } = await run(endless, true);
  assert.equal(code, 0);
  assert.ok(pulled < 40, "stops reading past the header limit");
  assert.equal(JSON.parse(big).conclusion.verdict, "unknown");
});

test("analyze-headers with an unreadable file exits 1", async () => {
  const { code, out } = await run(headerInput("/nonexistent/message.eml"), false);
  assert.equal(code, 1);
  assert.equal(out, "");
});
