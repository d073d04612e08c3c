/**
 * Crash: a real `sealpost start` takes 20,000 messages from clients that retry with an
 * Idempotency-Key (as test/reliability/crash.test.ts does) and delivers them to a receiving
 * server on loopback, while it is killed with SIGKILL 10 times at seeded moments, some while
 * clients are submitting and some while only deliveries are going on, and restarted each
 * time. Afterwards every accepted message must have been delivered (`lost` = 0) and only
 * deliveries in flight at a kill may have been delivered twice
 * (`duplicated` <= kills x SEALPOST_WORKER_CONCURRENCY). Runs on SQLite and on PostgreSQL.
 *
 * SEALPOST_RELIABILITY_CRASH_MESSAGES / _PG_MESSAGES change the message counts.
 */
import assert from "node:assert/strict";
import { type TestContext, test } from "node:test";
import type { Db } from "../../src/store/db.ts";
import { BOOTSTRAP_KEY } from "../helpers/app.ts";
import { type SealpostProcess, spawnSealpost } from "../helpers/process.ts";
import { startFaultSink } from "./lib/fault-sink.ts";
import { messageIdOf, progress, seconds, sleep, summary, waitUntil } from "./lib/report.ts";
import { createRng, partSeed, seedLine } from "./lib/rng.ts";
import {
  createScratch,
  deliveryStatusCounts,
  formatCounts,
  havePostgres,
  nodeEnv,
  openStore,
  prepareSealpost,
  type Store,
} from "./lib/stores.ts";

const KILLS = 10;
const CLIENTS = 32;
const CONCURRENCY = 32;
const MESSAGE_DEADLINE_MS = 240_000;

function count(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < 100) throw new RangeError(`${name} must be an integer >= 100`);
  return Number(raw);
}

interface KillRecord {
  phase: "submission" | "delivery";
  accepted: number;
  delivered: number;
  /** Deliveries the killed process had claimed and not recorded. */
  inflight: number;
  restartMs: number;
}

/** Uniform points in [lo, hi), sorted. */
function points(rng: ReturnType<typeof createRng>, n: number, lo: number, hi: number): number[] {
  return Array.from({ length: n }, () => lo + rng.next() * (hi - lo)).sort((a, b) => a - b);
}

/** Messages of the deliveries the (dead) process `pid` had claimed and not recorded (its worker id has the pid). */
async function claimedBy(db: Db, pid: number | undefined): Promise<string[]> {
  if (pid === undefined) return [];
  const rows = await db.kysely
    .selectFrom("deliveries")
    .select("message_id")
    .where("status", "=", "sending")
    .where("lease_owner", "like", `%:${pid}:%`)
    .execute();
  return rows.map((r) => r.message_id);
}

async function runCrash(t: TestContext, store: Store, total: number): Promise<void> {
  const part = `crash[${store}]`;
  const started = Date.now();
  progress(part, seedLine(part).slice(2));
  const rng = createRng(partSeed(part));
  const submissionKills = rng.int(4, 6);
  const subAt = points(rng, submissionKills, 0.03, 0.97).map((f) => Math.floor(f * total));
  const delAt = points(rng, KILLS - submissionKills, 0.05, 0.9);
  const jitter = Array.from({ length: KILLS }, () => rng.int(0, 250));

  const sink = await startFaultSink();
  const scratch = await createScratch(store);
  const env = nodeEnv({
    dataDir: scratch.dataDir,
    databaseUrl: scratch.databaseUrl,
    relayPort: sink.port,
    extra: { SEALPOST_LEASE_SECONDS: "3", SEALPOST_WORKER_CONCURRENCY: String(CONCURRENCY) },
  });
  await prepareSealpost(env, ["example.com"]);
  const db = openStore(env);

  // The running node; replaced at every restart.
  const node: { proc: SealpostProcess | null; base: string } = { proc: null, base: "" };
  const start = async (): Promise<number> => {
    const t0 = Date.now();
    const proc = spawnSealpost(["start"], env);
    node.proc = proc;
    node.base = (await proc.waitForLine(/listening on (http:\/\/[\d.:]+)/, 60_000))[1] ?? "";
    return Date.now() - t0;
  };
  t.after(async () => {
    await node.proc?.kill("SIGKILL");
    await db.close();
    await sink.close();
    await scratch.cleanup();
  });
  await start();

  const accepted = new Set<string>();
  const delivered = (): number => {
    let n = 0;
    for (const key of sink.accepted.keys()) if (accepted.has(messageIdOf(key))) n++;
    return n;
  };
  const kills: KillRecord[] = [];
  /** Messages in flight at some kill: the only ones that may be delivered twice. */
  const inflightMessages = new Set<string>();
  let restarting: Promise<void> | null = null;
  const killAndRestart = (phase: KillRecord["phase"]): Promise<void> => {
    const run = async () => {
      const current = node.proc;
      await current?.kill("SIGKILL");
      const claimed = await claimedBy(db, current?.child.pid);
      for (const id of claimed) inflightMessages.add(id);
      const record: KillRecord = {
        phase,
        accepted: accepted.size,
        delivered: delivered(),
        inflight: claimed.length,
        restartMs: 0,
      };
      record.restartMs = await start();
      kills.push(record);
      progress(
        part,
        `kill ${kills.length}/${KILLS} (${phase}): accepted=${record.accepted} delivered=${record.delivered} in-flight=${record.inflight}, restarted in ${record.restartMs} ms`,
      );
    };
    restarting = run().finally(() => {
      restarting = null;
    });
    return restarting;
  };

  // Clients: each message is POSTed with its Idempotency-Key until a 202 arrives.
  let next = 0;
  let networkErrors = 0;
  const statuses: Record<string, number> = {};
  let submissionDone = false;
  const client = async (): Promise<void> => {
    while (next < total) {
      const n = next++;
      const deadline = Date.now() + MESSAGE_DEADLINE_MS;
      while (Date.now() < deadline) {
        if (restarting !== null) await restarting;
        try {
          const res = await fetch(`${node.base}/v1/messages`, {
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
              text: `Message ${n}\n${"x".repeat(1000)}`,
            }),
            signal: AbortSignal.timeout(30_000),
          });
          statuses[res.status] = (statuses[res.status] ?? 0) + 1;
          if (res.status === 202) {
            accepted.add(((await res.json()) as { id: string }).id);
            break;
          }
          await res.arrayBuffer();
        } catch {
          // Connection refused or reset by the kill: retry.
          networkErrors++;
        }
        await sleep(50);
      }
    }
  };

  // The killer: first at seeded counts of accepted messages, then at seeded fractions of the
  // delivery backlog left when submission ended; each after a seeded delay of 0-250 ms.
  const killer = async (): Promise<void> => {
    for (const [i, at] of subAt.entries()) {
      const reached = await waitUntil(() => accepted.size >= at || submissionDone, 600_000, 10);
      if (!reached || submissionDone) break;
      await sleep(jitter[i] ?? 0);
      await killAndRestart("submission");
    }
    await waitUntil(() => submissionDone, 600_000, 20);
    const from = delivered();
    for (const f of delAt) {
      if (kills.length >= KILLS) break;
      const at = from + Math.floor(f * (total - from));
      await waitUntil(() => delivered() >= at, 240_000, 10);
      await sleep(jitter[kills.length] ?? 0);
      await killAndRestart("delivery");
    }
    // Kills a threshold skipped (submission was faster than expected) happen now, during delivery.
    while (kills.length < KILLS) {
      await sleep(rng.int(200, 1500));
      await killAndRestart("delivery");
    }
  };

  const killing = killer();
  const submitStart = Date.now();
  await Promise.all(Array.from({ length: CLIENTS }, client));
  submissionDone = true;
  const submitTime = seconds(submitStart);
  progress(part, `submission done: ${accepted.size}/${total} accepted in ${submitTime}`);
  await killing;
  assert.equal(accepted.size, total, "every message acknowledged once");

  // Every accepted message must arrive, and the store must show every delivery delivered.
  const settled = await waitUntil(
    async () => {
      if (delivered() < total) return false;
      const counts = await deliveryStatusCounts(db);
      return counts.byStatus.delivered === total;
    },
    300_000,
    250,
  );
  const counts = await deliveryStatusCounts(db);
  await node.proc?.kill("SIGTERM");

  const receivedIds = new Map<string, number>();
  for (const [key, n] of sink.accepted) {
    const id = messageIdOf(key);
    receivedIds.set(id, (receivedIds.get(id) ?? 0) + n);
  }
  const lost = [...accepted].filter((id) => !receivedIds.has(id));
  const duplicatedIds = [...receivedIds].filter(([, n]) => n > 1).map(([id]) => id);
  const duplicated = duplicatedIds.length;
  const duplicatedOutside = duplicatedIds.filter((id) => !inflightMessages.has(id));
  const unexpected = [...receivedIds.keys()].filter((id) => !accepted.has(id));
  const inflightAtKills = kills.reduce((n, k) => n + k.inflight, 0);
  const stats = sink.stats();
  summary(part, {
    messages: total,
    accepted: accepted.size,
    kills: kills.length,
    kills_submission: kills.filter((k) => k.phase === "submission").length,
    kills_delivery: kills.filter((k) => k.phase === "delivery").length,
    lost: lost.length,
    duplicated,
    duplicate_bound: kills.length * CONCURRENCY,
    inflight_at_kills: inflightAtKills,
    duplicated_not_in_flight: duplicatedOutside.length,
    unexpected: unexpected.length,
    plaintext_data: stats.plaintextData,
    retried_requests: networkErrors,
    http_statuses: JSON.stringify(statuses),
    store: formatCounts(counts.byStatus).replaceAll(" ", ","),
    submit_time: submitTime,
    duration: seconds(started),
  });
  assert.ok(settled, `not every delivery settled: ${formatCounts(counts.byStatus)}; lost ${lost.length}`);
  assert.equal(lost.length, 0, `lost: ${lost.slice(0, 10).join(", ")}`);
  assert.equal(kills.length, KILLS);
  assert.ok(
    duplicated <= kills.length * CONCURRENCY,
    `duplicated ${duplicated} > kills x concurrency ${kills.length * CONCURRENCY}`,
  );
  assert.deepEqual(duplicatedOutside, [], "only messages in flight at a kill were delivered twice");
  assert.equal(unexpected.length, 0, "nothing delivered that was not acknowledged");
  assert.equal(stats.plaintextData, 0);
  assert.equal(counts.byStatus.delivered, total);
  for (const status of Object.keys(statuses))
    assert.ok(status === "202", `a client got HTTP ${status} (${JSON.stringify(statuses)})`);
}

const TIMEOUT = 12 * 60_000;

test(
  `crash [sqlite]: ${KILLS} SIGKILLs during submission and delivery; none lost`,
  { timeout: TIMEOUT },
  (t) => runCrash(t, "sqlite", count("SEALPOST_RELIABILITY_CRASH_MESSAGES", 20_000)),
);

test(`crash [postgres]: ${KILLS} SIGKILLs during submission and delivery; none lost`, {
  timeout: TIMEOUT,
}, async (t) => {
  if (!havePostgres(t)) return;
  await runCrash(t, "postgres", count("SEALPOST_RELIABILITY_CRASH_PG_MESSAGES", 20_000));
});
