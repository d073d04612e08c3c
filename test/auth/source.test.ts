/**
 * The client address (ADR 0008 §4): without trusted proxies X-Forwarded-For is ignored;
 * with them, Fastify's trustProxy takes the first hop that is not a trusted proxy.
 * IPv4-mapped IPv6 is normalized. Checked through a real Fastify app.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import Fastify, { type FastifyInstance } from "fastify";
import { clientAddress, trustProxyOption } from "../../src/auth/source.ts";
import { type Cidr, parseCidr } from "../../src/core/cidr.ts";

function cidrs(...raw: string[]): Cidr[] {
  return raw.map((r) => {
    const c = parseCidr(r);
    assert.ok(c !== null, r);
    return c;
  });
}

async function appTrusting(trusted: readonly Cidr[]): Promise<FastifyInstance> {
  const app = Fastify({ trustProxy: trustProxyOption(trusted) });
  app.get("/ip", async (request) => ({ address: clientAddress(request.ip) }));
  await app.ready();
  return app;
}

async function addressSeen(app: FastifyInstance, peer: string, forwardedFor?: string): Promise<string> {
  const res = await app.inject({
    method: "GET",
    url: "/ip",
    remoteAddress: peer,
    headers: forwardedFor === undefined ? {} : { "x-forwarded-for": forwardedFor },
  });
  assert.equal(res.statusCode, 200);
  return res.json().address;
}

test("clientAddress normalizes IPv4-mapped IPv6 and leaves other addresses alone", () => {
  assert.equal(clientAddress("::ffff:203.0.113.7"), "203.0.113.7");
  assert.equal(clientAddress("::FFFF:203.0.113.7"), "203.0.113.7");
  assert.equal(clientAddress("203.0.113.7"), "203.0.113.7");
  assert.equal(clientAddress("2001:db8::1"), "2001:db8::1");
});

test("without trusted proxies the peer is the client, whatever X-Forwarded-For says", async (t) => {
  assert.equal(trustProxyOption([]), false);
  const app = await appTrusting([]);
  t.after(() => app.close());
  assert.equal(await addressSeen(app, "198.51.100.9", "203.0.113.7"), "198.51.100.9");
  assert.equal(await addressSeen(app, "::ffff:198.51.100.9"), "198.51.100.9");
});

test("behind trusted proxies the client is the first untrusted hop", async (t) => {
  const trust = trustProxyOption(cidrs("10.0.0.0/8", "2001:db8:f::/48"));
  assert.ok(trust !== false);
  assert.equal(trust("10.1.2.3", 0), true);
  assert.equal(trust("::ffff:10.1.2.3", 0), true);
  assert.equal(trust("192.0.2.1", 1), false);

  const app = await appTrusting(cidrs("10.0.0.0/8", "2001:db8:f::/48"));
  t.after(() => app.close());
  assert.equal(await addressSeen(app, "10.1.2.3", "203.0.113.7"), "203.0.113.7");
  assert.equal(await addressSeen(app, "::ffff:10.1.2.3", "203.0.113.7"), "203.0.113.7");
  assert.equal(
    await addressSeen(app, "10.1.2.3", "203.0.113.7, 10.9.9.9"),
    "203.0.113.7",
    "a chain of proxies",
  );
  assert.equal(
    await addressSeen(app, "10.1.2.3", "192.0.2.66, 203.0.113.7"),
    "203.0.113.7",
    "a forged leftmost entry is not believed",
  );
  assert.equal(await addressSeen(app, "2001:db8:f::1", "2001:db8:1:2::5"), "2001:db8:1:2::5");
  assert.equal(
    await addressSeen(app, "198.51.100.9", "203.0.113.7"),
    "198.51.100.9",
    "an untrusted peer's header is ignored",
  );
  assert.equal(await addressSeen(app, "10.1.2.3"), "10.1.2.3", "a proxy with no header is the client");
});
