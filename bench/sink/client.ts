/**
 * Starts the receiving server in its own Node process and talks to it over IPC.
 */
import { type ChildProcess, fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { testCertificate } from "../../test/helpers/certs.ts";
import type { SinkReply, SinkRequest, SinkStats } from "./protocol.ts";

const ENTRY = fileURLToPath(new URL("./server.ts", import.meta.url));

export interface Sink {
  readonly port: number;
  readonly pid: number;
  stats(): Promise<SinkStats>;
  reset(): Promise<void>;
  /** Resolves with the stats once `messages` messages arrived, or when `timeoutMs` ran out. */
  waitForMessages(
    messages: number,
    timeoutMs: number,
    onProgress?: (s: SinkStats) => void,
  ): Promise<SinkStats>;
  stop(): Promise<void>;
}

export async function startSink(): Promise<Sink> {
  const { cert, key } = await testCertificate();
  // BENCH_SINK_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/sink") to look inside the sink.
  const extra = (process.env.BENCH_SINK_NODE_ARGS ?? "").split(" ").filter((a) => a !== "");
  const child: ChildProcess = fork(ENTRY, [], {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
    execArgv: [...process.execArgv, ...extra],
  });
  const pid = child.pid ?? 0;
  let seq = 0;
  const pending = new Map<number, (s: SinkStats) => void>();
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("sink did not start in 15 s")), 15_000);
    child.on("message", (reply: SinkReply) => {
      if (reply.type === "ready") {
        clearTimeout(timer);
        resolve(reply.port);
      } else if (reply.type === "error") {
        clearTimeout(timer);
        reject(new Error(`sink: ${reply.message}`));
      } else {
        pending.get(reply.seq)?.(reply.stats);
        pending.delete(reply.seq);
      }
    });
    child.once("exit", (code) => reject(new Error(`sink exited (${code}) before it listened`)));
    child.send({ type: "start", cert, key } satisfies SinkRequest);
  });
  const ask = (type: "stats" | "reset"): Promise<SinkStats> =>
    new Promise<SinkStats>((resolve, reject) => {
      const n = ++seq;
      const timer = setTimeout(() => {
        pending.delete(n);
        reject(new Error("sink did not answer in 10 s"));
      }, 10_000);
      pending.set(n, (s) => {
        clearTimeout(timer);
        resolve(s);
      });
      child.send({ type, seq: n } satisfies SinkRequest);
    });
  return {
    port,
    pid,
    stats: () => ask("stats"),
    reset: async () => {
      await ask("reset");
    },
    async waitForMessages(messages, timeoutMs, onProgress) {
      const deadline = Date.now() + timeoutMs;
      let lastReport = 0;
      for (;;) {
        const s = await ask("stats");
        if (s.messages >= messages || Date.now() >= deadline) return s;
        if (onProgress !== undefined && Date.now() - lastReport >= 5000) {
          lastReport = Date.now();
          onProgress(s);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.send({ type: "stop" } satisfies SinkRequest);
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}
