/**
 * Runs `sealpost` as a real child process (for crash and multi-node tests).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const BIN = fileURLToPath(new URL("../../bin/sealpost.js", import.meta.url));

export interface SealpostProcess {
  child: ChildProcess;
  output(): string;
  /** Resolves with the HTTP address once the API listens (roles with api only). */
  waitForLine(re: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export function spawnSealpost(args: string[], env: Record<string, string>): SealpostProcess {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { PATH: process.env.PATH ?? "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return {
    child,
    output: () => out,
    async waitForLine(re, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const m = re.exec(out);
        if (m !== null) return m;
        if (child.exitCode !== null)
          throw new Error(`sealpost exited (${child.exitCode}):\n${out.slice(-2000)}`);
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${re}:\n${out.slice(-2000)}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async kill(signal = "SIGTERM") {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}
