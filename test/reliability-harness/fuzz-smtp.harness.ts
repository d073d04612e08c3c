/**
 * SMTP fuzz: at least 1,000 generated sessions (fast-check, seeded) against sealpost's SMTP
 * submission (587 with STARTTLS, 465 with implicit TLS) and its bounce receiver, over raw
 * net/tls sockets: damaged well-formed flows, garbage, NUL bytes, bare LF, huge lines, AUTH
 * before STARTTLS, bad base64 in AUTH, pipelined junk, DATA without RCPT, early disconnects,
 * DSNs good and mangled (to real VERP addresses).
 *
 * Asserts: every session is greeted; a well-formed command, sent while the session is known
 * to be in step (before any junk whose replies cannot be counted), never gets a 5xx and never
 * goes unanswered; every reply line is a well-formed SMTP reply; a real nodemailer submission
 * (587 and 465) and a clean bounce-receiver session succeed every 100 sessions and at the end;
 * no uncaught exception and no error logged by sealpost (the servers run in this process).
 *
 * SEALPOST_RELIABILITY_SMTP_SESSIONS changes the count.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import nodemailer from "nodemailer";
import { verpAddress } from "../../src/core/verp.ts";
import { auth, BOOTSTRAP_KEY, startTestApp } from "../helpers/app.ts";
import { startNxdomainDns } from "./lib/dns-stub.ts";
import { startFaultSink } from "./lib/fault-sink.ts";
import { captureLog } from "./lib/log-capture.ts";
import { RawSmtp, type ReadResult } from "./lib/raw-smtp.ts";
import { progress, seconds, sleep, summary, waitUntil } from "./lib/report.ts";
import { harnessSeed, partSeed, seedLine } from "./lib/rng.ts";
import {
  type Cred,
  type DataBody,
  type Session,
  type Step,
  sessionArb,
  type Target,
} from "./lib/smtp-arbitraries.ts";

const PART = "fuzz-smtp";
const CONCURRENCY = 12;
const READ_MS = 8000;
// A session may legitimately wait READ_MS for each of its steps (for example commands sent
// while the server reads a DATA body get no reply), so a hang is only a session that outlives
// every step's wait.
const SESSION_MS = READ_MS * 18;
const HEALTH_EVERY = 100;

function sessionsWanted(): number {
  const raw = process.env.SEALPOST_RELIABILITY_SMTP_SESSIONS;
  if (raw === undefined || raw === "") return 1200;
  if (!/^\d+$/.test(raw)) throw new RangeError("SEALPOST_RELIABILITY_SMTP_SESSIONS must be an integer");
  return Number(raw);
}

const b64 = (s: string): string => Buffer.from(s, "latin1").toString("base64");

/** The message bytes of a DATA step, with the terminating CRLF.CRLF. */
function dataBytes(body: DataBody, seed: number, target: Target, rcpt: string): Buffer {
  const id = `<fuzz-${seed}-${Math.random().toString(36).slice(2)}@client.example>`;
  const headers = [
    "From: Clinic <clinic@example.com>",
    `To: <${rcpt}>`,
    "Subject: Fuzz",
    `Message-ID: ${id}`,
    "X-Sealpost-Sandbox: true",
  ];
  const crlf = (lines: string[]) => Buffer.from(`${lines.join("\r\n")}\r\n.\r\n`, "latin1");
  const dsn = (action: string, status: string, extra: string[] = []) => [
    "From: MAILER-DAEMON@mx.example.org",
    `To: <${rcpt}>`,
    "Subject: Undelivered Mail Returned to Sender",
    "MIME-Version: 1.0",
    'Content-Type: multipart/report; report-type=delivery-status; boundary="b1"',
    "",
    "--b1",
    "Content-Type: text/plain",
    "",
    "Your message could not be delivered.",
    "--b1",
    "Content-Type: message/delivery-status",
    "",
    "Reporting-MTA: dns; mx.example.org",
    "",
    "Final-Recipient: rfc822; someone@example.org",
    `Action: ${action}`,
    `Status: ${status}`,
    ...extra,
    "",
    "--b1--",
  ];
  switch (body) {
    case "good":
      return target === "inbound"
        ? crlf(dsn("delayed", "4.4.7"))
        : crlf([...headers, "", "Hello from the fuzzer."]);
    case "bare-lf":
      return Buffer.from(`${headers.join("\n")}\n\nline one\nline two\n\r\n.\r\n`, "latin1");
    case "nul":
      return Buffer.concat([
        Buffer.from(`${headers.join("\r\n")}\r\nX-Nul: a`),
        Buffer.from([0, 0]),
        Buffer.from("b\r\n\r\nbo\0dy\r\n.\r\n"),
      ]);
    case "long-line":
      return crlf([...headers, "", "x".repeat(100_000 + (seed % 1000))]);
    case "8bit":
      return Buffer.concat([
        Buffer.from(`${headers.join("\r\n")}\r\nSubject: `),
        Buffer.from([0xc3, 0xbc, 0xff, 0xfe, 0xe2, 0x82]),
        Buffer.from("\r\n\r\n"),
        Buffer.from([0xc3, 0x28, 0xa0, 0xa1]),
        Buffer.from("\r\n.\r\n"),
      ]);
    case "no-headers":
      return crlf(["just a body line", "and another"]);
    case "dot-lines":
      return crlf([...headers, "", "..leading dots", ". space", "...", ".hidden"]);
    case "bad-mime":
      return crlf([
        ...headers,
        "MIME-Version: 1.0",
        `Content-Type: multipart/mixed; boundary="${"q".repeat(seed % 3)}"`,
        "",
        "--",
        "Content-Type: application/pdf; name=a.pdf",
        "Content-Transfer-Encoding: base64",
        "Content-Disposition: attachment; filename*=utf-8''%FF%FE",
        "",
        "!!!not base64!!!",
        "--x",
        "Content-Transfer-Encoding: quoted-printable",
        "",
        "=ZZ=0",
        ...Array.from(
          { length: 50 },
          (_, i) => `Content-Type: multipart/mixed; boundary="n${i}"\r\n\r\n--n${i}`,
        ),
      ]);
    case "dsn":
      return crlf(dsn("failed", "5.1.1"));
    case "dsn-garbage": {
      const variants = [
        dsn("failed", "9.9.9"),
        dsn("FAILED", ""),
        dsn("", "5.1.1"),
        dsn(
          "failed",
          "5.1.1",
          Array.from(
            { length: 500 },
            (_, i) => `\r\nFinal-Recipient: rfc822; r${i}@x\r\nAction: failed\r\nStatus: 5.7.${i}`,
          ),
        ),
        dsn("delivered", "2.0.0").map((l) =>
          l.replace("message/delivery-status", "message/global-delivery-status"),
        ),
        dsn("failed", "5.1.1").filter((l) => l !== ""),
        ["Content-Type: message/delivery-status", "", ...Array.from({ length: 2000 }, () => "\t \t")],
        ["Content-Type: message/delivery-status", "Action: failed", "Status: 5.1.1"],
        dsn("relayed", `5.${"9".repeat(5000)}.1`),
      ];
      return crlf(variants[seed % variants.length] ?? []);
    }
    case "big":
      return crlf([
        ...headers,
        "",
        ...Array.from({ length: 20_000 }, (_, i) => `line ${i} ${"y".repeat(90)}`),
      ]);
  }
}

interface Stats {
  sessions: number;
  byTarget: Record<string, number>;
  byFamily: Record<string, number>;
  replies: Record<string, number>;
  strictChecks: number;
  violations: string[];
  noGreeting: number;
  tlsUpgrades: number;
  malformedLines: number;
  closedByServer: number;
  /** Messages answered 250 after DATA, by target. */
  accepted: Record<string, number>;
}

interface Ports {
  smtp: number;
  smtps: number;
  inbound: number;
}

const STATE_CHANGING =
  /^(MAIL|RCPT|DATA|AUTH|STARTTLS|EHLO|HELO|RSET|BDAT|XCLIENT|XFORWARD|PROXY|QUIT|LHLO)\b/i;

async function runSession(
  s: Session,
  index: number,
  ports: Ports,
  tokens: Record<Cred, string>,
  verps: readonly string[],
  stats: Stats,
): Promise<void> {
  const port = s.target === "smtp" ? ports.smtp : s.target === "smtps" ? ports.smtps : ports.inbound;
  const conn = await RawSmtp.open(port, s.target === "smtps", 5000);
  if (conn === "refused") {
    stats.violations.push(`#${index} ${s.target}: connection refused`);
    return;
  }
  const st = {
    tls: s.target === "smtps",
    greeted: false,
    authed: false,
    mail: false,
    rcpts: 0,
    inSync: true,
  };
  let lastRcpt = "p@example.org";
  const label = (step: Step | string) =>
    `#${index} ${s.family} ${s.target}: ${typeof step === "string" ? step : step.t}`;
  const classify = (r: ReadResult): void => {
    if (typeof r === "string") return;
    const k = `${Math.floor(r.code / 100)}xx`;
    stats.replies[k] = (stats.replies[k] ?? 0) + 1;
  };
  /** A well-formed command: while in step, it must be answered, and not with a 5xx. */
  const strict = (r: ReadResult, what: string, good: boolean): void => {
    classify(r);
    if (!good || !st.inSync) return;
    stats.strictChecks++;
    if (r === "timeout") stats.violations.push(`${what}: no answer in ${READ_MS} ms`);
    else if (r !== "closed" && r.code >= 500)
      stats.violations.push(`${what}: ${r.code} ${r.text.slice(0, 120)}`);
  };
  const code = (r: ReadResult): number => (typeof r === "string" ? 0 : r.code);
  const submission = s.target !== "inbound";
  try {
    const greeting = await conn.read(READ_MS);
    classify(greeting);
    if (greeting === "timeout" || greeting === "closed") {
      stats.noGreeting++;
      stats.violations.push(`${label("greeting")}: ${greeting}`);
      return;
    }
    if (greeting.code !== 220) return; // 421: too busy; allowed
    for (const step of s.steps) {
      if (conn.closed) break;
      const what = label(step);
      switch (step.t) {
        case "ehlo": {
          conn.write(`EHLO ${step.name}\r\n`);
          const r = await conn.read(READ_MS);
          strict(r, what, step.good);
          if (code(r) === 250) Object.assign(st, { greeted: true, mail: false, rcpts: 0 });
          break;
        }
        case "helo": {
          conn.write(`HELO ${step.name}\r\n`);
          const r = await conn.read(READ_MS);
          classify(r);
          if (code(r) === 250) Object.assign(st, { greeted: true, mail: false, rcpts: 0 });
          break;
        }
        case "noop":
        case "rset":
        case "quit": {
          conn.write(`${step.t.toUpperCase()}\r\n`);
          const r = await conn.read(READ_MS);
          strict(r, what, true);
          if (step.t === "rset" && code(r) === 250) Object.assign(st, { mail: false, rcpts: 0 });
          break;
        }
        case "starttls": {
          conn.write("STARTTLS\r\n");
          const r = await conn.read(READ_MS);
          strict(r, what, s.target === "smtp" && !st.tls && st.greeted);
          if (code(r) === 220) {
            const ok = await conn.startTls(READ_MS);
            if (!ok) {
              if (st.inSync) stats.violations.push(`${what}: TLS handshake failed after 220`);
              return;
            }
            stats.tlsUpgrades++;
            Object.assign(st, { tls: true, greeted: false, authed: false, mail: false, rcpts: 0 });
          }
          break;
        }
        case "auth-plain":
        case "auth-login": {
          const token = tokens[step.cred];
          const good = step.cred === "valid" && submission && st.tls && st.greeted && !st.authed;
          let r: ReadResult;
          if (step.t === "auth-plain") {
            conn.write(
              step.cred === "bad-base64"
                ? "AUTH PLAIN !!!@@@###\r\n"
                : `AUTH PLAIN ${b64(`\0api\0${token}`)}\r\n`,
            );
            r = await conn.read(READ_MS);
            if (code(r) === 334) {
              conn.write("*\r\n");
              r = await conn.read(READ_MS);
            }
          } else {
            conn.write("AUTH LOGIN\r\n");
            r = await conn.read(READ_MS);
            if (code(r) === 334) {
              classify(r);
              conn.write(`${b64("api")}\r\n`);
              r = await conn.read(READ_MS);
              if (code(r) === 334) {
                classify(r);
                conn.write(step.cred === "bad-base64" ? "%%%not-base64%%%\r\n" : `${b64(token)}\r\n`);
                r = await conn.read(READ_MS);
              }
            }
          }
          strict(r, what, good);
          if (code(r) === 235) st.authed = true;
          break;
        }
        case "mail": {
          conn.write(`MAIL FROM:<${step.addr}>\r\n`);
          const r = await conn.read(READ_MS);
          const good =
            step.good && st.greeted && !st.mail && (submission ? st.authed && step.addr !== "" : true);
          strict(r, what, good);
          if (code(r) === 250) Object.assign(st, { mail: true, rcpts: 0 });
          break;
        }
        case "rcpt": {
          conn.write(`RCPT TO:<${step.addr}>\r\n`);
          const r = await conn.read(READ_MS);
          const good = step.good && st.mail && st.rcpts < 100 && (submission || verps.includes(step.addr));
          strict(r, what, good);
          if (code(r) === 250) {
            st.rcpts++;
            lastRcpt = step.addr;
          }
          break;
        }
        case "data": {
          conn.write("DATA\r\n");
          const r = await conn.read(READ_MS);
          strict(r, `${what} (command)`, st.mail && st.rcpts > 0);
          if (code(r) !== 354) break;
          classify(r);
          conn.write(dataBytes(step.body, step.seed, s.target, lastRcpt));
          const end = await conn.read(20_000);
          const wellFormed = submission
            ? step.body === "good"
            : !["bare-lf", "nul", "long-line"].includes(step.body);
          strict(end, `${what} (${step.body})`, wellFormed);
          if (code(end) === 250) stats.accepted[s.target] = (stats.accepted[s.target] ?? 0) + 1;
          Object.assign(st, { mail: false, rcpts: 0 });
          break;
        }
        case "bdat": {
          conn.write(`BDAT ${step.size} LAST\r\n`);
          conn.write(Buffer.alloc(step.size, 0x61));
          for (const r of await conn.drain(200, 3000)) classify(r);
          st.inSync = false;
          break;
        }
        case "junk-line": {
          conn.write(`${step.text}\r\n`);
          classify(await conn.read(READ_MS));
          if (STATE_CHANGING.test(step.text) || [...step.text].some((c) => c < " " || c > "~"))
            st.inSync = false;
          break;
        }
        case "garbage":
          conn.write(step.bytes);
          for (const r of await conn.drain(200, 3000)) classify(r);
          st.inSync = false;
          break;
        case "huge-line":
          conn.write(Buffer.alloc(step.size, 0x5a));
          conn.write("\r\n");
          for (const r of await conn.drain(200, 3000)) classify(r);
          st.inSync = false;
          break;
        case "pipeline":
          conn.write(`${step.commands.join("\r\n")}\r\n`);
          for (const r of await conn.drain(200, 3000)) classify(r);
          st.inSync = false;
          break;
        case "pause":
          await sleep(step.ms);
          break;
      }
    }
    if (conn.closed) {
      stats.closedByServer++;
      return;
    }
    switch (s.ending) {
      case "quit":
        conn.write("QUIT\r\n");
        classify(await conn.read(READ_MS));
        break;
      case "half-close":
        conn.end();
        for (const r of await conn.drain(200, 2000)) classify(r);
        break;
      case "mid-command":
        conn.write("MAIL FROM:<half@exa");
        break;
      case "mid-data":
        conn.write("DATA\r\nFrom: a@b\r\nSubject: cut");
        await sleep(20);
        break;
      case "destroy":
      case "none":
        break;
    }
  } finally {
    stats.malformedLines += conn.malformedLines;
    conn.destroy();
  }
}

test("SMTP fuzz: malformed sessions never crash the servers; well-formed commands never get a 5xx", {
  timeout: 10 * 60_000,
}, async (t) => {
  const started = Date.now();
  const total = sessionsWanted();
  const seed = partSeed(PART);
  progress(PART, `${seedLine(PART).slice(2)}; fast-check seed ${seed}`);

  const uncaught: string[] = [];
  const onUncaught = (err: unknown): void => {
    uncaught.push(err instanceof Error ? `${err.name}: ${err.message}` : String(err));
  };
  process.on("uncaughtException", onUncaught);
  process.on("unhandledRejection", onUncaught);
  t.after(() => {
    process.off("uncaughtException", onUncaught);
    process.off("unhandledRejection", onUncaught);
  });

  const dns = await startNxdomainDns();
  const sink = await startFaultSink();
  t.after(async () => {
    await sink.close();
    await dns.close();
  });
  const log = captureLog("warn");
  const { app, key } = await startTestApp(t, {
    logger: log.logger,
    env: {
      SEALPOST_RELAY: `smtp://127.0.0.1:${sink.port}`,
      SEALPOST_DNS_SERVERS: dns.address,
      // The fuzz logs in with wrong keys from loopback all the time; locked out, its health
      // checks would get 454. The lockout has tests of its own (test/smtp/auth.test.ts).
      SEALPOST_AUTH_LOCKOUT_EXEMPT: "127.0.0.0/8,::1",
    },
  });
  const ports = await app.listenSmtp();
  const tokens: Record<Cred, string> = {
    valid: BOOTSTRAP_KEY,
    wrong: "sp_live_wrongwrongwrongwrongwrongwrong",
    "bad-base64": "",
    empty: "",
    huge: "k".repeat(5000),
    "no-scope": await key(["messages:read"]),
  };

  // Live deliveries that really went out, so the bounce receiver has VERP addresses to accept.
  const verps: string[] = [];
  const indexKey = (await app.keyring.orgKeys(app.defaultOrgId)).indexKey;
  for (let i = 0; i < 4; i++) {
    const res = await app.api.inject({
      method: "POST",
      url: "/v1/messages",
      headers: auth(BOOTSTRAP_KEY),
      payload: { from: "clinic@example.com", to: `verp-target-${i}@example.org`, subject: "s", text: "t" },
    });
    assert.equal(res.statusCode, 202, res.body);
    const deliveryId = (res.json() as { deliveries: { id: string }[] }).deliveries[0]?.id ?? "";
    verps.push(verpAddress(indexKey, deliveryId, "example.com"));
  }
  assert.ok(await waitUntil(() => sink.accepted.size >= 4, 30_000), "the VERP deliveries went out");

  const sessions = fc.sample(sessionArb(verps), { seed, numRuns: total });
  const stats: Stats = {
    sessions: 0,
    byTarget: {},
    byFamily: {},
    replies: {},
    strictChecks: 0,
    violations: [],
    noGreeting: 0,
    tlsUpgrades: 0,
    malformedLines: 0,
    closedByServer: 0,
    accepted: {},
  };

  let healthChecks = 0;
  const healthFailures: string[] = [];
  const health = async (n: number): Promise<void> => {
    healthChecks++;
    const message = {
      from: "Clinic <clinic@example.com>",
      to: "health@example.org",
      subject: `health ${n}`,
      text: "still answering",
      headers: { "X-Sealpost-Sandbox": "true" },
    };
    try {
      const info = await nodemailer
        .createTransport({
          host: "127.0.0.1",
          port: ports.smtp,
          requireTLS: true,
          auth: { user: "api", pass: BOOTSTRAP_KEY },
          tls: { rejectUnauthorized: false },
          connectionTimeout: 10_000,
          greetingTimeout: 10_000,
          socketTimeout: 20_000,
        })
        .sendMail(message);
      if (!/^250 /.test(info.response)) healthFailures.push(`587 #${n}: ${info.response}`);
      if (n % (2 * HEALTH_EVERY) === 0) {
        const tlsInfo = await nodemailer
          .createTransport({
            host: "127.0.0.1",
            port: ports.smtps,
            secure: true,
            auth: { user: "api", pass: BOOTSTRAP_KEY },
            tls: { rejectUnauthorized: false },
            connectionTimeout: 10_000,
            socketTimeout: 20_000,
          })
          .sendMail(message);
        if (!/^250 /.test(tlsInfo.response)) healthFailures.push(`465 #${n}: ${tlsInfo.response}`);
      }
    } catch (err) {
      healthFailures.push(`submission #${n}: ${(err as Error).message}`);
    }
    const inbound = await RawSmtp.open(ports.inbound, false, 5000);
    if (inbound === "refused") {
      healthFailures.push(`inbound #${n}: refused`);
      return;
    }
    try {
      const replies: number[] = [];
      for (const cmd of [null, "EHLO health.example", "MAIL FROM:<>", "QUIT"]) {
        if (cmd !== null) inbound.write(`${cmd}\r\n`);
        const r = await inbound.read(READ_MS);
        replies.push(typeof r === "string" ? 0 : r.code);
      }
      if (replies.join(",") !== "220,250,250,221") healthFailures.push(`inbound #${n}: ${replies.join(",")}`);
    } finally {
      inbound.destroy();
    }
  };

  const fuzzStart = Date.now();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < sessions.length) {
      const i = next++;
      const s = sessions[i];
      if (s === undefined) continue;
      stats.sessions++;
      stats.byTarget[s.target] = (stats.byTarget[s.target] ?? 0) + 1;
      stats.byFamily[s.family] = (stats.byFamily[s.family] ?? 0) + 1;
      let timer: NodeJS.Timeout | undefined;
      const outcome = await Promise.race([
        runSession(s, i, ports, tokens, verps, stats).then(() => "done" as const),
        new Promise<"timeout">((resolve) => {
          timer = setTimeout(() => resolve("timeout"), SESSION_MS);
        }),
      ]);
      clearTimeout(timer);
      if (outcome === "timeout")
        stats.violations.push(`#${i} ${s.family} ${s.target}: session still running after ${SESSION_MS} ms`);
      if (i > 0 && i % HEALTH_EVERY === 0) await health(i);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const fuzzTime = seconds(fuzzStart);
  await health(2 * HEALTH_EVERY * 1000);
  const logs = log.counts();
  // A client that disconnects in the middle of DATA is logged as an error (known issue, below).
  const clientAborts = log
    .errors()
    .filter((e) => /"code":"ECONNECTION"/.test(e) && /(smtp submission|dsn handling) failed/.test(e));
  const otherErrors = (logs.error ?? 0) + (logs.fatal ?? 0) - clientAborts.length;

  summary(PART, {
    seed: harnessSeed(),
    fc_seed: seed,
    sessions: stats.sessions,
    by_target: JSON.stringify(stats.byTarget),
    strict_checks: stats.strictChecks,
    violations: stats.violations.length,
    no_greeting: stats.noGreeting,
    malformed_reply_lines: stats.malformedLines,
    replies: JSON.stringify(stats.replies),
    tls_upgrades: stats.tlsUpgrades,
    messages_accepted: JSON.stringify(stats.accepted),
    closed_by_server: stats.closedByServer,
    health_checks: healthChecks,
    health_failures: healthFailures.length,
    uncaught: uncaught.length,
    logged_errors: otherErrors,
    known_client_abort_errors: clientAborts.length,
    logged_warnings: logs.warn ?? 0,
    fuzz_time: fuzzTime,
    duration: seconds(started),
  });
  progress(PART, `families ${JSON.stringify(stats.byFamily)}`);
  for (const v of stats.violations.slice(0, 20)) progress(PART, `VIOLATION ${v}`);
  for (const h of healthFailures.slice(0, 10)) progress(PART, `HEALTH CHECK FAILED ${h}`);
  for (const e of log
    .errors()
    .filter((x) => !clientAborts.includes(x))
    .slice(0, 10))
    progress(PART, `LOGGED ERROR ${e}`);
  for (const u of uncaught.slice(0, 10)) progress(PART, `UNCAUGHT ${u}`);

  assert.ok(stats.sessions >= 1000 || process.env.SEALPOST_RELIABILITY_SMTP_SESSIONS !== undefined);
  assert.deepEqual(stats.violations, [], "well-formed commands are answered, never with a 5xx");
  assert.equal(stats.malformedLines, 0, "every reply line is an SMTP reply");
  assert.deepEqual(healthFailures, [], "a good submission and a clean bounce session succeed throughout");
  assert.deepEqual(uncaught, [], "no uncaught exception");
  assert.equal(otherErrors, 0, "sealpost logged no error");

  // Fixed in src/smtp (a client leaving mid-DATA is logged at info): now a real check.
  await t.test("a client that disconnects during DATA is not logged as an error", () =>
    assert.equal(clientAborts.length, 0, `${clientAborts.length} error lines, e.g. ${clientAborts[0] ?? ""}`),
  );
});
