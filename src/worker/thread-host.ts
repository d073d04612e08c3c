import { randomFill } from "node:crypto";
import { Worker as Thread } from "node:worker_threads";
import { siblingModule } from "../core/module-url.ts";
import type { Logger } from "../logging/logger.ts";

/**
 * Runs the delivery worker on a thread of its own (SEALPOST_WORKER_THREAD), so a node
 * with the api or smtp role beside the worker role uses the second core and accepting
 * mail never waits behind MIME rendering, signing and TLS on the same event loop.
 * The thread shares nothing with the host: it validates the same settings (the node's
 * environment; a Config holds URL objects, which do not cross threads) and opens its own
 * store connection and keyring. See docs/adr/0005-worker-thread.md.
 */
export type HostMessage = { type: "wake" } | { type: "stop" };
export type ThreadMessage = { type: "stopped" };

export interface WorkerThread {
  /** After a local commit: start on the new work now rather than at the next poll. */
  notify(): void;
  /** Stops claiming, lets in-flight deliveries finish and record, ends the thread. */
  stop(): Promise<void>;
}

export function startWorkerThread(
  env: Readonly<Record<string, string | undefined>>,
  logger: Logger,
  /** The thread died on its own: the node can no longer deliver. */
  onFatal: (err: unknown) => void,
): WorkerThread {
  // libuv's thread pool takes the priority of the thread that first queues work to it.
  // Queue something here first, so the pool serves the API at normal priority rather
  // than at the worker thread's lowered one.
  randomFill(Buffer.alloc(1), () => {});
  const thread = new Thread(siblingModule(import.meta.url, "thread-entry"), {
    workerData: { env: { ...env } },
  });
  let stopping = false;
  let failed = false;
  let wakePending = false;
  const fail = (err: unknown): void => {
    if (stopping || failed) return;
    failed = true;
    onFatal(err);
  };
  let resolveStopped: () => void = () => {};
  const stopped = new Promise<void>((resolve) => {
    resolveStopped = resolve;
  });
  thread.on("message", (msg: ThreadMessage) => {
    if (msg.type === "stopped") resolveStopped();
  });
  thread.on("error", (err) => {
    logger.error({ err }, "delivery worker thread failed");
    resolveStopped();
    fail(err);
  });
  thread.on("exit", (code) => {
    resolveStopped();
    if (!stopping && !failed) logger.error({ code: String(code) }, "delivery worker thread exited");
    fail(new Error("worker thread exited"));
  });
  return {
    notify() {
      // Coalesce: one wake per turn of the event loop is enough for any number of commits.
      if (wakePending || stopping) return;
      wakePending = true;
      queueMicrotask(() => {
        wakePending = false;
        thread.postMessage({ type: "wake" } satisfies HostMessage);
      });
    },
    async stop() {
      if (stopping) return stopped;
      stopping = true;
      thread.postMessage({ type: "stop" } satisfies HostMessage);
      await stopped;
      await thread.terminate();
    },
  };
}
