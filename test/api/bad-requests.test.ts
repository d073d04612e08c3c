import assert from "node:assert/strict";
import { test } from "node:test";
import { auth, startTestApp } from "../helpers/app.ts";

const ok = {
  from: "clinic@example.com",
  to: "patient@example.org",
  subject: "Reminder",
  text: "Hello",
};

interface Case {
  name: string;
  body?: unknown;
  raw?: string;
  headers?: Record<string, string>;
  status: number;
  code: string;
  field?: string;
}

const b64 = (s: string) => Buffer.from(s).toString("base64");

const cases: Case[] = [
  { name: "malformed JSON", raw: '{"from": ', status: 400, code: "malformed_json" },
  { name: "empty body", raw: "", status: 400, code: "malformed_json" },
  { name: "JSON array body", body: [ok], status: 422, code: "invalid_type" },
  { name: "JSON string body", raw: '"hello"', status: 422, code: "invalid_type" },
  {
    name: "text/plain body",
    raw: "from=x",
    headers: { "content-type": "text/plain" },
    status: 415,
    code: "unsupported_media_type",
  },
  {
    name: "missing from",
    body: { ...ok, from: undefined },
    status: 422,
    code: "missing_field",
    field: "from",
  },
  {
    name: "missing recipients",
    body: { ...ok, to: undefined },
    status: 422,
    code: "missing_field",
    field: "to",
  },
  {
    name: "missing subject",
    body: { ...ok, subject: undefined },
    status: 422,
    code: "missing_field",
    field: "subject",
  },
  {
    name: "missing text and html",
    body: { ...ok, text: undefined },
    status: 422,
    code: "missing_field",
    field: "text",
  },
  { name: "from is a number", body: { ...ok, from: 42 }, status: 422, code: "invalid_type", field: "from" },
  {
    name: "from is a list",
    body: { ...ok, from: ["a@example.com", "b@example.com"] },
    status: 422,
    code: "invalid_type",
    field: "from",
  },
  { name: "to is an object", body: { ...ok, to: { a: 1 } }, status: 422, code: "invalid_type", field: "to" },
  {
    name: "invalid to address",
    body: { ...ok, to: "not-an-address" },
    status: 422,
    code: "invalid_address",
    field: "to",
  },
  {
    name: "invalid cc in list",
    body: { ...ok, cc: ["ok@example.org", "bad@"] },
    status: 422,
    code: "invalid_address",
    field: "cc[1]",
  },
  {
    name: "address without TLD",
    body: { ...ok, bcc: "x@localhost" },
    status: 422,
    code: "invalid_address",
    field: "bcc",
  },
  {
    name: "address with CRLF",
    body: { ...ok, to: "a@example.org\r\nBcc: evil@example.net" },
    status: 422,
    code: "header_injection",
    field: "to",
  },
  {
    name: "too many recipients",
    body: { ...ok, to: Array.from({ length: 101 }, (_, i) => `p${i}@example.org`) },
    status: 422,
    code: "too_many_recipients",
    field: "to",
  },
  {
    name: "CRLF in subject",
    body: { ...ok, subject: "Hi\r\nBcc: x@example.net" },
    status: 422,
    code: "header_injection",
    field: "subject",
  },
  {
    name: "LF in subject",
    body: { ...ok, subject: "Hi\nthere" },
    status: 422,
    code: "header_injection",
    field: "subject",
  },
  {
    name: "subject too long",
    body: { ...ok, subject: "x".repeat(999) },
    status: 422,
    code: "invalid_value",
    field: "subject",
  },
  {
    name: "subject is a number",
    body: { ...ok, subject: 7 },
    status: 422,
    code: "invalid_type",
    field: "subject",
  },
  {
    name: "CRLF in a custom header",
    body: { ...ok, headers: { "X-Ref": "a\r\nBcc: x@example.net" } },
    status: 422,
    code: "header_injection",
    field: "headers.X-Ref",
  },
  {
    name: "reserved custom header",
    body: { ...ok, headers: { Bcc: "x@example.net" } },
    status: 422,
    code: "invalid_value",
    field: "headers.Bcc",
  },
  {
    name: "bad header name",
    body: { ...ok, headers: { "X Bad:": "v" } },
    status: 422,
    code: "invalid_value",
    field: "headers.?",
  },
  {
    name: "header value not a string",
    body: { ...ok, headers: { "X-Ref": 5 } },
    status: 422,
    code: "invalid_type",
    field: "headers.X-Ref",
  },
  {
    name: "headers is a list",
    body: { ...ok, headers: ["X-Ref: 1"] },
    status: 422,
    code: "invalid_type",
    field: "headers",
  },
  {
    name: "bad base64 attachment",
    body: { ...ok, attachments: [{ filename: "a.pdf", content: "***not base64***" }] },
    status: 422,
    code: "invalid_attachment",
    field: "attachments[0].content",
  },
  {
    name: "attachment without filename",
    body: { ...ok, attachments: [{ content: b64("x") }] },
    status: 422,
    code: "invalid_type",
    field: "attachments[0].filename",
  },
  {
    name: "attachment filename with CRLF",
    body: { ...ok, attachments: [{ filename: "a\r\n.pdf", content: b64("x") }] },
    status: 422,
    code: "header_injection",
    field: "attachments[0].filename",
  },
  {
    name: "attachment bad content type",
    body: { ...ok, attachments: [{ filename: "a.pdf", content: b64("x"), content_type: "pdf" }] },
    status: 422,
    code: "invalid_attachment",
    field: "attachments[0].content_type",
  },
  {
    name: "too many attachments",
    body: {
      ...ok,
      attachments: Array.from({ length: 21 }, (_, i) => ({ filename: `${i}.txt`, content: b64("x") })),
    },
    status: 422,
    code: "invalid_attachment",
    field: "attachments",
  },
  {
    name: "unknown field",
    body: { ...ok, colour: "blue" },
    status: 422,
    code: "unknown_field",
    field: "colour",
  },
  {
    name: "unknown field with odd name",
    body: { ...ok, "Jane Doe 1970": 1 },
    status: 422,
    code: "unknown_field",
    field: "?",
  },
  {
    name: "bad encryption mode",
    body: { ...ok, encryption: "rot13" },
    status: 422,
    code: "invalid_value",
    field: "encryption",
  },
  {
    name: "template together with subject/text (one form or the other)",
    body: { ...ok, template: { id: "t", data: {} } },
    status: 422,
    code: "validation_failed",
    field: "template.id",
  },
  {
    name: "send_at more than 30 days ahead",
    body: { ...ok, send_at: "2999-01-01T00:00:00Z" },
    status: 422,
    code: "send_at_too_far",
    field: "send_at",
  },
  {
    name: "send_at without an offset",
    body: { ...ok, send_at: "2030-01-01T00:00:00" },
    status: 422,
    code: "invalid_value",
    field: "send_at",
  },
  {
    name: "allow_non_tls not a boolean",
    body: { ...ok, allow_non_tls: "yes" },
    status: 422,
    code: "invalid_type",
    field: "allow_non_tls",
  },
  {
    name: "bad tag",
    body: { ...ok, tags: ["has space"] },
    status: 422,
    code: "invalid_value",
    field: "tags[0]",
  },
  {
    name: "too many tags",
    body: { ...ok, tags: Array.from({ length: 11 }, (_, i) => `t${i}`) },
    status: 422,
    code: "invalid_value",
    field: "tags",
  },
  {
    name: "metadata nested object",
    body: { ...ok, metadata: { a: { b: 1 } } },
    status: 422,
    code: "invalid_value",
    field: "metadata",
  },
  {
    name: "bad Idempotency-Key",
    body: ok,
    headers: { "idempotency-key": "has space" },
    status: 400,
    code: "invalid_idempotency_key",
    field: "Idempotency-Key",
  },
  {
    name: "empty Idempotency-Key",
    body: ok,
    headers: { "idempotency-key": "" },
    status: 400,
    code: "invalid_idempotency_key",
  },
  {
    name: "oversized body",
    raw: JSON.stringify({ ...ok, text: "x".repeat(2 * 1024 * 1024) }),
    status: 413,
    code: "payload_too_large",
  },
  { name: "prototype pollution", raw: '{"__proto__": {"admin": true}}', status: 400, code: "malformed_json" },
  {
    // The Idempotency-Key request hash reads the whole body before validation does.
    name: "deeply nested body with an Idempotency-Key",
    raw: `${"[".repeat(100_000)}${"]".repeat(100_000)}`,
    headers: { "idempotency-key": "deep-1" },
    status: 422,
    code: "invalid_type",
  },
];

test(`${cases.length} bad requests each get a 4xx problem with a stable code, and nothing is stored`, async (t) => {
  const { app, adminKey } = await startTestApp(t, {
    env: { SEALPOST_MAX_MESSAGE_BYTES: String(1024 * 1024) },
  });
  assert.ok(cases.length >= 30);
  for (const c of cases) {
    const res = await app.api.inject({
      method: "POST",
      url: "/v1/messages",
      headers: { ...auth(adminKey), "content-type": "application/json", ...c.headers },
      payload: c.raw ?? JSON.stringify(c.body),
    });
    assert.equal(res.statusCode, c.status, `${c.name}: ${res.body}`);
    assert.match(String(res.headers["content-type"]), /^application\/problem\+json/, c.name);
    const problem = res.json();
    assert.equal(problem.code, c.code, `${c.name}: ${res.body}`);
    assert.equal(problem.status, c.status, c.name);
    assert.equal(typeof problem.title, "string", c.name);
    if (c.field !== undefined) assert.equal(problem.field, c.field, `${c.name}: ${res.body}`);
    // Errors never echo the offending values.
    for (const secret of ["evil@example.net", "not-an-address", "Jane Doe", "rot13", "***not base64***"])
      assert.ok(!res.body.includes(secret), `${c.name} echoes input`);
  }
  const list = await app.api.inject({ url: "/v1/messages", headers: auth(adminKey) });
  assert.equal(list.json().data.length, 0, "nothing stored");
  const count = await app.db.kysely
    .selectFrom("deliveries")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .executeTakeFirstOrThrow();
  assert.equal(Number(count.n), 0);
});

test("bad query parameters and ids get problems too", async (t) => {
  const { app, adminKey } = await startTestApp(t);
  const checks: [string, number, string][] = [
    ["/v1/messages?limit=0", 400, "invalid_value"],
    ["/v1/messages?limit=abc", 400, "invalid_value"],
    ["/v1/messages?status=bogus", 400, "invalid_value"],
    ["/v1/messages?cursor=!!", 400, "invalid_cursor"],
    ["/v1/messages?recipient=nope", 422, "invalid_address"],
    ["/v1/messages?from=yesterday", 400, "invalid_value"],
    ["/v1/messages?colour=blue", 422, "unknown_field"],
    ["/v1/messages/msg_doesnotexist", 404, "not_found"],
    ["/v1/messages/msg_x?include=everything", 400, "invalid_value"],
    ["/v1/sandbox/messages/dlv_nothing", 404, "not_found"],
    ["/v1/nope", 404, "route_not_found"],
  ];
  for (const [url, status, code] of checks) {
    const res = await app.api.inject({ url, headers: auth(adminKey) });
    assert.equal(res.json().code, code, `${url}: ${res.body}`);
    assert.equal(res.statusCode, res.json().status, url);
    assert.ok(res.statusCode >= 400 && res.statusCode < 500, url);
    void status;
  }
});
