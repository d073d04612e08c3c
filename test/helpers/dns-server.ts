/**
 * An authoritative test DNS server on loopback: a private Knot DNS (`knotd`, Debian package
 * `knot`) per call, on 127.0.0.1 (and ::1 when the host has IPv6) and one free port, UDP and
 * TCP.
 *
 *   const dns = await startDnsServer({
 *     "example.test": [{ type: "MX", value: "mx1.example.test", priority: 10 }],
 *     "mx1.example.test": [{ type: "A", value: "127.0.0.1" }],
 *   });
 *   const resolver = createResolver([dns.address], 1000);   // src/delivery/dns.ts
 *   dns.set("other.test", [{ type: "TXT", value: "v=STSv1; id=1" }]);
 *   await dns.close();
 *
 * The server is authoritative for the root zone, so records may sit under any names
 * (example.test, clinic.example, xn--bcher-kva.example, ...) in one zone file. Each instance
 * has its own config, zone file, control socket and state under one temp dir and runs as
 * `knotd -c FILE`; nothing system-wide is used or changed.
 *
 * Semantics are those of a real authoritative server: an unknown name answers NXDOMAIN; a
 * known name without records of the asked type answers NOERROR with no records (NODATA), and
 * so does a name that only has names below it (`clinic.example` when only
 * `sel1._domainkey.clinic.example` is set: an empty non-terminal, RFC 8020); a name with a
 * CNAME answers the CNAME plus the target's records of the asked type (the server follows
 * CNAMEs inside its zone). A CNAME cannot share its name with other records (RFC 1034).
 * Names are case-insensitive, a trailing dot is ignored, Unicode names are stored as
 * punycode, and a leftmost `*` label is a wildcard. A null MX is `{ type: "MX", value: ".",
 * priority: 0 }`. `set(name, [])` keeps the name (NODATA for every type). TXT values longer
 * than 255 bytes are split into several character-strings (resolveTxt returns the chunks; join
 * them). TTLs default to 1 s.
 *
 * `set` and `remove` are synchronous: they rewrite the zone file and wait for
 * `knotc -b zone-reload` (~20 ms), so the next query sees the change.
 *
 * An instance never outlives the test process: close() stops it, an `exit` hook kills any
 * left running, and a small watchdog shell kills it if the process dies without running
 * hooks (SIGKILL, crash).
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { createSocket, type Socket } from "node:dgram";
import { Resolver } from "node:dns/promises";
import { accessSync, constants, readFileSync, rmSync, writeFileSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { connect, createServer, isIPv4, isIPv6 } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join, resolve as resolvePath } from "node:path";
import { domainToASCII } from "node:url";

export type DnsRecordType = "MX" | "A" | "AAAA" | "TXT" | "CNAME";

export interface DnsRecord {
  type: DnsRecordType;
  /** Address (A/AAAA), host name (MX exchange, CNAME target) or text (TXT). */
  value: string;
  /** MX preference; default 10. */
  priority?: number;
  /** Seconds; default 1. */
  ttl?: number;
}

export interface DnsTestServer {
  /** "127.0.0.1:port", ready for `Resolver.setServers`. */
  address: string;
  /** "[::1]:port" (same server and port), or undefined when the host has no IPv6 loopback. */
  address6: string | undefined;
  /** The knotd process id (for diagnostics). */
  readonly pid: number;
  /** Replaces the records of `name` (creating it); visible to the next query. */
  set(name: string, records: DnsRecord[]): void;
  /** Removes `name`, which then answers NXDOMAIN (unless names below it remain). */
  remove(name: string): void;
  /** Stops the server and removes its files. Safe to call twice. */
  close(): Promise<void>;
}

const DEFAULT_TTL = 1;
const DEFAULT_MX_PRIORITY = 10;
const MAX_TXT_CHUNK = 255;
/** A private-use type (RFC 6895) that keeps a name with no records in the zone. */
const PLACEHOLDER_TYPE = "TYPE65534";
const START_ATTEMPTS = 5;
const START_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 2_000;
const INSTALL_HINT = "run scripts/install-test-tools.sh (Debian package knot)";
/** Plain environment for Knot: nothing leaking in from the caller. */
const KNOT_ENV = { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", LANG: "C" };

interface Running {
  base: string;
  child: ChildProcess | undefined;
  exited: Promise<void>;
  watchdogPid: number | undefined;
}

/** Instances not yet stopped, for the exit hook. */
const running = new Set<Running>();
let exitHookInstalled = false;

/** Starts the server; `zone` maps names to their records. */
export async function startDnsServer(zone: Record<string, DnsRecord[]>): Promise<DnsTestServer> {
  const knotd = findExecutable("knotd");
  const knotc = findExecutable("knotc");
  if (knotd === null || knotc === null) {
    throw new Error(`startDnsServer: Knot DNS (knotd, knotc) is not installed; ${INSTALL_HINT}`);
  }
  // Validate every record before starting anything.
  let names = new Map<string, string[]>();
  for (const [name, records] of Object.entries(zone)) {
    const owner = ownerName(name);
    names.set(owner, renderName(owner, records));
  }

  const base = await mkdtemp(join(tempRoot(), "sealpost-knot-"));
  const paths = {
    conf: join(base, "knot.conf"),
    zone: join(base, "root.zone"),
    socket: join(base, "knot.sock"),
    log: join(base, "knot.log"),
  };
  const instance: Running = { base, child: undefined, exited: Promise.resolve(), watchdogPid: undefined };
  running.add(instance);
  installExitHook();
  instance.watchdogPid = startWatchdog(base);

  try {
    await mkdir(join(base, "db"));
    // A random first serial tells our server's answers from any other on the same port.
    let serial = 1 + Math.floor(Math.random() * 0x7fff_0000);
    await writeFile(paths.zone, renderZone(names, serial));
    const ipv6 = await hasIpv6Loopback();

    let port = 0;
    let child: ChildProcess | undefined;
    for (let attempt = 1; ; attempt++) {
      port = await freePort(ipv6);
      await writeFile(paths.conf, knotConf(base, port, ipv6));
      await rm(paths.log, { force: true });
      child = spawn(knotd, ["-c", paths.conf], { stdio: "ignore", env: KNOT_ENV });
      instance.child = child;
      const spawned = child;
      instance.exited = new Promise<void>((resolve) => {
        spawned.once("exit", () => resolve());
        spawned.once("error", () => resolve());
      });
      child.unref();
      const outcome = await waitUntilReady(instance, port, serial, paths.socket);
      if (outcome === "ready") break;
      await killChild(instance);
      const log = await readFile(paths.log, "utf8").catch(() => "");
      if (attempt >= START_ATTEMPTS || outcome !== "port-taken") {
        throw new Error(`startDnsServer: knotd did not start (${outcome}); log:\n${tail(log)}`);
      }
    }
    const pid = child.pid ?? 0;

    let closing: Promise<void> | undefined;
    const reload = (next: Map<string, string[]>): void => {
      if (closing !== undefined) throw new Error("dns test server: already closed");
      serial = (serial % 0xffff_fffe) + 1;
      writeFileSync(paths.zone, renderZone(next, serial));
      const result = spawnSync(knotc, ["-s", paths.socket, "-t", "10", "-b", "zone-reload", "."], {
        encoding: "utf8",
        env: KNOT_ENV,
        timeout: 15_000,
        stdio: ["ignore", "pipe", "pipe"],
      });
      if (result.error !== undefined || result.status !== 0) {
        const log = (() => {
          try {
            return readFileSync(paths.log, "utf8");
          } catch {
            return "";
          }
        })();
        throw new Error(
          `dns test server: knotc zone-reload failed: ${result.error?.message ?? ""}${result.stdout}${result.stderr}\n${tail(log)}`,
        );
      }
      names = next;
    };

    return {
      address: `127.0.0.1:${port}`,
      address6: ipv6 ? `[::1]:${port}` : undefined,
      pid,
      set(name: string, records: DnsRecord[]): void {
        const owner = ownerName(name);
        const next = new Map(names);
        next.set(owner, renderName(owner, records));
        reload(next);
      },
      remove(name: string): void {
        const owner = ownerName(name);
        if (!names.has(owner)) return;
        const next = new Map(names);
        next.delete(owner);
        reload(next);
      },
      close(): Promise<void> {
        closing ??= stopInstance(instance);
        return closing;
      },
    };
  } catch (err) {
    await stopInstance(instance);
    throw err;
  }
}

// ---------------------------------------------------------------------------------------
// Zone file

/** The absolute owner name (lower case, punycode, trailing dot) of `name`; throws when invalid. */
function ownerName(name: string): string {
  return `${hostName(name, { wildcard: true, what: "name" })}.`;
}

/** Lower case, punycode, no trailing dot; throws when not a valid domain name. */
function hostName(name: string, opts: { wildcard: boolean; what: string }): string {
  let host = name.trim().toLowerCase().replace(/\.$/, "");
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching non-ASCII on purpose
  if (/[^\x00-\x7f]/.test(host)) host = domainToASCII(host);
  const labels = host.split(".");
  const valid =
    host !== "" &&
    host.length <= 253 &&
    labels.every(
      (label, i) => /^[a-z0-9_-]{1,63}$/.test(label) || (opts.wildcard && i === 0 && label === "*"),
    );
  if (!valid) throw new Error(`dns test server: invalid ${opts.what} ${JSON.stringify(name)}`);
  return host;
}

/** Zone file lines for `owner`; throws on invalid records. */
function renderName(owner: string, records: DnsRecord[]): string[] {
  const cnames = records.filter((r) => r.type === "CNAME").length;
  if (cnames > 1 || (cnames === 1 && records.length > 1)) {
    throw new Error(`dns test server: ${owner} has a CNAME and other records (RFC 1034 forbids it)`);
  }
  if (records.length === 0) return [`${owner} ${DEFAULT_TTL} IN ${PLACEHOLDER_TYPE} \\# 0`];
  // Duplicates (e.g. the same MX host in two spellings) are one record, as in any zone.
  return [...new Set(records.map((r) => renderRecord(owner, r)))];
}

function renderRecord(owner: string, r: DnsRecord): string {
  const ttl = r.ttl ?? DEFAULT_TTL;
  if (!Number.isInteger(ttl) || ttl < 0 || ttl > 0x7fff_ffff) {
    throw new Error(`dns test server: invalid TTL ${ttl} for ${owner}`);
  }
  const prefix = `${owner} ${ttl} IN ${r.type}`;
  switch (r.type) {
    case "A":
      if (!isIPv4(r.value)) throw new Error(`dns test server: invalid A value ${JSON.stringify(r.value)}`);
      return `${prefix} ${r.value}`;
    case "AAAA":
      if (!isIPv6(r.value)) throw new Error(`dns test server: invalid AAAA value ${JSON.stringify(r.value)}`);
      return `${prefix} ${r.value}`;
    case "MX": {
      const priority = r.priority ?? DEFAULT_MX_PRIORITY;
      if (!Number.isInteger(priority) || priority < 0 || priority > 0xffff) {
        throw new Error(`dns test server: invalid MX priority ${priority} for ${owner}`);
      }
      const exchange =
        r.value.trim() === "." ? "." : `${hostName(r.value, { wildcard: false, what: "MX host" })}.`;
      return `${prefix} ${priority} ${exchange}`;
    }
    case "CNAME":
      return `${prefix} ${hostName(r.value, { wildcard: false, what: "CNAME target" })}.`;
    case "TXT":
      return `${prefix} ${txtStrings(r.value)}`;
    default:
      throw new Error(`dns test server: unsupported record type ${JSON.stringify((r as DnsRecord).type)}`);
  }
}

/**
 * `value` as quoted character-strings of at most 255 bytes each, cut only between UTF-8
 * characters (each chunk decodes on its own). Quotes and backslashes are escaped, bytes
 * outside printable ASCII written as \DDD; `;` and `(` are literal inside quotes.
 */
function txtStrings(value: string): string {
  const chunks: string[] = [];
  let chunk = "";
  let size = 0;
  for (const char of value) {
    const bytes = Buffer.from(char, "utf8");
    if (size + bytes.length > MAX_TXT_CHUNK) {
      chunks.push(chunk);
      chunk = "";
      size = 0;
    }
    size += bytes.length;
    for (const byte of bytes) {
      if (byte === 0x22 || byte === 0x5c) chunk += `\\${String.fromCharCode(byte)}`;
      else if (byte >= 0x20 && byte < 0x7f) chunk += String.fromCharCode(byte);
      else chunk += `\\${String(byte).padStart(3, "0")}`;
    }
  }
  chunks.push(chunk);
  return chunks.map((c) => `"${c}"`).join(" ");
}

function renderZone(names: Map<string, string[]>, serial: number): string {
  const lines = [
    `$TTL ${DEFAULT_TTL}`,
    // Refresh, retry, expire and the negative-caching TTL all 1 s: nothing may be cached long.
    `. ${DEFAULT_TTL} IN SOA ns.sealpost-test.invalid. hostmaster.sealpost-test.invalid. ${serial} 1 1 1 1`,
    `. ${DEFAULT_TTL} IN NS ns.sealpost-test.invalid.`,
  ];
  for (const records of names.values()) lines.push(...records);
  return `${lines.join("\n")}\n`;
}

function knotConf(base: string, port: number, ipv6: boolean): string {
  const listen = [`"127.0.0.1@${port}"`, ...(ipv6 ? [`"::1@${port}"`] : [])].join(", ");
  return `${[
    "server:",
    `  rundir: "${base}"`,
    `  pidfile: "${join(base, "knot.pid")}"`,
    '  identity: ""',
    '  version: ""',
    '  nsid: ""',
    // One thread each: a test server answers a handful of queries.
    "  udp-workers: 1",
    "  tcp-workers: 1",
    "  background-workers: 1",
    `  listen: [ ${listen} ]`,
    "control:",
    `  listen: "${join(base, "knot.sock")}"`,
    "log:",
    `  - target: "${join(base, "knot.log")}"`,
    "    any: info",
    "database:",
    `  storage: "${join(base, "db")}"`,
    "  journal-db-max-size: 16M",
    "  timer-db-max-size: 16M",
    "template:",
    "  - id: default",
    `    storage: "${base}"`,
    // The zone file is the only source: no journal, never written back, reloaded whole.
    "    journal-content: none",
    "    zonefile-sync: -1",
    "    zonefile-load: whole",
    "zone:",
    '  - domain: "."',
    `    file: "${join(base, "root.zone")}"`,
  ].join("\n")}\n`;
}

// ---------------------------------------------------------------------------------------
// Process handling

type StartOutcome = "ready" | "port-taken" | "exited" | "timeout";

/** Waits until the server answers our SOA on `port` and its control socket accepts. */
async function waitUntilReady(
  instance: Running,
  port: number,
  serial: number,
  socket: string,
): Promise<StartOutcome> {
  const child = instance.child;
  if (child === undefined) return "exited";
  const resolver = new Resolver({ timeout: 250, tries: 1 });
  resolver.setServers([`127.0.0.1:${port}`]);
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) {
      const log = await readFile(join(instance.base, "knot.log"), "utf8").catch(() => "");
      return /address already in use/i.test(log) ? "port-taken" : "exited";
    }
    const soa = await resolver.resolveSoa(".").catch(() => undefined);
    if (soa !== undefined) {
      // Some other server answers on this port (it shares the UDP port via SO_REUSEPORT).
      if (soa.serial !== serial) return "port-taken";
      if (await canConnect(socket)) return "ready";
    }
    await sleep(5);
  }
  return "timeout";
}

function canConnect(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(path);
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

async function killChild(instance: Running): Promise<void> {
  const child = instance.child;
  if (child === undefined) return;
  if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
    // Keep the event loop alive until the exit is seen (and the child reaped).
    child.ref();
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
    await instance.exited;
    clearTimeout(timer);
  }
  instance.child = undefined;
}

async function stopInstance(instance: Running): Promise<void> {
  if (!running.has(instance)) return;
  await killChild(instance);
  stopWatchdog(instance);
  await rm(instance.base, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  running.delete(instance);
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const instance of running) {
      const pid = instance.child?.pid;
      if (pid !== undefined && instance.child?.exitCode === null) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // already gone
        }
      }
      stopWatchdog(instance);
      rmSync(instance.base, { recursive: true, force: true });
    }
    running.clear();
  });
}

/**
 * A detached shell that kills the instance's knotd and removes its files once this process
 * is gone. Covers deaths that skip `exit` hooks; close() kills it. It only kills the pid in
 * knot.pid when that process still runs this instance's config (pids are reused).
 */
function startWatchdog(base: string): number | undefined {
  const script = [
    'while kill -0 "$1" 2>/dev/null; do sleep 1; done',
    'p="$(cat "$2/knot.pid" 2>/dev/null)"',
    'if [ -n "$p" ] && grep -qaF -- "$2/knot.conf" "/proc/$p/cmdline" 2>/dev/null; then kill -9 "$p"; fi',
    'rm -rf "$2"',
  ].join("; ");
  const child = spawn("/bin/sh", ["-c", script, "sealpost-knot-watchdog", String(process.pid), base], {
    detached: true,
    stdio: "ignore",
    env: KNOT_ENV,
  });
  child.on("error", () => {});
  child.unref();
  return child.pid;
}

function stopWatchdog(instance: Running): void {
  const pid = instance.watchdogPid;
  instance.watchdogPid = undefined;
  if (pid === undefined) return;
  try {
    // Detached, so it leads its own process group: this also ends its `sleep`.
    process.kill(-pid, "SIGKILL");
  } catch {
    // already gone
  }
}

// ---------------------------------------------------------------------------------------
// Helpers

/**
 * TMPDIR, unless knot.conf could not hold it unquoted-safe or the control socket path would
 * exceed the 108-byte limit of a UNIX socket address: then /tmp.
 */
function tempRoot(): string {
  const dir = resolvePath(tmpdir());
  if (!/^[A-Za-z0-9._/-]+$/.test(dir) || dir.length > 60) return "/tmp";
  return dir;
}

let ipv6Loopback: Promise<boolean> | undefined;

/** True when ::1 can be bound (IPv6 may be disabled in containers). */
function hasIpv6Loopback(): Promise<boolean> {
  ipv6Loopback ??= new Promise((resolve) => {
    const socket = createSocket("udp6");
    socket.once("error", () => {
      closeQuietly(socket);
      resolve(false);
    });
    socket.bind(0, "::1", () => {
      socket.close();
      resolve(true);
    });
  });
  return ipv6Loopback;
}

/** A port free for TCP and UDP on 127.0.0.1 (and ::1). knotd may still lose a race for it. */
async function freePort(ipv6: boolean): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = createServer();
      server.unref();
      server.on("error", reject);
      server.listen(0, "127.0.0.1", () => {
        const address = server.address();
        const p = typeof address === "object" && address !== null ? address.port : 0;
        server.close(() => resolve(p));
      });
    });
    const hosts = ipv6 ? ["127.0.0.1", "::1"] : ["127.0.0.1"];
    const free = await Promise.all([
      ...hosts.map((host) => canBindUdp(host, port)),
      ...(ipv6 ? [canBindTcp("::1", port)] : []),
    ]);
    if (port > 0 && free.every(Boolean)) return port;
  }
  throw new Error("dns test server: no free port");
}

function canBindUdp(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createSocket(isIPv6(host) ? "udp6" : "udp4");
    socket.once("error", () => {
      closeQuietly(socket);
      resolve(false);
    });
    socket.bind(port, host, () => socket.close(() => resolve(true)));
  });
}

function canBindTcp(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once("error", () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

function closeQuietly(socket: Socket): void {
  try {
    socket.close();
  } catch {
    // never bound
  }
}

/** Looks in PATH and in the sbin directories a non-login shell may lack. */
function findExecutable(command: string): string | null {
  const dirs = [...(process.env.PATH ?? "").split(delimiter), "/usr/local/sbin", "/usr/sbin", "/sbin"];
  for (const dir of dirs) {
    if (dir === "") continue;
    const candidate = join(dir, command);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

function tail(text: string, lines = 30): string {
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
