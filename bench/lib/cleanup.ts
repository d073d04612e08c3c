/**
 * Everything the bench starts is stopped when it ends, however it ends: cleanups registered
 * here run on normal completion, on SIGINT/SIGTERM and on the whole-run deadline, and a
 * detached watchdog shell per child kills it if the bench itself is killed.
 */
import { spawn } from "node:child_process";

type Cleanup = () => Promise<void> | void;

const cleanups = new Map<number, { name: string; fn: Cleanup }>();
let nextId = 1;

/** Registers a cleanup; returns a function that unregisters it (after it ran or when done). */
export function onCleanup(name: string, fn: Cleanup): () => void {
  const id = nextId++;
  cleanups.set(id, { name, fn });
  return () => {
    cleanups.delete(id);
  };
}

/** Runs every registered cleanup, newest first; each is bounded by `timeoutMs`. */
export async function runCleanups(timeoutMs = 20_000): Promise<void> {
  const list = [...cleanups.entries()].reverse();
  cleanups.clear();
  for (const [, { name, fn }] of list) {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        Promise.resolve().then(fn),
        new Promise<void>((resolve) => {
          timer = setTimeout(() => {
            console.error(`bench: cleanup "${name}" timed out`);
            resolve();
          }, timeoutMs);
        }),
      ]);
    } catch (err) {
      console.error(`bench: cleanup "${name}" failed:`, err);
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * A detached shell that runs `onOrphan` (sh code) once this process is gone. Returns a
 * function that stops the watchdog.
 */
export function watchdog(onOrphan: string, args: readonly string[] = []): () => void {
  const script = `while kill -0 "$1" 2>/dev/null; do sleep 1; done; shift; ${onOrphan}`;
  const child = spawn("/bin/sh", ["-c", script, "bench-watchdog", String(process.pid), ...args], {
    detached: true,
    stdio: "ignore",
    env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" },
  });
  child.on("error", () => {});
  child.unref();
  const pid = child.pid;
  return () => {
    if (pid === undefined) return;
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      // already gone
    }
  };
}

/** Kills `pid` with SIGKILL when the bench dies without cleaning up. */
export function killOnOrphan(pid: number): () => void {
  return watchdog('kill -9 "$1" 2>/dev/null', [String(pid)]);
}
