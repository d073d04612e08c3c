import { setPriority } from "node:os";
import { parentPort, workerData } from "node:worker_threads";
import { createAuditLog } from "../audit/writer.ts";
import { loadConfig } from "../config/load.ts";
import { issuerOf } from "../config/public-url.ts";
import { systemClock } from "../core/clock.ts";
import { Keyring } from "../core/keyring.ts";
import { localKeyWrapper } from "../crypto/key-provider.ts";
import { loadConfiguredMasterKey } from "../crypto/master-key.ts";
import { createDnsResolver, extraCa } from "../delivery/from-config.ts";
import { createLogger } from "../logging/logger.ts";
import { openDb } from "../store/db.ts";
import { createDeliveryWorker } from "./compose.ts";
import type { HostMessage, ThreadMessage } from "./thread-host.ts";

/**
 * The delivery worker's thread (started by thread-host.ts). It opens its own database
 * connection and keyring from the same validated config (its DKIM signer threads are
 * its own, started on first use and inheriting its lower priority), and
 * takes two messages from the host: `wake` after a local commit, `stop` at shutdown.
 * The host has migrated the database before starting it.
 */
const port = parentPort;
if (port === null) throw new Error("thread-entry.ts runs only as a worker thread");
const config = loadConfig((workerData as { env: Record<string, string | undefined> }).env);

const logger = createLogger({ level: config.logLevel }).child({ role: "worker" });
// Delivery is batch work: under CPU contention the OS runs the accepting thread first
// (setpriority on Linux applies to the calling thread only).
try {
  setPriority(config.workerNice);
} catch (err) {
  logger.warn({ err }, "could not lower the worker thread's priority");
}
const master = loadConfiguredMasterKey(config);
const db = openDb(config.database, config.dataDir);
const clock = systemClock;
const keyring = new Keyring({ db, wrapper: localKeyWrapper(master), clock });
// The thread's own audit writer on its own pool: the head lock keeps the chains linear.
const audit = createAuditLog({ db, clock, logger });
const delivery = createDeliveryWorker({
  config,
  db,
  keyring,
  clock,
  logger,
  audit,
  resolver: createDnsResolver(config),
  ca: extraCa(config),
  hostname: config.hostname,
  publicUrl: issuerOf(config),
});
delivery.worker.start();

port.on("message", (msg: HostMessage) => {
  if (msg.type === "wake") delivery.worker.notify();
  else if (msg.type === "stop")
    void (async () => {
      await delivery.close();
      await audit.close();
      await db.close();
      port.postMessage({ type: "stopped" } satisfies ThreadMessage);
      port.close();
    })();
});
