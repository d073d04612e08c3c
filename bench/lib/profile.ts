/**
 * Summarises a V8 .cpuprofile (node --cpu-prof): self time per function and per area
 * (sealpost source folder, npm package, Node internals, GC), as shares of the busy time.
 */
import { readFileSync } from "node:fs";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileEntry {
  name: string;
  selfMs: number;
  percent: number;
}

export interface ProfileSummary {
  /** Sampled wall time, ms; busy excludes (idle). */
  totalMs: number;
  busyMs: number;
  topFunctions: ProfileEntry[];
  byArea: ProfileEntry[];
}

function shortUrl(url: string): string {
  if (url === "") return "";
  const nm = url.lastIndexOf("/node_modules/");
  if (nm >= 0) return url.slice(nm + "/node_modules/".length);
  const src = url.indexOf("/src/");
  if (src >= 0) return url.slice(src + 1);
  return url.replace(/^file:\/\//, "");
}

/** Module loading and type stripping: start-up work, not per-message work. */
const STARTUP = /^node:internal\/(modules|bootstrap|deps\/amaro)/;

function area(frame: ProfileNode["callFrame"]): string {
  const { url, functionName } = frame;
  if (url === "") return functionName.startsWith("(") ? functionName : "(native/V8 builtins)";
  if (STARTUP.test(url) || url.startsWith("wasm://")) return "start-up (module loading, type stripping)";
  if (url.startsWith("node:")) {
    const m = /^node:(?:internal\/)?([a-z_]+)/.exec(url);
    return `node:${m?.[1] ?? "?"}`;
  }
  const nm = url.lastIndexOf("/node_modules/");
  if (nm >= 0) {
    const rest = url.slice(nm + "/node_modules/".length).split("/");
    return `npm:${rest[0]?.startsWith("@") ? `${rest[0]}/${rest[1]}` : rest[0]}`;
  }
  const src = /\/src\/([^/]+)\//.exec(url);
  if (src !== null) return `src/${src[1]}`;
  return shortUrl(url);
}

function top(map: Map<string, number>, busy: number, n: number): ProfileEntry[] {
  return [...map.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([name, us]) => ({
      name,
      selfMs: Math.round(us / 100) / 10,
      percent: busy > 0 ? Math.round((us / busy) * 1000) / 10 : 0,
    }));
}

export interface ThreadProfiles {
  /** One line per thread: main, or a worker thread (DKIM signing) by its thread id. */
  threads: { thread: string; file: string; busyMs: number; totalMs: number }[];
  main: ProfileSummary | null;
  /** All worker threads together. */
  workers: ProfileSummary | null;
}

/** `node --cpu-prof` writes CPU.<date>.<time>.<pid>.<thread id>.<seq>.cpuprofile per thread. */
export function summariseThreads(files: readonly string[], topN = 25): ThreadProfiles {
  const threads: ThreadProfiles["threads"] = [];
  let main: ProfileSummary | null = null;
  const workerFiles: string[] = [];
  for (const file of files) {
    const tid = /\.(\d+)\.\d+\.cpuprofile$/.exec(file)?.[1] ?? "?";
    const s = summariseProfile([file], topN);
    threads.push({
      thread: tid === "0" ? "main" : `worker thread ${tid}`,
      file,
      busyMs: s.busyMs,
      totalMs: s.totalMs,
    });
    if (tid === "0") main = s;
    else workerFiles.push(file);
  }
  return { threads, main, workers: workerFiles.length === 0 ? null : summariseProfile(workerFiles, topN) };
}

export function summariseProfile(paths: readonly string[], topN = 25): ProfileSummary {
  const fn = new Map<string, number>();
  const areas = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const path of paths) {
    const profile = JSON.parse(readFileSync(path, "utf8")) as CpuProfile;
    const byId = new Map<number, ProfileNode>();
    for (const node of profile.nodes) byId.set(node.id, node);
    for (let i = 0; i < profile.samples.length; i++) {
      const node = byId.get(profile.samples[i] ?? -1);
      const dt = profile.timeDeltas[i] ?? 0;
      if (node === undefined || dt <= 0) continue;
      total += dt;
      const frame = node.callFrame;
      if (frame.functionName === "(idle)") {
        idle += dt;
        continue;
      }
      const where = shortUrl(frame.url);
      const key = `${frame.functionName || "(anonymous)"}${where === "" ? "" : ` ${where}:${frame.lineNumber + 1}`}`;
      fn.set(key, (fn.get(key) ?? 0) + dt);
      const a = area(frame);
      areas.set(a, (areas.get(a) ?? 0) + dt);
    }
  }
  const busy = total - idle;
  return {
    totalMs: Math.round(total / 1000),
    busyMs: Math.round(busy / 1000),
    topFunctions: top(fn, busy, topN),
    byArea: top(areas, busy, 15),
  };
}
