/**
 * Paubox dynamic templates (ADR 0011 §5) with the requests of the official Node SDK: a
 * Handlebars body uploaded as multipart, listed, read, updated (a new version) and deleted
 * with Paubox's answers; a templated message (template_values as a JSON string, the subject
 * in headers) rendered with HTML escaping, sent through the one submit path and captured
 * in the sandbox, recording the template version; a missing variable or subject, an unknown
 * template, a bad body, and another org's template are Paubox-shaped 4xx that echo no value.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { createOrg } from "../../src/core/orgs.ts";
import { auth, eventually, startTestApp, type TestApp } from "../helpers/app.ts";
import { assertPauboxErrors, assertSdkAcceptsSend, sdkMessage, tokenAuth } from "../helpers/paubox-sdk.ts";
import { sdkTemplateUpload } from "../helpers/paubox-upload.ts";

const BODY = "<html><body><h1>Hello {{first_name}}!</h1><p>{{#if note}}{{note}}{{/if}}</p></body></html>";
const SECRET_VALUE = /Ann|Smith|Jr\./;

/** What the SDK's TemplatedMessage.toJSON() puts in `data.message`: no content. */
function templatedMessage(subject: string | null) {
  const { content: _content, ...m } = sdkMessage({ from: "clinic@example.com", to: ["pat@example.org"] });
  return { ...m, headers: { ...m.headers, subject } };
}

async function upload(t: TestApp, key: string, name: string | null, body: string | null, id?: string) {
  const up = await sdkTemplateUpload(name, body);
  return t.app.api.inject({
    method: id === undefined ? "POST" : "PATCH",
    url: id === undefined ? "/v1/clinic_user/dynamic_templates" : `/v1/clinic_user/dynamic_templates/${id}`,
    headers: { ...up.headers, ...tokenAuth(key) },
    payload: up.payload,
  });
}

async function sendTemplated(t: TestApp, key: string, name: string, values: object, subject: string | null) {
  return t.app.api.inject({
    method: "POST",
    url: "/v1/clinic_user/templated_messages",
    headers: tokenAuth(key),
    payload: {
      data: {
        template_name: name,
        template_values: JSON.stringify(values),
        message: templatedMessage(subject),
      },
    },
  });
}

async function captured(t: TestApp, key: string, messageId: string) {
  const deliveryId = await eventually(async () => {
    const res = await t.app.api.inject({ url: "/v1/sandbox/messages?limit=100", headers: auth(key) });
    return (res.json().data as { id: string; message_id: string }[]).find((d) => d.message_id === messageId)
      ?.id;
  });
  return (await t.app.api.inject({ url: `/v1/sandbox/messages/${deliveryId}`, headers: auth(key) })).json();
}

function expectPaubox(res: { statusCode: number; body: string; json(): unknown }, status: number): void {
  assert.equal(res.statusCode, status, res.body);
  assertPauboxErrors(res.json() as Record<string, unknown>, status);
  assert.doesNotMatch(res.body, SECRET_VALUE, "no value in an error");
}

test("dynamic templates: the SDK's upload, list, get, templated send with escaping, update, delete", async (t) => {
  const app = await startTestApp(t);
  // Templates belong to the org (a live key manages them); a test key sends into the sandbox.
  const key = await app.key(["templates:manage"]);
  const tester = await app.key(["messages:send", "messages:read", "messages:read_content"], "test");

  const created = await upload(app, key, "welcome", BODY);
  assert.equal(created.statusCode, 200, created.body);
  const c = created.json();
  // The SDK's createDynamicTemplate() accepts an answer with message, params, errors or error.
  assert.equal(c.message, "Template welcome created!");
  assert.deepEqual(c.params, {
    name: "welcome",
    body: { original_filename: "welcome.hbs", content_type: "text/x-handlebars-template" },
  });
  assert.match(c.id, /^tpl_[0-9a-z]{26}$/);

  // listDynamicTemplates() wants an array; getDynamicTemplate() wants id, name, api_customer_id, body.
  const list = await app.app.api.inject({
    url: "/v1/clinic_user/dynamic_templates",
    headers: tokenAuth(key),
  });
  assert.equal(list.statusCode, 200, list.body);
  assert.ok(Array.isArray(list.json()));
  assert.deepEqual(
    list
      .json()
      .map((x: { id: string; name: string; api_customer_id: string }) => [x.id, x.name, x.api_customer_id]),
    [[c.id, "welcome", app.app.defaultOrgId]],
  );
  const one = await app.app.api.inject({
    url: `/paubox/v1/dynamic_templates/${c.id}`,
    headers: tokenAuth(key),
  });
  assert.equal(one.statusCode, 200, one.body);
  for (const k of ["id", "name", "api_customer_id", "body"]) assert.ok(k in one.json(), k);
  assert.equal(one.json().body, BODY);

  // A templated message as sendTemplatedMessage() sends it: values as a JSON string.
  const sent = await sendTemplated(
    app,
    tester,
    "welcome",
    { first_name: "<b>Ann</b> & co" },
    "Your appointment",
  );
  assert.equal(sent.statusCode, 200, sent.body);
  assertSdkAcceptsSend(sent.json());
  const id = sent.json().sourceTrackingId;
  assert.match(id, /^msg_[0-9a-z]{26}$/);
  const mail = await captured(app, tester, id);
  assert.equal(mail.subject, "Your appointment");
  assert.match(mail.html, /<h1>Hello &lt;b&gt;Ann&lt;\/b&gt; &amp; co!<\/h1>/, "values are HTML-escaped");
  assert.doesNotMatch(mail.html, /<b>Ann/);
  assert.match(mail.text, /Hello <b>Ann<\/b> & co!/, "the derived text part is plain text");
  const row = await app.app.db.kysely
    .selectFrom("messages")
    .select(["template_id", "template_version"])
    .where("id", "=", id)
    .executeTakeFirstOrThrow();
  assert.deepEqual({ ...row }, { template_id: c.id, template_version: 1 });

  // PATCH: a new version with the new body; messages now use it, the old one is kept.
  const patched = await upload(app, key, null, "<p>Bye {{first_name}}</p>", c.id);
  assert.equal(patched.statusCode, 200, patched.body);
  assert.equal(patched.json().message, "Template welcome updated!");
  const renamed = await upload(app, key, "farewell", null, c.id);
  assert.equal(renamed.json().message, "Template farewell updated!");
  const again = await sendTemplated(app, tester, "farewell", { first_name: "Bo" }, "Later");
  assert.equal(again.statusCode, 200, again.body);
  assert.match((await captured(app, tester, again.json().sourceTrackingId)).html, /<p>Bye Bo<\/p>/);
  const versions = await app.app.db.kysely
    .selectFrom("template_versions")
    .select("version")
    .where("template_id", "=", c.id)
    .execute();
  assert.deepEqual(versions.map((v) => v.version).sort(), [1, 2, 3]);

  // DELETE: Paubox's answer, then the template is gone for reads and sends.
  const deleted = await app.app.api.inject({
    method: "DELETE",
    url: `/v1/clinic_user/dynamic_templates/${c.id}`,
    headers: tokenAuth(key),
  });
  assert.equal(deleted.statusCode, 200, deleted.body);
  assert.deepEqual(deleted.json(), { message: "Template farewell deleted!" });
  expectPaubox(
    await app.app.api.inject({ url: `/v1/clinic_user/dynamic_templates/${c.id}`, headers: tokenAuth(key) }),
    404,
  );
  expectPaubox(await sendTemplated(app, tester, "farewell", { first_name: "Ann" }, "Hi"), 404);
});

test("templated messages: a missing variable or subject, bad values and bad bodies are Paubox 400s naming the field", async (t) => {
  const app = await startTestApp(t, { worker: false });
  const key = await app.key(["templates:manage", "messages:send"]);
  assert.equal((await upload(app, key, "welcome", BODY)).statusCode, 200);

  const missing = await sendTemplated(app, key, "welcome", { last_name: "Smith Jr." }, "Your appointment");
  expectPaubox(missing, 400);
  assert.match(missing.json().errors[0].details, /^data\.template_values\.first_name /);
  const noSubject = await sendTemplated(app, key, "welcome", { first_name: "Ann" }, null);
  expectPaubox(noSubject, 400);
  assert.match(noSubject.json().errors[0].details, /^data\.message\.headers\.subject is required/);
  const notJson = await app.app.api.inject({
    method: "POST",
    url: "/v1/clinic_user/templated_messages",
    headers: tokenAuth(key),
    payload: { data: { template_name: "welcome", template_values: "{Ann", message: templatedMessage("Hi") } },
  });
  expectPaubox(notJson, 400);
  assert.match(notJson.json().errors[0].details, /data\.template_values/);
  expectPaubox(await sendTemplated(app, key, "nope", { first_name: "Ann" }, "Hi"), 404);

  // Bodies that do not parse, or use what templates may not (partials, unknown helpers).
  for (const body of ["<p>{{#if x}}open</p>", "<p>{{> header}}</p>", "<p>{{eval 'x'}}</p>"]) {
    const res = await upload(app, key, "bad", body);
    expectPaubox(res, 400);
    assert.match(res.json().errors[0].details, /data\[body\]|part/, body);
  }
  expectPaubox(await upload(app, key, null, BODY), 400);
  expectPaubox(await upload(app, key, "no-body", null), 400);
  // A name already taken.
  expectPaubox(await upload(app, key, "welcome", BODY), 400);
});

test("dynamic templates: another org's template is a 404 for every route; scopes are enforced", async (t) => {
  const app = await startTestApp(t, { worker: false });
  const key = await app.key(["templates:manage", "messages:send"]);
  const c = (await upload(app, key, "welcome", BODY)).json();
  const orgB = await createOrg(
    { db: app.app.db, keyring: app.app.keyring, clock: app.app.clock },
    { name: "b" },
  );
  const other = await app.key(["templates:manage", "messages:send"], "live", orgB.id);
  const url = `/v1/clinic_user/dynamic_templates/${c.id}`;
  expectPaubox(await app.app.api.inject({ url, headers: tokenAuth(other) }), 404);
  expectPaubox(await app.app.api.inject({ method: "DELETE", url, headers: tokenAuth(other) }), 404);
  expectPaubox(await upload(app, other, "x", "<p>x</p>", c.id), 404);
  expectPaubox(await sendTemplated(app, other, "welcome", { first_name: "Ann" }, "Hi"), 404);
  const list = await app.app.api.inject({
    url: "/v1/clinic_user/dynamic_templates",
    headers: tokenAuth(other),
  });
  assert.deepEqual(list.json(), []);
  // A sending key cannot manage templates.
  const sender = await app.key(["messages:send"]);
  expectPaubox(await app.app.api.inject({ url, headers: tokenAuth(sender) }), 403);
});
