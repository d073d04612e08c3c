/** What the chosen scenarios need on this machine; each problem is a line for the user. */
import { accessSync, constants } from "node:fs";
import type { BenchConfig } from "./config.ts";
import { postfixVersion } from "./postfix-relay.ts";

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export function preflight(config: BenchConfig): string[] {
  const problems: string[] = [];
  if (process.platform !== "linux") problems.push("the bench reads /proc: Linux only");
  if (Number(process.versions.node.split(".")[0]) < 24) problems.push("Node.js 24 or newer is needed");
  if (config.scenarios.includes("postfix")) {
    if (postfixVersion() === null) problems.push("Postfix is not installed");
    if (!executable("/usr/sbin/smtp-source")) problems.push("smtp-source (package postfix) is missing");
    if (process.getuid?.() !== 0) problems.push("the Postfix anchor needs root (master(8) runs as root)");
  }
  return problems;
}
