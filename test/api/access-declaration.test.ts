/**
 * Route security by construction (ADR 0008 §8): a route that declares no access makes the
 * app refuse it at startup; every route is recorded with its access; the OpenAPI document
 * carries each operation's security; only the allow-listed routes are public.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { access } from "../../src/api/access.ts";
import { startTestApp } from "../helpers/app.ts";

/** The public routes ADR 0008 §8 allows, by path pattern. */
const PUBLIC = [
  /^\/healthz$/,
  /^\/readyz$/,
  /^\/metrics$/,
  /^\/openapi\.json$/,
  /^\/docs(\/.*)?$/,
  /^\/\.well-known\/.+$/,
  /^\/oauth\/token$/,
  /^\/portal\/.+$/, // the secure portal's pages (ADR 0010 §6)
  /^\/t\/o\/:token\.gif$/, // the open-tracking pixel (ADR 0011 §6)
];

test("a route without a declared access is refused when it is added", async (t) => {
  const { app } = await startTestApp(t, { worker: false });
  assert.throws(
    () => app.api.get("/v1/undeclared", async () => ({})),
    /Route GET \/v1\/undeclared declares no access/,
  );
  assert.throws(
    () => app.api.route({ method: ["POST", "PUT"], url: "/v1/also-undeclared", handler: async () => ({}) }),
    /declares no access/,
  );
  // A declared one is accepted and protected at once.
  app.api.get("/v1/declared", { config: access({ scope: "audit:read" }) }, async () => ({ ok: true }));
  const res = await app.api.inject({ url: "/v1/declared" });
  assert.equal(res.statusCode, 401);
  assert.equal(res.json().code, "unauthorized");
});

test("every route is recorded with its access; only the allow-list is public", async (t) => {
  const { app } = await startTestApp(t, { worker: false });
  await app.api.ready();
  const routes = app.api.routeAccess();
  const find = (method: string, url: string) => routes.find((r) => r.method === method && r.url === url);

  assert.deepEqual(find("POST", "/v1/messages")?.access, {
    kind: "scope",
    scope: "messages:send",
    scheme: "sealpost",
  });
  assert.deepEqual(find("POST", "/paubox/v1/messages")?.access, {
    kind: "scope",
    scope: "messages:send",
    scheme: "paubox",
  });
  assert.ok(find("POST", "/v1/:username/messages"), "the hidden Paubox alias is recorded too");
  assert.deepEqual(find("POST", "/v1/admin/orgs")?.access, { kind: "instance" });
  assert.deepEqual(find("GET", "/v1/api-keys")?.access.kind, "scope");
  assert.ok(find("HEAD", "/v1/messages"), "HEAD routes are recorded");
  assert.equal(
    (await app.api.inject({ method: "HEAD", url: "/v1/messages" })).statusCode,
    401,
    "and protected",
  );

  const publicRoutes = routes.filter((r) => r.access.kind === "public");
  for (const r of publicRoutes)
    assert.ok(
      PUBLIC.some((p) => p.test(r.url)),
      `${r.method} ${r.url} is public but not on the allow-list`,
    );
  for (const url of [
    "/healthz",
    "/readyz",
    "/metrics",
    "/openapi.json",
    "/oauth/token",
    "/.well-known/jwks.json",
  ])
    assert.ok(
      publicRoutes.some((r) => r.url === url),
      `${url} is public`,
    );
  for (const r of publicRoutes)
    if (r.access.kind === "public") assert.ok(r.access.reason.length > 0, `${r.url} gives a reason`);
});

test("the OpenAPI document names each operation's security and the four schemes", async (t) => {
  const { app } = await startTestApp(t, { worker: false });
  const doc = (await app.api.inject({ url: "/openapi.json" })).json();
  const schemes = doc.components.securitySchemes;
  assert.deepEqual(Object.keys(schemes).sort(), ["basic", "bearer", "hmac", "oauth2", "paubox"]);
  assert.equal(schemes.oauth2.flows.clientCredentials.tokenUrl, `${app.issuer}/oauth/token`);
  assert.equal(doc.security, undefined, "no document-wide default");

  assert.deepEqual(doc.paths["/v1/messages"].post.security, [
    { bearer: [] },
    { basic: [] },
    { hmac: [] },
    { oauth2: ["messages:send"] },
  ]);
  assert.deepEqual(doc.paths["/v1/admin/orgs"].post.security.at(-1), { oauth2: ["instance:admin"] });
  assert.deepEqual(doc.paths["/paubox/v1/messages"].post.security[0], { paubox: [] });
  assert.deepEqual(doc.paths["/healthz"].get.security, []);
  assert.deepEqual(doc.paths["/oauth/token"].post.security, []);
  for (const [path, ops] of Object.entries(
    doc.paths as Record<string, Record<string, { security?: unknown }>>,
  ))
    for (const [method, op] of Object.entries(ops))
      assert.ok(Array.isArray(op.security), `${method.toUpperCase()} ${path} declares its security`);
});

test("public routes answer without credentials; swagger-ui is served", async (t) => {
  const { app } = await startTestApp(t, { worker: false });
  for (const url of ["/healthz", "/metrics", "/openapi.json", "/.well-known/jwks.json", "/docs/json"]) {
    const res = await app.api.inject({ url });
    assert.equal(res.statusCode, 200, url);
  }
  const docs = await app.api.inject({ url: "/docs/" });
  assert.ok(docs.statusCode === 200 || docs.statusCode === 302, `/docs/ ${docs.statusCode}`);
});
