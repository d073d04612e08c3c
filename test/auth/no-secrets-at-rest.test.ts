/**
 * The database holds no key secret (issue 6, ADR 0008 §2): keys made by the CLI, the API,
 * the bootstrap setting, a rotation and in test mode, each then used by every method, leave
 * none of their tokens, Basic strings, HMAC signing keys or access tokens in the SQLite
 * file (and its WAL), a pg_dump, or the logs.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  contentDigestHeader,
  deriveSigningKey,
  formatHmacAuthorization,
  signRequest,
} from "../../src/auth/hmac.ts";
import { loadConfig } from "../../src/config/load.ts";
import { createLogger } from "../../src/logging/logger.ts";
import { createSealpost, type Sealpost } from "../../src/main.ts";
import { BOOTSTRAP_KEY, testNode } from "../helpers/app.ts";
import { checkStore, collector, requirePgDump } from "../helpers/canary.ts";
import { runCliJson } from "../helpers/cli.ts";

interface Key {
  id: string;
  token: string;
}

const message = {
  from: "clinic@example.com",
  to: "p@example.org",
  subject: "Hi",
  text: "Hello",
  sandbox: true,
};

/** Every form a secret could be written in. */
class Secrets {
  readonly forms: { label: string; value: Buffer }[] = [];

  add(label: string, value: string | Buffer): void {
    this.forms.push({ label, value: Buffer.isBuffer(value) ? value : Buffer.from(value) });
  }

  key(label: string, k: Key): void {
    this.add(`${label} token`, k.token);
    this.add(`${label} Basic`, Buffer.from(`${k.id}:${k.token}`).toString("base64"));
    const kSign = deriveSigningKey(k.token);
    this.add(`${label} k_sign`, kSign);
    this.add(`${label} k_sign hex`, kSign.toString("hex"));
    this.add(`${label} k_sign base64`, kSign.toString("base64"));
  }

  /** The labels of the secrets found in `content`. */
  found(content: string | Buffer): string[] {
    const haystack = Buffer.isBuffer(content) ? content : Buffer.from(content);
    return this.forms.filter((f) => haystack.includes(f.value)).map((f) => f.label);
  }
}

async function call(
  app: Sealpost,
  method: string,
  url: string,
  headers: Record<string, string>,
  body?: unknown,
) {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const res = await app.api.inject({
    method: method as "GET",
    url,
    headers: { ...(payload === undefined ? {} : { "content-type": "application/json" }), ...headers },
    ...(payload === undefined ? {} : { payload }),
  });
  assert.ok(res.statusCode < 300, `${method} ${url}: ${res.statusCode} ${res.body}`);
  return res;
}

function hmac(k: Key, method: string, url: string, body: unknown, now: number): Record<string, string> {
  const contentDigest = contentDigestHeader(Buffer.from(body === undefined ? "" : JSON.stringify(body)));
  const c = {
    kind: "hmac" as const,
    keyId: k.id,
    timestamp: Math.floor(now / 1000),
    nonce: `at-rest-${now}`,
    signature: "",
  };
  const signature = signRequest(deriveSigningKey(k.token), c, { method, url, contentDigest });
  return { authorization: formatHmacAuthorization({ ...c, signature }), "content-digest": contentDigest };
}

test("no key secret is stored or logged, whichever way the key was made and used", async (t) => {
  const node = await testNode({ SEALPOST_LOG_LEVEL: "debug" });
  t.after(() => node.remove());
  const secrets = new Secrets();

  const made = runCliJson(["keys", "create", "--scopes", "admin"], node.env);
  const cliKey: Key = { id: made.id, token: made.key };
  const logs = collector();
  const app = await createSealpost(loadConfig(node.env), {
    logger: createLogger({ level: "debug", destination: logs.stream }),
  });
  let open = true;
  t.after(async () => {
    if (open) await app.close();
  });
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  const basic = (k: Key) => ({
    authorization: `Basic ${Buffer.from(`${k.id}:${k.token}`).toString("base64")}`,
  });

  const listed = (await call(app, "GET", "/v1/api-keys", bearer(BOOTSTRAP_KEY))).json();
  const bootstrap: Key = {
    id: listed.data.find((k: { created_by: string }) => k.created_by === "bootstrap").id,
    token: BOOTSTRAP_KEY,
  };
  const issue = async (body: unknown): Promise<Key> => {
    const res = (await call(app, "POST", "/v1/api-keys", bearer(BOOTSTRAP_KEY), body)).json();
    return { id: res.id, token: res.key };
  };
  const apiKey = await issue({ name: "api", scopes: ["messages:send", "messages:read", "keys:manage"] });
  const testKey = await issue({ name: "sandbox", mode: "test", scopes: ["messages:send", "messages:read"] });
  const rotated = (
    await call(app, "POST", `/v1/api-keys/${apiKey.id}/rotate`, bearer(apiKey.token), {})
  ).json();
  const apiKey2: Key = { id: apiKey.id, token: rotated.key };
  for (const [label, k] of [
    ["cli", cliKey],
    ["bootstrap", bootstrap],
    ["api", apiKey],
    ["rotated", apiKey2],
    ["test mode", testKey],
  ] as const)
    secrets.key(label, k);

  // Every method, with every key.
  for (const k of [cliKey, bootstrap, apiKey, apiKey2, testKey]) {
    await call(app, "GET", "/v1/messages", bearer(k.token));
    await call(app, "GET", "/v1/messages", basic(k));
    await call(
      app,
      "POST",
      "/v1/messages",
      hmac(k, "POST", "/v1/messages", message, app.clock.now()),
      message,
    );
    const token = await app.api.inject({
      method: "POST",
      url: "/oauth/token",
      headers: { ...basic(k), "content-type": "application/x-www-form-urlencoded" },
      payload: "grant_type=client_credentials",
    });
    assert.equal(token.statusCode, 200, token.body);
    const jwt = token.json().access_token as string;
    secrets.add(`access token of ${k.id}`, jwt);
    secrets.add(`access token signature of ${k.id}`, jwt.split(".")[2] as string);
    await call(app, "GET", "/v1/messages", bearer(jwt));
  }

  // The finder itself finds a planted token and a planted raw signing key.
  assert.ok(secrets.found(`x${apiKey2.token}x`).includes("rotated token"));
  assert.ok(secrets.found(Buffer.concat([Buffer.from([0, 1]), deriveSigningKey(testKey.token)])).length > 0);

  const leaks: string[] = [];
  const surfaces = {
    check(label: string, content: string | Buffer) {
      for (const s of secrets.found(content)) leaks.push(`${label}: ${s}`);
    },
  };
  // While the node runs (the SQLite WAL holds the newest pages), then after it stopped.
  let dumped = checkStore(surfaces, node.dataDir, node.database.url);
  await app.close();
  open = false;
  dumped = checkStore(surfaces, node.dataDir, node.database.url) && dumped;
  surfaces.check("logs", logs.text());
  assert.ok(logs.text().length > 0, "the node logged");
  assert.deepEqual(leaks, []);
  requirePgDump(t, dumped);
});
