/**
 * Gate for tests that talk to real third-party tools (Postfix, swaks, dkimverify, openssl,
 * gpg, PostgreSQL, the Knot DNS server behind test/helpers/dns-server.ts, python3 for smtplib).
 *
 *   test("delivers through Postfix", async (t) => {
 *     if (!requireTool(t, "postfix")) return;
 *     ...
 *   });
 *
 * A missing tool skips the test with a reason and, when `SEALPOST_SKIP_LOG` names a file,
 * appends a line to it so `npm test` can list every skip at the end. With
 * `SEALPOST_REQUIRE_TOOLS=1` (CI) a missing tool throws instead, so the test fails: CI
 * can never go green by skipping. Install everything with scripts/install-test-tools.sh.
 */
import { spawnSync } from "node:child_process";
import { accessSync, appendFileSync, constants } from "node:fs";
import { delimiter, join, relative } from "node:path";
import type { TestContext } from "node:test";

export type ToolName =
  | "postfix"
  | "swaks"
  | "dkimverify"
  | "openssl"
  | "gpg"
  | "postgres"
  | "dns-server"
  | "python3";

const INSTALL_HINT = "install with scripts/install-test-tools.sh";

/** Reason a tool is unusable, or null when it works; probed once per process. */
const probed = new Map<ToolName, string | null>();

/** The PostgreSQL URL for tests, from `SEALPOST_TEST_DATABASE_URL`. */
export function postgresUrl(): string | undefined {
  const url = process.env.SEALPOST_TEST_DATABASE_URL;
  return url === undefined || url === "" ? undefined : url;
}

/**
 * True when `name` is usable. Otherwise throws when `SEALPOST_REQUIRE_TOOLS=1`, else skips
 * `t` (when given), records the skip in `SEALPOST_SKIP_LOG` and returns false.
 */
export function requireTool(t: TestContext | undefined, name: ToolName): boolean {
  let problem = probed.get(name);
  if (problem === undefined) {
    problem = probe(name);
    probed.set(name, problem);
  }
  if (problem === null) return true;

  const reason = `missing tool: ${name} (${problem})`;
  if (process.env.SEALPOST_REQUIRE_TOOLS === "1") {
    throw new Error(`${reason}; SEALPOST_REQUIRE_TOOLS=1 forbids skipping`);
  }
  t?.skip(reason);
  const logFile = process.env.SEALPOST_SKIP_LOG;
  if (logFile !== undefined && logFile !== "") {
    const file = process.argv[1] === undefined ? "?" : relative(process.cwd(), process.argv[1]);
    const testName = t === undefined ? "(outside a test)" : t.fullName;
    appendFileSync(logFile, `${file} > ${testName}: ${reason}\n`);
  }
  return false;
}

function probe(name: ToolName): string | null {
  switch (name) {
    case "postfix": {
      if (findExecutable("postfix") === null || !runs("postconf", ["-d", "-h", "mail_version"])) {
        return INSTALL_HINT;
      }
      // master(8) refuses to start unless it is root.
      if (process.getuid?.() !== 0) return "a private Postfix instance needs root";
      return null;
    }
    case "swaks": {
      const out = output("swaks", ["--support"]);
      if (out === null) return INSTALL_HINT;
      if (!out.includes("TLS supported")) return `swaks lacks TLS (Net::SSLeay); ${INSTALL_HINT}`;
      return null;
    }
    case "dkimverify":
      return runs("dkimverify", ["--help"]) ? null : INSTALL_HINT;
    case "openssl":
      return runs("openssl", ["version"]) ? null : INSTALL_HINT;
    case "gpg":
      return runs("gpg", ["--version"]) ? null : INSTALL_HINT;
    case "python3":
      return runs("python3", ["--version"]) ? null : INSTALL_HINT;
    case "postgres":
      return probePostgres();
    case "dns-server":
      // Knot DNS: test/helpers/dns-server.ts runs private knotd instances, reloads with knotc.
      return runs("knotd", ["--version"]) && runs("knotc", ["--version"]) ? null : INSTALL_HINT;
  }
}

function probePostgres(): string | null {
  const url = postgresUrl();
  if (url === undefined)
    return "set SEALPOST_TEST_DATABASE_URL, e.g. postgres://postgres@127.0.0.1:5432/postgres";
  let host: string;
  let port: number;
  try {
    const parsed = new URL(url);
    host = parsed.hostname.replace(/^\[(.*)\]$/, "$1");
    port = parsed.port === "" ? 5432 : Number(parsed.port);
  } catch {
    return "SEALPOST_TEST_DATABASE_URL is not a valid URL";
  }
  // A socket-directory URL (no host) is left to the driver to judge.
  if (host === "") return null;
  // requireTool is synchronous, so the TCP probe runs in a short-lived child process.
  const script =
    "const s=require('node:net').connect({host:process.argv[1],port:Number(process.argv[2])});" +
    "s.setTimeout(2000,()=>process.exit(1));s.on('connect',()=>process.exit(0));s.on('error',()=>process.exit(1));";
  const result = spawnSync(process.execPath, ["-e", script, host, String(port)], { timeout: 5000 });
  return result.status === 0 ? null : `PostgreSQL at ${host}:${port} does not answer`;
}

function runs(command: string, args: string[]): boolean {
  return output(command, args) !== null;
}

/** stdout+stderr of a successful run, or null when the command is absent or fails. */
function output(command: string, args: string[]): string | null {
  const path = findExecutable(command);
  if (path === null) return null;
  const result = spawnSync(path, args, {
    encoding: "utf8",
    timeout: 10_000,
    stdio: ["ignore", "pipe", "pipe"],
  });
  if (result.error !== undefined || result.status !== 0) return null;
  return `${result.stdout}${result.stderr}`;
}

/** Looks in PATH and in the sbin directories a non-login root shell may lack. */
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
