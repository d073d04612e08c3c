/**
 * fast-check arbitraries for SMTP sessions against sealpost's submission ports (587 with
 * STARTTLS, 465 with implicit TLS) and its bounce receiver: well-formed flows with one step
 * damaged or junk inserted, and sessions of random steps: garbage bytes, NUL, bare LF, huge
 * lines, AUTH before STARTTLS, bad base64, pipelined junk, DATA without RCPT, early disconnects.
 */
import fc from "fast-check";

export type Target = "smtp" | "smtps" | "inbound";

export type Cred = "valid" | "wrong" | "bad-base64" | "empty" | "huge" | "no-scope";

export type DataBody =
  | "good"
  | "bare-lf"
  | "nul"
  | "long-line"
  | "8bit"
  | "no-headers"
  | "dot-lines"
  | "bad-mime"
  | "dsn"
  | "dsn-garbage"
  | "big";

export type Step =
  | { t: "ehlo"; name: string; good: boolean }
  | { t: "helo"; name: string }
  | { t: "noop" }
  | { t: "rset" }
  | { t: "quit" }
  | { t: "starttls" }
  | { t: "auth-plain"; cred: Cred }
  | { t: "auth-login"; cred: Cred }
  | { t: "mail"; addr: string; good: boolean }
  | { t: "rcpt"; addr: string; good: boolean }
  | { t: "data"; body: DataBody; seed: number }
  | { t: "bdat"; size: number }
  /** One line without CR/LF: one reply expected. */
  | { t: "junk-line"; text: string }
  /** Raw bytes, replies unknown. */
  | { t: "garbage"; bytes: Uint8Array }
  | { t: "huge-line"; size: number }
  | { t: "pipeline"; commands: string[] }
  | { t: "pause"; ms: number };

export type Ending = "quit" | "destroy" | "half-close" | "mid-command" | "mid-data" | "none";

export interface Session {
  family: string;
  target: Target;
  steps: Step[];
  ending: Ending;
}

const goodName = fc.constantFrom("client.example", "mta.clinic.example", "[127.0.0.1]", "localhost", "a.b");
const badName = fc.oneof(
  fc.constantFrom("", "-", "a..b", "[999.1.1.1]", "x".repeat(400), "bad name", "\u00e9x.example"),
  fc.string({ unit: "binary-ascii", maxLength: 30 }).map((s) => s.replace(/[\r\n]/g, "")),
);

const JUNK_LINES = [
  "HELLO",
  "EHLO",
  "MAIL",
  "MAIL FROM:",
  "MAIL FROM:<>",
  "MAIL FROM:<a@b> SIZE=999999999999",
  "MAIL FROM:<a@b> BODY=9BIT",
  "MAIL FROM:<a@b> SMTPUTF8 FOO=bar",
  "RCPT TO:",
  "RCPT TO:<>",
  "RCPT TO:<a@b> NOTIFY=NEVER,SUCCESS",
  "RCPT TO:<@route:a@b>",
  "DATA extra",
  "VRFY root",
  "EXPN staff",
  "HELP",
  "TURN",
  "ETRN example.org",
  "AUTH",
  "AUTH CRAM-MD5",
  "AUTH XOAUTH2 dG9rZW4=",
  "AUTH PLAIN =",
  "STARTTLS now",
  "XCLIENT ADDR=1.2.3.4",
  "XFORWARD NAME=x",
  "PROXY TCP4 1.2.3.4 5.6.7.8 1 2",
  "GET / HTTP/1.1",
  "\u00ff\u00fe\u00fd",
  "RSET RSET RSET",
  `NOOP ${"n".repeat(600)}`,
] as const;

const junkLine = fc.oneof(
  fc.constantFrom(...JUNK_LINES),
  fc.string({ unit: "binary-ascii", maxLength: 60 }).map((s) => s.replace(/[\r\n\0]/g, "")),
);

const garbage = fc.oneof(
  fc.uint8Array({ minLength: 1, maxLength: 300 }),
  fc.constantFrom(
    Buffer.from("MAIL FROM:<a@b>\nRCPT TO:<c@d>\nDATA\n"),
    Buffer.from("NOOP\0NOOP\r\n"),
    Buffer.from("\0\0\0\0\r\n"),
    Buffer.from("EHLO x\rNOOP\r\n"),
    Buffer.from("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"),
    Buffer.from(".\r\n.\r\n.\r\n"),
    Buffer.from("\r\n\r\n\r\n\r\n"),
  ),
);

const addrGood = fc.constantFrom("p@example.org", "Pat.Doe+tag@example.net", "records@clinic.example");
const addrBad = fc.oneof(
  fc.constantFrom(
    "",
    "<>",
    "a",
    "a@",
    "@b",
    "a@b@c",
    "<a@b",
    "a b@c.example",
    "\u00fc@ex\u00e4mple.org",
    `${"x".repeat(600)}@e.org`,
  ),
  fc.string({ unit: "binary-ascii", maxLength: 40 }).map((s) => s.replace(/[\r\n]/g, "")),
);
const cred = fc.constantFrom<Cred>("valid", "wrong", "bad-base64", "empty", "huge", "no-scope");

const dataBody = fc.constantFrom<DataBody>(
  "good",
  "bare-lf",
  "nul",
  "long-line",
  "8bit",
  "no-headers",
  "dot-lines",
  "bad-mime",
  "dsn",
  "dsn-garbage",
  "big",
);

function stepArb(verps: readonly string[]): fc.Arbitrary<Step> {
  const rcptAddr = verps.length > 0 ? fc.oneof(addrGood, fc.constantFrom(...verps)) : addrGood;
  return fc.oneof(
    { arbitrary: goodName.map((name): Step => ({ t: "ehlo", name, good: true })), weight: 3 },
    { arbitrary: badName.map((name): Step => ({ t: "ehlo", name, good: false })), weight: 1 },
    { arbitrary: fc.oneof(goodName, badName).map((name): Step => ({ t: "helo", name })), weight: 1 },
    { arbitrary: fc.constant<Step>({ t: "noop" }), weight: 1 },
    { arbitrary: fc.constant<Step>({ t: "rset" }), weight: 1 },
    { arbitrary: fc.constant<Step>({ t: "starttls" }), weight: 2 },
    { arbitrary: cred.map((c): Step => ({ t: "auth-plain", cred: c })), weight: 2 },
    { arbitrary: cred.map((c): Step => ({ t: "auth-login", cred: c })), weight: 1 },
    {
      arbitrary: fc
        .constantFrom("clinic@example.com", "")
        .map((a): Step => ({ t: "mail", addr: a, good: true })),
      weight: 2,
    },
    { arbitrary: addrBad.map((a): Step => ({ t: "mail", addr: a, good: false })), weight: 1 },
    { arbitrary: rcptAddr.map((a): Step => ({ t: "rcpt", addr: a, good: true })), weight: 2 },
    { arbitrary: addrBad.map((a): Step => ({ t: "rcpt", addr: a, good: false })), weight: 1 },
    {
      arbitrary: fc.tuple(dataBody, fc.nat()).map(([b, s]): Step => ({ t: "data", body: b, seed: s })),
      weight: 2,
    },
    { arbitrary: fc.integer({ min: 0, max: 5000 }).map((size): Step => ({ t: "bdat", size })), weight: 1 },
    { arbitrary: junkLine.map((text): Step => ({ t: "junk-line", text })), weight: 3 },
    { arbitrary: garbage.map((bytes): Step => ({ t: "garbage", bytes })), weight: 2 },
    {
      arbitrary: fc.integer({ min: 1000, max: 200_000 }).map((size): Step => ({ t: "huge-line", size })),
      weight: 1,
    },
    {
      arbitrary: fc
        .array(
          fc.oneof(
            junkLine,
            fc.constantFrom(
              "NOOP",
              "RSET",
              "MAIL FROM:<clinic@example.com>",
              "RCPT TO:<p@example.org>",
              "DATA",
              "QUIT",
            ),
          ),
          {
            minLength: 2,
            maxLength: 40,
          },
        )
        .map((commands): Step => ({ t: "pipeline", commands })),
      weight: 1,
    },
    { arbitrary: fc.integer({ min: 1, max: 60 }).map((ms): Step => ({ t: "pause", ms })), weight: 1 },
  );
}

/** The well-formed flow for a target (what a correct client does). */
function goodFlow(target: Target, verps: readonly string[], rcpts: number, body: DataBody): Step[] {
  const steps: Step[] = [{ t: "ehlo", name: "client.example", good: true }];
  if (target === "inbound") {
    steps.push({ t: "mail", addr: "", good: true });
    for (let i = 0; i < Math.max(1, Math.min(rcpts, verps.length)); i++)
      steps.push({
        t: "rcpt",
        addr: verps[i % Math.max(1, verps.length)] ?? "nobody@example.org",
        good: verps.length > 0,
      });
    steps.push({ t: "data", body, seed: rcpts });
    return steps;
  }
  if (target === "smtp") steps.push({ t: "starttls" }, { t: "ehlo", name: "client.example", good: true });
  steps.push({ t: "auth-plain", cred: "valid" }, { t: "mail", addr: "clinic@example.com", good: true });
  for (let i = 0; i < rcpts; i++) steps.push({ t: "rcpt", addr: `p${i}@example.org`, good: true });
  steps.push({ t: "data", body, seed: rcpts });
  return steps;
}

const ending = fc.constantFrom<Ending>(
  "quit",
  "quit",
  "destroy",
  "half-close",
  "mid-command",
  "mid-data",
  "none",
);

export function sessionArb(verps: readonly string[]): fc.Arbitrary<Session> {
  const target = fc.constantFrom<Target>("smtp", "smtp", "smtps", "inbound", "inbound");
  const step = stepArb(verps);
  const damagedFlow = fc
    .tuple(
      target,
      fc.integer({ min: 1, max: 3 }),
      fc.nat(),
      step,
      fc.constantFrom("replace", "insert", "drop"),
      ending,
    )
    .map(([t, rcpts, at, extra, how, end]): Session => {
      const steps = goodFlow(t, verps, rcpts, t === "inbound" ? "dsn" : "good");
      const i = at % steps.length;
      if (how === "replace") steps[i] = extra;
      else if (how === "insert") steps.splice(i, 0, extra);
      else steps.splice(i, 1);
      return { family: `flow-${how}`, target: t, steps, ending: end };
    });
  const cleanFlow = fc.tuple(target, fc.integer({ min: 1, max: 3 }), dataBody, ending).map(
    ([t, rcpts, body, end]): Session => ({
      family: "flow",
      target: t,
      steps: goodFlow(t, verps, rcpts, body),
      ending: end,
    }),
  );
  const random = fc
    .tuple(target, fc.array(step, { minLength: 1, maxLength: 14 }), ending)
    .map(([t, steps, end]): Session => ({ family: "random", target: t, steps, ending: end }));
  return fc.oneof(
    { arbitrary: damagedFlow, weight: 4 },
    { arbitrary: cleanFlow, weight: 2 },
    { arbitrary: random, weight: 4 },
  );
}
