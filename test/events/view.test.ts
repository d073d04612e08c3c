/**
 * The event view's allow-list (ADR 0011 §2) on every stored details shape: the worker's
 * evidence (worker/steps.ts), a DSN's fields (smtp/inbound.ts), the portal's (portal/events.ts),
 * submit's `send_at` (core/submit-rows.ts), and rows that are malformed or hostile.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { hardFail } from "../../src/delivery/outcome.ts";
import { eventDetails, eventView } from "../../src/events/view.ts";
import { evidenceJson } from "../../src/worker/steps.ts";

test("delivery evidence maps to the allow-listed names; the reply text and ip are left out", () => {
  const evidence = evidenceJson(
    {
      host: "mx1.example.org",
      ip: "192.0.2.7",
      port: 25,
      tlsVersion: "TLSv1.3",
      cipher: "TLS_AES_256_GCM_SHA384",
      certVerified: true,
      certError: null,
    },
    hardFail("rejected_permanent", null, { code: 550, enhanced: "5.1.1", text: "pat@example.org unknown" }),
    {
      mta_sts: { mode: "enforce", policy_id: "20260101" },
      encryption: { mode: "tls", reason: "default" },
      reason: "rejected_permanent",
      retry_at: "2026-03-10T12:00:00.000Z",
    },
  );
  assert.deepEqual(eventDetails(evidence), {
    mx_host: "mx1.example.org",
    tls_version: "TLSv1.3",
    cipher: "TLS_AES_256_GCM_SHA384",
    cert_verified: true,
    mta_sts_mode: "enforce",
    encryption: "tls",
    encryption_reason: "default",
    reply_code: 550,
    enhanced_code: "5.1.1",
    reason: "rejected_permanent",
    retry_at: "2026-03-10T12:00:00.000Z",
  });
});

test("other stored shapes: DSN status, portal and submit fields", () => {
  assert.deepEqual(eventDetails(JSON.stringify({ source: "dsn", action: "failed", status: "5.1.1" })), {
    enhanced_code: "5.1.1",
  });
  assert.deepEqual(eventDetails(JSON.stringify({ link_id: "pl_x", expires_at: "2026-01-01T00:00:00Z" })), {});
  assert.deepEqual(eventDetails(JSON.stringify({ failures: 2 })), {});
  assert.deepEqual(eventDetails(JSON.stringify({ send_at: "2026-01-01T00:00:00.000Z" })), {
    send_at: "2026-01-01T00:00:00.000Z",
  });
  assert.deepEqual(eventDetails(JSON.stringify({ reason: "rejected_temporary", gave_up: true })), {
    reason: "rejected_temporary",
    gave_up: true,
  });
  assert.deepEqual(
    eventDetails(JSON.stringify({ sandbox: true, encryption: { mode: "portal", reason: null } })),
    {
      encryption: "portal",
    },
  );
  assert.deepEqual(eventDetails(JSON.stringify({ attempt: 3 })), { attempt: 3 });
});

test("wrong types, addresses and free text never pass", () => {
  for (const raw of ["", "not json", "null", "[1,2]", '"x"', "42"]) assert.deepEqual(eventDetails(raw), {});
  assert.deepEqual(
    eventDetails(
      JSON.stringify({
        mx_host: "pat@example.org",
        tls_version: 1.3,
        cipher: "AES with spaces",
        cert_verified: "yes",
        reply_code: "550",
        enhanced_code: "pat@example.org",
        reason: { nested: true },
        retry_at: "not a time",
        attempt: -1,
        reply: "550 pat@example.org: no such user",
        to: "pat@example.org",
        encryption: "tls",
        mta_sts: "enforce",
      }),
    ),
    {},
  );
  const view = eventView({
    id: "evt_01",
    org_id: "org_1",
    message_id: "msg_1",
    delivery_id: null,
    type: "queued",
    created_at: Date.UTC(2026, 0, 1),
    details: '{"reply":"pat@example.org"}',
  });
  assert.deepEqual(view, {
    object: "event",
    id: "evt_01",
    type: "queued",
    created_at: "2026-01-01T00:00:00.000Z",
    org_id: "org_1",
    message_id: "msg_1",
    delivery_id: null,
    details: {},
  });
});
