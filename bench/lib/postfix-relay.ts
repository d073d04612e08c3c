/**
 * The anchor: Postfix from Debian as a relay. A private instance (own config, queue and log
 * under one temp dir, `postfix -c DIR`, like test/helpers/postfix.ts) takes mail from
 * smtp-source on 127.0.0.1 and relays all of it to the receiving server with mandatory TLS
 * (`smtp_tls_security_level = encrypt`), its durable queue as shipped (cleanup fsyncs every
 * queue file before the 250), and the throughput settings an operator would set: enough
 * processes, destination concurrency, connection cache, TLS connection reuse and TLS
 * session cache.
 */
import { execFile, spawnSync } from "node:child_process";
import { chmod, chown, mkdir, mkdtemp, readFile, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, waitForListener } from "../../test/helpers/net.ts";
import { onCleanup, watchdog } from "./cleanup.ts";

const POSTFIX_ENV = { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", LANG: "C" };

export interface RelayOptions {
  sinkPort: number;
  /** smtp_destination_concurrency_limit: connections to the receiving server at once. */
  destinationConcurrency: number;
  inFlowDelay: string;
  /** Applied after the settings above (experiments). */
  overrides?: Array<[string, string]>;
}

export interface PostfixRelay {
  port: number;
  /** master(8): the root of the Postfix process tree, for CPU accounting. */
  masterPid: number;
  /** The settings written to main.cf (for the report). */
  settings: Array<[string, string]>;
  log(): Promise<string>;
  stop(): Promise<void>;
}

export function postfixVersion(): string | null {
  const r = spawnSync("postconf", ["-d", "-h", "mail_version"], { env: POSTFIX_ENV, encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim() : null;
}

/** The main.cf settings that matter for the comparison (the rest only isolates the instance). */
export function relaySettings(o: RelayOptions): Array<[string, string]> {
  const base: Array<[string, string]> = [
    ["relayhost", `[127.0.0.1]:${o.sinkPort}`],
    ["smtp_tls_security_level", "encrypt"],
    ["smtp_tls_mandatory_protocols", ">=TLSv1.2"],
    ["smtp_tls_protocols", ">=TLSv1.2"],
    ["smtp_tls_connection_reuse", "yes"],
    ["smtp_connection_cache_on_demand", "yes"],
    ["default_process_limit", "200"],
    ["smtp_destination_concurrency_limit", String(o.destinationConcurrency)],
    ["initial_destination_concurrency", String(Math.min(5, o.destinationConcurrency))],
    ["in_flow_delay", o.inFlowDelay],
  ];
  const overrides = new Map(o.overrides ?? []);
  return [
    ...base.map(([k, v]): [string, string] => [k, overrides.get(k) ?? v]),
    ...[...overrides].filter(([k]) => !base.some(([b]) => b === k)),
  ];
}

function mainCf(base: string, o: RelayOptions): string {
  const settings: Array<[string, string]> = [
    ["compatibility_level", "3.6"],
    ["queue_directory", join(base, "queue")],
    ["data_directory", join(base, "data")],
    ["maillog_file", join(base, "maillog")],
    ["maillog_file_prefixes", base],
    ["myhostname", "postfix.bench"],
    ["mydomain", "postfix.bench"],
    ["myorigin", "postfix.bench"],
    ["inet_interfaces", "127.0.0.1"],
    ["inet_protocols", "ipv4"],
    ["mynetworks", "127.0.0.0/8"],
    ["mydestination", ""],
    ["relay_domains", ""],
    ["alias_maps", ""],
    ["alias_database", ""],
    ["local_recipient_maps", ""],
    ["local_transport", "error:no local delivery in the bench"],
    ["smtpd_relay_restrictions", "permit_mynetworks, reject_unauth_destination"],
    ["smtpd_recipient_restrictions", ""],
    ["smtpd_peername_lookup", "no"],
    ["smtp_host_lookup", "native"],
    ["smtp_dns_support_level", "disabled"],
    ["append_dot_mydomain", "no"],
    ["biff", "no"],
    ["message_size_limit", String(64 * 1024 * 1024)],
    ["smtp_tls_session_cache_database", `btree:${join(base, "data", "smtp_scache")}`],
    ["tls_random_source", "dev:/dev/urandom"],
    ...relaySettings(o),
  ];
  return `${settings.map(([k, v]) => `${k} = ${v}`.trimEnd()).join("\n")}\n`;
}

function masterCf(port: number): string {
  return `${[
    `127.0.0.1:${port} inet n - n - - smtpd`,
    "pickup    unix  n - n 60    1 pickup",
    "cleanup   unix  n - n -     0 cleanup",
    "qmgr      unix  n - n 300   1 qmgr",
    "tlsmgr    unix  - - n 1000? 1 tlsmgr",
    "rewrite   unix  - - n -     - trivial-rewrite",
    "bounce    unix  - - n -     0 bounce",
    "defer     unix  - - n -     0 bounce",
    "trace     unix  - - n -     0 bounce",
    "verify    unix  - - n -     1 verify",
    "flush     unix  n - n 1000? 0 flush",
    "proxymap  unix  - - n -     - proxymap",
    "showq     unix  n - n -     - showq",
    "error     unix  - - n -     - error",
    "retry     unix  - - n -     - error",
    "discard   unix  - - n -     - discard",
    "smtp      unix  - - n -     - smtp",
    "relay     unix  - - n -     - smtp",
    "tlsproxy  unix  - - n -     0 tlsproxy",
    "anvil     unix  - - n -     1 anvil",
    "scache    unix  - - n -     1 scache",
    "postlog   unix-dgram n - n - 1 postlogd",
  ].join("\n")}\n`;
}

function postfix(configDir: string, command: string): Promise<{ ok: boolean; output: string }> {
  return new Promise((resolve) => {
    execFile("postfix", ["-c", configDir, command], { env: POSTFIX_ENV, timeout: 30_000 }, (err, so, se) =>
      resolve({ ok: err === null, output: `${so}${se}`.trim() }),
    );
  });
}

function ids(): { uid: number; gid: number; postdropGid: number } {
  const num = (cmd: string, args: string[], pick: (s: string) => string): number => {
    const r = spawnSync(cmd, args, { encoding: "utf8" });
    const n = Number.parseInt(pick(r.stdout), 10);
    if (r.status !== 0 || !Number.isInteger(n))
      throw new Error("postfix user/group missing: run bash bench/setup.sh");
    return n;
  };
  return {
    uid: num("id", ["-u", "postfix"], (s) => s),
    gid: num("id", ["-g", "postfix"], (s) => s),
    postdropGid: num("getent", ["group", "postdrop"], (s) => s.split(":")[2] ?? ""),
  };
}

/** Written a minute in the past: Postfix re-reads files changed within the last second. */
async function writeConfig(path: string, content: string): Promise<void> {
  await writeFile(path, content);
  const past = new Date(Date.now() - 60_000);
  await utimes(path, past, past);
}

export async function startPostfixRelay(o: RelayOptions): Promise<PostfixRelay> {
  if (process.getuid?.() !== 0) throw new Error("the Postfix anchor needs root (master(8) runs as root)");
  const { uid, gid, postdropGid } = ids();
  // /tmp is on the same file system as sealpost's data dirs (both fsync to the same disk).
  const base = await mkdtemp(join(tmpdir(), "sealpost-bench-postfix-"));
  await chmod(base, 0o755);
  const configDir = join(base, "conf");
  const stopWatchdog = watchdog('postfix -c "$1" abort >/dev/null 2>&1; sleep 1; rm -rf "$2"', [
    configDir,
    base,
  ]);
  const stop = async (): Promise<void> => {
    unregister();
    const stopped = await postfix(configDir, "stop");
    if (!stopped.ok) await postfix(configDir, "abort");
    stopWatchdog();
    await rm(base, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  };
  const unregister = onCleanup(`postfix ${base}`, stop);
  try {
    for (const dir of [configDir, join(base, "queue"), join(base, "data")]) {
      await mkdir(dir);
      await chmod(dir, 0o755);
    }
    await chown(join(base, "data"), uid, gid);
    await chmod(join(base, "data"), 0o700);
    const layout: Array<[string, number, number | undefined]> = [
      ["pid", 0o755, undefined],
      ["maildrop", 0o730, postdropGid],
      ["public", 0o710, postdropGid],
      ..."active bounce corrupt defer deferred flush hold incoming private saved trace"
        .split(" ")
        .map((n): [string, number, number | undefined] => [n, 0o700, 0]),
    ];
    for (const [name, mode, g] of layout) {
      const dir = join(base, "queue", name);
      await mkdir(dir);
      if (g !== undefined) await chown(dir, uid, g);
      await chmod(dir, mode);
    }
    let port = 0;
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      await writeConfig(join(configDir, "main.cf"), mainCf(base, o));
      await writeConfig(join(configDir, "master.cf"), masterCf(port));
      await writeFile(join(base, "queue", "quick-start"), "");
      const started = await postfix(configDir, "start");
      if (started.ok) break;
      await postfix(configDir, "abort");
      if (attempt >= 4) throw new Error(`postfix start failed: ${started.output}`);
    }
    await waitForListener(port, 10_000, "Postfix");
    const masterPid = Number.parseInt(
      (await readFile(join(base, "queue", "pid", "master.pid"), "utf8")).trim(),
      10,
    );
    return {
      port,
      masterPid,
      settings: relaySettings(o),
      log: () => readFile(join(base, "maillog"), "utf8").catch(() => ""),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
