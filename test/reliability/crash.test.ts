import assert from "node:assert/strict";
import { test } from "node:test";
import { loadConfig } from "../../src/config/load.ts";
import { silentLogger } from "../../src/logging/logger.ts";
import { createSealpost } from "../../src/main.ts";
import { BOOTSTRAP_KEY, testNode, verifyDomainsForTest } from "../helpers/app.ts";
import { type SealpostProcess, spawnSealpost } from "../helpers/process.ts";
import { startSmtpSink } from "../helpers/smtp-sink.ts";

const TOTAL = 2000;
const CLIENTS = 16;
const CONCURRENCY = 32;

function messageIdOf(raw: Buffer): string | null {
  return /^Message-ID: <(msg_[0-9a-z]{26})@/im.exec(raw.toString("latin1"))?.[1] ?? null;
}

test(`crash: ${TOTAL} messages, SIGKILL mid-submission and mid-delivery, restart: none lost`, async (t) => {
  const sink = await startSmtpSink();
  t.after(() => sink.close());
  const node = await testNode({
    SEALPOST_RELAY: `smtp://127.0.0.1:${sink.port}`,
    SEALPOST_LEASE_SECONDS: "3",
    SEALPOST_WORKER_CONCURRENCY: String(CONCURRENCY),
    SEALPOST_LOG_LEVEL: "warn",
  });
  t.after(() => node.remove());
  const { env } = node;

  // Set up the verified sending domain once, as an operator would before going live.
  const setup = await createSealpost(loadConfig(env), { logger: silentLogger() });
  await verifyDomainsForTest(setup, ["example.com"]);
  await setup.close();

  let proc: SealpostProcess | null = null;
  let base = "";
  const start = async () => {
    proc = spawnSealpost(["start"], env);
    base = (await proc.waitForLine(/listening on (http:\/\/[\d.:]+)/))[1] ?? "";
  };
  t.after(() => proc?.kill("SIGKILL"));
  await start();

  const accepted = new Set<string>();
  let next = 0;
  let kills = 0;
  let restarting: Promise<void> | null = null;
  const killAndRestart = async () => {
    kills++;
    await proc?.kill("SIGKILL");
    await start();
  };

  // Each client sends its messages with an Idempotency-Key, retrying until acknowledged:
  // a request cut off by the kill is retried after the restart and never sent twice.
  const client = async () => {
    while (next < TOTAL) {
      const n = next++;
      for (let attempt = 0; attempt < 200; attempt++) {
        if (restarting !== null) await restarting;
        try {
          const res = await fetch(`${base}/v1/messages`, {
            method: "POST",
            headers: {
              authorization: `Bearer ${BOOTSTRAP_KEY}`,
              "content-type": "application/json",
              "idempotency-key": `crash-${n}`,
            },
            body: JSON.stringify({
              from: "clinic@example.com",
              to: `p${n}@example.org`,
              subject: `Message ${n}`,
              text: "x".repeat(2000),
            }),
          });
          if (res.status === 202) {
            accepted.add(((await res.json()) as { id: string }).id);
            break;
          }
        } catch {
          // Connection refused or reset by the kill: retry.
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      if (n === Math.floor(TOTAL / 2) && kills === 0) {
        restarting = killAndRestart();
        await restarting;
        restarting = null;
      }
    }
  };
  await Promise.all(Array.from({ length: CLIENTS }, client));
  assert.equal(accepted.size, TOTAL, "every message acknowledged once");

  // Second kill while deliveries are in flight.
  const deadline1 = Date.now() + 120_000;
  while (sink.messages.length < TOTAL * 0.75 && Date.now() < deadline1)
    await new Promise((r) => setTimeout(r, 20));
  if (sink.messages.length < TOTAL) await killAndRestart();

  const received = new Map<string, number>();
  const deadline = Date.now() + 120_000;
  for (;;) {
    received.clear();
    for (const m of sink.messages) {
      const id = messageIdOf(m.raw);
      if (id !== null) received.set(id, (received.get(id) ?? 0) + 1);
    }
    if ([...accepted].every((id) => received.has(id)) || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const lost = [...accepted].filter((id) => !received.has(id)).length;
  const duplicated = [...received.values()].filter((c) => c > 1).length;
  t.diagnostic(
    `kills: ${kills}, accepted: ${accepted.size}, delivered: ${received.size}, lost: ${lost}, duplicated: ${duplicated}`,
  );
  process.stdout.write(
    `# crash harness: kills=${kills} accepted=${accepted.size} lost=${lost} duplicated=${duplicated}\n`,
  );
  assert.equal(lost, 0, "no accepted message is lost");
  assert.ok(duplicated <= kills * CONCURRENCY, "only deliveries in flight at a kill may repeat");
  assert.equal(
    [...received.keys()].filter((id) => !accepted.has(id)).length,
    0,
    "nothing unexpected delivered",
  );
});
