import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import type { TestContext } from "node:test";
import { fileURLToPath } from "node:url";
import { testNode } from "./app.ts";

/** The real `sealpost` bin, run as an operator would, against a test node's store. */
export const BIN = fileURLToPath(new URL("../../bin/sealpost.js", import.meta.url));

/** The environment of a fresh test node (data dir and database), removed after the test. */
export async function cliEnv(
  t: TestContext,
  extra: Record<string, string> = {},
): Promise<Record<string, string>> {
  const node = await testNode(extra);
  t.after(() => node.remove());
  return node.env;
}

/**
 * Runs the bin and waits. spawnSync stops this process's event loop meanwhile: a test with a
 * node running in-process flushes its audit log first (the CLI's own audit entry needs the
 * chain's head), and the timeout turns any such wait into a failure instead of a hang.
 */
export function runCli(args: readonly string[], env: Record<string, string>) {
  return spawnSync(process.execPath, [BIN, ...args], {
    env: { PATH: process.env.PATH ?? "", ...env },
    encoding: "utf8",
    timeout: 120_000,
  });
}

/** Runs `args --json`, expects exit 0, and returns the parsed output. */
export function runCliJson(args: readonly string[], env: Record<string, string>) {
  const r = runCli([...args, "--json"], env);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}
