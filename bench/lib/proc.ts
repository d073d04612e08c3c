/**
 * Readers for /proc: CPU time of a process (and of the children it reaped), resident memory,
 * and whole-machine CPU, so every figure can say where the two cores went.
 */
import { readdirSync, readFileSync } from "node:fs";
import { cpus } from "node:os";

/** Linux reports /proc times in clock ticks; USER_HZ is 100 on every mainstream build. */
const TICKS_PER_SECOND = 100;

export interface ProcTimes {
  ppid: number;
  /** utime + stime of the process itself, in seconds. */
  self: number;
  /** cutime + cstime: children it waited for, in seconds. */
  children: number;
}

export function procTimes(pid: number): ProcTimes | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return null;
  }
  // Fields after the command name, which may itself contain spaces and parentheses.
  const rest = text.slice(text.lastIndexOf(")") + 2).split(" ");
  const field = (n: number): number => Number(rest[n - 3] ?? 0);
  return {
    ppid: field(4),
    self: (field(14) + field(15)) / TICKS_PER_SECOND,
    children: (field(16) + field(17)) / TICKS_PER_SECOND,
  };
}

/** Direct children of `pid` (scans /proc). */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const t = procTimes(Number(name));
    if (t !== null && t.ppid === pid) out.push(Number(name));
  }
  return out;
}

/**
 * CPU of a process tree as a snapshot: the root's own and reaped-children time plus each live
 * child's total. The difference of two snapshots counts every child that ran in between
 * (one that exited is in the root's reaped time once the root waited for it).
 */
export interface TreeSnapshot {
  root: number;
  live: Map<number, number>;
}

export function treeSnapshot(rootPid: number): TreeSnapshot | null {
  const root = procTimes(rootPid);
  if (root === null) return null;
  const live = new Map<number, number>();
  for (const pid of childPids(rootPid)) {
    const t = procTimes(pid);
    if (t !== null) live.set(pid, t.self + t.children);
  }
  return { root: root.self + root.children, live };
}

/** CPU seconds used by the tree between two snapshots. */
export function treeDelta(before: TreeSnapshot | null, after: TreeSnapshot | null): number {
  if (before === null || after === null) return 0;
  let sum = after.root - before.root;
  for (const v of after.live.values()) sum += v;
  for (const v of before.live.values()) sum -= v;
  return Math.max(0, sum);
}

/** CPU seconds of one process (no children), or null when it is gone. */
export function cpuSeconds(pid: number): number | null {
  const t = procTimes(pid);
  return t === null ? null : t.self;
}

export interface MemoryStatus {
  rssKb: number;
  hwmKb: number;
}

export function memoryStatus(pid: number): MemoryStatus | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, "utf8");
  } catch {
    return null;
  }
  const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? 0);
  return { rssKb: kb("VmRSS"), hwmKb: kb("VmHWM") };
}

/** Busy and total CPU seconds of the whole machine (all cores), from /proc/stat. */
export interface SystemCpu {
  busy: number;
  total: number;
}

export function systemCpu(): SystemCpu {
  const line = readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "";
  const v = line.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = v.reduce((a, b) => a + b, 0);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  return { busy: (total - idle) / TICKS_PER_SECOND, total: total / TICKS_PER_SECOND };
}

export function cpuCount(): number {
  return cpus().length;
}

/** The 1-minute load average (other users of a shared machine show up here). */
export function loadAverage(): number {
  const text = readFileSync("/proc/loadavg", "utf8");
  return Number(text.split(" ")[0] ?? 0);
}
