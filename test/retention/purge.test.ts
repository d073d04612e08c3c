/**
 * Retention purge (ADR 0009 §4) on a fake clock: content past its period is crypto-shredded
 * (the API answers 410 content_purged and the ciphertext is gone from the store) while the
 * message's status, deliveries, evidence and events remain; a message with a delivery not
 * yet final keeps its content; metadata past its period is deleted; each run with work is
 * one `retention.purge` entry in the org's audit chain.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ManualClock } from "../../src/core/clock.ts";
import { softFail } from "../../src/delivery/outcome.ts";
import type { Deliverer, DeliveryRequest } from "../../src/worker/steps.ts";
import { auth, BOOTSTRAP_KEY, startTestApp } from "../helpers/app.ts";
import { tokenAuth } from "../helpers/paubox-sdk.ts";
import {
  auditRows,
  contentReadable,
  DAY,
  getMessage,
  purge,
  recordingAudit,
  rowsOf,
  sandboxMessage,
  send,
  until,
} from "./fixtures.ts";

/** Accepts every message with TLS evidence, except to `slow@…`, which it keeps deferring. */
const deliverer: Deliverer = {
  async deliver(req: DeliveryRequest) {
    if (req.to.startsWith("slow@")) return { outcome: softFail("timeout"), mtaSts: null };
    return {
      outcome: {
        kind: "sent",
        evidence: {
          host: "mx.example.org",
          ip: "192.0.2.25",
          port: 25,
          tlsVersion: "TLSv1.3",
          cipher: "TLS_AES_256_GCM_SHA384",
          certVerified: true,
          certError: null,
        },
        reply: { code: 250, enhanced: "2.0.0", text: "queued" },
      },
      mtaSts: null,
    };
  },
};

const live = (to: string) => ({ from: "clinic@example.com", to, subject: "Results", text: "Ready." });

test("content past its period is shredded; metadata, evidence and events stay; pending and young messages keep content", async (t) => {
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const { app } = await startTestApp(t, { clock, deliverer });
  const boxed = await send(app, sandboxMessage());
  const delivered = await send(app, live("pat@example.org"));
  const pending = await send(app, live("slow@example.org"));
  await until(app, boxed.id);
  await until(app, delivered.id);
  await until(app, pending.id, "deferred");
  // No more attempts: the deferred delivery stays not final however far the clock moves.
  await app.worker?.stop();
  assert.equal((await rowsOf(app, boxed.id)).sandbox, 1);
  assert.equal((await rowsOf(app, boxed.id)).parts, 1);
  clock.advance(29 * DAY);
  // Final (cancelled) but inside its period.
  const young = await send(app, sandboxMessage());
  const cancel = await app.api.inject({
    method: "POST",
    url: `/v1/messages/${young.id}/cancel`,
    headers: auth(BOOTSTRAP_KEY),
  });
  assert.equal(cancel.statusCode, 200, cancel.body);

  clock.advance(2 * DAY);
  const audit = recordingAudit();
  const runs = await purge(app, audit);
  assert.equal(runs.length, 1);
  assert.deepEqual([...(runs[0]?.contentPurged ?? [])].sort(), [boxed.id, delivered.id].sort());
  assert.deepEqual(runs[0]?.metadataDeleted, []);

  // Unreadable through the API, and the ciphertext is gone from the store.
  for (const m of [boxed, delivered]) {
    assert.equal(await contentReadable(app, m.id), false);
    const rows = await rowsOf(app, m.id);
    assert.equal(rows.message?.data_key, null);
    assert.equal(rows.message?.content, null);
    assert.equal(rows.message?.content_purged_at, clock.now());
    assert.equal(rows.parts, 0);
    assert.equal(rows.sandbox, 0);
    assert.equal(rows.deliveries, 1);
    assert.ok(rows.events > 0);
  }
  const sandboxed = await app.api.inject({
    url: `/v1/sandbox/messages/${boxed.deliveryId}`,
    headers: auth(BOOTSTRAP_KEY),
  });
  assert.equal(sandboxed.statusCode, 410, sandboxed.body);
  assert.equal(sandboxed.json().code, "content_purged");

  // The metadata and evidence remain; recipients read null.
  const view = (await getMessage(app, delivered.id)).json();
  assert.equal(view.status, "delivered");
  assert.equal(view.content_purged_at, new Date(clock.now()).toISOString());
  assert.equal(view.deliveries[0].to, null);
  assert.equal(view.deliveries[0].status, "delivered");
  assert.equal(view.deliveries[0].evidence.tls_version, "TLSv1.3");
  assert.equal(view.deliveries[0].evidence.cert_verified, true);
  assert.ok(view.events.some((e: { type: string }) => e.type === "delivered"));
  const listed = (await app.api.inject({ url: "/v1/messages", headers: auth(BOOTSTRAP_KEY) })).json();
  const inList = listed.data.find((m: { id: string }) => m.id === delivered.id);
  assert.equal(inList.deliveries[0].to, null);
  assert.notEqual(inList.content_purged_at, null);
  const receipt = await app.api.inject({
    url: `/paubox/v1/message_receipt?sourceTrackingId=${delivered.id}`,
    headers: tokenAuth(BOOTSTRAP_KEY),
  });
  assert.equal(receipt.statusCode, 200, receipt.body);
  const receiptDelivery = receipt.json().data.message.message_deliveries[0];
  assert.equal(receiptDelivery.recipient, null);
  assert.equal(receiptDelivery.status.deliveryStatus, "delivered");

  // A delivery not yet final, or a message inside its period, keeps the content.
  assert.equal(await contentReadable(app, pending.id), true);
  assert.equal(await contentReadable(app, young.id), true);
  assert.equal((await rowsOf(app, young.id)).parts, 1);
  assert.equal((await getMessage(app, young.id)).json().content_purged_at, null);

  // One audit entry for the run, with counts and ids only.
  assert.equal(audit.entries.length, 1);
  const entry = audit.entries[0];
  assert.equal(entry?.action, "retention.purge");
  assert.equal(entry?.chain, app.defaultOrgId);
  assert.equal(entry?.actorType, "system");
  assert.equal(entry?.actorId, "worker");
  assert.equal(entry?.outcome, "ok");
  assert.equal(entry?.details?.shredded, 2);
  assert.equal(entry?.details?.deleted, 0);
  assert.deepEqual(
    [...((entry?.details?.message_ids as string[]) ?? [])].sort(),
    [boxed.id, delivered.id].sort(),
  );
  assert.doesNotMatch(JSON.stringify(audit.entries), /@/);

  // A second run has nothing to do, and records nothing.
  assert.deepEqual(await purge(app, audit), []);
  assert.equal(audit.entries.length, 1);
});

test("metadata past its period is deleted with its deliveries, events and batch records; the purge is in the audit log", async (t) => {
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const { app } = await startTestApp(t, { clock });
  const put = await app.api.inject({
    method: "PUT",
    url: "/v1/retention",
    headers: auth(BOOTSTRAP_KEY),
    payload: { content_retention_days: 1, metadata_retention_days: 3 },
  });
  assert.equal(put.statusCode, 200, put.body);
  const old = await send(app, sandboxMessage());
  const batch = await app.api.inject({
    method: "POST",
    url: "/v1/messages/batch",
    headers: { ...auth(BOOTSTRAP_KEY), "idempotency-key": "retention-batch-1" },
    payload: { messages: [sandboxMessage()] },
  });
  assert.equal(batch.statusCode, 200, batch.body);
  const batched: string = batch.json().data[0].message.id;
  await until(app, old.id);
  await until(app, batched);
  clock.advance(2 * DAY);
  const newer = await send(app, sandboxMessage());
  await until(app, newer.id);

  // Day 2: past the content period only.
  clock.advance(DAY / 2);
  const first = await purge(app);
  assert.deepEqual([...(first[0]?.contentPurged ?? [])].sort(), [old.id, batched].sort());
  assert.equal((await getMessage(app, old.id)).statusCode, 200);

  // Day 3.5: the first two are past the metadata period; the newer one is only shredded.
  clock.advance(DAY);
  const second = await purge(app);
  assert.deepEqual([...(second[0]?.metadataDeleted ?? [])].sort(), [old.id, batched].sort());
  assert.deepEqual(second[0]?.contentPurged, [newer.id]);
  assert.equal(second[0]?.batchesDeleted, 1);
  for (const id of [old.id, batched]) {
    assert.equal((await getMessage(app, id)).statusCode, 404);
    const rows = await rowsOf(app, id);
    assert.equal(rows.message, undefined);
    assert.deepEqual([rows.deliveries, rows.events, rows.parts, rows.sandbox], [0, 0, 0, 0]);
  }
  assert.equal((await app.db.kysely.selectFrom("batches").select("org_id").execute()).length, 0);
  assert.equal((await getMessage(app, newer.id)).statusCode, 200);
  assert.equal(await contentReadable(app, newer.id), false);

  // Both runs and the settings change are in the org's own chain.
  const purges = await auditRows(app, app.defaultOrgId, "retention.purge");
  assert.equal(purges.length, 2);
  const details = purges.map((p) => JSON.parse(p.details));
  assert.equal(details[0].shredded, 2);
  assert.equal(details[1].deleted, 2);
  assert.equal(details[1].shredded, 1);
  assert.deepEqual(details[1].message_ids, [newer.id]);
  assert.ok(
    purges.every((p) => p.actor_id === "worker" && p.outcome === "ok" && p.target_id === app.defaultOrgId),
  );
  // …as an auditor reads them through the API.
  const viaApi = await app.api.inject({
    url: "/v1/audit?action=retention.purge",
    headers: auth(BOOTSTRAP_KEY),
  });
  assert.equal(viaApi.statusCode, 200, viaApi.body);
  assert.deepEqual(
    viaApi.json().data.map((e: { id: string }) => e.id),
    purges.map((p) => p.id),
  );
  const updates = await auditRows(app, app.defaultOrgId, "retention.update");
  assert.equal(updates.length, 1);
  assert.deepEqual(JSON.parse(updates[0]?.details ?? "{}"), { content_days: 1, metadata_days: 3 });
});

test("the purge runs in bounded batches and goes on where it stopped", async (t) => {
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const { app } = await startTestApp(t, { clock, worker: false });
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) {
    const sent = await send(app, sandboxMessage());
    // Cancelled: a final status, reached without the worker.
    const cancel = await app.api.inject({
      method: "POST",
      url: `/v1/messages/${sent.id}/cancel`,
      headers: auth(BOOTSTRAP_KEY),
    });
    assert.equal(cancel.statusCode, 200, cancel.body);
    ids.push(sent.id);
  }
  clock.advance(31 * DAY);
  const first = await purge(app, recordingAudit(), { batchSize: 2, maxBatches: 2 });
  assert.equal(first[0]?.contentPurged.length, 4);
  const second = await purge(app, recordingAudit(), { batchSize: 2, maxBatches: 2 });
  assert.equal(second[0]?.contentPurged.length, 1);
  assert.deepEqual(
    [...(first[0]?.contentPurged ?? []), ...(second[0]?.contentPurged ?? [])].sort(),
    ids.sort(),
  );
});
