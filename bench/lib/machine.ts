/** What the figures were measured on. */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { cpus, release, tmpdir, totalmem } from "node:os";
import { fileURLToPath } from "node:url";
import { compiledIsCurrent } from "../../bin/source-stamp.js";
import { postfixVersion } from "./postfix-relay.ts";

export interface Machine {
  cores: number;
  cpuModel: string;
  memoryGb: number;
  kernel: string;
  os: string;
  node: string;
  openssl: string;
  postfix: string | null;
  postgres: string | null;
  /** File system of the temp dir (SQLite files and the Postfix queue live there). */
  tempFs: string;
  /** What bin/sealpost.js ran: the compiled dist/ (as installed) or the sources. */
  sealpostCode: string;
}

function osName(): string {
  try {
    return /^PRETTY_NAME="?([^"\n]+)/m.exec(readFileSync("/etc/os-release", "utf8"))?.[1] ?? "unknown";
  } catch {
    return "unknown";
  }
}

function fsOf(dir: string): string {
  const r = spawnSync("df", ["-T", dir], { encoding: "utf8" });
  const line = r.stdout?.trim().split("\n")[1];
  const cols = line?.split(/\s+/) ?? [];
  return cols.length >= 2 ? `${cols[1]} (${cols[0]})` : "unknown";
}

export function describeMachine(postgres: string | null): Machine {
  const list = cpus();
  return {
    cores: list.length,
    cpuModel: list[0]?.model.trim() ?? "unknown",
    memoryGb: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    kernel: release(),
    os: osName(),
    node: process.version,
    openssl: process.versions.openssl ?? "unknown",
    postfix: postfixVersion(),
    postgres,
    tempFs: fsOf(tmpdir()),
    sealpostCode:
      process.env.SEALPOST_FROM_SOURCE !== "1" &&
      compiledIsCurrent(fileURLToPath(new URL("../..", import.meta.url)))
        ? "compiled dist/ (as `npm install` builds it)"
        : "TypeScript sources (types stripped at load; dist/ missing, stale or SEALPOST_FROM_SOURCE=1)",
  };
}
