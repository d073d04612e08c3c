import assert from "node:assert/strict";
import { test } from "node:test";
import { auth, startTestApp, testStore } from "../helpers/app.ts";
import { type SealpostProcess, spawnSealpost } from "../helpers/process.ts";
import { startSmtpSink } from "../helpers/smtp-sink.ts";

const TOTAL = 2000;

test(`two worker processes on one PostgreSQL deliver ${TOTAL} messages, no duplicate, no loss`, async (t) => {
  if (testStore() !== "postgres") {
    t.skip("PostgreSQL-only: several nodes share state only through PostgreSQL (runs in the postgres pass)");
    return;
  }
  const sink = await startSmtpSink();
  t.after(() => sink.close());
  const { app, adminKey, env } = await startTestApp(t, {
    worker: false,
    env: { SEALPOST_RELAY: `smtp://127.0.0.1:${sink.port}` },
  });
  const accepted: string[] = [];
  for (let i = 0; i < TOTAL; i += 100) {
    const batch = await Promise.all(
      Array.from({ length: 100 }, (_, j) =>
        app.api.inject({
          method: "POST",
          url: "/v1/messages",
          headers: auth(adminKey),
          payload: { from: "clinic@example.com", to: `p${i + j}@example.org`, subject: "Hi", text: "Hello" },
        }),
      ),
    );
    for (const r of batch) accepted.push(r.json().id);
  }
  const workers: SealpostProcess[] = [];
  t.after(async () => {
    for (const w of workers) await w.kill("SIGKILL");
  });
  for (let i = 0; i < 2; i++) {
    const w = spawnSealpost(["start", "--roles", "worker"], {
      ...env,
      SEALPOST_LOG_LEVEL: "warn",
      SEALPOST_WORKER_CONCURRENCY: "32",
    });
    workers.push(w);
    await w.waitForLine(/sealpost started/);
  }
  const deadline = Date.now() + 120_000;
  while (sink.messages.length < TOTAL && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  await new Promise((r) => setTimeout(r, 500));
  const counts = new Map<string, number>();
  for (const m of sink.messages) {
    const id = /^Message-ID: <(msg_[0-9a-z]{26})@/im.exec(m.raw.toString("latin1"))?.[1] ?? "?";
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  const lost = accepted.filter((id) => !counts.has(id)).length;
  const duplicated = [...counts.values()].filter((c) => c > 1).length;
  process.stdout.write(
    `# two workers: accepted=${accepted.length} delivered=${counts.size} lost=${lost} duplicated=${duplicated}\n`,
  );
  assert.equal(lost, 0);
  assert.equal(duplicated, 0);
  const rows = await app.db.kysely
    .selectFrom("deliveries")
    .select(["status", (eb) => eb.fn.countAll<number>().as("n")])
    .groupBy("status")
    .execute();
  assert.deepEqual(
    rows.map((r) => [r.status, Number(r.n)]),
    [["delivered", TOTAL]],
  );
});
