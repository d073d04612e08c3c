/**
 * End to end through sealpost: N messages in over REST (or SMTP submission) → stored
 * encrypted → DKIM-signed → delivered over TLS to the receiving server. Timing starts with
 * the first request; delivered/s ends with the last message at the receiving server.
 */
import { startCpuMeter } from "../lib/cpu-meter.ts";
import { gcSecondsBetween, scrapeMetrics } from "../lib/metrics.ts";
import { loadAverage } from "../lib/proc.ts";
import {
  BENCH_KEY,
  type PreparedInstance,
  prepareInstance,
  type RunningInstance,
  type Store,
  startInstance,
} from "../lib/sealpost.ts";
import { seedPostgres, seedSqlite } from "../lib/seed.ts";
import { type LoadResult, runHttpLoad } from "../load/http.ts";
import { ENVELOPE_FROM, messageText, mimeMessage, recipient, restBody } from "../load/message.ts";
import { runSmtpLoad } from "../load/smtp.ts";
import { type BenchContext, cpuPerMessage, type E2eResult, phaseMs, rates } from "./context.ts";

export interface SealpostE2eOptions {
  name: string;
  store: Store;
  entry: "rest" | "smtp";
  messages: number;
  /** Seed this many deferred deliveries before starting (backlog runs). */
  backlog?: number;
  /** Extra node flags for the sealpost process (e.g. --cpu-prof). */
  nodeArgs?: readonly string[];
  /** Called with the running instance before it is stopped. */
  beforeStop?: (inst: RunningInstance, prepared: PreparedInstance) => Promise<void>;
}

export async function runSealpostE2e(ctx: BenchContext, o: SealpostE2eOptions): Promise<E2eResult> {
  const { config, sink } = ctx;
  const notes: string[] = [];
  const prepared = await prepareInstance({
    store: o.store,
    sinkPort: sink.port,
    postgresUrl: config.postgresUrl,
    passthrough: config.sealpostEnv,
  });
  let inst: RunningInstance | null = null;
  try {
    let seed: { rows: number; seconds: number } | undefined;
    if (o.backlog !== undefined && o.backlog > 0) {
      ctx.log(`  seeding ${o.backlog.toLocaleString("en")} deferred deliveries (${o.store})…`);
      seed =
        prepared.sqlitePath !== null
          ? seedSqlite(prepared.sqlitePath, prepared.orgId, prepared.dataKeyId, o.backlog)
          : await seedPostgres(
              prepared.env.SEALPOST_DATABASE_URL ?? "",
              prepared.orgId,
              prepared.dataKeyId,
              o.backlog,
            );
      ctx.log(`  seeded in ${seed.seconds} s`);
    }
    inst = await startInstance(prepared, o.nodeArgs ?? []);
    await sink.reset();
    const text = messageText();
    const loadAverageBefore = loadAverage();
    const metricsBefore = await scrapeMetrics(inst.baseUrl);
    const meter = await startCpuMeter({
      trees: { sealpost: inst.pid, "receiving server": sink.pid },
      ...(prepared.database === null
        ? {}
        : { postgres: { adminUrl: config.postgresUrl, database: prepared.database.name } }),
    });
    const sendDeadline = Date.now() + phaseMs(ctx, Math.max(60_000, o.messages * 30));
    let load: LoadResult;
    if (o.entry === "rest") {
      load = await runHttpLoad({
        baseUrl: inst.baseUrl,
        token: BENCH_KEY,
        total: o.messages,
        clients: config.httpClients,
        body: (i) => restBody(i, text),
        deadline: sendDeadline,
      });
    } else {
      load = await runSmtpLoad({
        port: inst.smtpPort,
        token: BENCH_KEY,
        total: o.messages,
        clients: config.smtpClients,
        envelopeFrom: ENVELOPE_FROM,
        recipient,
        message: (i) => mimeMessage(i, text),
        deadline: sendDeadline,
      });
    }
    ctx.log(
      `  accepted ${load.accepted}/${o.messages} in ${((load.lastAcceptAt - load.startAt) / 1000).toFixed(1)} s; waiting for deliveries…`,
    );
    const stats = await sink.waitForMessages(
      load.accepted,
      phaseMs(ctx, Math.max(60_000, o.messages * 20)),
      (s) => ctx.log(`  … ${s.messages}/${load.accepted} delivered`),
    );
    const cpu = await meter.stop();
    const loadAverageAfter = loadAverage();
    const metricsAfter = await scrapeMetrics(inst.baseUrl);
    const peakRssMb = Math.round(inst.peakRssKb() / 102.4) / 10;
    if (stats.messages < load.accepted)
      notes.push(`only ${stats.messages} of ${load.accepted} delivered in time`);
    if (load.errors > 0) notes.push(`${load.errors} submissions failed: ${JSON.stringify(load.failures)}`);
    await o.beforeStop?.(inst, prepared);
    return {
      name: o.name,
      system: `sealpost-${o.entry}`,
      store: o.store,
      entry:
        o.entry === "rest"
          ? "REST API (HTTP/1.1 keep-alive)"
          : "SMTP submission (587, STARTTLS + AUTH PLAIN)",
      messages: o.messages,
      sent: load.sent,
      accepted: load.accepted,
      errors: load.errors,
      failures: load.failures,
      delivered: stats.messages,
      complete: stats.messages >= o.messages && load.accepted === o.messages,
      ...rates(load.accepted, stats.messages, load.startAt, load.lastAcceptAt, stats.lastAt),
      firstDeliveryMs: stats.firstAt > 0 ? stats.firstAt - load.startAt : 0,
      sink: stats,
      cpu,
      cpuMsPerMessage: cpuPerMessage(cpu, ["sealpost", "postgres backends"], stats.messages),
      eventLoopDelayMs: metricsAfter?.eventLoopDelayMs ?? null,
      gcSeconds: gcSecondsBetween(metricsBefore, metricsAfter),
      peakRssMb,
      loadAverageBefore,
      loadAverageAfter,
      ...(seed === undefined ? {} : { backlogRows: seed.rows, backlogSeedSeconds: seed.seconds }),
      notes,
    };
  } finally {
    await inst?.stop();
    await prepared.dispose();
  }
}
