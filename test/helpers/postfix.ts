/**
 * A private, throwaway Postfix for end-to-end tests: the real MTA our delivery engine talks
 * to, on 127.0.0.1 and a free port, with STARTTLS, delivering every accepted message into
 * one Maildir that the test reads back.
 *
 *   if (!requireTool(t, "postfix")) return;
 *   const pf = await startPostfix({ tlsCert: cert, tlsKey: key });
 *   t.after(() => pf.stop());
 *   ... send to someone@example.test via pf.host:pf.port ...
 *   const [raw] = await pf.waitForMessages(1);
 *
 * Each instance has its own config, queue and data directory under one temp dir and runs as
 * `postfix -c DIR`, so several test files can run instances at the same time. Postfix's
 * master(8) must run as root; as root `postfix -c DIR` needs no `alternate_config_directories`
 * entry in /etc/postfix/main.cf (Postfix checks that list only for non-root callers).
 *
 * An instance never outlives the test process: stop() stops it, an `exit` hook stops any
 * left running, and a small watchdog shell aborts it if the process dies without running
 * hooks (SIGKILL, crash).
 */
import { execFile, spawn, spawnSync } from "node:child_process";
import { readFileSync, rmSync, statSync } from "node:fs";
import {
  chmod,
  chown,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  stat,
  utimes,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve as resolvePath } from "node:path";
import { freePort, waitForListener } from "./net.ts";

export interface PostfixOptions {
  /** PEM certificate (chain) that smtpd offers with STARTTLS. */
  tlsCert: string;
  /** PEM private key for `tlsCert`. */
  tlsKey: string;
  /** Recipient domains delivered to the Maildir; others are refused with 554. */
  acceptDomains?: string[];
}

export interface PostfixInstance {
  readonly port: number;
  readonly host: "127.0.0.1";
  /** The Maildir every accepted message lands in. */
  readonly maildir: string;
  /** Raw messages delivered so far (Maildir new/ and cur/), oldest first. */
  messages(): Promise<Buffer[]>;
  /** Resolves once at least `n` messages are delivered; rejects after `timeoutMs` with the mail log. */
  waitForMessages(n: number, timeoutMs?: number): Promise<Buffer[]>;
  /** This instance's mail log (maillog_file). */
  log(): Promise<string>;
  /** Stops Postfix and removes every file of the instance. Safe to call twice. */
  stop(): Promise<void>;
}

const DEFAULT_DOMAINS = ["example.test", "example.com"];
const MESSAGE_SIZE_LIMIT = 64 * 1024 * 1024;
const START_ATTEMPTS = 4;
/** Plain environment for Postfix commands: no MAIL_CONFIG or similar leaking in from the caller. */
const POSTFIX_ENV = { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", LANG: "C" };

interface Running {
  base: string;
  configDir: string;
  watchdogPid: number | undefined;
}

/** Instances not yet stopped, for the exit hook. */
const running = new Set<Running>();
let exitHookInstalled = false;

export async function startPostfix(opts: PostfixOptions): Promise<PostfixInstance> {
  if (process.getuid?.() !== 0) throw new Error("startPostfix: Postfix's master(8) must run as root");
  const domains = opts.acceptDomains ?? DEFAULT_DOMAINS;
  for (const domain of domains) {
    if (!/^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(domain)) {
      throw new Error(`startPostfix: invalid accept domain ${JSON.stringify(domain)}`);
    }
  }
  const { uid, gid, postdropGid } = postfixIds();

  const base = await mkdtemp(join(tempRoot(), "sealpost-postfix-"));
  // The postfix user must reach data/ and the mailbox below; mkdtemp makes 0700.
  await chmod(base, 0o755);
  const configDir = join(base, "conf");
  const mailboxBase = join(base, "mailbox");
  const maildir = join(mailboxBase, "mail");
  const logFile = join(base, "maillog");
  const instance: Running = { base, configDir, watchdogPid: undefined };
  running.add(instance);
  installExitHook();
  instance.watchdogPid = startWatchdog(configDir, base);

  try {
    // Explicit modes: a restrictive umask must not lock the postfix user out.
    for (const dir of [configDir, join(base, "queue"), join(base, "data"), mailboxBase]) {
      await mkdir(dir);
      await chmod(dir, 0o755);
    }
    await chown(join(base, "data"), uid, gid);
    await chmod(join(base, "data"), 0o700);
    await chown(mailboxBase, uid, gid);
    await createQueue(join(base, "queue"), uid, postdropGid);
    // smtpd reads the key as root before it drops privileges.
    await writeFile(join(configDir, "tls-cert.pem"), opts.tlsCert, { mode: 0o644 });
    await writeFile(join(configDir, "tls-key.pem"), opts.tlsKey, { mode: 0o600 });

    let port = 0;
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      await writeConfig(join(configDir, "main.cf"), mainCf({ base, domains, uid, gid, logFile }));
      await writeConfig(join(configDir, "master.cf"), masterCf(port));
      // The queue is laid out already: skip `postfix check`, a few hundred forks (~2 s when
      // several instances start at once).
      await writeFile(join(base, "queue", "quick-start"), "");
      const started = await postfix(configDir, "start");
      if (started.ok) break;
      // Another process may have taken the port between our probe and Postfix's bind.
      await postfix(configDir, "abort");
      const log = await readFile(logFile, "utf8").catch(() => "");
      if (attempt >= START_ATTEMPTS || !/address already in use/i.test(`${started.output}\n${log}`)) {
        throw new Error(`postfix start failed:\n${started.output}\n${tail(log)}`);
      }
    }
    await waitForListener(port, 10_000, "Postfix");

    const messages = () => readMaildir(maildir);
    const readLog = () => readFile(logFile, "utf8").catch(() => "");
    let stopping: Promise<void> | undefined;
    return {
      port,
      host: "127.0.0.1",
      maildir,
      messages,
      log: readLog,
      async waitForMessages(n: number, timeoutMs = 15_000): Promise<Buffer[]> {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
          const found = await messages();
          if (found.length >= n) return found;
          if (Date.now() > deadline) {
            throw new Error(
              `Postfix delivered ${found.length} of ${n} messages in ${timeoutMs} ms; log:\n${tail(await readLog())}`,
            );
          }
          await sleep(50);
        }
      },
      stop() {
        stopping ??= stopInstance(instance);
        return stopping;
      },
    };
  } catch (err) {
    await stopInstance(instance);
    throw err;
  }
}

function mainCf(o: { base: string; domains: string[]; uid: number; gid: number; logFile: string }): string {
  const disabled = "error:delivery outside the accepted test domains is disabled";
  const settings: Array<[string, string | number]> = [
    ["compatibility_level", "3.6"],
    // Everything this instance writes stays under its temp dir (the default data_directory,
    // /var/lib/postfix, holds master.lock and would clash between instances).
    ["queue_directory", join(o.base, "queue")],
    ["data_directory", join(o.base, "data")],
    ["maillog_file", o.logFile],
    ["maillog_file_prefixes", o.base],
    ["myhostname", "postfix.test"],
    ["mydomain", "postfix.test"],
    ["myorigin", "postfix.test"],
    ["inet_interfaces", "127.0.0.1"],
    ["inet_protocols", "ipv4"],
    ["mynetworks", "127.0.0.0/8 [::1]/128"],
    // Nothing is local, nothing is relayed: only the accepted domains, into the Maildir.
    ["mydestination", ""],
    ["relay_domains", ""],
    ["alias_maps", ""],
    ["alias_database", ""],
    ["local_recipient_maps", ""],
    ["smtpd_relay_restrictions", "reject_unauth_destination"],
    ["smtpd_recipient_restrictions", ""],
    ["local_transport", disabled],
    ["default_transport", disabled],
    ["relay_transport", disabled],
    ["virtual_mailbox_domains", o.domains.join(" ")],
    ["virtual_mailbox_base", join(o.base, "mailbox")],
    ["virtual_mailbox_maps", "static:mail/"],
    // virtual(8) refuses uid 0, and the postfix uid may be below the default minimum of 100.
    ["virtual_uid_maps", `static:${o.uid}`],
    ["virtual_gid_maps", `static:${o.gid}`],
    ["virtual_minimum_uid", 1],
    ["message_size_limit", MESSAGE_SIZE_LIMIT],
    ["virtual_mailbox_limit", 0],
    ["mailbox_size_limit", 0],
    // No DNS: loopback clients, no outbound delivery.
    ["smtpd_peername_lookup", "no"],
    ["smtp_host_lookup", "native"],
    ["lmtp_host_lookup", "native"],
    ["smtp_dns_support_level", "disabled"],
    ["append_dot_mydomain", "no"],
    ["biff", "no"],
    // Fast tests: no deliberate slow-downs.
    ["in_flow_delay", "0s"],
    ["smtpd_error_sleep_time", "0s"],
    ["smtpd_tls_security_level", "may"],
    ["smtpd_tls_cert_file", join(o.base, "conf", "tls-cert.pem")],
    ["smtpd_tls_key_file", join(o.base, "conf", "tls-key.pem")],
    ["smtpd_tls_protocols", ">=TLSv1.2"],
    ["smtpd_tls_mandatory_protocols", ">=TLSv1.2"],
    ["smtpd_tls_received_header", "yes"],
    ["smtpd_tls_loglevel", 1],
    ["smtpd_tls_session_cache_database", ""],
    ["tls_random_source", "dev:/dev/urandom"],
  ];
  return `${settings.map(([k, v]) => `${k} = ${v}`.trimEnd()).join("\n")}\n`;
}

/**
 * Writes a Postfix config file dated a minute back: Postfix re-reads a file modified within
 * the last second every 300 ms until it "cools down", which costs ~2 s per command.
 */
async function writeConfig(path: string, content: string): Promise<void> {
  await writeFile(path, content);
  const past = new Date(Date.now() - 60_000);
  await utimes(path, past, past);
}

/** chroot is "n" everywhere: a chroot would need copies of /etc files in the queue dir. */
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
    "virtual   unix  - n n -     - virtual",
    "anvil     unix  - - n -     1 anvil",
    "scache    unix  - - n -     1 scache",
    "postlog   unix-dgram n - n - 1 postlogd",
  ].join("\n")}\n`;
}

async function stopInstance(instance: Running): Promise<void> {
  if (!running.has(instance)) return;
  const masterPid = readMasterPid(instance.base);
  // `postfix stop` waits up to 5 s for master(8) to exit, then kills its process group.
  const stopped = await postfix(instance.configDir, "stop");
  if (!stopped.ok) await postfix(instance.configDir, "abort");
  if (masterPid !== undefined) {
    const deadline = Date.now() + 10_000;
    while (isAlive(masterPid) && Date.now() < deadline) await sleep(50);
    if (isAlive(masterPid)) killGroup(masterPid);
  }
  stopWatchdog(instance);
  await rm(instance.base, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  running.delete(instance);
}

/** Synchronous variant for the process `exit` hook. */
function stopInstanceSync(instance: Running): void {
  const masterPid = readMasterPid(instance.base);
  spawnSync("postfix", ["-c", instance.configDir, "stop"], {
    env: POSTFIX_ENV,
    stdio: "ignore",
    timeout: 15_000,
  });
  if (masterPid !== undefined && isAlive(masterPid)) killGroup(masterPid);
  stopWatchdog(instance);
  rmSync(instance.base, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  running.delete(instance);
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const instance of running) stopInstanceSync(instance);
  });
}

/**
 * A detached shell that aborts the instance and removes its files once this process is gone.
 * Covers deaths that skip `exit` hooks; stop() kills it.
 */
function startWatchdog(configDir: string, base: string): number | undefined {
  const script =
    'while kill -0 "$1" 2>/dev/null; do sleep 1; done; postfix -c "$2" abort >/dev/null 2>&1; sleep 1; rm -rf "$3"';
  const child = spawn(
    "/bin/sh",
    ["-c", script, "sealpost-postfix-watchdog", String(process.pid), configDir, base],
    {
      detached: true,
      stdio: "ignore",
      env: POSTFIX_ENV,
    },
  );
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

function killGroup(pid: number): void {
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
}

function readMasterPid(base: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(join(base, "queue", "pid", "master.pid"), "utf8").trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** False for exited and zombie processes (a zombie still answers kill(pid, 0)). */
function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  }
}

function postfix(configDir: string, command: string): Promise<{ ok: boolean; output: string }> {
  return new Promise((resolve) => {
    execFile(
      "postfix",
      ["-c", configDir, command],
      { env: POSTFIX_ENV, timeout: 30_000 },
      (err, stdout, stderr) => {
        resolve({ ok: err === null, output: `${stdout}${stderr}`.trim() });
      },
    );
  });
}

/**
 * TMPDIR, unless main.cf could not hold it (no quoting of whitespace) or the postfix user
 * could not reach it (a 0700 ancestor such as /root): then /tmp.
 */
function tempRoot(): string {
  const dir = resolvePath(tmpdir());
  if (/\s/.test(dir)) return "/tmp";
  for (let d = dir; ; d = dirname(d)) {
    try {
      if ((statSync(d).mode & 0o001) === 0) return "/tmp";
    } catch {
      return "/tmp";
    }
    if (d === dirname(d)) return dir;
  }
}

/** The queue layout `postfix check` would create (see $queue_directory in postfix-files). */
async function createQueue(queueDir: string, uid: number, postdropGid: number): Promise<void> {
  const layout: Array<[name: string, mode: number, gid: number | undefined]> = [
    ["pid", 0o755, undefined],
    ["maildrop", 0o730, postdropGid],
    ["public", 0o710, postdropGid],
    ..."active bounce corrupt defer deferred flush hold incoming private saved trace"
      .split(" ")
      .map((name): [string, number, number | undefined] => [name, 0o700, 0]),
  ];
  for (const [name, mode, gid] of layout) {
    const dir = join(queueDir, name);
    await mkdir(dir);
    if (gid !== undefined) await chown(dir, uid, gid);
    await chmod(dir, mode);
  }
}

function postfixIds(): { uid: number; gid: number; postdropGid: number } {
  const id = (args: string[], what: string): number => {
    const result = spawnSync("id", args, { encoding: "utf8" });
    const n = Number.parseInt(result.stdout, 10);
    if (result.status !== 0 || !Number.isInteger(n)) {
      throw new Error(`startPostfix: no ${what}; run scripts/install-test-tools.sh`);
    }
    return n;
  };
  const group = spawnSync("getent", ["group", "postdrop"], { encoding: "utf8" });
  const postdropGid = Number.parseInt(group.stdout.split(":")[2] ?? "", 10);
  if (group.status !== 0 || !Number.isInteger(postdropGid)) {
    throw new Error("startPostfix: no 'postdrop' group; run scripts/install-test-tools.sh");
  }
  return {
    uid: id(["-u", "postfix"], "'postfix' user"),
    gid: id(["-g", "postfix"], "'postfix' user"),
    postdropGid,
  };
}

async function readMaildir(maildir: string): Promise<Buffer[]> {
  const entries: Array<{ path: string; name: string; mtimeMs: number }> = [];
  for (const sub of ["new", "cur"]) {
    const dir = join(maildir, sub);
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      continue; // virtual(8) creates the Maildir on first delivery
    }
    for (const name of names) {
      const path = join(dir, name);
      try {
        entries.push({ path, name, mtimeMs: (await stat(path)).mtimeMs });
      } catch {
        // moved between new/ and cur/ while listing
      }
    }
  }
  entries.sort((a, b) => a.mtimeMs - b.mtimeMs || a.name.localeCompare(b.name));
  return Promise.all(entries.map((e) => readFile(e.path)));
}

function tail(text: string, lines = 40): string {
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
