/**
 * GET /v1/events end to end (ADR 0011 §2) on the suite's store: after a known mix of sends
 * (test/events/fixture.ts) the list holds exactly the events the messages' timelines hold,
 * newest first; filters and pagination select exactly what they name; details are the
 * allow-listed view (no address, no reply text); another org and a test-mode key see none.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ensureOrg } from "../../src/core/orgs.ts";
import { get, HOUR, type Mix, PHASE1, sendMix } from "../events/fixture.ts";
import { auth, eventually } from "../helpers/app.ts";

interface Ev {
  object: string;
  id: string;
  type: string;
  created_at: string;
  org_id: string;
  message_id: string;
  delivery_id: string | null;
  details: Record<string, unknown>;
}

async function all(mix: Mix, query = "", key = mix.t.adminKey): Promise<Ev[]> {
  const out: Ev[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < 50; page++) {
    const sep = query === "" ? "?" : `${query}&`;
    const url: string = `/v1/events${sep}limit=4${cursor === null ? "" : `&cursor=${cursor}`}`;
    const { status, body } = await get(mix.t, url, key);
    assert.equal(status, 200, JSON.stringify(body));
    const data = body.data as Ev[];
    assert.ok(data.length <= 4);
    out.push(...data);
    cursor = body.next_cursor as string | null;
    if (cursor === null) return out;
  }
  throw new Error("pagination did not end");
}

function count(events: readonly Ev[]): Record<string, number> {
  const c: Record<string, number> = {};
  for (const e of events) c[e.type] = (c[e.type] ?? 0) + 1;
  return c;
}

test("the events API lists, filters and pages exactly what was sent, with allow-listed details", async (t) => {
  const mix = await sendMix(t);
  const { ids } = mix;
  const events = await all(mix, "");
  // Exactly the union of the messages' own timelines, newest first, each id once.
  const timelines: string[] = [];
  for (const id of Object.values(ids)) {
    const { body } = await get(mix.t, `/v1/messages/${id}`);
    timelines.push(...(body.events as { id: string }[]).map((e) => e.id));
  }
  assert.deepEqual(
    events.map((e) => e.id),
    [...timelines].sort().reverse(),
  );
  assert.deepEqual(count(events), {
    queued: 6,
    scheduled: 1,
    sent: 3,
    delivered: 3,
    bounced: 1,
    deferred: 1,
    suppressed: 1,
    cancelled: 1,
    portal_notified: 1,
  });
  for (const e of events) {
    assert.equal(e.object, "event");
    assert.equal(e.org_id, mix.t.app.defaultOrgId);
    assert.match(e.created_at, /^2026-03-10T1[01]:/);
  }

  // Details: the delivery evidence by allow-list; the 550's text named the address, and
  // nothing of it, nor any address, nor a reply text appears.
  const bounced = events.find((e) => e.type === "bounced");
  assert.equal(bounced?.message_id, ids.m2);
  assert.equal(bounced?.details.reply_code, 550);
  assert.equal(bounced?.details.reason, "rejected_permanent");
  assert.match(String(bounced?.details.enhanced_code), /^5\.\d+\.\d+$/);
  const deferred = events.find((e) => e.type === "deferred");
  assert.equal(deferred?.details.reply_code, 451);
  assert.equal(deferred?.details.reason, "rejected_temporary");
  assert.ok(Date.parse(String(deferred?.details.retry_at)) > PHASE1 + HOUR);
  const delivered = events.filter((e) => e.type === "delivered");
  const tls = delivered.find((e) => e.message_id === ids.m1);
  assert.equal(tls?.details.tls_version, mix.tlsVersion);
  assert.equal(tls?.details.cert_verified, true);
  assert.equal(tls?.details.encryption, "tls");
  assert.equal(typeof tls?.details.cipher, "string");
  assert.equal(typeof tls?.details.mx_host, "string");
  assert.equal(tls?.details.reply_code, 250);
  const portal = delivered.find((e) => e.message_id === ids.m6);
  assert.equal(portal?.details.encryption, "portal");
  const allowed = new Set([
    "mx_host",
    "tls_version",
    "cipher",
    "cert_verified",
    "mta_sts_mode",
    "encryption",
    "encryption_reason",
    "reply_code",
    "enhanced_code",
    "reason",
    "retry_at",
    "attempt",
    "send_at",
    "gave_up",
  ]);
  for (const e of events)
    for (const [k, v] of Object.entries(e.details)) {
      assert.ok(allowed.has(k), `${e.type} detail ${k}`);
      assert.ok(["string", "number", "boolean"].includes(typeof v), `${e.type} detail ${k}`);
    }
  const text = JSON.stringify(events);
  assert.doesNotMatch(text, /@|bounce\.pat|ok1|blocked|plain\.example|tls\.example|reply"/);
  // The stored row does hold the (sanitized) reply text: the view is what leaves it out.
  const { body: m2 } = await get(mix.t, `/v1/messages/${ids.m2}`);
  assert.ok((m2.events as { details: Record<string, unknown> }[]).some((e) => "reply" in e.details));

  // Filters.
  const types = (q: string) => all(mix, q).then((list) => list.map((e) => e.type).sort());
  assert.deepEqual(await types("?type=delivered"), ["delivered", "delivered", "delivered"]);
  assert.deepEqual(await types("?type=bounced,deferred"), ["bounced", "deferred"]);
  assert.deepEqual(
    (await all(mix, `?message_id=${ids.m2}`)).map((e) => e.id),
    events.filter((e) => e.message_id === ids.m2).map((e) => e.id),
  );
  const hour11 = new Date(PHASE1 + HOUR / 2).toISOString(); // 11:00
  const late = await all(mix, `?since=${hour11}`);
  const early = await all(mix, `?until=${hour11}`);
  assert.deepEqual([...early, ...late].map((e) => e.id).sort(), events.map((e) => e.id).sort());
  assert.ok(late.every((e) => e.created_at >= hour11));
  assert.deepEqual(count(late), {
    queued: 2,
    scheduled: 1,
    cancelled: 1,
    deferred: 1,
    portal_notified: 1,
    sent: 1,
    delivered: 1,
  });
  assert.deepEqual(
    (await all(mix, `?type=delivered&since=${hour11}`)).map((e) => e.message_id),
    [ids.m6],
  );

  // Bad input: coded 4xx problems.
  for (const [q, status, code] of [
    ["?type=nope", 422, "invalid_value"],
    ["?type=delivered,nope", 422, "invalid_value"],
    ["?since=yesterday", 422, "invalid_value"],
    ["?message_id=abc", 422, "invalid_value"],
    ["?limit=0", 422, "invalid_value"],
    ["?cursor=xyz", 400, "invalid_cursor"],
    ["?colour=red", 422, "unknown_field"],
  ] as const) {
    const res = await get(mix.t, `/v1/events${q}`);
    assert.equal(res.status, status, q);
    assert.equal(res.body.code, code, q);
  }
});

test("another org, and a test-mode key, see none of the org's live events", async (t) => {
  const mix = await sendMix(t);
  const { app } = mix.t;
  const other = await ensureOrg(app.db, app.keyring, app.clock, "other");
  const otherKey = await mix.t.key(["messages:read", "messages:send"], "live", other.id);
  const none = await get(mix.t, "/v1/events", otherKey);
  assert.equal(none.status, 200);
  assert.deepEqual(none.body.data, []);
  const byId = await get(mix.t, `/v1/events?message_id=${mix.ids.m1}`, otherKey);
  assert.deepEqual(byId.body.data, []);

  // The other org's own (sandbox) send shows up for it only.
  const res = await app.api.inject({
    method: "POST",
    url: "/v1/messages",
    headers: auth(otherKey),
    payload: { from: "x@example.com", to: "p@example.org", subject: "Hi", text: "Hello", sandbox: true },
  });
  assert.equal(res.statusCode, 202, res.body);
  const theirs = await eventually(async () => {
    const list = (await get(mix.t, "/v1/events?type=delivered", otherKey)).body.data as Ev[];
    return list.length === 1 ? list : undefined;
  });
  assert.equal(theirs[0]?.org_id, other.id);
  assert.equal(theirs[0]?.details.encryption !== undefined, true);
  const mine = await all(mix, "?type=delivered");
  assert.equal(mine.length, 3);
  assert.ok(mine.every((e) => e.org_id === app.defaultOrgId));

  // A test-mode key of the org reads test-mode messages' events only: none here.
  const testKey = await mix.t.key(["messages:read"], "test");
  assert.deepEqual((await get(mix.t, "/v1/events", testKey)).body.data, []);
});
