/**
 * A real `sealpost start` node (all roles, the worker on its own thread, trace logs on
 * stdout) relaying to a test sink, and `sealpost send` as a real process, for the canary
 * leak test of the CLI (test/pipeline/canary.test.ts).
 */
import { execFile } from "node:child_process";
import type { TestContext } from "node:test";
import { fileURLToPath } from "node:url";
import { loadConfig } from "../../src/config/load.ts";
import { silentLogger } from "../../src/logging/logger.ts";
import { createSealpost } from "../../src/main.ts";
import { testNode, verifyDomainsForTest } from "./app.ts";
import { type SealpostProcess, spawnSealpost } from "./process.ts";

const BIN = fileURLToPath(new URL("../../bin/sealpost.js", import.meta.url));

export interface CliRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** `sealpost send …` as a real process; asynchronous, as the node answering it is one too. */
export function cliSend(args: string[]): Promise<CliRun> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [BIN, "send", ...args],
      { env: { PATH: process.env.PATH ?? "" }, encoding: "utf8", timeout: 30_000 },
      (_err, stdout, stderr) => resolve({ status: child.exitCode, stdout, stderr }),
    );
  });
}

/**
 * Starts the node on a fresh data dir and database (dropped after the test), with
 * example.com verified beforehand as an operator would. Returns its API base URL.
 */
export async function startNode(t: TestContext, relayPort: number) {
  const prepared = await testNode({
    SEALPOST_RELAY: `smtp://127.0.0.1:${relayPort}`,
    SEALPOST_WORKER_THREAD: "true",
    SEALPOST_LOG_LEVEL: "trace",
  });
  const { dataDir, database, env } = prepared;
  let node: SealpostProcess | null = null;
  t.after(async () => {
    await node?.kill("SIGKILL");
    await prepared.remove();
  });
  const setup = await createSealpost(loadConfig(env), { logger: silentLogger() });
  await verifyDomainsForTest(setup, ["example.com"]);
  await setup.close();
  const started = spawnSealpost(["start"], env);
  node = started;
  const base = (await started.waitForLine(/listening on (http:\/\/[\d.:]+)/))[1] ?? "";
  return { node: started, base, dataDir, databaseUrl: database.url };
}
