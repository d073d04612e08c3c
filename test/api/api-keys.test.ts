/**
 * /v1/api-keys (ADR 0008 §2): create shows the token once, list/get never do; rotation keeps
 * the id and overlaps the old token; revocation holds at once; another org's key is not
 * found; a key never grants, revokes or rotates more than it holds.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { TOKEN_RE } from "../../src/auth/tokens.ts";
import { ManualClock } from "../../src/core/clock.ts";
import { ensureOrg } from "../../src/core/orgs.ts";
import type { Sealpost } from "../../src/main.ts";
import { auth, BOOTSTRAP_KEY, startTestApp } from "../helpers/app.ts";

interface Issued {
  id: string;
  key: string;
  name: string;
  mode: string;
  scopes: string[];
  sender_domains: string[] | null;
  revoked_at: string | null;
  prev_expires_at: string | null;
  created_by: string | null;
}

function call(
  app: Sealpost,
  token: string,
  method: "GET" | "POST" | "DELETE",
  url: string,
  payload?: object,
) {
  return app.api.inject({ method, url, headers: auth(token), ...(payload === undefined ? {} : { payload }) });
}

async function createKey(app: Sealpost, by: string, body: Record<string, unknown>): Promise<Issued> {
  const res = await call(app, by, "POST", "/v1/api-keys", body);
  assert.equal(res.statusCode, 201, res.body);
  return res.json();
}

/** A route that needs only messages:read: 200 when the token is good. */
async function works(app: Sealpost, token: string): Promise<number> {
  return (await call(app, token, "GET", "/v1/messages")).statusCode;
}

test("create shows the token once; list and get never do", async (t) => {
  const { app } = await startTestApp(t, { worker: false });
  const created = await createKey(app, BOOTSTRAP_KEY, {
    name: "billing app",
    scopes: ["messages:send", "messages:read"],
    sender_domains: ["clinic.example"],
    allowed_ips: ["127.0.0.0/8"],
    rate_limit: "50/s",
  });
  assert.match(created.key, TOKEN_RE);
  assert.match(created.id, /^key_[0-9a-z]{26}$/);
  assert.ok(created.key.includes(created.id.slice(4)), "the token names its key id");
  assert.equal(created.name, "billing app");
  assert.equal(created.mode, "live");
  assert.deepEqual(created.scopes, ["messages:send", "messages:read"]);
  assert.deepEqual(created.sender_domains, ["clinic.example"]);
  assert.match(created.created_by ?? "", /^key_/, "created_by is the bootstrap key's id");
  assert.equal(await works(app, created.key), 200);

  const got = await call(app, BOOTSTRAP_KEY, "GET", `/v1/api-keys/${created.id}`);
  assert.equal(got.statusCode, 200);
  assert.equal(got.json().id, created.id);
  assert.equal(got.json().key, undefined);
  assert.ok(!got.body.includes(created.key));

  const list = await call(app, BOOTSTRAP_KEY, "GET", "/v1/api-keys");
  assert.equal(list.statusCode, 200);
  assert.ok(!list.body.includes(created.key));
  const ids = list.json().data.map((k: { id: string }) => k.id);
  assert.ok(ids.includes(created.id));
});

test("the list is cursor-paginated", async (t) => {
  const { app } = await startTestApp(t, { worker: false });
  for (let i = 0; i < 4; i++)
    await createKey(app, BOOTSTRAP_KEY, { name: `k${i}`, scopes: ["messages:read"] });
  const seen: string[] = [];
  let cursor: string | null = null;
  do {
    const url: string = `/v1/api-keys?limit=2${cursor === null ? "" : `&cursor=${cursor}`}`;
    const page = (await call(app, BOOTSTRAP_KEY, "GET", url)).json();
    assert.ok(page.data.length <= 2);
    seen.push(...page.data.map((k: { id: string }) => k.id));
    cursor = page.next_cursor;
  } while (cursor !== null);
  assert.equal(seen.length, 5, "the bootstrap key and four more");
  assert.equal(new Set(seen).size, 5);
  const bad = await call(app, BOOTSTRAP_KEY, "GET", "/v1/api-keys?cursor=bm90LWFuLWlk");
  assert.equal(bad.statusCode, 400);
  assert.equal(bad.json().code, "invalid_cursor");
});

test("rotation keeps the id; the old token works only inside the overlap", async (t) => {
  const clock = new ManualClock();
  const { app } = await startTestApp(t, { worker: false, clock });
  const first = await createKey(app, BOOTSTRAP_KEY, { scopes: ["messages:read"] });
  const rotated = await call(app, BOOTSTRAP_KEY, "POST", `/v1/api-keys/${first.id}/rotate`, {
    overlap_seconds: 60,
  });
  assert.equal(rotated.statusCode, 200, rotated.body);
  const second: Issued = rotated.json();
  assert.equal(second.id, first.id);
  assert.notEqual(second.key, first.key);
  assert.match(second.key, TOKEN_RE);
  assert.ok(second.prev_expires_at !== null);
  assert.equal(await works(app, first.key), 200, "old token inside the overlap");
  assert.equal(await works(app, second.key), 200);

  clock.advance(61_000);
  const old = await call(app, first.key, "GET", "/v1/messages");
  assert.equal(old.statusCode, 401, "old token after the overlap");
  assert.equal(await works(app, second.key), 200);

  // A second rotation inside the overlap drops the oldest token.
  const third: Issued = (
    await call(app, BOOTSTRAP_KEY, "POST", `/v1/api-keys/${first.id}/rotate`, {})
  ).json();
  const fourth: Issued = (
    await call(app, BOOTSTRAP_KEY, "POST", `/v1/api-keys/${first.id}/rotate`, {})
  ).json();
  assert.equal(await works(app, second.key), 401, "two rotations back");
  assert.equal(await works(app, third.key), 200, "the previous token, inside the default overlap");
  assert.equal(await works(app, fourth.key), 200);

  const zero = await call(app, BOOTSTRAP_KEY, "POST", `/v1/api-keys/${first.id}/rotate`, {
    overlap_seconds: 0,
  });
  assert.equal(zero.statusCode, 200);
  assert.equal(await works(app, fourth.key), 401, "overlap 0 ends the old token at once");
  assert.equal(await works(app, zero.json().key), 200);

  const tooLong = await call(app, BOOTSTRAP_KEY, "POST", `/v1/api-keys/${first.id}/rotate`, {
    overlap_seconds: 604_801,
  });
  assert.equal(tooLong.statusCode, 422);
  assert.equal(tooLong.json().field, "overlap_seconds");
});

test("revocation holds at once and is reported only to the key's holder", async (t) => {
  const { app } = await startTestApp(t, { worker: false });
  const k = await createKey(app, BOOTSTRAP_KEY, { scopes: ["messages:read"] });
  assert.equal(await works(app, k.key), 200);
  const del = await call(app, BOOTSTRAP_KEY, "DELETE", `/v1/api-keys/${k.id}`);
  assert.equal(del.statusCode, 204);
  assert.equal(del.body, "");
  const after = await call(app, k.key, "GET", "/v1/messages");
  assert.equal(after.statusCode, 401);
  assert.equal(after.json().code, "key_revoked");
  assert.match(String(after.headers["www-authenticate"]), /^Bearer realm="sealpost"/);
  const view = (await call(app, BOOTSTRAP_KEY, "GET", `/v1/api-keys/${k.id}`)).json();
  assert.ok(view.revoked_at !== null);
  assert.equal((await call(app, BOOTSTRAP_KEY, "DELETE", `/v1/api-keys/${k.id}`)).statusCode, 204, "again");
  const rotate = await call(app, BOOTSTRAP_KEY, "POST", `/v1/api-keys/${k.id}/rotate`, {});
  assert.equal(rotate.statusCode, 409, "a revoked key is not rotated");
});

test("another org's key is not found, whatever the operation", async (t) => {
  const { app, key } = await startTestApp(t, { worker: false });
  const mine = await createKey(app, BOOTSTRAP_KEY, { scopes: ["messages:read"] });
  const other = await ensureOrg(app.db, app.keyring, app.clock, "other");
  const otherAdmin = await key(["admin"], "live", other.id);
  for (const [method, url] of [
    ["GET", `/v1/api-keys/${mine.id}`],
    ["DELETE", `/v1/api-keys/${mine.id}`],
    ["POST", `/v1/api-keys/${mine.id}/rotate`],
  ] as const) {
    const res = await call(app, otherAdmin, method, url, method === "POST" ? {} : undefined);
    assert.equal(res.statusCode, 404, `${method} ${url}`);
    assert.equal(res.json().code, "not_found");
  }
  const list = (await call(app, otherAdmin, "GET", "/v1/api-keys")).json();
  assert.ok(!list.data.some((k: { id: string }) => k.id === mine.id));
  assert.equal(await works(app, mine.key), 200, "untouched");
  assert.equal((await call(app, BOOTSTRAP_KEY, "GET", "/v1/api-keys/key_nonsense")).statusCode, 404);
});

test("granting rules: a key hands out, revokes and rotates only what it holds", async (t) => {
  const { app } = await startTestApp(t, { worker: false });
  const manager = await createKey(app, BOOTSTRAP_KEY, {
    scopes: ["keys:manage", "messages:send"],
    sender_domains: ["clinic.example"],
  });
  const refused = async (body: Record<string, unknown>, why: string) => {
    const res = await call(app, manager.key, "POST", "/v1/api-keys", body);
    assert.equal(res.statusCode, 403, why);
    assert.equal(res.json().code, "forbidden", why);
  };
  await refused({ scopes: ["messages:read"] }, "a scope the caller lacks");
  await refused({ scopes: ["admin"] }, "admin");
  await refused({ scopes: ["messages:send"], sender_domains: null }, "wider than the caller's domains");
  await refused({ scopes: ["messages:send"], sender_domains: ["example.com"] }, "another domain");

  const child = await createKey(app, manager.key, { scopes: ["messages:send"] });
  assert.deepEqual(child.sender_domains, ["clinic.example"], "inherits the caller's restriction");
  assert.equal(child.created_by, manager.id);

  const adminOnly = await call(app, BOOTSTRAP_KEY, "POST", "/v1/api-keys", { scopes: ["instance:admin"] });
  assert.equal(adminOnly.statusCode, 403, "admin never grants instance:admin");

  const stronger = await createKey(app, BOOTSTRAP_KEY, { scopes: ["messages:send", "messages:read"] });
  for (const [method, url] of [
    ["DELETE", `/v1/api-keys/${stronger.id}`],
    ["POST", `/v1/api-keys/${stronger.id}/rotate`],
  ] as const) {
    const res = await call(app, manager.key, method, url, method === "POST" ? {} : undefined);
    assert.equal(res.statusCode, 403, `${method}: a weaker key cannot act on a stronger one`);
  }
  assert.equal((await call(app, manager.key, "DELETE", `/v1/api-keys/${child.id}`)).statusCode, 204);

  const noManage = await createKey(app, BOOTSTRAP_KEY, { scopes: ["messages:read"] });
  const res = await call(app, noManage.key, "POST", "/v1/api-keys", { scopes: ["messages:read"] });
  assert.equal(res.statusCode, 403, "creating a key needs keys:manage");
});

test("bad input is refused with the field at fault", async (t) => {
  const { app } = await startTestApp(t, { worker: false });
  for (const [body, code, field] of [
    [{ scopes: ["messages:send"], colour: "red" }, "unknown_field", "colour"],
    [{ scopes: "messages:send" }, "invalid_type", "scopes"],
    [{ scopes: ["messages:fly"] }, "invalid_value", "scopes"],
    [{ scopes: ["domains:manage"], mode: "test" }, "invalid_value", "scopes"],
    [{ scopes: ["messages:send"], allowed_ips: ["not-an-ip"] }, "invalid_value", "allowed_ips"],
    [{ scopes: ["messages:send"], expires_at: "2000-01-01T00:00:00Z" }, "invalid_value", "expires_at"],
    [{ scopes: ["messages:send"], rate_limit: "fast" }, "invalid_value", "rate_limit"],
  ] as const) {
    const res = await call(app, BOOTSTRAP_KEY, "POST", "/v1/api-keys", body);
    assert.equal(res.statusCode, 422, JSON.stringify(body));
    assert.equal(res.json().code, code, JSON.stringify(body));
    assert.equal(res.json().field, field, JSON.stringify(body));
  }
  const sandboxKey = await createKey(app, BOOTSTRAP_KEY, { scopes: ["messages:send"], mode: "test" });
  assert.match(sandboxKey.key, /^sp_test_/);
});
