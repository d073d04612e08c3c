/**
 * Receiving-server faults, end to end: a real sealpost (fake clock) relays to a sink that
 * misbehaves in one way, and each fault must end in the right state after the right number
 * of attempts, with the right event history: temporary faults are deferred, retried and
 * finally failed (gave up) after the retry window; a 5xx bounces at once. Every sink also
 * proves that no DATA/BDAT ever reached it outside TLS.
 *
 * No STARTTLS and TLS 1.0/1.1-only servers are covered in relay-delivery.test.ts.
 */
import assert from "node:assert/strict";
import type { TestContext } from "node:test";
import { describe, test } from "node:test";
import { ManualClock } from "../../src/core/clock.ts";
import { classifyReply } from "../../src/delivery/classify.ts";
import { auth, eventually, startTestApp } from "../helpers/app.ts";
import { type SmtpSink, type SmtpSinkOptions, startSmtpSink } from "../helpers/smtp-sink.ts";

const HOUR = 3_600_000;

const message = {
  from: "Clinic <clinic@example.com>",
  to: "patient@example.org",
  subject: "Appointment reminder",
  text: "Your appointment is tomorrow.",
};

interface DeliveryBody {
  status: string;
  attempts: number;
  reason: string | null;
  next_attempt_at: string | null;
  evidence: Record<string, unknown> | null;
}

interface MessageBody {
  status: string;
  deliveries: DeliveryBody[];
  events: Array<{ type: string }>;
}

interface FaultRun {
  sink: SmtpSink;
  clock: ManualClock;
  /** Submits one message; returns its id. */
  send(payload?: object): Promise<string>;
  get(id: string): Promise<MessageBody>;
  /** Polls the message until `check` accepts it (the worker polls with real timers). */
  until(id: string, check: (m: MessageBody, d: DeliveryBody) => boolean): Promise<MessageBody>;
}

async function faultRun(
  t: TestContext,
  sinkOpts: SmtpSinkOptions,
  env: Record<string, string> = {},
): Promise<FaultRun> {
  const sink = await startSmtpSink(sinkOpts);
  t.after(() => sink.close());
  const clock = new ManualClock(Date.now());
  const { app, adminKey } = await startTestApp(t, {
    clock,
    env: { SEALPOST_RELAY: `smtp://127.0.0.1:${sink.port}`, ...env },
  });
  const get = async (id: string): Promise<MessageBody> =>
    (await app.api.inject({ url: `/v1/messages/${id}`, headers: auth(adminKey) })).json();
  return {
    sink,
    clock,
    async send(payload = message) {
      const res = await app.api.inject({
        method: "POST",
        url: "/v1/messages",
        headers: auth(adminKey),
        payload,
      });
      assert.equal(res.statusCode, 202, res.body);
      return res.json().id;
    },
    get,
    until: (id, check) =>
      eventually(async () => {
        const body = await get(id);
        const d = body.deliveries[0];
        return d !== undefined && check(body, d) ? body : undefined;
      }),
  };
}

function first(m: MessageBody): DeliveryBody {
  const d = m.deliveries[0];
  assert.ok(d, "the message has a delivery");
  return d;
}

function eventTypes(m: MessageBody): string[] {
  return m.events.map((e) => e.type);
}

/** Moves the fake clock to the delivery's next attempt (the jittered retry time). */
function advanceToRetry(run: FaultRun, d: DeliveryBody): void {
  assert.ok(d.next_attempt_at, "a deferred delivery has a next attempt time");
  run.clock.set(Date.parse(d.next_attempt_at) + 1000);
}

/** Gives the worker time to (wrongly) attempt again; it polls every 20 ms in tests. */
function settle(ms = 300): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * A temporary fault: deferred with `reason`, retried at its retry time (deferred again),
 * and past the 72-hour window the next attempt gives up: failed, 3 attempts in all.
 */
async function assertRetriedThenGaveUp(run: FaultRun, id: string, reason: string): Promise<MessageBody> {
  const firstTry = await run.until(id, (m, d) => m.status === "deferred" && d.attempts === 1);
  assert.equal(first(firstTry).reason, reason);

  advanceToRetry(run, first(firstTry));
  const secondTry = await run.until(id, (m, d) => m.status === "deferred" && d.attempts === 2);
  assert.equal(first(secondTry).reason, reason);
  assert.ok(
    Date.parse(first(secondTry).next_attempt_at ?? "") > Date.parse(first(firstTry).next_attempt_at ?? ""),
    "the retry is scheduled later",
  );

  run.clock.advance(73 * HOUR);
  const failed = await run.until(id, (m) => m.status === "failed");
  const d = first(failed);
  assert.equal(d.reason, reason);
  assert.equal(d.attempts, 3);
  assert.equal(d.evidence?.gave_up, true);
  assert.deepEqual(eventTypes(failed), ["queued", "deferred", "deferred", "failed"]);
  return failed;
}

/**
 * A permanent refusal (5xx): bounced on the first attempt (a bounce is the failed state for
 * a 5xx from the receiving server), and never attempted again.
 */
async function assertBouncedAtOnce(run: FaultRun, id: string): Promise<MessageBody> {
  const bounced = await run.until(id, (m) => m.status === "bounced");
  const d = first(bounced);
  assert.equal(d.status, "bounced");
  assert.equal(d.attempts, 1);
  assert.equal(d.reason, "rejected_permanent");
  assert.equal(d.evidence?.gave_up, undefined);
  assert.deepEqual(eventTypes(bounced), ["queued", "bounced"]);

  run.clock.advance(73 * HOUR);
  await settle();
  const later = await run.get(id);
  assert.equal(first(later).attempts, 1, "a permanent failure is not retried");
  assert.deepEqual(eventTypes(later), ["queued", "bounced"]);
  return bounced;
}

describe("receiving-server faults", () => {
  test("421 in the greeting: deferred and retried, failed (gave up) after 72 h", async (t) => {
    const run = await faultRun(t, { greeting: { code: 421 } });
    const id = await run.send();
    const failed = await assertRetriedThenGaveUp(run, id, "rejected_temporary");
    assert.equal(first(failed).evidence?.reply_code, 421);
    assert.equal(run.sink.dataCount(), 0);
    assert.equal(run.sink.plaintextDataCount(), 0);
    assert.equal(run.sink.messages.length, 0);
  });

  test("450 at RCPT: deferred and retried, failed (gave up) after 72 h", async (t) => {
    const run = await faultRun(t, { rejectRcpt: () => 450 });
    const id = await run.send();
    const failed = await assertRetriedThenGaveUp(run, id, "rejected_temporary");
    assert.equal(first(failed).evidence?.reply_code, 450);
    assert.equal(first(failed).evidence?.enhanced_code, "4.2.1");
    const recorded = JSON.stringify([failed.events, first(failed).evidence]);
    assert.ok(!recorded.includes("patient@"), "reply text is sanitized");
    assert.equal(run.sink.plaintextDataCount(), 0);
    assert.equal(run.sink.messages.length, 0);
  });

  test("550 at RCPT: bounced at once, one attempt, rejected_permanent", async (t) => {
    const run = await faultRun(t, { rejectRcpt: () => 550 });
    const id = await run.send();
    const bounced = await assertBouncedAtOnce(run, id);
    assert.equal(first(bounced).evidence?.reply_code, 550);
    assert.equal(first(bounced).evidence?.enhanced_code, "5.1.1");
    assert.equal(run.sink.plaintextDataCount(), 0);
    assert.equal(run.sink.messages.length, 0);
  });

  test("552 after DATA: bounced at once, one attempt, rejected_permanent", async (t) => {
    const run = await faultRun(t, { rejectData: () => 552 });
    const id = await run.send();
    const bounced = await assertBouncedAtOnce(run, id);
    assert.equal(first(bounced).evidence?.reply_code, 552);
    assert.equal(first(bounced).evidence?.enhanced_code, "5.3.4");
    assert.match(String(first(bounced).evidence?.tls_version), /^TLSv1\.[23]$/);
    assert.equal(run.sink.dataCount(), 1, "the message was sent once, over TLS");
    assert.equal(run.sink.plaintextDataCount(), 0);
    assert.equal(run.sink.messages.length, 0);
  });

  test("connection dropped mid-DATA: deferred; once the server is fixed, delivered exactly once", async (t) => {
    const run = await faultRun(t, { dropMidData: true });
    // Large enough that the body spans many TLS records: the drop is really mid-body.
    const attachment = Buffer.alloc(256 * 1024, "x").toString("base64");
    const id = await run.send({
      ...message,
      attachments: [{ filename: "scan.pdf", content_type: "application/pdf", content: attachment }],
    });
    const deferred = await run.until(id, (m, d) => m.status === "deferred" && d.attempts === 1);
    assert.equal(first(deferred).reason, "connection_failed");
    assert.equal(run.sink.dataCount(), 1);
    assert.equal(run.sink.messages.length, 0);

    run.sink.setFaults({});
    advanceToRetry(run, first(deferred));
    const delivered = await run.until(id, (m) => m.status === "delivered");
    assert.equal(first(delivered).attempts, 2);
    assert.equal(first(delivered).evidence?.reply_code, 250);
    assert.deepEqual(eventTypes(delivered), ["queued", "deferred", "sent", "delivered"]);

    run.clock.advance(73 * HOUR);
    await settle();
    assert.equal(first(await run.get(id)).attempts, 2, "a delivered message is not sent again");
    assert.equal(run.sink.messages.length, 1, "delivered exactly once");
    assert.ok(run.sink.messages[0]?.secure);
    assert.equal(run.sink.dataCount(), 2);
    assert.equal(run.sink.plaintextDataCount(), 0);
  });

  test("a greeting slower than the delivery timeout: deferred (timeout), failed after 72 h", async (t) => {
    const run = await faultRun(
      t,
      { greeting: { delayMs: 3000 } },
      { SEALPOST_DELIVERY_TIMEOUT_SECONDS: "1" },
    );
    const id = await run.send();
    const deferred = await run.until(id, (m, d) => m.status === "deferred" && d.attempts === 1);
    assert.equal(first(deferred).reason, "timeout");
    assert.deepEqual(eventTypes(deferred), ["queued", "deferred"]);

    run.clock.advance(73 * HOUR);
    const failed = await run.until(id, (m) => m.status === "failed");
    assert.equal(first(failed).reason, "timeout");
    assert.equal(first(failed).attempts, 2);
    assert.equal(first(failed).evidence?.gave_up, true);
    assert.deepEqual(eventTypes(failed), ["queued", "deferred", "failed"]);
    assert.equal(run.sink.dataCount(), 0);
    assert.equal(run.sink.plaintextDataCount(), 0);
  });
});

describe("reply classification: the basic code decides, the enhanced code is recorded", () => {
  const cases: Array<[number, string | null, "MAIL FROM" | "RCPT TO" | "DATA", string, string]> = [
    [450, "4.2.1", "RCPT TO", "soft_fail", "rejected_temporary"],
    [550, "5.1.1", "RCPT TO", "hard_fail", "rejected_permanent"],
    [552, "5.3.4", "DATA", "hard_fail", "rejected_permanent"],
    [554, "5.7.1", "DATA", "hard_fail", "rejected_permanent"],
    [552, "5.3.4", "MAIL FROM", "hard_fail", "rejected_permanent"],
    // Inconsistent codes: the basic code wins.
    [550, "4.2.2", "RCPT TO", "hard_fail", "rejected_permanent"],
    [451, "5.7.1", "DATA", "soft_fail", "rejected_temporary"],
    // RFC 5321 4.5.3.1.10: 552 to RCPT TO is "too many recipients", temporary.
    [552, "5.5.3", "RCPT TO", "soft_fail", "rejected_temporary"],
    [552, null, "RCPT TO", "soft_fail", "rejected_temporary"],
    [250, null, "DATA", "soft_fail", "protocol_error"],
  ];
  for (const [code, enhanced, command, kind, reason] of cases) {
    test(`${code} ${enhanced ?? "-"} to ${command}: ${kind} ${reason}`, () => {
      const reply = { code, enhanced, text: "" };
      const outcome = classifyReply(reply, command, null);
      assert.equal(outcome.kind, kind);
      assert.equal(outcome.reason, reason);
      assert.deepEqual(outcome.reply, reply, "both codes are kept");
    });
  }
});
