import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { Resolver } from "node:dns/promises";
import { existsSync, readFileSync } from "node:fs";
import { dirname } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { type DnsRecord, type DnsTestServer, startDnsServer } from "../helpers/dns-server.ts";
import { requireTool } from "../helpers/tools.ts";

const haveKnot = requireTool(undefined, "dns-server");
const skip = haveKnot ? false : "missing tool: dns-server (install with scripts/install-test-tools.sh)";

function resolverFor(address: string): Resolver {
  const resolver = new Resolver({ timeout: 1000, tries: 2 });
  resolver.setServers([address]);
  return resolver;
}

async function code(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
    return undefined;
  } catch (err) {
    return (err as { code?: string }).code;
  }
}

/** The base64 SubjectPublicKeyInfo of a fresh RSA-2048 key, as in a DKIM record (~392 chars). */
function dkimPublicKey(): string {
  const { publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  return publicKey.export({ type: "spki", format: "der" }).toString("base64");
}

/** The directory holding this instance's config, from knotd's command line. */
function instanceDir(pid: number): string {
  const args = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
  const conf = args[args.indexOf("-c") + 1];
  if (conf === undefined || !conf.endsWith("/knot.conf")) assert.fail(`not a test knotd: ${args.join(" ")}`);
  return dirname(conf);
}

/** Processes whose command line mentions `text` (pgrep -f, as a fixed string). */
function processesMentioning(text: string): string[] {
  const escaped = text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const result = spawnSync("pgrep", ["-a", "-f", escaped], { encoding: "utf8" });
  return result.stdout
    .split("\n")
    .filter((line) => line !== "" && !line.includes("pgrep"))
    .filter((line) => Number(line.split(" ")[0]) !== process.pid);
}

function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

async function waitFor(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return check();
}

describe("test DNS server (Knot DNS on loopback)", { skip }, () => {
  const dkimKey = haveKnot ? dkimPublicKey() : "";
  const dkimValue = `v=DKIM1; k=rsa; p=${dkimKey}`;
  const tricky = 'say "hi"; path C:\\dir; (parens) $ORIGIN @ end;';
  const zone: Record<string, DnsRecord[]> = {
    "example.test": [
      { type: "MX", value: "mx2.example.test", priority: 20 },
      { type: "MX", value: "mx1.example.test", priority: 10 },
      { type: "TXT", value: "v=spf1 -all" },
    ],
    "mx1.example.test": [{ type: "A", value: "127.0.0.1" }],
    "mx2.example.test": [
      { type: "A", value: "127.0.0.2" },
      { type: "AAAA", value: "::1" },
    ],
    "_mta-sts.example.test": [{ type: "TXT", value: "v=STSv1; id=20240101T000000" }],
    "mta-sts.example.test": [{ type: "CNAME", value: "mx1.example.test" }],
    "sel1._domainkey.clinic.example": [{ type: "TXT", value: dkimValue }],
    "tricky.clinic.example": [{ type: "TXT", value: tricky }],
    "huge.clinic.example": [{ type: "TXT", value: "x".repeat(3000) }],
    "nullmx.test": [{ type: "MX", value: ".", priority: 0 }],
    "bücher.example": [{ type: "MX", value: "mx1.example.test", priority: 5 }],
    "Upper.Case.Test.": [{ type: "A", value: "127.0.0.9", ttl: 30 }],
    "empty.test": [],
    "*.wild.test": [{ type: "A", value: "127.0.0.7" }],
  };
  let dns: DnsTestServer;
  let resolver: Resolver;
  before(async () => {
    dns = await startDnsServer(zone);
    resolver = resolverFor(dns.address);
  });
  after(() => dns.close());

  test("address is 127.0.0.1:port and address6 the same port on ::1", () => {
    assert.match(dns.address, /^127\.0\.0\.1:\d+$/);
    const port = dns.address.split(":")[1];
    if (dns.address6 !== undefined) assert.equal(dns.address6, `[::1]:${port}`);
  });

  test("MX records with their priorities", async () => {
    const mx = await resolver.resolveMx("example.test");
    assert.deepEqual(
      mx.map((r) => [r.priority, r.exchange]).sort((a, b) => Number(a[0]) - Number(b[0])),
      [
        [10, "mx1.example.test"],
        [20, "mx2.example.test"],
      ],
    );
  });

  test("A and AAAA records, with the TTL given or 1 s by default", async () => {
    assert.deepEqual(await resolver.resolve4("mx1.example.test", { ttl: true }), [
      { address: "127.0.0.1", ttl: 1 },
    ]);
    assert.deepEqual(await resolver.resolve4("mx2.example.test"), ["127.0.0.2"]);
    assert.deepEqual(await resolver.resolve6("mx2.example.test"), ["::1"]);
    assert.deepEqual(await resolver.resolve4("upper.case.test", { ttl: true }), [
      { address: "127.0.0.9", ttl: 30 },
    ]);
  });

  test("names are case-insensitive, Unicode names are served as punycode", async () => {
    assert.deepEqual(await resolver.resolve4("UPPER.case.TEST"), ["127.0.0.9"]);
    const mx = await resolver.resolveMx("xn--bcher-kva.example");
    assert.deepEqual(
      mx.map((r) => [r.priority, r.exchange]),
      [[5, "mx1.example.test"]],
    );
  });

  test("TXT records: SPF, MTA-STS, DKIM", async () => {
    assert.deepEqual(await resolver.resolveTxt("example.test"), [["v=spf1 -all"]]);
    assert.deepEqual(await resolver.resolveTxt("_mta-sts.example.test"), [["v=STSv1; id=20240101T000000"]]);
    const dkim = await resolver.resolveTxt("sel1._domainkey.clinic.example");
    assert.equal(dkim.length, 1);
    const chunks = dkim[0] ?? [];
    assert.ok(dkimValue.length > 255, "an RSA-2048 DKIM record needs several strings");
    assert.ok(chunks.length >= 2, `split into character-strings: ${chunks.length}`);
    for (const chunk of chunks) assert.ok(chunk.length <= 255);
    assert.equal(chunks.join(""), dkimValue);
  });

  test("TXT quotes, backslashes, semicolons and parentheses survive", async () => {
    assert.deepEqual(await resolver.resolveTxt("tricky.clinic.example"), [[tricky]]);
  });

  test("a TXT answer too big for UDP comes over TCP, whole", async () => {
    const huge = await resolver.resolveTxt("huge.clinic.example");
    assert.equal(huge[0]?.join(""), "x".repeat(3000));
    assert.equal(huge[0]?.length, Math.ceil(3000 / 255));
  });

  test("CNAME: the alias and its target's addresses", async () => {
    assert.deepEqual(await resolver.resolveCname("mta-sts.example.test"), ["mx1.example.test"]);
    assert.deepEqual(await resolver.resolve4("mta-sts.example.test"), ["127.0.0.1"]);
  });

  test("null MX is a single MX 0 with an empty exchange", async () => {
    const mx = await resolver.resolveMx("nullmx.test");
    assert.deepEqual(
      mx.map((r) => [r.priority, r.exchange]),
      [[0, ""]],
    );
  });

  test("NXDOMAIN for unknown names, NODATA for known names without the type", async () => {
    assert.equal(await code(resolver.resolve4("missing.test")), "ENOTFOUND");
    assert.equal(await code(resolver.resolveMx("missing.example.test")), "ENOTFOUND");
    assert.equal(await code(resolver.resolveTxt("mx1.example.test")), "ENODATA");
    assert.equal(await code(resolver.resolve6("mx1.example.test")), "ENODATA");
    assert.equal(await code(resolver.resolve4("example.test")), "ENODATA");
    // Empty non-terminals exist (RFC 8020): NODATA, not NXDOMAIN.
    assert.equal(await code(resolver.resolveTxt("_domainkey.clinic.example")), "ENODATA");
    assert.equal(await code(resolver.resolveMx("clinic.example")), "ENODATA");
    // A name set with no records is kept.
    assert.equal(await code(resolver.resolve4("empty.test")), "ENODATA");
    assert.equal(await code(resolver.resolveMx("empty.test")), "ENODATA");
    assert.equal(await code(resolver.resolveTxt("empty.test")), "ENODATA");
  });

  test("a leftmost * label is a wildcard", async () => {
    assert.deepEqual(await resolver.resolve4("anything.wild.test"), ["127.0.0.7"]);
  });

  test("the same data on ::1", async (t) => {
    if (dns.address6 === undefined) {
      t.skip("no IPv6 loopback");
      return;
    }
    const v6 = resolverFor(dns.address6);
    assert.deepEqual(await v6.resolve4("mx1.example.test"), ["127.0.0.1"]);
    assert.equal((await v6.resolveTxt("sel1._domainkey.clinic.example"))[0]?.join(""), dkimValue);
  });

  test("set and remove are visible to the very next query", async () => {
    assert.equal(await code(resolver.resolve4("late.test")), "ENOTFOUND");
    dns.set("late.test", [{ type: "A", value: "127.0.0.3" }]);
    assert.deepEqual(await resolver.resolve4("late.test"), ["127.0.0.3"]);
    dns.set("late.test", [
      { type: "A", value: "127.0.0.4" },
      { type: "TXT", value: "v=STSv1; id=2" },
    ]);
    assert.deepEqual(await resolver.resolve4("late.test"), ["127.0.0.4"]);
    assert.deepEqual(await resolver.resolveTxt("late.test"), [["v=STSv1; id=2"]]);
    dns.set("late.test", []);
    assert.equal(await code(resolver.resolve4("late.test")), "ENODATA");
    dns.remove("late.test");
    assert.equal(await code(resolver.resolve4("late.test")), "ENOTFOUND");
    dns.remove("never-there.test");

    // Rotating a record on a name already queried: no stale answer.
    dns.set("_mta-sts.example.test", [{ type: "TXT", value: "v=STSv1; id=20240202T000000" }]);
    assert.deepEqual(await resolver.resolveTxt("_mta-sts.example.test"), [["v=STSv1; id=20240202T000000"]]);
    dns.set("_mta-sts.example.test", [{ type: "TXT", value: "v=STSv1; id=20240101T000000" }]);
  });

  test("invalid input is refused and leaves the served data alone", async () => {
    assert.throws(() => dns.set("bad name.test", [{ type: "A", value: "127.0.0.1" }]), /invalid name/);
    assert.throws(() => dns.set("x.test", [{ type: "A", value: "::1" }]), /invalid A value/);
    assert.throws(() => dns.set("x.test", [{ type: "AAAA", value: "127.0.0.1" }]), /invalid AAAA value/);
    assert.throws(
      () =>
        dns.set("mx1.example.test", [
          { type: "CNAME", value: "mx2.example.test" },
          { type: "A", value: "127.0.0.5" },
        ]),
      /CNAME and other records/,
    );
    assert.throws(() => dns.set("x.test", [{ type: "MX", value: "mx.test", priority: -1 }]), /priority/);
    assert.deepEqual(await resolver.resolve4("mx1.example.test"), ["127.0.0.1"]);
    assert.equal(await code(resolver.resolve4("x.test")), "ENOTFOUND");
    await assert.rejects(startDnsServer({ "a..test": [] }), /invalid name/);
  });
});

describe("test DNS server instances", { skip }, () => {
  test("two servers at once answer independently", async () => {
    const [one, two] = await Promise.all([
      startDnsServer({ "host.test": [{ type: "A", value: "127.0.0.1" }] }),
      startDnsServer({ "host.test": [{ type: "A", value: "127.0.0.2" }] }),
    ]);
    try {
      assert.notEqual(one.address, two.address);
      assert.deepEqual(await resolverFor(one.address).resolve4("host.test"), ["127.0.0.1"]);
      assert.deepEqual(await resolverFor(two.address).resolve4("host.test"), ["127.0.0.2"]);
      one.set("host.test", [{ type: "A", value: "127.0.0.3" }]);
      assert.deepEqual(await resolverFor(one.address).resolve4("host.test"), ["127.0.0.3"]);
      assert.deepEqual(await resolverFor(two.address).resolve4("host.test"), ["127.0.0.2"]);
    } finally {
      await Promise.all([one.close(), two.close()]);
    }
  });

  test("close() stops knotd and its watchdog and removes the files", async () => {
    const dns = await startDnsServer({ "host.test": [{ type: "A", value: "127.0.0.1" }] });
    const dir = instanceDir(dns.pid);
    const before = processesMentioning(dir);
    assert.equal(before.length, 2, `knotd and the watchdog:\n${before.join("\n")}`);
    await dns.close();
    await dns.close();
    assert.equal(isRunning(dns.pid), false);
    assert.deepEqual(processesMentioning(dir), []);
    assert.equal(existsSync(dir), false);
    assert.equal(await code(resolverFor(dns.address).resolve4("host.test")), "ECONNREFUSED");
    assert.throws(() => dns.set("host.test", []), /closed/);
  });

  test("a test process killed with SIGKILL leaves no knotd behind", async () => {
    const helper = new URL("../helpers/dns-server.ts", import.meta.url).href;
    const script = [
      `const { startDnsServer } = await import(${JSON.stringify(helper)});`,
      'const dns = await startDnsServer({ "host.test": [{ type: "A", value: "127.0.0.1" }] });',
      "console.log(dns.pid);",
      "setInterval(() => {}, 1000);",
    ].join("\n");
    const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
      stdio: ["ignore", "pipe", "inherit"],
      cwd: fileURLToPath(new URL("../..", import.meta.url)),
    });
    const pid = await new Promise<number>((resolve, reject) => {
      let out = "";
      child.stdout.on("data", (data: Buffer) => {
        out += data.toString();
        if (out.includes("\n")) resolve(Number(out.trim()));
      });
      child.once("exit", (code) => reject(new Error(`helper process exited early (${code})`)));
    });
    const dir = instanceDir(pid);
    assert.equal(isRunning(pid), true);
    child.kill("SIGKILL");
    assert.ok(await waitFor(() => !isRunning(pid), 5000), "the watchdog kills knotd");
    assert.ok(await waitFor(() => !existsSync(dir), 5000), "the watchdog removes the files");
    assert.ok(await waitFor(() => processesMentioning(dir).length === 0, 5000));
  });

  test("an exit without close() stops knotd through the exit hook", async () => {
    const helper = new URL("../helpers/dns-server.ts", import.meta.url).href;
    const script = [
      `const { startDnsServer } = await import(${JSON.stringify(helper)});`,
      'const dns = await startDnsServer({ "host.test": [{ type: "A", value: "127.0.0.1" }] });',
      "console.log(dns.pid);",
    ].join("\n");
    const result = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
      encoding: "utf8",
      timeout: 15_000,
    });
    assert.equal(result.status, 0, result.stderr);
    const pid = Number(result.stdout.trim());
    assert.ok(pid > 0);
    assert.ok(await waitFor(() => !isRunning(pid), 2000), "knotd is gone once the process has exited");
  });
});
