import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { analyzeHeaders } from "../../src/tools/analyze-headers.ts";
import { auth, startTestApp } from "../helpers/app.ts";

const URL_PATH = "/v1/tools/analyze-headers";
const FIXTURE = readFileSync(new URL("../fixtures/received/hotmail-to-luxsci.eml", import.meta.url), "utf8");

test("POST /v1/tools/analyze-headers answers the hop-by-hop analysis", async (t) => {
  const { app, adminKey, key } = await startTestApp(t, { worker: false });
  const res = await app.api.inject({
    method: "POST",
    url: URL_PATH,
    headers: auth(adminKey),
    payload: { headers: FIXTURE },
  });
  assert.equal(res.statusCode, 200, res.body);
  const body = res.json();
  assert.deepEqual(body, analyzeHeaders(FIXTURE));
  assert.equal(body.conclusion.verdict, "gap");
  assert.deepEqual(body.conclusion.unprotected_hops, [2]);
  assert.deepEqual(
    body.hops.map((h: { tls: string }) => h.tls),
    ["unknown", "likely_plaintext", "tls", "internal", "internal", "tls"],
  );

  // messages:read is enough; nothing is stored.
  const reader = await key(["messages:read"]);
  const empty = await app.api.inject({
    method: "POST",
    url: URL_PATH,
    headers: auth(reader),
    payload: { headers: "Subject: no trace fields\n\nbody" },
  });
  assert.equal(empty.statusCode, 200, empty.body);
  assert.deepEqual(empty.json().hops, []);
  assert.equal(empty.json().conclusion.verdict, "unknown");

  const doc = (await app.api.inject({ url: "/openapi.json" })).json();
  assert.equal(doc.paths[URL_PATH].post.tags[0], "tools");
  assert.deepEqual(doc.paths[URL_PATH].post.requestBody.content["application/json"].schema.required, [
    "headers",
  ]);
});

test("POST /v1/tools/analyze-headers refuses bad bodies with coded problems", async (t) => {
  const { app, adminKey } = await startTestApp(t, { worker: false });
  const cases: {
    name: string;
    payload?: unknown;
    raw?: string;
    status: number;
    code: string;
    field?: string;
  }[] = [
    { name: "missing headers", payload: {}, status: 422, code: "missing_field", field: "headers" },
    {
      name: "headers a number",
      payload: { headers: 42 },
      status: 422,
      code: "invalid_type",
      field: "headers",
    },
    {
      name: "headers a list",
      payload: { headers: ["a"] },
      status: 422,
      code: "invalid_type",
      field: "headers",
    },
    { name: "a JSON array", payload: [FIXTURE], status: 422, code: "invalid_type" },
    { name: "a JSON string", raw: '"Received: x"', status: 422, code: "invalid_type" },
    {
      name: "an unknown field",
      payload: { headers: "", raw: "x" },
      status: 422,
      code: "unknown_field",
      field: "raw",
    },
    { name: "malformed JSON", raw: '{"headers": ', status: 400, code: "malformed_json" },
  ];
  for (const c of cases) {
    const res = await app.api.inject({
      method: "POST",
      url: URL_PATH,
      headers: { ...auth(adminKey), "content-type": "application/json" },
      payload: c.raw ?? JSON.stringify(c.payload),
    });
    assert.equal(res.statusCode, c.status, `${c.name}: ${res.body}`);
    assert.equal(res.headers["content-type"], "application/problem+json; charset=utf-8", c.name);
    const problem = res.json();
    assert.equal(problem.code, c.code, c.name);
    if (c.field !== undefined) assert.equal(problem.field, c.field, c.name);
    assert.ok(!res.body.includes("Received"), `${c.name}: no input echoed`);
  }
  const plain = await app.api.inject({
    method: "POST",
    url: URL_PATH,
    headers: { ...auth(adminKey), "content-type": "text/plain" },
    payload: FIXTURE,
  });
  assert.equal(plain.statusCode, 415);
  assert.equal(plain.json().code, "unsupported_media_type");
});

test("POST /v1/tools/analyze-headers needs a key with messages:read", async (t) => {
  const { app, key } = await startTestApp(t, { worker: false });
  const call = (headers: Record<string, string>) =>
    app.api.inject({ method: "POST", url: URL_PATH, headers, payload: { headers: FIXTURE } });
  const none = await call({});
  assert.equal(none.statusCode, 401);
  assert.equal(none.json().code, "unauthorized");
  const unknown = await call(auth("sp_live_thiskeydoesnotexist0123456789abcdef"));
  assert.equal(unknown.statusCode, 401);
  const sender = await call(auth(await key(["messages:send"])));
  assert.equal(sender.statusCode, 403);
  assert.equal(sender.json().code, "forbidden");
});

test("POST /v1/tools/analyze-headers stays bounded on hostile input", async (t) => {
  const { app, adminKey } = await startTestApp(t, { worker: false });
  const hostile = [
    `Received: from ${"(".repeat(100_000)}`,
    Array.from(
      { length: 500 },
      (_, i) => `Received: from h${i}.example by x.example with ESMTPS id ${i}`,
    ).join("\n"),
    `X-Filler: ${"a".repeat(2_000_000)}\nReceived: from a by b with ESMTPS; Tue, 3 Sep 2024 10:00:00 +0000`,
  ];
  for (const headers of hostile) {
    const res = await app.api.inject({
      method: "POST",
      url: URL_PATH,
      headers: auth(adminKey),
      payload: { headers },
    });
    assert.equal(res.statusCode, 200, res.body.slice(0, 200));
    assert.ok(res.json().hops.length <= 100);
  }
});
