/**
 * Templates over HTTP (ADR 0011 §1), on the suite's store: create, read, list, version,
 * rename, delete, preview; sending with `template` through the one submit path (single and
 * batch), the message recording the version; escaping in HTML and verbatim text; a missing
 * variable refusing the send and storing nothing; PHI in a subject template and a
 * PHI-marked variable in the subject refused on save; a marked value in the body counting
 * as PHI (so allow_non_tls is not honoured); org isolation; audit entries without content.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { createOrg } from "../../src/core/orgs.ts";
import { auth, startTestApp, type TestApp } from "../helpers/app.ts";
import { auditRows } from "../retention/fixtures.ts";

type Method = "GET" | "POST" | "PUT" | "DELETE";

function call(t: TestApp, method: Method, url: string, payload?: unknown, token = t.adminKey) {
  return t.app.api.inject({
    method,
    url,
    headers: { ...auth(token), ...(payload === undefined ? {} : { "content-type": "application/json" }) },
    ...(payload === undefined ? {} : { payload: JSON.stringify(payload) }),
  });
}

async function ok(t: TestApp, method: Method, url: string, payload?: unknown, token = t.adminKey) {
  const res = await call(t, method, url, payload, token);
  assert.ok(res.statusCode < 300, `${method} ${url}: ${res.statusCode} ${res.body}`);
  return res.statusCode === 204 ? null : res.json();
}

const visit = {
  name: "visit-reminder",
  subject: "Your visit on {{day}}",
  html: "<p>Dear {{name}},</p><p>see you on {{day}}.{{#if note}} {{note}}{{/if}}</p>",
  phi_fields: ["name"],
};

function send(template: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return { from: "clinic@example.com", to: "p@example.org", template, ...extra };
}

async function messageCount(t: TestApp): Promise<number> {
  const rows = await t.app.db.kysely.selectFrom("messages").select("id").execute();
  return rows.length;
}

test("templates: create, read, list, version, preview, send with escaping, delete", async (t) => {
  const app = await startTestApp(t, { worker: false });
  const created = await ok(app, "POST", "/v1/templates", visit);
  assert.match(created.id, /^tpl_[0-9a-z]{26}$/);
  assert.equal(created.version, 1);
  assert.equal(created.name, "visit-reminder");
  assert.deepEqual(created.phi_fields, ["name"]);
  // Text derived from the HTML.
  assert.match(created.text, /Dear \{\{name\}\},/);
  const id = created.id as string;

  const got = await ok(app, "GET", `/v1/templates/${id}`);
  assert.equal(got.html, visit.html);
  assert.equal(got.subject, visit.subject);
  const list = await ok(app, "GET", "/v1/templates");
  assert.deepEqual(
    list.data.map((d: { id: string }) => d.id),
    [id],
  );
  assert.equal(list.data[0].html, undefined, "lists carry no parts");

  // Preview: nothing stored; values escaped in HTML, verbatim in text and subject.
  const before = await messageCount(app);
  const data = { name: "<script>x</script>", day: "Monday & Tuesday" };
  const preview = await ok(app, "POST", `/v1/templates/${id}/render`, { data });
  assert.equal(preview.subject, "Your visit on Monday & Tuesday");
  assert.match(preview.html, /Dear &lt;script&gt;x&lt;\/script&gt;,/);
  assert.doesNotMatch(preview.html, /<script>/);
  assert.match(preview.text, /Dear <script>x<\/script>,/);
  const previewMissing = await call(app, "POST", `/v1/templates/${id}/render`, { data: { name: "A" } });
  assert.equal(previewMissing.statusCode, 422);
  assert.equal(previewMissing.json().code, "template_variable_missing");
  assert.equal(previewMissing.json().field, "template.data.day");
  assert.equal(await messageCount(app), before);

  // Version 2; version 1 stays readable.
  const v2 = await ok(app, "PUT", `/v1/templates/${id}`, {
    subject: "Reminder: {{day}}",
    text: "Hello {{name}}, {{day}}.",
    phi_fields: ["name"],
  });
  assert.equal(v2.version, 2);
  assert.equal(v2.html, null);
  assert.equal((await ok(app, "GET", `/v1/templates/${id}/versions/1`)).subject, visit.subject);
  assert.equal((await ok(app, "GET", `/v1/templates/${id}`)).version, 2);
  assert.equal((await call(app, "GET", `/v1/templates/${id}/versions/3`)).statusCode, 404);

  // Send with version 1 and with the current one; each message records its version.
  const reader = await app.key(["messages:read", "messages:read_content"]);
  const sent1 = await ok(app, "POST", "/v1/messages", send({ id, version: 1, data }));
  const m1 = await ok(app, "GET", `/v1/messages/${sent1.id}?include=content`, undefined, reader);
  assert.deepEqual(m1.template, { id, version: 1 });
  assert.equal(m1.content.subject, "Your visit on Monday & Tuesday");
  assert.match(m1.content.html, /Dear &lt;script&gt;x&lt;\/script&gt;,/);
  assert.match(m1.content.text, /Dear <script>x<\/script>,/);
  const sent2 = await ok(app, "POST", "/v1/messages", send({ id, data }));
  const m2 = await ok(app, "GET", `/v1/messages/${sent2.id}?include=content`, undefined, reader);
  assert.deepEqual(m2.template, { id, version: 2 });
  assert.equal(m2.content.text, "Hello <script>x</script>, Monday & Tuesday.");
  const plain = await ok(app, "POST", "/v1/messages", {
    from: "clinic@example.com",
    to: "p@example.org",
    subject: "s",
    text: "t",
  });
  assert.equal((await ok(app, "GET", `/v1/messages/${plain.id}`, undefined, reader)).template, null);

  // Batch: each item rendered on its own; a missing variable fails only its item.
  const batch = await ok(app, "POST", "/v1/messages/batch", {
    messages: [send({ id, data }), send({ id, data: { day: "x" } })],
  });
  assert.deepEqual([batch.accepted, batch.rejected], [1, 1]);
  assert.equal(batch.data[0].status, 202);
  const batched = await ok(app, "GET", `/v1/messages/${batch.data[0].message.id}`, undefined, reader);
  assert.deepEqual(batched.template, { id, version: 2 });
  assert.deepEqual(
    [batch.data[1].status, batch.data[1].error.code, batch.data[1].error.field],
    [422, "template_variable_missing", "template.data.name"],
  );

  // A missing variable: 422 naming it, nothing stored, no value echoed.
  const count = await messageCount(app);
  const missing = await call(app, "POST", "/v1/messages", send({ id, data: { name: "Secret Person" } }));
  assert.equal(missing.statusCode, 422, missing.body);
  assert.equal(missing.json().code, "template_variable_missing");
  assert.equal(missing.json().field, "template.data.day");
  assert.doesNotMatch(missing.body, /Secret Person/);
  assert.equal(await messageCount(app), count);

  // Both forms at once, an unknown version, a bad id, bad data.
  for (const [body, field] of [
    [send({ id, data }, { subject: "s" }), "template"],
    [send({ id, version: 9, data }), "template.version"],
    [send({ id: "tpl_00000000000000000000000000", data }), "template.id"],
    [send({ id: "nope", data }), "template.id"],
    [send({ id, data: [1] }), "template.data"],
    [send({ id, data: { day: "x\r\nBcc: evil@example.net", name: "a" } }), "template.data"],
  ] as const) {
    const res = await call(app, "POST", "/v1/messages", body);
    assert.equal(res.statusCode, 422, `${field}: ${res.body}`);
    assert.equal(res.json().field, field, res.body);
  }

  // Delete: 404 afterwards, sending refuses, old messages keep their record, the name is free again.
  assert.equal((await call(app, "DELETE", `/v1/templates/${id}`)).statusCode, 204);
  assert.equal((await call(app, "GET", `/v1/templates/${id}`)).statusCode, 404);
  assert.equal((await call(app, "GET", `/v1/templates/${id}/versions/1`)).statusCode, 404);
  assert.equal((await call(app, "DELETE", `/v1/templates/${id}`)).statusCode, 404);
  assert.equal((await call(app, "PUT", `/v1/templates/${id}`, { subject: "x", text: "y" })).statusCode, 404);
  const gone = await call(app, "POST", "/v1/messages", send({ id, data }));
  assert.equal(gone.statusCode, 422);
  assert.equal(gone.json().field, "template.id");
  assert.deepEqual((await ok(app, "GET", `/v1/messages/${sent1.id}`, undefined, reader)).template, {
    id,
    version: 1,
  });
  assert.deepEqual((await ok(app, "GET", "/v1/templates")).data, []);
  assert.equal((await ok(app, "POST", "/v1/templates", visit)).version, 1);

  // Audited, with ids and versions only.
  const entries = [
    ...(await auditRows(app.app, app.app.defaultOrgId, "template.create")),
    ...(await auditRows(app.app, app.app.defaultOrgId, "template.update")),
    ...(await auditRows(app.app, app.app.defaultOrgId, "template.delete")),
  ];
  assert.equal(entries.length, 4);
  assert.ok(entries.every((e) => e.target_id?.startsWith("tpl_")));
  const text = JSON.stringify(entries);
  assert.doesNotMatch(text, /visit|Dear|Reminder|name/);
  assert.ok(entries.some((e) => JSON.parse(e.details ?? "{}").version === 2));
});

test("templates: checks on save over HTTP — PHI in the subject, a marked variable, names", async (t) => {
  const app = await startTestApp(t, { worker: false });
  const refused = [
    [{ name: "a", subject: "Results for SSN 123-45-6789", text: "x" }, "template_invalid", "subject"],
    [
      { name: "a", subject: "Hello {{name}}", text: "x", phi_fields: ["name"] },
      "template_invalid",
      "subject",
    ],
    [{ name: "a", subject: "Hi", html: "{{> evil}}" }, "template_invalid", "html"],
    [{ name: "a", subject: "Hi", text: "{{constructor.constructor}}" }, "template_invalid", "text"],
    [{ name: "a", subject: "Hi" }, "missing_field", "text"],
    [{ subject: "Hi", text: "x" }, "missing_field", "name"],
    [{ name: "a", subject: "Hi", text: "x", extra: 1 }, "unknown_field", "extra"],
  ] as const;
  for (const [body, code, field] of refused) {
    const res = await call(app, "POST", "/v1/templates", body);
    assert.equal(res.statusCode, 422, res.body);
    assert.equal(res.json().code, code, res.body);
    assert.equal(res.json().field, field, res.body);
    assert.doesNotMatch(res.body, /123-45-6789/);
  }
  await ok(app, "POST", "/v1/templates", { name: "a", subject: "Hi", text: "x" });
  const dup = await call(app, "POST", "/v1/templates", { name: "a", subject: "Hi", text: "y" });
  assert.equal(dup.statusCode, 422);
  assert.deepEqual([dup.json().code, dup.json().field], ["template_invalid", "name"]);
  const other = await ok(app, "POST", "/v1/templates", { name: "b", subject: "Hi", text: "x" });
  const rename = await call(app, "PUT", `/v1/templates/${other.id}`, { name: "a", subject: "Hi", text: "x" });
  assert.deepEqual([rename.statusCode, rename.json().field], [422, "name"]);
  const renamed = await ok(app, "PUT", `/v1/templates/${other.id}`, { name: "c", subject: "Hi", text: "x" });
  assert.equal(renamed.name, "c");
  // Pages: newest first, an opaque cursor.
  const third = await ok(app, "POST", "/v1/templates", { name: "d", subject: "Hi", text: "x" });
  const first = await ok(app, "GET", "/v1/templates?limit=2");
  assert.deepEqual(
    first.data.map((d: { name: string }) => d.name),
    ["d", "c"],
  );
  assert.equal(first.data[0].id, third.id);
  const rest = await ok(app, "GET", `/v1/templates?limit=2&cursor=${first.next_cursor}`);
  assert.deepEqual(
    rest.data.map((d: { name: string }) => d.name),
    ["a"],
  );
  assert.equal(rest.next_cursor, null);
  // Needs templates:manage.
  const sender = await app.key(["messages:send"]);
  assert.equal((await call(app, "GET", "/v1/templates", undefined, sender)).statusCode, 403);
});

test("templates: a marked PHI value in the body counts as PHI, so allow_non_tls is not honoured", async (t) => {
  const app = await startTestApp(t, { worker: false });
  await ok(app, "PUT", "/v1/policy", { allow_non_tls: true });
  const tpl = await ok(app, "POST", "/v1/templates", {
    name: "codeword",
    subject: "A note",
    text: "Your word is {{word}}. Other: {{other}}.",
    phi_fields: ["word"],
  });
  const reader = await app.key(["messages:read"]);
  const data = { word: "Blue Falcon", other: "Green Owl" };
  const marked = await ok(app, "POST", "/v1/messages", send({ id: tpl.id, data }, { allow_non_tls: true }));
  const m = await ok(app, "GET", `/v1/messages/${marked.id}`, undefined, reader);
  assert.equal(m.allow_non_tls_honoured, false);
  assert.equal(m.phi.categories.marked, 1);
  assert.doesNotMatch(JSON.stringify(m), /Blue Falcon/);
  // The same template with the marked field empty: nothing found, allow_non_tls honoured.
  const clean = await ok(
    app,
    "POST",
    "/v1/messages",
    send({ id: tpl.id, data: { word: "", other: "Green Owl" } }, { allow_non_tls: true }),
  );
  const c = await ok(app, "GET", `/v1/messages/${clean.id}`, undefined, reader);
  assert.equal(c.phi, null);
  assert.equal(c.allow_non_tls_honoured, true);
  // A marked value that lands in the subject is PHI in the subject (refused by default policy).
  const tpl2 = await ok(app, "POST", "/v1/templates", {
    name: "echo",
    subject: "About {{topic}}",
    text: "{{word}}",
    phi_fields: ["word"],
  });
  const echo = await call(
    app,
    "POST",
    "/v1/messages",
    send({ id: tpl2.id, data: { topic: "Blue Falcon", word: "Blue Falcon" } }),
  );
  assert.equal(echo.statusCode, 422, echo.body);
  assert.equal(echo.json().code, "phi_in_subject");
});

test("templates: org isolation — another org's template is not found and cannot be sent", async (t) => {
  const app = await startTestApp(t, { worker: false });
  const mine = await ok(app, "POST", "/v1/templates", {
    name: "shared-name",
    subject: "Hi",
    text: "Hello {{x}}",
  });
  const orgB = await createOrg(
    { db: app.app.db, keyring: app.app.keyring, clock: app.app.clock },
    { name: "org-b" },
  );
  const other = await app.key(["admin"], "live", orgB.id);
  for (const [method, url, payload] of [
    ["GET", `/v1/templates/${mine.id}`],
    ["GET", `/v1/templates/${mine.id}/versions/1`],
    ["PUT", `/v1/templates/${mine.id}`, { subject: "Hi", text: "x" }],
    ["DELETE", `/v1/templates/${mine.id}`],
    ["POST", `/v1/templates/${mine.id}/render`, { data: { x: 1 } }],
  ] as const) {
    const res = await call(app, method, url, payload, other);
    assert.equal(res.statusCode, 404, `${method} ${url}: ${res.body}`);
  }
  assert.deepEqual((await ok(app, "GET", "/v1/templates", undefined, other)).data, []);
  const sendB = await call(
    app,
    "POST",
    "/v1/messages",
    send({ id: mine.id, data: { x: 1 } }, { sandbox: true }),
    other,
  );
  assert.equal(sendB.statusCode, 422, sendB.body);
  assert.equal(sendB.json().field, "template.id");
  // Names are unique per org only.
  const theirs = await ok(
    app,
    "POST",
    "/v1/templates",
    { name: "shared-name", subject: "Yo", text: "B" },
    other,
  );
  assert.notEqual(theirs.id, mine.id);
  assert.equal((await ok(app, "GET", `/v1/templates/${mine.id}`)).text, "Hello {{x}}");
});
