/**
 * The Paubox-compatible API refuses bad input, bad keys and other orgs' messages with a
 * Paubox-shaped 4xx (`errors` of `{ code, title, details }`), never a 5xx, and never echoes
 * an address, a subject or content. sealpost's own /v1 routes keep Bearer and problem+json.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { MAX_TEMPLATE_BYTES } from "../../src/api/paubox/upload.ts";
import { ensureOrg } from "../../src/core/orgs.ts";
import { startTestApp } from "../helpers/app.ts";
import { assertPauboxErrors, sdkMessage, tokenAuth } from "../helpers/paubox-sdk.ts";
import { sdkTemplateUpload } from "../helpers/paubox-upload.ts";

const PHI = /jane|doe|hiv|patient\.example|Sm9obiBEb2U/i;
const message = sdkMessage({
  from: "clinic@example.com",
  to: ["jane.doe@patient.example"],
  subject: "Jane Doe HIV result",
  text_content: "Jane Doe, your HIV test is negative.",
  html_content: "<p>Jane Doe, your HIV test is negative.</p>",
});

function expectPaubox(res: { statusCode: number; body: string; json(): unknown }, status: number): void {
  assert.equal(res.statusCode, status, res.body);
  assertPauboxErrors(res.json() as Record<string, unknown>, status);
  assert.doesNotMatch(res.body, PHI, "no PHI in an error");
}

test("bad requests get Paubox-shaped 400s naming the Paubox field, without PHI", async (t) => {
  const { app, adminKey } = await startTestApp(t, { worker: false });
  const post = (payload: unknown, url = "/v1/u/messages") =>
    app.api.inject({ method: "POST", url, headers: tokenAuth(adminKey), payload: payload as object });
  const cases: [string, unknown, string][] = [
    ["no data", { message }, "data is required."],
    ["no data.message", { data: {} }, "data.message is required."],
    ["data.message not an object", { data: { message: "hi" } }, "data.message must be an object."],
    [
      "bad base64 attachment",
      {
        data: {
          message: {
            ...message,
            attachments: [{ fileName: "r.pdf", contentType: "application/pdf", content: "Sm9obiBEb2U=%%" }],
          },
        },
      },
      "data.message.attachments[0].content is not valid base64",
    ],
    [
      "attachment without a name",
      { data: { message: { ...message, attachments: [{ contentType: "text/plain", content: "SGk=" }] } } },
      "data.message.attachments[0].fileName must be a string",
    ],
    [
      "bad recipient",
      { data: { message: { ...message, recipients: ["jane.doe(at)patient.example"] } } },
      "data.message.recipients[0] is not a valid email address",
    ],
    [
      "no recipients",
      { data: { message: { ...message, recipients: null } } },
      "data.message.recipients at least one recipient is required",
    ],
    [
      "no content",
      { data: { message: { ...message, content: {} } } },
      "data.message.content text or html is required",
    ],
    [
      "CR/LF in a custom header",
      {
        data: {
          message: { ...message, headers: { ...message.headers, "X-Ref": "a\r\nBcc: jane@patient.example" } },
        },
      },
      "data.message.headers.X-Ref must not contain CR or LF",
    ],
    [
      "a reserved header",
      { data: { message: { ...message, headers: { ...message.headers, Date: "today" } } } },
      "data.message.headers.Date is set by sealpost and cannot be a custom header",
    ],
    [
      "allowNonTLS not a boolean",
      { data: { message: { ...message, allowNonTLS: 3 } } },
      "data.message.allowNonTLS must be a boolean.",
    ],
    [
      "unverified From domain",
      { data: { message: { ...message, headers: { ...message.headers, from: "jane@patient.example" } } } },
      "data.message.headers.from: The From domain is not a verified sending domain of this organization.",
    ],
  ];
  for (const [what, payload, details] of cases) {
    const res = await post(payload);
    expectPaubox(res, 400);
    assert.equal((res.json() as { errors: { details: string }[] }).errors[0]?.details, details, what);
  }

  // forceSecureNotification (a boolean, or the SDK's "true") sends through the secure portal.
  for (const force of [true, "true"]) {
    const portal = await post({ data: { message: { ...message, forceSecureNotification: force } } });
    assert.equal(portal.statusCode, 200, portal.body);
    const id = (portal.json() as { sourceTrackingId: string }).sourceTrackingId;
    const view = await app.api.inject({
      url: `/v1/messages/${id}`,
      headers: { authorization: `Bearer ${adminKey}` },
    });
    assert.equal((view.json() as { encryption: string }).encryption, "portal");
  }
  const notFlag = await post({ data: { message: { ...message, forceSecureNotification: "yes" } } });
  expectPaubox(notFlag, 400);

  // Malformed JSON, a body that is not JSON, and an unknown route under /paubox/v1.
  const broken = await app.api.inject({
    method: "POST",
    url: "/v1/u/messages",
    headers: { ...tokenAuth(adminKey), "content-type": "application/json" },
    payload: '{"data": {"message": {"recipients": ["jane.doe@patient.example"]',
  });
  expectPaubox(broken, 400);
  const text = await app.api.inject({
    method: "POST",
    url: "/paubox/v1/messages",
    headers: { ...tokenAuth(adminKey), "content-type": "text/plain" },
    payload: "Jane Doe",
  });
  expectPaubox(text, 415);
  expectPaubox(await app.api.inject({ url: "/paubox/v1/nothing-here", headers: tokenAuth(adminKey) }), 404);
});

test("keys: Token token=, Token and Bearer accepted; bad keys 401 and missing scopes 403, Paubox-shaped", async (t) => {
  const { app, adminKey, key } = await startTestApp(t, { worker: false });
  const reader = await key(["messages:read"]);
  const sender = await key(["messages:send"]);
  const send = (headers: Record<string, string>, url = "/v1/u/messages") =>
    app.api.inject({ method: "POST", url, headers, payload: { data: { message } } });
  for (const header of [
    `Token token=${adminKey}`,
    `Token token="${adminKey}"`,
    `Token ${adminKey}`,
    `Bearer ${adminKey}`,
  ])
    assert.equal((await send({ authorization: header })).statusCode, 200, header.split(" ")[0]);

  for (const headers of [
    {} as Record<string, string>,
    { authorization: "Token token=" },
    { authorization: "Token token=sp_live_thiskeydoesnotexist0123456789abcdef" },
    { authorization: `Basic ${Buffer.from(`u:${adminKey}`).toString("base64")}` },
  ]) {
    for (const url of ["/v1/u/messages", "/v1/u/bulk_messages", "/paubox/v1/messages"]) {
      const res = await send(headers, url);
      expectPaubox(res, 401);
      // Paubox's scheme first, then sealpost's own.
      assert.match(
        String(res.headers["www-authenticate"]),
        /^Token realm="sealpost", Bearer realm="sealpost"/,
      );
    }
    expectPaubox(await app.api.inject({ url: "/v1/u/message_receipt?sourceTrackingId=x", headers }), 401);
  }
  expectPaubox(await send(tokenAuth(reader)), 403);
  expectPaubox(await send(tokenAuth(reader), "/v1/u/bulk_messages"), 403);
  const sent = (await send(tokenAuth(sender))).json();
  const receipt = (k: string, id: string = sent.sourceTrackingId) =>
    app.api.inject({
      url: `/v1/u/message_receipt?sourceTrackingId=${encodeURIComponent(id)}`,
      headers: tokenAuth(k),
    });
  expectPaubox(await receipt(sender), 403);
  assert.equal((await receipt(reader)).statusCode, 200);

  // sealpost's own routes do not take Paubox's Token scheme; they answer problem+json.
  const native = await app.api.inject({
    url: `/v1/messages/${sent.sourceTrackingId}`,
    headers: tokenAuth(adminKey),
  });
  assert.equal(native.statusCode, 401);
  assert.match(native.headers["content-type"] ?? "", /^application\/problem\+json/);
  assert.match(
    String(native.headers["www-authenticate"]),
    /^Bearer realm="sealpost", Basic realm="sealpost"/,
  );
});

test("receipts: unknown ids and other orgs' messages are 404 Message was not found", async (t) => {
  const { app, adminKey, key } = await startTestApp(t, { worker: false });
  const sent = (
    await app.api.inject({
      method: "POST",
      url: "/v1/u/messages",
      headers: tokenAuth(adminKey),
      payload: { data: { message } },
    })
  ).json();
  const other = await ensureOrg(app.db, app.keyring, app.clock, "other");
  const otherKey = await key(["admin"], "live", other.id);
  const receipt = (k: string, query: string) =>
    app.api.inject({ url: `/v1/u/message_receipt${query}`, headers: tokenAuth(k) });

  const foreign = await receipt(otherKey, `?sourceTrackingId=${sent.sourceTrackingId}`);
  expectPaubox(foreign, 404);
  assert.deepEqual(foreign.json(), {
    errors: [
      { code: 404, title: "Message was not found", details: "Message with this tracking id was not found" },
    ],
    sourceTrackingId: sent.sourceTrackingId,
  });
  const uuid = "6e1cf9a4-7bde-4834-8200-ed424b50c8a7";
  assert.equal((await receipt(adminKey, `?sourceTrackingId=${uuid}`)).json().sourceTrackingId, uuid);
  const unknown = await receipt(adminKey, "?sourceTrackingId=msg_00000000000000000000000000");
  expectPaubox(unknown, 404);
  // Anything that is not an id shape is not echoed: it could be an address.
  const address = await receipt(
    adminKey,
    `?sourceTrackingId=${encodeURIComponent("jane.doe@patient.example")}`,
  );
  expectPaubox(address, 404);
  assert.equal(address.json().sourceTrackingId, null);
  for (const query of ["", "?sourceTrackingId=", "?sourceTrackingId=a&sourceTrackingId=b"])
    expectPaubox(await receipt(adminKey, query), 400);
});

test("dynamic templates: 401 without a key, then Paubox-shaped 4xx for bad uploads and unknown ids", async (t) => {
  const { app, adminKey } = await startTestApp(t, { worker: false });
  const unknown = "tpl_00000000000000000000000000";
  const calls: ["GET" | "POST" | "PATCH" | "DELETE", string, Record<string, string>, number][] = [
    ["POST", "/v1/u/templated_messages", { "content-type": "application/json" }, 400],
    ["GET", `/v1/u/dynamic_templates/${unknown}`, {}, 404],
    ["GET", "/v1/u/dynamic_templates/12", {}, 404],
    ["POST", "/paubox/v1/dynamic_templates", { "content-type": "multipart/form-data; boundary=X" }, 400],
    ["POST", "/paubox/v1/dynamic_templates", { "content-type": "application/json" }, 415],
    [
      "PATCH",
      `/v1/u/dynamic_templates/${unknown}`,
      { "content-type": "multipart/form-data; boundary=X" },
      400,
    ],
    ["DELETE", `/v1/u/dynamic_templates/${unknown}`, {}, 404],
  ];
  for (const [method, url, headers, status] of calls) {
    const payload =
      method === "GET" || method === "DELETE"
        ? undefined
        : headers["content-type"]?.startsWith("application/json")
          ? "{}"
          : "--X--";
    const anonymous = await app.api.inject({ method, url, headers, ...(payload ? { payload } : {}) });
    expectPaubox(anonymous, 401);
    const res = await app.api.inject({
      method,
      url,
      headers: { ...headers, ...tokenAuth(adminKey) },
      ...(payload ? { payload } : {}),
    });
    expectPaubox(res, status);
  }
  // Too large: refused whole, nothing created.
  const big = await sdkTemplateUpload("big", "x".repeat(MAX_TEMPLATE_BYTES + 1));
  const tooBig = await app.api.inject({
    method: "POST",
    url: "/v1/u/dynamic_templates",
    headers: { ...big.headers, ...tokenAuth(adminKey) },
    payload: big.payload,
  });
  expectPaubox(tooBig, 413);
  const list = await app.api.inject({ url: "/v1/u/dynamic_templates", headers: tokenAuth(adminKey) });
  assert.deepEqual(list.json(), []);
});

test("the OpenAPI document describes the Paubox routes once, under /paubox/v1", async (t) => {
  const { app } = await startTestApp(t, { worker: false });
  const paths = Object.keys((await app.api.inject({ url: "/openapi.json" })).json().paths);
  for (const p of [
    "/paubox/v1/messages",
    "/paubox/v1/bulk_messages",
    "/paubox/v1/message_receipt",
    "/paubox/v1/templated_messages",
    "/paubox/v1/dynamic_templates",
    "/paubox/v1/dynamic_templates/{id}",
  ])
    assert.ok(paths.includes(p), p);
  assert.deepEqual(
    paths.filter((p) => p.includes("{username}")),
    [],
  );
});
