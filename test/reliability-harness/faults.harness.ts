/**
 * Faults on the receiving side: a real sealpost (in-process, with a clock the test moves)
 * relays about 2,000 messages to a receiving server that misbehaves at random (seeded), per
 * connection (dropped, 421 greeting, stalled, no STARTTLS, TLS 1.0/1.1 only) and per message
 * (4xx/5xx at RCPT or after DATA, connection dropped mid-DATA or after it, reply never sent).
 * Some recipients always get 451 (they must fail once the 72-hour window closes) and some
 * always 550 (bounced at once). The clock is advanced to the next retry wave whenever the
 * worker has nothing left to do, until every delivery is final.
 *
 * Asserts: every delivery ends delivered, failed or bounced, each failure with a reason and
 * each delivery with TLS evidence; nothing ever reached the receiver without TLS (nor over TLS
 * 1.0/1.1); messages are sent with `encryption: tls`, so no portal notice stands in for one; every delivered message was accepted by the receiver; none was accepted twice.
 *
 * SEALPOST_RELIABILITY_FAULT_MESSAGES changes the count.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ManualClock } from "../../src/core/clock.ts";
import { auth, BOOTSTRAP_KEY, startTestApp } from "../helpers/app.ts";
import { startNxdomainDns } from "./lib/dns-stub.ts";
import { type ConnectionFault, type DataFault, startFaultSink } from "./lib/fault-sink.ts";
import { messageIdOf, progress, seconds, summary, waitUntil } from "./lib/report.ts";
import { createRng, harnessSeed, partSeed, seedLine } from "./lib/rng.ts";
import { formatCounts } from "./lib/stores.ts";

const PART = "faults";
const HOUR = 3_600_000;
const MAX_WAVES = 300;

function messagesWanted(): number {
  const raw = process.env.SEALPOST_RELIABILITY_FAULT_MESSAGES;
  if (raw === undefined || raw === "") return 2000;
  if (!/^\d+$/.test(raw)) throw new RangeError("SEALPOST_RELIABILITY_FAULT_MESSAGES must be an integer");
  return Number(raw);
}

function weighted<T extends string>(rng: ReturnType<typeof createRng>, table: readonly [T, number][]): T {
  const total = table.reduce((n, [, w]) => n + w, 0);
  let x = rng.next() * total;
  for (const [value, w] of table) {
    x -= w;
    if (x < 0) return value;
  }
  return table[0]?.[0] as T;
}

const CONNECTION_FAULTS: readonly [ConnectionFault, number][] = [
  ["none", 70],
  ["drop", 6],
  ["greeting421", 6],
  ["stall", 2],
  ["noStarttls", 8],
  ["legacyTls", 8],
];

const DATA_FAULTS: readonly [DataFault, number][] = [
  ["none", 72],
  ["data4xx", 8],
  ["data5xx", 3],
  ["dropMidData", 7],
  ["dropAfterData", 5],
  ["stallAfterData", 3],
];

test("receiving-side faults: ~2,000 messages all end delivered or failed with a reason; nothing without TLS", {
  timeout: 10 * 60_000,
}, async (t) => {
  const started = Date.now();
  const total = messagesWanted();
  progress(PART, seedLine(PART).slice(2));
  const rng = createRng(partSeed(PART));

  const dns = await startNxdomainDns();
  const sink = await startFaultSink({
    connectionFault: () => weighted(rng, CONNECTION_FAULTS),
    rcptFault: (address) => {
      if (address.startsWith("soft-")) return 451;
      if (address.startsWith("hard-")) return 550;
      const x = rng.next();
      return x < 0.06 ? 451 : x < 0.08 ? 550 : null;
    },
    dataFault: () => weighted(rng, DATA_FAULTS),
    stallMs: 5000,
  });
  t.after(async () => {
    await sink.close();
    await dns.close();
  });
  const clock = new ManualClock(Date.now());
  const { app } = await startTestApp(t, {
    clock,
    env: {
      SEALPOST_RELAY: `smtp://127.0.0.1:${sink.port}`,
      SEALPOST_DNS_SERVERS: dns.address,
      SEALPOST_DELIVERY_TIMEOUT_SECONDS: "2",
    },
  });
  const db = app.db.kysely;

  // Submit: most recipients take their chances; soft-* always get 451, hard-* always 550.
  const kinds = { random: 0, soft: 0, hard: 0 };
  const submitStart = Date.now();
  const ids: string[] = [];
  for (let i = 0; i < total; i += 50) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(50, total - i) }, (_, j) => {
        const n = i + j;
        const kind = rng.chance(0.03) ? "soft" : rng.chance(0.02) ? "hard" : "random";
        kinds[kind]++;
        const to = kind === "random" ? `p-${n}@example.org` : `${kind}-${n}@example.org`;
        const payload = {
          from: "Clinic <clinic@example.com>",
          to,
          ...(rng.chance(0.1) ? { cc: `cc-${n}@example.net` } : {}),
          subject: `Fault run ${n}`,
          text: `Message ${n}`,
          // TLS only: this run is about retries and the TLS gate. Under `auto` a server without
          // STARTTLS gets a portal notice instead (no PHI, so it may go in plaintext), which
          // test/pipeline/encryption-policy.test.ts covers.
          encryption: "tls",
        };
        return app.api.inject({ method: "POST", url: "/v1/messages", headers: auth(BOOTSTRAP_KEY), payload });
      }),
    );
    for (const res of batch) {
      assert.equal(res.statusCode, 202, res.body);
      ids.push((res.json() as { id: string }).id);
    }
  }
  progress(PART, `${total} messages accepted in ${seconds(submitStart)}`);

  const busy = async (): Promise<number> => {
    const row = await db
      .selectFrom("deliveries")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where("due_at", "is not", null)
      .where((eb) => eb.or([eb("status", "=", "sending"), eb("due_at", "<=", clock.now())]))
      .executeTakeFirstOrThrow();
    return Number(row.n);
  };
  const pending = async (): Promise<{ n: number; minDue: number | null }> => {
    const row = await db
      .selectFrom("deliveries")
      .select((eb) => [eb.fn.countAll<number>().as("n"), eb.fn.min<number>("due_at").as("min")])
      .where("due_at", "is not", null)
      .executeTakeFirstOrThrow();
    return { n: Number(row.n), minDue: row.min === null ? null : Number(row.min) };
  };

  // Let each wave finish, then move the clock to the next retry wave.
  const t0 = clock.now();
  let waves = 0;
  let stuck = false;
  for (; waves < MAX_WAVES; waves++) {
    if (!(await waitUntil(async () => (await busy()) === 0, 180_000, 50))) {
      stuck = true;
      break;
    }
    const { n, minDue } = await pending();
    if (n === 0 || minDue === null) break;
    const now = clock.now();
    // Retry delays carry +-10% jitter: a quarter past the earliest due time covers its wave.
    clock.set(Math.max(now, minDue + Math.ceil(0.25 * Math.max(0, minDue - now))) + 1000);
    if (waves % 5 === 0)
      progress(
        PART,
        `wave ${waves}: ${n} deliveries waiting; clock +${((clock.now() - t0) / HOUR).toFixed(2)} h`,
      );
  }

  const rows = await db
    .selectFrom("deliveries")
    .select(["id", "message_id", "status", "attempts", "last_reason", "evidence", "recipient_bidx"])
    .execute();
  const byStatus: Record<string, number> = {};
  const reasons: Record<string, number> = {};
  const attempts: Record<string, number> = {};
  const problems: string[] = [];
  const deliveredPerMessage = new Map<string, number>();
  for (const r of rows) {
    byStatus[r.status] = (byStatus[r.status] ?? 0) + 1;
    attempts[String(r.attempts)] = (attempts[String(r.attempts)] ?? 0) + 1;
    if (r.status !== "delivered")
      reasons[`${r.status}:${r.last_reason}`] = (reasons[`${r.status}:${r.last_reason}`] ?? 0) + 1;
    if (!["delivered", "failed", "bounced"].includes(r.status))
      problems.push(`${r.id} not final: ${r.status}`);
    if (r.status !== "delivered" && (r.last_reason === null || r.last_reason === ""))
      problems.push(`${r.id} ${r.status} without a reason`);
    const evidence = JSON.parse(r.evidence ?? "null") as {
      tls_version?: unknown;
      reply_code?: unknown;
    } | null;
    if (r.status === "delivered") {
      deliveredPerMessage.set(r.message_id, (deliveredPerMessage.get(r.message_id) ?? 0) + 1);
      if (
        evidence === null ||
        !/^TLSv1\.[23]$/.test(String(evidence.tls_version)) ||
        evidence.reply_code !== 250
      )
        problems.push(`${r.id} delivered without TLS 1.2+ evidence and a 250`);
    }
  }
  const accepted = new Map<string, number>();
  for (const [key, n] of sink.accepted)
    accepted.set(messageIdOf(key), (accepted.get(messageIdOf(key)) ?? 0) + n);
  let lost = 0;
  let duplicated = 0;
  for (const [id, delivered] of deliveredPerMessage) {
    const got = accepted.get(id) ?? 0;
    if (got < delivered) lost++;
    if (got > delivered) duplicated++;
  }
  const unexpected = [...accepted.keys()].filter((id) => !ids.includes(id)).length;
  const stats = sink.stats();
  const soft = await db
    .selectFrom("deliveries")
    .select(["status", "last_reason", "evidence"])
    .where("message_id", "in", ids.length === 0 ? [""] : ids)
    .where("status", "=", "failed")
    .execute();
  const gaveUp = soft.filter(
    (r) => (JSON.parse(r.evidence ?? "{}") as { gave_up?: boolean }).gave_up === true,
  ).length;

  summary(PART, {
    seed: harnessSeed(),
    messages: total,
    deliveries: rows.length,
    recipients: JSON.stringify(kinds),
    store: formatCounts(byStatus).replaceAll(" ", ","),
    not_final_or_without_reason: problems.length,
    failed_gave_up: gaveUp,
    reasons: JSON.stringify(reasons),
    attempts: JSON.stringify(attempts),
    lost,
    duplicated,
    unexpected,
    plaintext_data: stats.plaintextData,
    legacy_tls_data: stats.legacyData,
    accepted_without_tls: stats.acceptedWithoutTls,
    sink_connections: stats.connections,
    connection_faults: JSON.stringify(stats.connectionFaults),
    data_faults: JSON.stringify(stats.dataFaults),
    rcpt_refusals: JSON.stringify(stats.rcptRefusals),
    tls_versions: JSON.stringify(stats.tlsVersions),
    swallowed: [...sink.swallowed.values()].reduce((a, b) => a + b, 0),
    waves,
    simulated_hours: ((clock.now() - t0) / HOUR).toFixed(1),
    duration: seconds(started),
  });
  for (const p of problems.slice(0, 10)) progress(PART, `PROBLEM ${p}`);

  assert.ok(!stuck, "the worker finished every wave");
  assert.equal(stats.plaintextData, 0, "no DATA/BDAT without TLS");
  assert.equal(stats.legacyData, 0, "no DATA/BDAT over TLS 1.0/1.1");
  assert.equal(stats.acceptedWithoutTls, 0);
  assert.deepEqual(problems, [], "every delivery final, every failure with a reason");
  assert.equal(lost, 0, "every delivered message reached the receiver");
  assert.equal(duplicated, 0, "no message was accepted twice");
  assert.equal(unexpected, 0);
  assert.equal(
    byStatus.failed !== undefined && byStatus.failed > 0,
    true,
    "some deliveries failed (soft-* recipients)",
  );
  assert.ok(gaveUp >= kinds.soft, "every always-4xx recipient failed once the retry window closed");
  assert.ok((byStatus.bounced ?? 0) >= kinds.hard, "every always-5xx recipient bounced");
});
