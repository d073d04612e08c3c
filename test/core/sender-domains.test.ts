/**
 * Sender domains (ADR 0008 §2, §7): a key restricted to sender domains sends only From
 * those, on the one submit path, test keys included; every entry point (REST, batch
 * items, Paubox, SMTP DATA) goes through it. A refusal is `sender_not_allowed` (403) on
 * the `from` field and stores nothing.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { classify } from "../../src/api/problem.ts";
import { createKey, operatorGrantor } from "../../src/auth/keys.ts";
import { SealpostError } from "../../src/core/errors.ts";
import type { Principal } from "../../src/core/principal.ts";
import { submitBatch, submitMessage } from "../../src/core/submit.ts";
import { systemScope } from "../../src/store/scope.ts";
import { auth, startTestApp } from "../helpers/app.ts";
import { assertPauboxErrors, sdkMessage, tokenAuth } from "../helpers/paubox-sdk.ts";

function principal(orgId: string, over: Partial<Principal> = {}): Principal {
  return {
    orgId,
    keyId: "key_01kb2m9x7ad3qz8v4c6n5t1r0w",
    mode: "live",
    scopes: ["messages:send"],
    senderDomains: ["clinic.example"],
    method: "bearer",
    ...over,
  };
}

const from = (address: string) => ({ from: address, to: "pat@example.org", subject: "Hi", text: "Hello" });

async function refused(p: Promise<unknown>): Promise<SealpostError> {
  const err = await p.then(
    () => assert.fail("accepted"),
    (e: unknown) => e,
  );
  assert.ok(err instanceof SealpostError);
  return err;
}

async function messageCount(app: Awaited<ReturnType<typeof startTestApp>>["app"]): Promise<number> {
  const row = await app.db.kysely
    .selectFrom("messages")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

test("a restricted key sends From its domains only; others are sender_not_allowed (403, from)", async (t) => {
  const { app } = await startTestApp(t, { worker: false });
  const key = principal(app.defaultOrgId);
  assert.equal((await submitMessage(app.submit, key, from("Clinic <desk@clinic.example>"))).status, "queued");
  // The domain is compared in its ASCII lower-case form.
  assert.equal((await submitMessage(app.submit, key, from("desk@CLINIC.Example"))).status, "queued");

  const before = await messageCount(app);
  // example.com is a verified domain of the org, but not one of this key's.
  const err = await refused(submitMessage(app.submit, key, from("desk@example.com")));
  assert.equal(err.code, "sender_not_allowed");
  assert.equal(err.field, "from");
  assert.equal(classify(err).status, 403);
  assert.equal(await messageCount(app), before, "nothing stored");

  // A subdomain is another domain.
  const sub = await refused(submitMessage(app.submit, key, from("desk@mail.clinic.example")));
  assert.equal(sub.code, "sender_not_allowed");

  // Unrestricted (null): any verified domain of the org, as before.
  const open = principal(app.defaultOrgId, { senderDomains: null });
  assert.equal((await submitMessage(app.submit, open, from("desk@example.com"))).status, "queued");
  const unverified = await refused(submitMessage(app.submit, open, from("desk@elsewhere.example")));
  assert.equal(unverified.code, "domain_not_verified");
});

test("the restriction holds for test keys too, though they need no verified domain", async (t) => {
  const { app } = await startTestApp(t, { worker: false });
  const key = principal(app.defaultOrgId, { mode: "test", senderDomains: ["sandbox.example"] });
  assert.equal((await submitMessage(app.submit, key, from("qa@sandbox.example"))).status, "queued");
  const err = await refused(submitMessage(app.submit, key, from("qa@clinic.example")));
  assert.equal(err.code, "sender_not_allowed");
  // A live key's sandbox message is checked the same way.
  const live = principal(app.defaultOrgId);
  const sandboxed = await refused(
    submitMessage(app.submit, live, { ...from("qa@example.com"), sandbox: true }),
  );
  assert.equal(sandboxed.code, "sender_not_allowed");
});

test("a batch refuses the items From other domains and accepts the rest", async (t) => {
  const { app } = await startTestApp(t, { worker: false });
  const key = principal(app.defaultOrgId);
  const results = await submitBatch(app.submit, key, {
    messages: [from("a@clinic.example"), from("b@example.com"), from("c@clinic.example")],
  });
  assert.deepEqual(
    results.map((r) => ("result" in r ? "accepted" : r.error.code)),
    ["accepted", "sender_not_allowed", "accepted"],
  );
  const refusedItem = results[1];
  assert.ok(refusedItem !== undefined && "error" in refusedItem);
  assert.equal(refusedItem.error.field, "from");
  assert.equal(await messageCount(app), 2);
});

test("over HTTP: REST 403 sender_not_allowed, a refused batch item, Paubox send and bulk", async (t) => {
  const { app } = await startTestApp(t, { worker: false });
  const { token } = await createKey(
    app.keys,
    systemScope(app.db, app.defaultOrgId, "admin"),
    operatorGrantor("cli"),
    {
      name: "clinic-only",
      mode: "live",
      scopes: ["messages:send"],
      senderDomains: ["clinic.example"],
    },
  );
  const post = (url: string, payload: object, headers = auth(token)) =>
    app.api.inject({ method: "POST", url, headers, payload });

  const ok = await post("/v1/messages", from("desk@clinic.example"));
  assert.equal(ok.statusCode, 202, ok.body);
  const no = await post("/v1/messages", from("desk@example.com"));
  assert.equal(no.statusCode, 403, no.body);
  assert.equal(no.json().code, "sender_not_allowed");
  assert.equal(no.json().field, "from");

  const batch = await post("/v1/messages/batch", {
    messages: [from("a@example.com"), from("b@clinic.example")],
  });
  assert.equal(batch.statusCode, 200, batch.body);
  assert.deepEqual(
    batch.json().data.map((d: { status: number; error?: { code: string } }) => [d.status, d.error?.code]),
    [
      [403, "sender_not_allowed"],
      [202, undefined],
    ],
  );

  const paubox = (address: string) =>
    sdkMessage({ from: address, to: ["pat@example.org"], subject: "Hi", text_content: "Hello" });
  const sent = await post(
    "/paubox/v1/messages",
    { data: { message: paubox("desk@clinic.example") } },
    tokenAuth(token),
  );
  assert.equal(sent.statusCode, 200, sent.body);
  const refusedSend = await post(
    "/paubox/v1/messages",
    { data: { message: paubox("desk@example.com") } },
    tokenAuth(token),
  );
  assert.equal(refusedSend.statusCode, 403, refusedSend.body);
  assertPauboxErrors(refusedSend.json(), 403);
  const bulk = await post(
    "/paubox/v1/bulk_messages",
    { data: { messages: [paubox("desk@example.com"), paubox("desk@clinic.example")] } },
    tokenAuth(token),
  );
  assert.equal(bulk.statusCode, 200, bulk.body);
  const [first, second] = bulk.json().messages;
  assertPauboxErrors(first, 403);
  assert.match(second.sourceTrackingId, /^msg_/);
});
