/**
 * Node death: three `sealpost start` nodes (api, smtp and worker roles each), each with its
 * own data dir but one PostgreSQL database and one master key, take a few thousand messages
 * spread over their three APIs. One node, chosen by the seed, is killed with SIGKILL while
 * deliveries are going on and stays dead: the deliveries it had claimed must be taken over
 * by the other two once its leases run out, and nothing may be lost. Clients whose node died
 * retry on the next one with the same Idempotency-Key (keys are org-wide, so the retry is
 * answered from the shared store).
 *
 * SEALPOST_RELIABILITY_NODES_MESSAGES changes the message count.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { test } from "node:test";
import { BOOTSTRAP_KEY, tempDir } from "../helpers/app.ts";
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
} from "./lib/stores.ts";

const NODES = 3;
const CONCURRENCY = 32;
const LEASE_SECONDS = 3;
const CLIENTS = 24;

function total(): number {
  const raw = process.env.SEALPOST_RELIABILITY_NODES_MESSAGES;
  if (raw === undefined || raw === "") return 3000;
  if (!/^\d+$/.test(raw) || Number(raw) < 100)
    throw new RangeError("SEALPOST_RELIABILITY_NODES_MESSAGES must be an integer >= 100");
  return Number(raw);
}

interface Node {
  proc: SealpostProcess;
  base: string;
  alive: boolean;
}

test("node death: 3 nodes on one PostgreSQL, one killed mid-delivery; its leases are taken over, none lost", {
  timeout: 8 * 60_000,
}, async (t) => {
  if (!havePostgres(t)) return;
  const part = "node-death[postgres]";
  const started = Date.now();
  const TOTAL = total();
  progress(part, seedLine(part).slice(2));
  const rng = createRng(partSeed(part));
  const victimIndex = rng.int(0, NODES - 1);
  const killFraction = 0.2 + rng.next() * 0.4;
  const killJitterMs = rng.int(0, 250);

  const sink = await startFaultSink();
  const scratch = await createScratch("postgres");
  const dirs = [scratch.dataDir, tempDir("sealpost-reliability-"), tempDir("sealpost-reliability-")];
  const masterKey = randomBytes(32).toString("hex");
  const envs = dirs.map((dataDir) =>
    nodeEnv({
      dataDir,
      databaseUrl: scratch.databaseUrl,
      relayPort: sink.port,
      extra: {
        SEALPOST_MASTER_KEY: masterKey,
        SEALPOST_LEASE_SECONDS: String(LEASE_SECONDS),
        SEALPOST_WORKER_CONCURRENCY: String(CONCURRENCY),
      },
    }),
  );
  const firstEnv = envs[0];
  assert.ok(firstEnv);
  await prepareSealpost(firstEnv, ["example.com"]);
  const db = openStore(firstEnv);
  const nodes: Node[] = [];
  t.after(async () => {
    for (const n of nodes) await n.proc.kill("SIGKILL");
    await db.close();
    await sink.close();
    await scratch.cleanup();
    for (const dir of dirs.slice(1)) rmSync(dir, { recursive: true, force: true });
  });
  for (const env of envs) {
    const proc = spawnSealpost(["start"], env);
    const base = (await proc.waitForLine(/listening on (http:\/\/[\d.:]+)/, 60_000))[1] ?? "";
    nodes.push({ proc, base, alive: true });
  }
  progress(
    part,
    `${NODES} nodes up; victim will be node ${victimIndex} at ${(killFraction * 100).toFixed(0)}% delivered`,
  );

  const accepted = new Set<string>();
  const delivered = (): number => {
    let n = 0;
    for (const key of sink.accepted.keys()) if (accepted.has(messageIdOf(key))) n++;
    return n;
  };
  const statuses: Record<string, number> = {};
  let failovers = 0;
  let next = 0;
  const client = async (): Promise<void> => {
    while (next < TOTAL) {
      const n = next++;
      const deadline = Date.now() + 120_000;
      for (let attempt = 0; Date.now() < deadline; attempt++) {
        const node = nodes[(n + attempt) % NODES];
        if (node === undefined || !node.alive) {
          failovers++;
          continue;
        }
        try {
          const res = await fetch(`${node.base}/v1/messages`, {
            method: "POST",
            headers: {
              authorization: `Bearer ${BOOTSTRAP_KEY}`,
              "content-type": "application/json",
              "idempotency-key": `node-${n}`,
            },
            body: JSON.stringify({
              from: "clinic@example.com",
              to: `p${n}@example.org`,
              subject: `Message ${n}`,
              text: `Message ${n}\n${"y".repeat(800)}`,
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
          failovers++;
        }
        await sleep(50);
      }
    }
  };

  const victim = nodes[victimIndex];
  assert.ok(victim);
  let killedAt = 0;
  let orphans: string[] = [];
  let orphanMessages = new Set<string>();
  let leaseEnd = 0;
  const killer = async (): Promise<void> => {
    const at = Math.floor(killFraction * TOTAL);
    const reached = await waitUntil(() => delivered() >= at, 300_000, 10);
    assert.ok(reached, "deliveries did not reach the kill point");
    await sleep(killJitterMs);
    victim.alive = false;
    await victim.proc.kill("SIGKILL");
    killedAt = Date.now();
    const pid = victim.proc.child.pid ?? -1;
    const held = await db.kysely
      .selectFrom("deliveries")
      .select(["id", "message_id", "due_at"])
      .where("status", "=", "sending")
      .where("lease_owner", "like", `%:${pid}:%`)
      .execute();
    orphans = held.map((r) => r.id);
    orphanMessages = new Set(held.map((r) => r.message_id));
    // The dead node's leases run out at due_at (its last renewal plus the lease).
    leaseEnd = Math.min(...held.map((r) => Number(r.due_at)));
    progress(
      part,
      `killed node ${victimIndex} (pid ${pid}) at accepted=${accepted.size} delivered=${delivered()}; it held ${orphans.length} leased deliveries`,
    );
  };
  const killing = killer();
  await Promise.all(Array.from({ length: CLIENTS }, client));
  await killing;
  progress(part, `submission done: ${accepted.size}/${TOTAL} accepted`);
  assert.equal(accepted.size, TOTAL, "every message acknowledged once");

  const settled = await waitUntil(
    async () => delivered() >= TOTAL && (await deliveryStatusCounts(db)).byStatus.delivered === TOTAL,
    240_000,
    250,
  );
  const counts = await deliveryStatusCounts(db);
  const orphanRows =
    orphans.length === 0
      ? []
      : await db.kysely
          .selectFrom("deliveries")
          .select(["id", "status", "attempts"])
          .where("id", "in", orphans)
          .execute();
  const takeover =
    orphans.length === 0
      ? []
      : await db.kysely
          .selectFrom("events")
          .select("created_at")
          .where("delivery_id", "in", orphans)
          .where("type", "=", "delivered")
          .execute();
  const firstTakeover = Math.min(...takeover.map((e) => Number(e.created_at)));
  for (const n of nodes) if (n.alive) await n.proc.kill("SIGTERM");

  const receivedIds = new Map<string, number>();
  for (const [key, n] of sink.accepted) {
    const id = messageIdOf(key);
    receivedIds.set(id, (receivedIds.get(id) ?? 0) + n);
  }
  const lost = [...accepted].filter((id) => !receivedIds.has(id));
  const duplicatedIds = [...receivedIds].filter(([, n]) => n > 1).map(([id]) => id);
  const duplicated = duplicatedIds.length;
  const duplicatedOutside = duplicatedIds.filter((id) => !orphanMessages.has(id));
  const unexpected = [...receivedIds.keys()].filter((id) => !accepted.has(id));
  const orphansDelivered = orphanRows.filter((r) => r.status === "delivered").length;
  summary(part, {
    nodes: NODES,
    messages: TOTAL,
    accepted: accepted.size,
    kills: 1,
    killed_node: victimIndex,
    orphaned_leases: orphans.length,
    orphans_delivered: orphansDelivered,
    lease_left_at_kill: orphans.length === 0 ? "n/a" : `${((leaseEnd - killedAt) / 1000).toFixed(1)}s`,
    first_takeover_after: orphans.length === 0 ? "n/a" : `${((firstTakeover - killedAt) / 1000).toFixed(1)}s`,
    lost: lost.length,
    duplicated,
    duplicate_bound: CONCURRENCY,
    duplicated_not_in_flight: duplicatedOutside.length,
    unexpected: unexpected.length,
    plaintext_data: sink.stats().plaintextData,
    client_failovers: failovers,
    http_statuses: JSON.stringify(statuses),
    store: formatCounts(counts.byStatus).replaceAll(" ", ","),
    duration: seconds(started),
  });
  assert.ok(settled, `not every delivery settled: ${formatCounts(counts.byStatus)}`);
  assert.equal(lost.length, 0, `lost: ${lost.slice(0, 10).join(", ")}`);
  assert.ok(orphans.length > 0, "the killed node held leased work (else the takeover was not tested)");
  assert.equal(orphansDelivered, orphans.length, "the dead node's leased deliveries were taken over");
  assert.ok(firstTakeover >= leaseEnd, "taken over only once the dead node's lease ran out");
  assert.ok(duplicated <= CONCURRENCY, `duplicated ${duplicated} > ${CONCURRENCY}`);
  assert.deepEqual(duplicatedOutside, [], "only deliveries in flight at the kill were delivered twice");
  assert.equal(unexpected.length, 0);
  assert.equal(counts.byStatus.delivered, TOTAL);
  for (const status of Object.keys(statuses)) assert.equal(status, "202", JSON.stringify(statuses));
});
