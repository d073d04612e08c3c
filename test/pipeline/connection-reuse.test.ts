/**
 * Issue item "Connections and pacing", acceptance: 1,000 messages to one domain use a small,
 * bounded number of connections. The full app (API, queue, worker, SMTP delivery through the
 * relay) sends them to one sink; the number of connections the sink saw is printed.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { DEFAULT_MAX_PER_DESTINATION } from "../../src/delivery/pool.ts";
import { auth, startTestApp } from "../helpers/app.ts";
import { startSmtpSink } from "../helpers/smtp-sink.ts";

const MESSAGES = 1000;
/** Submissions in flight at once. */
const SUBMIT_CONCURRENCY = 50;

test("1,000 messages to one domain use a small bounded number of connections", {
  timeout: 180_000,
}, async (t) => {
  const sink = await startSmtpSink();
  t.after(() => sink.close());
  const { app, adminKey } = await startTestApp(t, {
    env: { SEALPOST_RELAY: `smtp://127.0.0.1:${sink.port}` },
  });

  const started = Date.now();
  let next = 0;
  const submitOne = async (): Promise<void> => {
    for (let i = next++; i < MESSAGES; i = next++) {
      const res = await app.api.inject({
        method: "POST",
        url: "/v1/messages",
        headers: auth(adminKey),
        payload: {
          from: "Clinic <clinic@example.com>",
          to: `patient${i}@example.org`,
          subject: `Appointment reminder ${i}`,
          text: "Your appointment is tomorrow at 10:00.",
        },
      });
      assert.equal(res.statusCode, 202, res.body);
    }
  };
  await Promise.all(Array.from({ length: SUBMIT_CONCURRENCY }, submitOne));
  const submitted = Date.now();
  await sink.waitFor(MESSAGES, 150_000);
  const delivered = Date.now();

  const connections = sink.connections();
  const rate = (n: number, ms: number): string => ((n / Math.max(ms, 1)) * 1000).toFixed(0);
  process.stdout.write(`# connections: ${connections}\n`);
  process.stdout.write(
    `# ${MESSAGES} messages: submitted in ${submitted - started} ms, all delivered after ${delivered - started} ms ` +
      `(${rate(MESSAGES, delivered - started)} msg/s end to end)\n`,
  );

  assert.equal(new Set(sink.messages.map((m) => m.to[0])).size, MESSAGES, "each recipient exactly once");
  assert.ok(sink.messages.every((m) => m.secure));
  assert.equal(sink.plaintextDataCount(), 0);
  assert.ok(
    connections <= 2 * DEFAULT_MAX_PER_DESTINATION,
    `${connections} connections for ${MESSAGES} messages (bound ${2 * DEFAULT_MAX_PER_DESTINATION})`,
  );
});
