/**
 * /v1/recipient-keys on a real in-process sealpost (ADR 0010 §3), with certificates made by
 * openssl and keys made by gpg: create (201, the same key again 200), list (newest first,
 * by address, paged), show, delete; the worker's lookup; sealed storage; org isolation;
 * audit entries without addresses; bad requests as coded 422 problems.
 */
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { ManualClock } from "../../src/core/clock.ts";
import { createOrg } from "../../src/core/orgs.ts";
import { keysForAddress } from "../../src/recipient-keys/lookup.ts";
import { auth, startTestApp, type TestApp } from "../helpers/app.ts";
import { keyWorkshop } from "../recipient-keys/real-keys.ts";
import { auditRows } from "../retention/fixtures.ts";

const tools = keyWorkshop();
after(() => tools.remove());
const DAY = 86_400_000;
const ADDRESS = "pat.doe@example.org";
const smime = tools.smime(ADDRESS, { key: "rsa:3072", days: 30 });
const pgp = tools.pgp(ADDRESS, { sub: "cv25519", expire: "never" });

async function post(t: TestApp, payload: unknown, token = t.adminKey) {
  return t.app.api.inject({
    method: "POST",
    url: "/v1/recipient-keys",
    headers: auth(token),
    payload: payload as object,
  });
}

async function get(t: TestApp, url: string, token = t.adminKey) {
  return t.app.api.inject({ url, headers: auth(token) });
}

async function del(t: TestApp, id: string, token = t.adminKey) {
  return t.app.api.inject({ method: "DELETE", url: `/v1/recipient-keys/${id}`, headers: auth(token) });
}

test("keys are created, listed, shown, looked up by the worker and deleted; storage and audit hold no address", async (t) => {
  const clock = new ManualClock(Date.now());
  const app = await startTestApp(t, { clock, worker: false });
  const manager = await app.key(["keys:manage"]);

  const s = await post(app, { address: "Pat.Doe@Example.org", certificate: smime.cert }, manager);
  assert.equal(s.statusCode, 201, s.body);
  const sv = s.json();
  assert.match(sv.id, /^rk_[0-9a-z]{26}$/);
  assert.deepEqual(Object.keys(sv).sort(), [
    "address",
    "algorithm",
    "created_at",
    "fingerprint",
    "id",
    "key_id",
    "kind",
    "not_after",
    "object",
  ]);
  assert.equal(sv.object, "recipient_key");
  assert.equal(sv.kind, "smime");
  assert.equal(sv.address, ADDRESS);
  assert.equal(sv.algorithm, "rsa-3072");
  assert.equal(sv.key_id, sv.fingerprint.slice(-16));
  assert.ok(Date.parse(sv.not_after) > clock.now() + 29 * DAY);
  const again = await post(app, { address: ADDRESS, certificate: tools.der(smime.cert) }, manager);
  assert.equal(again.statusCode, 200, "the same certificate again answers the one on file");
  assert.equal(again.json().id, sv.id);
  clock.advance(1000);
  const p = await post(app, { address: ADDRESS, public_key: pgp.publicKey }, manager);
  assert.equal(p.statusCode, 201, p.body);
  const pv = p.json();
  assert.equal(pv.kind, "pgp");
  assert.equal(pv.fingerprint, pgp.fingerprint.toLowerCase());
  assert.equal(pv.algorithm, "curve25519");
  assert.equal(pv.not_after, null);
  clock.advance(1000);
  const other = tools.smime("other@example.org");
  const o = await post(app, { address: "other@example.org", certificate: other.cert }, manager);
  assert.equal(o.statusCode, 201, o.body);

  // Lists: newest first, never the material; by address (any case); paged.
  const all = (await get(app, "/v1/recipient-keys", manager)).json();
  assert.deepEqual(
    all.data.map((k: { id: string }) => k.id),
    [o.json().id, pv.id, sv.id],
  );
  assert.equal(all.next_cursor, null);
  assert.doesNotMatch(JSON.stringify(all), /BEGIN|material/);
  const mine = (await get(app, "/v1/recipient-keys?address=PAT.DOE%40example.org", manager)).json();
  assert.deepEqual(
    mine.data.map((k: { id: string }) => k.id),
    [pv.id, sv.id],
  );
  const page1 = (await get(app, "/v1/recipient-keys?limit=2", manager)).json();
  assert.equal(page1.data.length, 2);
  const page2 = (await get(app, `/v1/recipient-keys?limit=2&cursor=${page1.next_cursor}`, manager)).json();
  assert.deepEqual(
    page2.data.map((k: { id: string }) => k.id),
    [sv.id],
  );
  assert.equal(page2.next_cursor, null);
  const one = await get(app, `/v1/recipient-keys/${pv.id}`, manager);
  assert.equal(one.statusCode, 200);
  assert.deepEqual(one.json(), pv);

  // The worker's lookup: valid keys, newest first, material opened; expired ones drop out.
  const deps = { db: app.app.db, keyring: app.app.keyring };
  const found = await keysForAddress(deps, app.app.defaultOrgId, "Pat.Doe@EXAMPLE.org", clock.now());
  assert.deepEqual(
    found.map((k) => [k.id, k.kind]),
    [
      [pv.id, "pgp"],
      [sv.id, "smime"],
    ],
  );
  assert.match(found[0]?.material ?? "", /^-----BEGIN PGP PUBLIC KEY BLOCK-----/);
  assert.equal(found[1]?.material.replace(/\r/g, ""), smime.cert.replace(/\r/g, ""));
  assert.equal(found[1]?.notAfter, Date.parse(sv.not_after));
  const later = await keysForAddress(deps, app.app.defaultOrgId, ADDRESS, clock.now() + 31 * DAY);
  assert.deepEqual(
    later.map((k) => k.id),
    [pv.id],
  );
  assert.deepEqual(await keysForAddress(deps, app.app.defaultOrgId, "nobody@example.org", clock.now()), []);
  assert.deepEqual(await keysForAddress(deps, app.app.defaultOrgId, "not an address", clock.now()), []);

  // Sealed at rest: neither the address nor the key material in the clear.
  const rows = await app.app.db.kysely.selectFrom("recipient_keys").selectAll().execute();
  const stored = rows.map((r) =>
    Buffer.concat([Buffer.from(r.address), Buffer.from(r.material)]).toString("latin1"),
  );
  assert.doesNotMatch(JSON.stringify(rows) + stored.join(""), /pat\.doe|example\.org|BEGIN/i);

  assert.equal((await del(app, sv.id, manager)).statusCode, 204);
  assert.equal((await get(app, `/v1/recipient-keys/${sv.id}`, manager)).statusCode, 404);
  assert.equal((await del(app, sv.id, manager)).statusCode, 404);
  assert.deepEqual(
    (await keysForAddress(deps, app.app.defaultOrgId, ADDRESS, clock.now())).map((k) => k.id),
    [pv.id],
  );

  // Audited before the answer: kind and key id, never the address.
  const created = await auditRows(app.app, app.app.defaultOrgId, "recipient_key.create");
  const deleted = await auditRows(app.app, app.app.defaultOrgId, "recipient_key.delete");
  assert.deepEqual(
    created.map((e) => [e.actor_type, e.target_type, e.target_id]),
    [
      ["key", "recipient_key", sv.id],
      ["key", "recipient_key", pv.id],
      ["key", "recipient_key", o.json().id],
    ],
  );
  assert.deepEqual(JSON.parse(created[0]?.details ?? "{}").kind, "smime");
  assert.deepEqual(JSON.parse(created[0]?.details ?? "{}").key_id, sv.key_id);
  assert.deepEqual(
    deleted.map((e) => e.target_id),
    [sv.id],
  );
  const everything = await app.app.db.kysely.selectFrom("audit_log").selectAll().execute();
  assert.doesNotMatch(JSON.stringify(everything), /pat\.doe|other@|%40/i);
});

test("keys stay in their org: another org's key can neither see, list nor delete them", async (t) => {
  const app = await startTestApp(t, { worker: false });
  const own = await post(app, { address: ADDRESS, public_key: pgp.publicKey });
  assert.equal(own.statusCode, 201, own.body);
  const id = own.json().id;
  const orgB = await createOrg(
    { db: app.app.db, keyring: app.app.keyring, clock: app.app.clock },
    { name: "org-b" },
  );
  const other = await app.key(["keys:manage"], "live", orgB.id);

  assert.equal((await get(app, `/v1/recipient-keys/${id}`, other)).statusCode, 404);
  assert.equal((await del(app, id, other)).statusCode, 404);
  assert.deepEqual((await get(app, "/v1/recipient-keys", other)).json().data, []);
  assert.deepEqual((await get(app, `/v1/recipient-keys?address=${ADDRESS}`, other)).json().data, []);
  const deps = { db: app.app.db, keyring: app.app.keyring };
  assert.deepEqual(await keysForAddress(deps, orgB.id, ADDRESS, Date.now()), []);
  // Org B may put the same key on file for itself: a row of its own.
  const theirs = await post(app, { address: ADDRESS, public_key: pgp.publicKey }, other);
  assert.equal(theirs.statusCode, 201, theirs.body);
  assert.notEqual(theirs.json().id, id);
  assert.equal((await get(app, `/v1/recipient-keys/${id}`)).statusCode, 200);
  // Without keys:manage: refused.
  const sender = await app.key(["messages:send", "messages:read"]);
  assert.equal((await post(app, { address: ADDRESS, public_key: pgp.publicKey }, sender)).statusCode, 403);
  assert.equal((await get(app, "/v1/recipient-keys", sender)).statusCode, 403);
});

test("bad requests and unusable keys are coded 4xx problems that echo no address or key", async (t) => {
  const app = await startTestApp(t, { worker: false });
  const cases: [unknown, number, string, string | undefined][] = [
    [{}, 422, "missing_field", "address"],
    [{ address: ADDRESS }, 422, "missing_field", "certificate"],
    [{ address: 7, certificate: smime.cert }, 422, "invalid_type", "address"],
    [{ address: ADDRESS, certificate: 7 }, 422, "invalid_type", "certificate"],
    [{ address: ADDRESS, public_key: ["x"] }, 422, "invalid_type", "public_key"],
    [
      { address: ADDRESS, certificate: smime.cert, public_key: pgp.publicKey },
      422,
      "invalid_value",
      "public_key",
    ],
    [{ address: ADDRESS, certificate: smime.cert, note: "x" }, 422, "unknown_field", "note"],
    [{ address: "pat.doe at example.org", certificate: smime.cert }, 422, "invalid_address", "address"],
    [
      { address: "someone@example.org", certificate: smime.cert },
      422,
      "recipient_key_invalid",
      "certificate",
    ],
    [{ address: ADDRESS, certificate: smime.key }, 422, "recipient_key_invalid", "certificate"],
    [
      { address: ADDRESS, public_key: tools.secretKey(pgp.fingerprint) },
      422,
      "recipient_key_invalid",
      "public_key",
    ],
    [{ address: ADDRESS, public_key: smime.cert }, 422, "recipient_key_invalid", "public_key"],
    [{ address: ADDRESS, certificate: "A".repeat(70_000) }, 422, "recipient_key_invalid", "certificate"],
    [[{ address: ADDRESS }], 422, "invalid_type", undefined],
  ];
  for (const [payload, status, code, field] of cases) {
    const res = await post(app, payload);
    const label = JSON.stringify(payload).slice(0, 80);
    assert.equal(res.statusCode, status, `${label}: ${res.body}`);
    assert.equal(res.json().code, code, label);
    if (field !== undefined) assert.equal(res.json().field, field, label);
    assert.doesNotMatch(res.body, /pat\.doe|someone|-----BEGIN|MII/i, label);
  }
  assert.equal((await get(app, "/v1/recipient-keys?kind=pgp")).json().code, "unknown_field");
  assert.equal((await get(app, "/v1/recipient-keys?cursor=zzz")).json().code, "invalid_cursor");
  assert.equal((await get(app, "/v1/recipient-keys?limit=0")).json().code, "invalid_value");
  assert.equal((await get(app, "/v1/recipient-keys?address=nope")).json().code, "invalid_address");
  assert.equal((await get(app, "/v1/recipient-keys/not-a-key")).statusCode, 404);
  assert.equal((await del(app, `rk_${"0".repeat(26)}`)).statusCode, 404);
  assert.deepEqual(await app.app.db.kysely.selectFrom("recipient_keys").selectAll().execute(), []);
});
