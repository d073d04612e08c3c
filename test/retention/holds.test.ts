/**
 * Legal holds (ADR 0009 §4): a hold on a message, on a recipient address (any recipient of
 * a message) or on the whole org keeps content past its period; releasing it lets the next
 * purge run. Holds stay in their org, the address is kept only as a blind index, and every
 * change is in the org's audit chain.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ManualClock } from "../../src/core/clock.ts";
import { createOrg } from "../../src/core/orgs.ts";
import { auth, BOOTSTRAP_KEY, startTestApp, type TestApp } from "../helpers/app.ts";
import { auditRows, contentReadable, DAY, purge, sandboxMessage, send } from "./fixtures.ts";

async function hold(t: TestApp, payload: object, token = t.adminKey) {
  return t.app.api.inject({ method: "POST", url: "/v1/legal-holds", headers: auth(token), payload });
}

async function release(t: TestApp, id: string, token = t.adminKey) {
  return t.app.api.inject({ method: "DELETE", url: `/v1/legal-holds/${id}`, headers: auth(token) });
}

async function cancelled(t: TestApp, payload: object): Promise<string> {
  const { id } = await send(t.app, payload);
  const res = await t.app.api.inject({
    method: "POST",
    url: `/v1/messages/${id}/cancel`,
    headers: auth(BOOTSTRAP_KEY),
  });
  assert.equal(res.statusCode, 200, res.body);
  return id;
}

/** Ids of the messages a purge run shredded now. */
async function shredded(t: TestApp): Promise<string[]> {
  return ((await purge(t.app))[0]?.contentPurged ?? []).sort();
}

test("message, recipient and org holds each keep content; releasing one lets the next purge run", async (t) => {
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const app = await startTestApp(t, { clock, worker: false });
  const heldMessage = await cancelled(app, sandboxMessage());
  const toHeldRecipient = await cancelled(
    app,
    sandboxMessage(["other@example.org", "Held.Person@Example.org"]),
  );
  const plain = await cancelled(app, sandboxMessage());

  const byMessage = await hold(app, { kind: "message", message_id: heldMessage, reason: "case-1042" });
  assert.equal(byMessage.statusCode, 201, byMessage.body);
  const m = byMessage.json();
  assert.match(m.id, /^hold_[0-9a-z]{26}$/);
  assert.equal(m.object, "legal_hold");
  assert.equal(m.kind, "message");
  assert.equal(m.message_id, heldMessage);
  assert.equal(m.reason, "case-1042");
  assert.equal(m.released_at, null);
  const byRecipient = await hold(app, { kind: "recipient", address: "held.person@example.org" });
  assert.equal(byRecipient.statusCode, 201, byRecipient.body);
  assert.equal(byRecipient.json().reason, "legal");
  assert.equal(byRecipient.json().message_id, null);
  assert.doesNotMatch(byRecipient.body, /held\.person/i);
  const byOrg = await hold(app, { kind: "org", reason: "litigation:2026-7" });
  assert.equal(byOrg.statusCode, 201, byOrg.body);

  // The address is kept only as the org's blind index.
  const stored = await app.app.db.kysely.selectFrom("legal_holds").selectAll().execute();
  assert.equal(stored.length, 3);
  assert.doesNotMatch(JSON.stringify(stored), /held\.person|example\.org/i);
  assert.ok(stored.find((h) => h.kind === "recipient")?.recipient_bidx);

  clock.advance(31 * DAY);
  assert.deepEqual(await shredded(app), [], "the org hold keeps everything");
  assert.equal((await release(app, byOrg.json().id)).statusCode, 204);
  assert.deepEqual(await shredded(app), [plain]);
  assert.equal(await contentReadable(app.app, heldMessage), true);
  assert.equal(await contentReadable(app.app, toHeldRecipient), true);

  assert.equal((await release(app, m.id)).statusCode, 204);
  assert.deepEqual(await shredded(app), [heldMessage]);
  assert.equal(await contentReadable(app.app, toHeldRecipient), true, "one held recipient is enough");
  assert.equal((await release(app, byRecipient.json().id)).statusCode, 204);
  assert.deepEqual(await shredded(app), [toHeldRecipient]);
  assert.equal(await contentReadable(app.app, toHeldRecipient), false);

  // Released holds are listed with all=true only.
  const active = await app.app.api.inject({ url: "/v1/legal-holds", headers: auth(app.adminKey) });
  assert.deepEqual(active.json().data, []);
  const all = (
    await app.app.api.inject({ url: "/v1/legal-holds?all=true", headers: auth(app.adminKey) })
  ).json();
  assert.equal(all.data.length, 3);
  assert.ok(all.data.every((h: { released_at: string | null }) => h.released_at !== null));
  assert.equal((await release(app, m.id)).json().code, "invalid_state");

  // Every change is in the org's chain, by the calling key, with ids and codes only.
  const created = await auditRows(app.app, app.app.defaultOrgId, "legal_hold.create");
  const released = await auditRows(app.app, app.app.defaultOrgId, "legal_hold.release");
  assert.equal(created.length, 3);
  assert.equal(released.length, 3);
  assert.deepEqual(
    created.map((e) => [e.actor_type, e.target_type, e.target_id, JSON.parse(e.details).kind]),
    [
      ["key", "hold", m.id, "message"],
      ["key", "hold", byRecipient.json().id, "recipient"],
      ["key", "hold", byOrg.json().id, "org"],
    ],
  );
  assert.equal(JSON.parse(created[0]?.details ?? "{}").message_id, heldMessage);
  assert.equal(JSON.parse(created[0]?.details ?? "{}").reason, "case-1042");
  assert.doesNotMatch(JSON.stringify([...created, ...released]), /@/);
});

test("holds stay in their org: another org's key can neither hold, see nor release them", async (t) => {
  const app = await startTestApp(t, { worker: false });
  const id = await cancelled(app, sandboxMessage());
  const own = await hold(app, { kind: "message", message_id: id });
  assert.equal(own.statusCode, 201, own.body);
  const orgB = await createOrg(
    { db: app.app.db, keyring: app.app.keyring, clock: app.app.clock },
    { name: "org-b" },
  );
  const other = await app.key(["admin"], "live", orgB.id);

  const foreign = await hold(app, { kind: "message", message_id: id }, other);
  assert.equal(foreign.statusCode, 404, foreign.body);
  assert.equal(foreign.json().code, "not_found");
  const released = await release(app, own.json().id, other);
  assert.equal(released.statusCode, 404, released.body);
  const list = await app.app.api.inject({ url: "/v1/legal-holds?all=true", headers: auth(other) });
  assert.deepEqual(list.json().data, []);
  const mine = await app.app.api.inject({ url: "/v1/legal-holds", headers: auth(app.adminKey) });
  assert.deepEqual(
    mine.json().data.map((h: { id: string }) => h.id),
    [own.json().id],
  );
  // A key without the admin scope is refused.
  const reader = await app.key(["messages:read", "audit:read"]);
  assert.equal((await hold(app, { kind: "org" }, reader)).statusCode, 403);
});

test("bad hold requests are refused with a coded 4xx and change nothing", async (t) => {
  const app = await startTestApp(t, { worker: false });
  const id = await cancelled(app, sandboxMessage());
  const cases: [unknown, number, string, string | undefined][] = [
    [{}, 422, "missing_field", "kind"],
    [{ kind: "everything" }, 422, "invalid_value", "kind"],
    [{ kind: 7 }, 422, "invalid_type", "kind"],
    [{ kind: "message" }, 422, "missing_field", "message_id"],
    [{ kind: "message", message_id: 12 }, 422, "invalid_type", "message_id"],
    [{ kind: "message", message_id: "msg_00000000000000000000000000" }, 404, "not_found", undefined],
    [{ kind: "message", message_id: id, address: "a@example.org" }, 422, "unknown_field", "address"],
    [{ kind: "recipient" }, 422, "missing_field", "address"],
    [{ kind: "recipient", address: "not an address" }, 422, "invalid_address", "address"],
    [{ kind: "org", message_id: id }, 422, "unknown_field", "message_id"],
    [{ kind: "org", reason: "Jane Doe, DOB 1970" }, 422, "invalid_value", "reason"],
    [{ kind: "org", reason: "" }, 422, "invalid_value", "reason"],
    [{ kind: "org", reason: "x".repeat(65) }, 422, "invalid_value", "reason"],
    [{ kind: "org", note: "x" }, 422, "unknown_field", "note"],
    [[{ kind: "org" }], 422, "invalid_type", undefined],
  ];
  for (const [payload, status, code, field] of cases) {
    const res = await hold(app, payload as object);
    assert.equal(res.statusCode, status, `${JSON.stringify(payload)}: ${res.body}`);
    assert.equal(res.json().code, code, JSON.stringify(payload));
    if (field !== undefined) assert.equal(res.json().field, field, JSON.stringify(payload));
    assert.doesNotMatch(res.body, /Jane Doe/);
  }
  const get = (url: string) => app.app.api.inject({ url, headers: auth(app.adminKey) });
  assert.equal((await get("/v1/legal-holds?all=yes")).json().code, "invalid_value");
  assert.equal((await get("/v1/legal-holds?kind=org")).json().code, "unknown_field");
  assert.equal((await get("/v1/legal-holds?cursor=zzz")).json().code, "invalid_cursor");
  assert.equal((await release(app, "hold_00000000000000000000000000")).statusCode, 404);
  assert.equal((await release(app, "not-a-hold")).statusCode, 404);
  assert.deepEqual(await app.app.db.kysely.selectFrom("legal_holds").selectAll().execute(), []);
});
