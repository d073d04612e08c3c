/**
 * SP1-HMAC-SHA256 over HTTP (ADR 0008 §4): the body is hashed as it streams in and checked
 * against the signed Content-Digest before the handler runs; a request without a body
 * signs the empty body's digest. Over inject and over a real listener, REST and Paubox.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import {
  contentDigestHeader,
  deriveSigningKey,
  formatHmacAuthorization,
  type HmacCredentials,
  signRequest,
} from "../../src/auth/hmac.ts";
import type { Sealpost } from "../../src/main.ts";
import { auth, BOOTSTRAP_KEY, startTestApp } from "../helpers/app.ts";

const message = {
  from: "clinic@example.com",
  to: "p@example.org",
  subject: "Hi",
  text: "Hello",
  sandbox: true,
};

/** The headers of a signed request; `digestOf` is the body the client claims to send. */
function signed(
  key: { id: string; key: string },
  method: string,
  url: string,
  digestOf: Buffer,
  now: number,
): Record<string, string> {
  const contentDigest = contentDigestHeader(digestOf);
  const c: HmacCredentials = {
    kind: "hmac",
    keyId: key.id,
    timestamp: Math.floor(now / 1000),
    nonce: randomBytes(12).toString("base64url"),
    signature: "",
  };
  const signature = signRequest(deriveSigningKey(key.key), c, { method, url, contentDigest });
  return { authorization: formatHmacAuthorization({ ...c, signature }), "content-digest": contentDigest };
}

async function newKey(app: Sealpost, scopes: string[]): Promise<{ id: string; key: string }> {
  const res = await app.api.inject({
    method: "POST",
    url: "/v1/api-keys",
    headers: auth(BOOTSTRAP_KEY),
    payload: { scopes },
  });
  assert.equal(res.statusCode, 201, res.body);
  return res.json();
}

test("a signed body is accepted; a tampered one is content_digest_mismatch; a replay is refused", async (t) => {
  const { app } = await startTestApp(t, { worker: false });
  const k = await newKey(app, ["messages:send", "messages:read"]);
  const body = Buffer.from(JSON.stringify(message));
  const headers = {
    ...signed(k, "POST", "/v1/messages", body, Date.now()),
    "content-type": "application/json",
  };
  const ok = await app.api.inject({ method: "POST", url: "/v1/messages", headers, payload: body });
  assert.equal(ok.statusCode, 202, ok.body);

  const replay = await app.api.inject({ method: "POST", url: "/v1/messages", headers, payload: body });
  assert.equal(replay.statusCode, 401);
  assert.equal(replay.json().code, "nonce_reused");

  const fresh = {
    ...signed(k, "POST", "/v1/messages", body, Date.now()),
    "content-type": "application/json",
  };
  const tampered = Buffer.from(JSON.stringify({ ...message, to: "mallory@example.org" }));
  const res = await app.api.inject({
    method: "POST",
    url: "/v1/messages",
    headers: fresh,
    payload: tampered,
  });
  assert.equal(res.statusCode, 401);
  assert.equal(res.json().code, "content_digest_mismatch");
  assert.match(String(res.headers["www-authenticate"]), /SP1-HMAC-SHA256 realm="sealpost"/);
  const listed = (await app.api.inject({ url: "/v1/messages", headers: auth(BOOTSTRAP_KEY) })).json();
  assert.equal(listed.data.length, 1, "the tampered message was not stored");
});

test("a tampered body, a tampered path, a stale timestamp and a replay each get their own code", async (t) => {
  const { app } = await startTestApp(t, { worker: false });
  const k = await newKey(app, ["messages:send"]);
  const body = Buffer.from(JSON.stringify(message));
  const json = { "content-type": "application/json" };
  const post = (url: string, headers: Record<string, string>, payload = body) =>
    app.api.inject({ method: "POST", url, headers: { ...headers, ...json }, payload });
  const valid = signed(k, "POST", "/v1/messages", body, Date.now());
  const cases: [string, Promise<{ statusCode: number; json(): { code: string } }>, string][] = [
    [
      "tampered body",
      post("/v1/messages", signed(k, "POST", "/v1/messages", body, Date.now()), Buffer.from(`${body} `)),
      "content_digest_mismatch",
    ],
    [
      "tampered path",
      post("/v1/messages/batch", signed(k, "POST", "/v1/messages", body, Date.now())),
      "signature_mismatch",
    ],
    [
      "stale timestamp",
      post("/v1/messages", signed(k, "POST", "/v1/messages", body, Date.now() - 301_000)),
      "signature_expired",
    ],
  ];
  for (const [what, res, code] of cases) {
    const r = await res;
    assert.equal(r.statusCode, 401, what);
    assert.equal(r.json().code, code, what);
  }
  assert.equal((await post("/v1/messages", valid)).statusCode, 202);
  const replay = await post("/v1/messages", valid);
  assert.equal(replay.statusCode, 401);
  assert.equal(replay.json().code, "nonce_reused");
});

test("a request without a body signs the empty body's digest", async (t) => {
  const { app } = await startTestApp(t, { worker: false });
  const k = await newKey(app, ["messages:read"]);
  const empty = Buffer.alloc(0);
  const ok = await app.api.inject({
    url: "/v1/messages?limit=5",
    headers: signed(k, "GET", "/v1/messages?limit=5", empty, Date.now()),
  });
  assert.equal(ok.statusCode, 200, ok.body);
  const wrong = await app.api.inject({
    url: "/v1/messages",
    headers: signed(k, "GET", "/v1/messages", Buffer.from("x"), Date.now()),
  });
  assert.equal(wrong.statusCode, 401);
  assert.equal(wrong.json().code, "content_digest_mismatch");
  const path = await app.api.inject({
    url: "/v1/messages?limit=6",
    headers: signed(k, "GET", "/v1/messages?limit=5", empty, Date.now()),
  });
  assert.equal(path.statusCode, 401, "the signed target is the one sent");
  assert.equal(path.json().code, "signature_mismatch");
});

test("over a real listener, a large chunked body is hashed as it streams; Paubox routes take HMAC too", async (t) => {
  const { app } = await startTestApp(t, { worker: false });
  const base = await app.listen();
  const k = await newKey(app, ["messages:send"]);
  const big = Buffer.from(JSON.stringify({ ...message, text: "x".repeat(2_000_000) }));
  const post = (url: string, body: Buffer, digestOf: Buffer) =>
    fetch(`${base}${url}`, {
      method: "POST",
      headers: { ...signed(k, "POST", url, digestOf, Date.now()), "content-type": "application/json" },
      // A stream: sent chunked, so the digest is computed over the chunks as they arrive.
      body: new Blob([body]).stream(),
      duplex: "half",
    } as RequestInit);
  const ok = await post("/v1/messages", big, big);
  assert.equal(ok.status, 202, await ok.clone().text());
  const bad = await post("/v1/messages", big, Buffer.concat([big, Buffer.from(" ")]));
  assert.equal(bad.status, 401);
  assert.equal(((await bad.json()) as { code: string }).code, "content_digest_mismatch");

  const pauboxBody = Buffer.from(
    JSON.stringify({
      data: {
        message: {
          recipients: ["p@example.org"],
          headers: { subject: "Hi", from: "clinic@example.com" },
          content: { "text/plain": "Hello" },
        },
      },
    }),
  );
  const paubox = await post("/paubox/v1/messages", pauboxBody, pauboxBody);
  assert.equal(paubox.status, 200, await paubox.clone().text());
  const tampered = await post("/paubox/v1/messages", pauboxBody, Buffer.from("{}"));
  assert.equal(tampered.status, 401);
  const answer = (await tampered.json()) as { errors: { code: number }[] };
  assert.equal(answer.errors[0]?.code, 401, "Paubox's error shape");
  assert.match(tampered.headers.get("www-authenticate") ?? "", /^Token realm="sealpost"/);
});
