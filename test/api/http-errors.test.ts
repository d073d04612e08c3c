/**
 * Requests Node's HTTP layer refuses before routing still get an RFC 9457 problem with a
 * stable code, and echo nothing from the request.
 */
import assert from "node:assert/strict";
import { connect } from "node:net";
import { test } from "node:test";
import { startTestApp } from "../helpers/app.ts";

async function raw(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    let data = "";
    socket.setEncoding("latin1");
    socket.on("data", (d: string) => {
      data += d;
    });
    socket.on("close", () => resolve(data));
    socket.on("error", reject);
    socket.setTimeout(5000, () => socket.destroy());
    socket.write(request);
  });
}

function parse(answer: string): { status: number; type: string; body: { code?: string; status?: number } } {
  const [head = "", body = ""] = answer.split("\r\n\r\n");
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]);
  const type = /^content-type: *([^\r\n]+)/im.exec(head)?.[1] ?? "";
  return { status, type, body: body === "" ? {} : (JSON.parse(body) as { code?: string }) };
}

test("bad framing, header floods, no Host and odd Expect headers get problem+json with a code", async (t) => {
  const { app } = await startTestApp(t, { worker: false });
  const address = await app.listen();
  const port = Number(new URL(address).port);
  const secret = "Jane Doe 078-05-1120";
  const cases: [string, string, number, string][] = [
    ["garbage request line", `GET / HTTP/1.1 ${secret}\r\n\r\n`, 400, "malformed_request"],
    [
      "bad header",
      `GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header: ${secret}\r\n\r\n`,
      400,
      "malformed_request",
    ],
    [
      "header flood",
      `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(20_000)}${secret}\r\n\r\n`,
      431,
      "headers_too_large",
    ],
    ["no Host", "GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n", 400, "malformed_request"],
    [
      "Expect other than 100-continue",
      `GET /healthz HTTP/1.1\r\nHost: x\r\nExpect: ${secret}\r\n\r\n`,
      417,
      "expectation_failed",
    ],
  ];
  for (const [name, request, status, code] of cases) {
    const answer = await raw(port, request);
    const got = parse(answer);
    assert.equal(got.status, status, `${name}: ${answer.slice(0, 200)}`);
    assert.match(got.type, /^application\/problem\+json(;|$)/, name);
    assert.equal(got.body.code, code, name);
    assert.ok(!answer.includes("078-05"), `${name}: nothing echoed`);
  }
  const ok = parse(await raw(port, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  assert.equal(ok.status, 200, "the server still answers good requests");
});
