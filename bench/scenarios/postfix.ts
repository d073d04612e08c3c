/**
 * The anchor: the same N messages (2 KB body, one recipient each) through Postfix relaying
 * with mandatory TLS to the same receiving server, fed by Postfix's own smtp-source.
 */
import { spawn } from "node:child_process";
import { startCpuMeter } from "../lib/cpu-meter.ts";
import { startPostfixRelay } from "../lib/postfix-relay.ts";
import { loadAverage } from "../lib/proc.ts";
import { ENVELOPE_FROM, TEXT_BYTES } from "../load/message.ts";
import { type BenchContext, cpuPerMessage, type E2eResult, phaseMs, rates } from "./context.ts";

export interface PostfixRun {
  result: E2eResult;
  command: string;
  settings: Array<[string, string]>;
}

function runSource(args: string[], timeoutMs: number): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn("/usr/sbin/smtp-source", args, { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d: Buffer) => {
      output += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      output += d.toString();
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", (err) => {
      clearTimeout(timer);
      resolve({ code: null, output: String(err) });
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

export async function runPostfixAnchor(ctx: BenchContext, messages: number): Promise<PostfixRun> {
  const { config, sink } = ctx;
  const relay = await startPostfixRelay({
    sinkPort: sink.port,
    destinationConcurrency: config.postfixConcurrency,
    inFlowDelay: config.postfixInFlowDelay,
    overrides: config.postfixOverrides,
  });
  const notes: string[] = [];
  try {
    const args = [
      "-d",
      "-s",
      String(config.postfixSessions),
      "-l",
      String(TEXT_BYTES),
      "-m",
      String(messages),
      "-M",
      "client.bench",
      "-f",
      ENVELOPE_FROM,
      "-t",
      "patient@dest.example",
      `127.0.0.1:${relay.port}`,
    ];
    const command = `smtp-source ${args.join(" ")}`;
    await sink.reset();
    const loadAverageBefore = loadAverage();
    const meter = await startCpuMeter({ trees: { postfix: relay.masterPid, "receiving server": sink.pid } });
    const startAt = Date.now();
    const source = await runSource(args, phaseMs(ctx, Math.max(60_000, messages * 30)));
    const lastAcceptAt = Date.now();
    const accepted = source.code === 0 ? messages : 0;
    if (source.code !== 0) notes.push(`smtp-source exited with ${source.code}: ${source.output.slice(-500)}`);
    ctx.log(
      `  smtp-source done in ${((lastAcceptAt - startAt) / 1000).toFixed(1)} s; waiting for deliveries…`,
    );
    const stats = await sink.waitForMessages(messages, phaseMs(ctx, Math.max(60_000, messages * 20)), (s) =>
      ctx.log(`  … ${s.messages}/${messages} delivered`),
    );
    const cpu = await meter.stop();
    if (stats.messages < messages) {
      notes.push(`only ${stats.messages} of ${messages} delivered in time`);
      ctx.log((await relay.log()).split("\n").slice(-20).join("\n"));
    }
    const delivered = stats.messages;
    return {
      command,
      settings: relay.settings,
      result: {
        name: "postfix",
        system: "postfix",
        store: "Postfix queue (files, fsync)",
        entry: "SMTP (smtp-source, plaintext, no AUTH)",
        messages,
        sent: messages,
        accepted: source.code === 0 ? messages : delivered,
        errors: source.code === 0 ? 0 : messages - delivered,
        failures: source.code === 0 ? {} : { "smtp-source": 1 },
        delivered,
        complete: delivered >= messages && accepted === messages,
        ...rates(source.code === 0 ? messages : delivered, delivered, startAt, lastAcceptAt, stats.lastAt),
        firstDeliveryMs: stats.firstAt > 0 ? stats.firstAt - startAt : 0,
        sink: stats,
        cpu,
        cpuMsPerMessage: cpuPerMessage(cpu, ["postfix"], delivered),
        eventLoopDelayMs: null,
        gcSeconds: null,
        peakRssMb: null,
        loadAverageBefore,
        loadAverageAfter: loadAverage(),
        notes,
      },
    };
  } finally {
    await relay.stop();
  }
}
