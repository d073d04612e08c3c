import assert from "node:assert/strict";
import { test } from "node:test";
import { ManualClock } from "../../src/core/clock.ts";
import { startTestApp } from "../helpers/app.ts";
import { startDnsServer } from "../helpers/dns-server.ts";
import { PUBLIC_ROUTES, ROUTE_CASES } from "../helpers/route-cases.ts";
import { buildWorld, checkRoute } from "../helpers/route-security.ts";

/**
 * Route security by construction (ADR 0008 §8): the app's own route table is the list, so
 * a route added without a case here fails this test, and one added without an access
 * declaration fails at startup (test/api/access-declaration.test.ts).
 */
test("every route is declared, covered by one case, and refuses and admits as its access says", async (t) => {
  const clock = new ManualClock(Date.UTC(2026, 10, 26, 10));
  const dns = await startDnsServer({});
  t.after(() => dns.close());
  const app = await startTestApp(t, {
    worker: false,
    clock,
    env: {
      SEALPOST_RATE_LIMIT_KEY: "off",
      SEALPOST_RATE_LIMIT_ORG: "off",
      SEALPOST_DNS_SERVERS: dns.address,
    },
  });
  const table = app.app.api.routeAccess();
  const key = (method: string, url: string) => `${method} ${url}`;
  const routes = new Map(table.map((r) => [key(r.method, r.url), r.access]));

  // Every documented operation is a route of the app.
  const doc = (await app.app.api.inject({ url: "/openapi.json" })).json();
  for (const [path, ops] of Object.entries(doc.paths as Record<string, Record<string, unknown>>))
    for (const method of Object.keys(ops)) {
      const route = key(method.toUpperCase(), path.replace(/\{([^}]+)\}/g, ":$1"));
      assert.ok(routes.has(route), `${route} is documented but not a route`);
    }

  // Every public route is on the list, with its reason; every other route has exactly one case.
  const cases = new Map(ROUTE_CASES.map((c) => [c.route, c]));
  assert.equal(cases.size, ROUTE_CASES.length, "a route has two cases");
  for (const [route, access] of routes) {
    const [method, url] = route.split(" ") as [string, string];
    const asGet = method === "HEAD" ? key("GET", url) : route;
    if (access.kind === "public") {
      const isDocs = url === "/docs" || url.startsWith("/docs/");
      assert.ok(
        isDocs || PUBLIC_ROUTES[asGet] !== undefined,
        `${route} is public without a reason in PUBLIC_ROUTES`,
      );
      continue;
    }
    const c = cases.get(asGet);
    assert.ok(c !== undefined, `${route} has no case in test/helpers/route-cases.ts`);
    const declared = access.kind === "instance" ? "instance:admin" : access.scope;
    assert.equal(c.scope, declared, `${route}: the case's scope is not the declared one`);
  }
  for (const c of ROUTE_CASES) assert.ok(routes.has(c.route), `the case ${c.route} names no route`);
  for (const route of Object.keys(PUBLIC_ROUTES))
    assert.equal(routes.get(route)?.kind, "public", `${route} is listed public but is not`);

  const world = await buildWorld(app, clock);
  for (const c of ROUTE_CASES) {
    await checkRoute(world, c);
    if (c.route.startsWith("GET ") && routes.has(c.route.replace(/^GET/, "HEAD")))
      await checkRoute(world, c, "HEAD");
  }
});
