import assert from "node:assert/strict";
import type { LightMyRequestResponse } from "fastify";
import {
  contentDigestHeader,
  deriveSigningKey,
  formatHmacAuthorization,
  signRequest,
} from "../../src/auth/hmac.ts";
import { createKey, operatorGrantor, revokeKey } from "../../src/auth/keys.ts";
import type { ManualClock } from "../../src/core/clock.ts";
import { createOrg } from "../../src/core/orgs.ts";
import { ORG_SCOPES, type Scope } from "../../src/core/principal.ts";
import { systemScope } from "../../src/store/scope.ts";
import type { TestApp } from "./app.ts";
import type { CaseRequest, Fixture, RouteCase } from "./route-cases.ts";

/**
 * The route-security harness (ADR 0008 §8): for one route case, every way in that must be
 * refused (no, malformed, unknown, revoked, expired credentials; a missing scope; an
 * address outside the key's allowlist; another org's object) and every method that must
 * be let in (Bearer, Basic, SP1-HMAC-SHA256, an OAuth access token).
 */

export interface Credential {
  id: string;
  token: string;
}

export interface SecurityWorld {
  t: TestApp;
  clock: ManualClock;
  fixture: Fixture;
  revoked: Credential;
  expired: Credential;
  /** Allowed only from 192.0.2.0/24; every org scope and instance:admin. */
  ipRestricted: Credential;
  /** Org B's key with every org scope. */
  otherOrg: Credential;
  /** A key of org A holding exactly `scope`. */
  holding(scope: Scope): Promise<Credential>;
  /** A key of org A holding every scope but `scope` (an instance route: every org scope). */
  lacking(scope: Scope): Promise<Credential>;
}

let addressCounter = 0;

/** A fresh client address per request, so no check is slowed or locked by the lockout of another. */
export function nextAddress(prefix = "10"): string {
  addressCounter++;
  return `${prefix}.${(addressCounter >> 16) & 255}.${(addressCounter >> 8) & 255}.${addressCounter & 255}`;
}

function grantable(scope: Scope): Scope[] {
  return scope === "instance:admin" ? ["instance:admin"] : [scope];
}

export async function buildWorld(t: TestApp, clock: ManualClock): Promise<SecurityWorld> {
  const keys = t.app.keys;
  const orgA = systemScope(t.app.db, t.app.defaultOrgId, "admin");
  const make = async (scopes: readonly Scope[], extra: Record<string, unknown> = {}, scope = orgA) => {
    const issued = await createKey(keys, scope, operatorGrantor("cli"), {
      name: "rs",
      mode: "live",
      scopes,
      ...extra,
    });
    return { id: issued.key.id, token: issued.token };
  };
  const admin = { authorization: `Bearer ${t.adminKey}` };
  const sent = await t.app.api.inject({
    method: "POST",
    url: "/v1/messages",
    headers: admin,
    remoteAddress: nextAddress(),
    payload: { from: "clinic@example.com", to: "p@example.org", subject: "Hi", text: "Hello", sandbox: true },
  });
  assert.equal(sent.statusCode, 202, sent.body);
  const domains = await t.app.api.inject({
    url: "/v1/domains",
    headers: admin,
    remoteAddress: nextAddress(),
  });
  const suppressed = "s@example.org";
  const sup = await t.app.api.inject({
    method: "POST",
    url: "/v1/suppressions",
    headers: admin,
    remoteAddress: nextAddress(),
    payload: { address: suppressed },
  });
  assert.ok(sup.statusCode < 300, sup.body);

  const revoked = await make(ORG_SCOPES);
  await revokeKey(keys, orgA, operatorGrantor("cli"), revoked.id);
  const expired = await make(ORG_SCOPES, { expiresAt: clock.now() + 61_000 });
  const ipRestricted = await make([...ORG_SCOPES, "instance:admin"], { allowedIps: ["192.0.2.0/24"] });
  const orgB = await createOrg({ db: t.app.db, keyring: t.app.keyring, clock }, { name: "org-b" });
  const otherOrg = await make(ORG_SCOPES, {}, systemScope(t.app.db, orgB.id, "admin"));
  const spare = await make(["keys:manage"]);

  let unique = 0;
  const holding = new Map<Scope, Promise<Credential>>();
  const lacking = new Map<Scope, Promise<Credential>>();
  const world: SecurityWorld = {
    t,
    clock,
    fixture: {
      messageId: sent.json().id,
      deliveryId: sent.json().deliveries[0].id,
      domainId: domains.json().data[0].id,
      suppressed,
      spareKeyId: spare.id,
      orgId: t.app.defaultOrgId,
      unique: (prefix) => `${prefix}-${++unique}`,
    },
    revoked,
    expired,
    ipRestricted,
    otherOrg,
    holding(scope) {
      if (!holding.has(scope)) holding.set(scope, make(grantable(scope)));
      return holding.get(scope) as Promise<Credential>;
    },
    lacking(scope) {
      const rest =
        scope === "instance:admin" ? ORG_SCOPES : ORG_SCOPES.filter((s) => s !== scope && s !== "admin");
      if (!lacking.has(scope)) lacking.set(scope, make(rest));
      return lacking.get(scope) as Promise<Credential>;
    },
  };
  // The expired key expires now; every other key has no expiry.
  clock.advance(62_000);
  return world;
}

function methodOf(route: string): "GET" | "POST" | "DELETE" | "PATCH" | "HEAD" {
  return route.split(" ")[0] as "GET" | "POST" | "DELETE" | "PATCH" | "HEAD";
}

export interface Sent {
  res: LightMyRequestResponse;
  what: string;
}

async function send(
  world: SecurityWorld,
  method: string,
  req: CaseRequest,
  headers: Record<string, string>,
  remoteAddress = nextAddress(),
): Promise<LightMyRequestResponse> {
  const body = req.payload === undefined ? undefined : JSON.stringify(req.payload);
  return world.t.app.api.inject({
    method: method as "GET",
    url: req.url,
    remoteAddress,
    headers: { ...(body === undefined ? {} : { "content-type": "application/json" }), ...headers },
    ...(body === undefined ? {} : { payload: body }),
  });
}

function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}

function basic(c: Credential): Record<string, string> {
  return { authorization: `Basic ${Buffer.from(`${c.id}:${c.token}`).toString("base64")}` };
}

let nonceCounter = 0;

export function hmacHeaders(world: SecurityWorld, c: Credential, method: string, req: CaseRequest) {
  const body = Buffer.from(req.payload === undefined ? "" : JSON.stringify(req.payload));
  const digest = contentDigestHeader(body);
  const creds = {
    kind: "hmac" as const,
    keyId: c.id,
    timestamp: Math.floor(world.clock.now() / 1000),
    nonce: `route-security-${++nonceCounter}-nonce`,
    signature: "",
  };
  const signature = signRequest(deriveSigningKey(c.token), creds, {
    method,
    url: req.url,
    contentDigest: digest,
  });
  return { authorization: formatHmacAuthorization({ ...creds, signature }), "content-digest": digest };
}

const accessTokens = new Map<string, string>();

async function accessToken(world: SecurityWorld, c: Credential): Promise<string> {
  const cached = accessTokens.get(c.token);
  if (cached !== undefined) return cached;
  const res = await world.t.app.api.inject({
    method: "POST",
    url: "/oauth/token",
    remoteAddress: nextAddress(),
    headers: { ...basic(c), "content-type": "application/x-www-form-urlencoded" },
    payload: "grant_type=client_credentials",
  });
  assert.equal(res.statusCode, 200, `token for ${c.id}: ${res.body}`);
  const token = res.json().access_token as string;
  accessTokens.set(c.token, token);
  return token;
}

function isPaubox(route: string): boolean {
  return route.includes("/paubox/") || route.includes("/:username/");
}

/** The stable code of a refusal: the problem's `code`, or (Paubox shape) undefined. */
function codeOf(res: LightMyRequestResponse): string | undefined {
  try {
    return (res.json() as { code?: string }).code;
  } catch {
    return undefined;
  }
}

function expectRefusal(
  route: string,
  res: LightMyRequestResponse,
  status: number,
  code: string,
  what: string,
) {
  const label = `${route}: ${what}`;
  assert.equal(res.statusCode, status, `${label} answered ${res.statusCode} ${res.body}`);
  if (status === 401) assert.ok(res.headers["www-authenticate"], `${label}: WWW-Authenticate`);
  // Paubox routes answer in Paubox's error shape; HEAD answers carry no body.
  if (!isPaubox(route) && !route.startsWith("HEAD ")) assert.equal(codeOf(res), code, `${label} code`);
}

/** Runs every refusal and every admission of one route case; `asMethod` runs a GET case as HEAD. */
export async function checkRoute(world: SecurityWorld, c: RouteCase, asMethod?: "HEAD"): Promise<void> {
  const method = asMethod ?? methodOf(c.route);
  const route = asMethod === undefined ? c.route : c.route.replace(/^GET/, "HEAD");
  const req = c.request(world.fixture);
  const refusals: [string, Record<string, string>, number, string][] = [
    ["no credentials", {}, 401, "unauthorized"],
    ["an empty Bearer", { authorization: "Bearer" }, 401, "unauthorized"],
    ["broken Basic", { authorization: "Basic !!" }, 401, "unauthorized"],
    ["a short sp_live_ token", bearer("sp_live_short"), 401, "unauthorized"],
    [
      "a garbage HMAC",
      { authorization: "SP1-HMAC-SHA256 KeyId=x, Signature=zz" },
      401,
      "signature_malformed",
    ],
    [
      "a JWT with a bad signature",
      bearer("eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"),
      401,
      "unauthorized",
    ],
    ["an unknown key", bearer(`sp_live_${"0".repeat(26)}_${"A".repeat(43)}`), 401, "unauthorized"],
    ["a revoked key", bearer(world.revoked.token), 401, "key_revoked"],
    ["an expired key", bearer(world.expired.token), 401, "key_expired"],
    ["a key without the scope", bearer((await world.lacking(c.scope)).token), 403, "forbidden"],
  ];
  for (const [what, headers, status, code] of refusals)
    expectRefusal(route, await send(world, method, req, headers), status, code, what);
  expectRefusal(
    route,
    await send(world, method, req, bearer(world.ipRestricted.token), nextAddress("198.51")),
    403,
    "ip_not_allowed",
    "an address outside the key's allowlist",
  );
  if (typeof c.wrongOrg === "function") {
    const res = await send(world, method, c.wrongOrg(world.fixture), bearer(world.otherOrg.token));
    assert.equal(
      res.statusCode,
      404,
      `${route}: another org's object answered ${res.statusCode} ${res.body}`,
    );
  }
  const key = await world.holding(c.scope);
  const admissions: [string, (r: CaseRequest) => Promise<Record<string, string>>][] = [
    ["Bearer", async () => bearer(key.token)],
    ["Basic", async () => basic(key)],
    ["SP1-HMAC-SHA256", async (r) => hmacHeaders(world, key, method, r)],
    ["an OAuth access token", async () => bearer(await accessToken(world, key))],
  ];
  for (const [what, headers] of admissions) {
    const r = c.request(world.fixture);
    const res = await send(world, method, r, await headers(r));
    assert.ok(
      res.statusCode !== 401 && res.statusCode !== 403 && res.statusCode < 500,
      `${route} with ${what} answered ${res.statusCode} ${res.body}`,
    );
  }
}
