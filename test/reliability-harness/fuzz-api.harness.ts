/**
 * API fuzz: at least 10,000 generated requests (fast-check, seeded: the seed is printed and
 * SEALPOST_RELIABILITY_SEED replays it) against a real sealpost, in-process through
 * `app.api.inject`, and about one in eight also over a real socket, some of those with
 * byte-level damage only a socket can carry (invalid UTF-8 in the path and headers, NUL,
 * bare LF, conflicting or lying lengths, header floods, pipelining).
 *
 * Asserts: no response >= 500; every 4xx the application answers is application/problem+json
 * with a `code`; no request hangs (per-request timeout); well-formed requests interleaved with
 * the fuzz, and after it, still succeed; no uncaught exception; no error logged by sealpost.
 *
 * Answers the HTTP parser gives before the application sees a request (malformed framing:
 * Node's `clientError`) are counted apart; their problem+json shape is checked in a `todo`
 * test until the API installs a clientErrorHandler.
 *
 * SEALPOST_RELIABILITY_FUZZ_REQUESTS changes the count.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { auth, BOOTSTRAP_KEY, startTestApp } from "../helpers/app.ts";
import {
  describe as describeRequest,
  type FuzzContext,
  type FuzzRequest,
  materialize,
  RAW_MUTATIONS,
  type RouteInfo,
  requestArb,
  serialize,
} from "./lib/api-arbitraries.ts";
import { startNxdomainDns } from "./lib/dns-stub.ts";
import { startFaultSink } from "./lib/fault-sink.ts";
import { captureLog } from "./lib/log-capture.ts";
import { rawHttp } from "./lib/raw-http.ts";
import { progress, seconds, summary } from "./lib/report.ts";
import { createRng, harnessSeed, partSeed, seedLine } from "./lib/rng.ts";

const PART = "fuzz-api";
const BODY_LIMIT = 1024 * 1024;
const BATCH = 8;
const SOCKET_EVERY = 8;
const PROBE_EVERY = 25;
const INJECT_TIMEOUT_MS = 15_000;
const SOCKET_TIMEOUT_MS = 10_000;

function requests(): number {
  const raw = process.env.SEALPOST_RELIABILITY_FUZZ_REQUESTS;
  if (raw === undefined || raw === "") return 10_000;
  if (!/^\d+$/.test(raw)) throw new RangeError("SEALPOST_RELIABILITY_FUZZ_REQUESTS must be an integer");
  return Number(raw);
}

/**
 * Answers that break the contract in ways already reported, each with its fix; they are
 * counted and shown in `todo` tests instead of failing the run. Anything else fails it.
 */
const KNOWN_ISSUES = {
  "framework-errors": {
    title:
      "URLs Fastify's router rejects (bad percent-encoding, a path parameter over 100 characters) get problem+json",
    todo: "src/api/server.ts: pass `frameworkErrors` to Fastify (FST_ERR_BAD_URL, FST_ERR_MAX_PARAM_LENGTH answer plain JSON without going through errorHandler); and raise routerOptions.maxParamLength above 100 (DELETE /v1/suppressions/{address} refuses longer addresses with 414)",
  },
  "expect-417": {
    title: "a request with an Expect header other than 100-continue gets problem+json",
    todo: "Node answers 417 with no body unless the server handles `checkExpectation`",
  },
  "parser-errors": {
    title: "requests the HTTP parser refuses (bad framing, no Host, header flood) get problem+json",
    todo: "src/api/server.ts sets no clientErrorHandler: Fastify's default answers application/json without `code`; Node answers a missing Host with a bare 400",
  },
} as const;

type KnownIssue = keyof typeof KNOWN_ISSUES;

type Verdict =
  | { kind: "ok" }
  | { kind: "violation"; why: string }
  | { kind: "known"; issue: KnownIssue; why: string };

/** Judges one answer against the contract. */
function judge(status: number, contentType: string | undefined, body: string, head: boolean): Verdict {
  if (status >= 500) return { kind: "violation", why: `status ${status}` };
  if (status < 400) return { kind: "ok" };
  const ct = contentType ?? "";
  if (ct === "application/json" || ct.startsWith("application/json;")) {
    if (/"code":"FST_ERR_(BAD_URL|MAX_PARAM_LENGTH)"/.test(body))
      return { kind: "known", issue: "framework-errors", why: `${status} ${/FST_ERR_\w+/.exec(body)?.[0]}` };
    if (/"statusCode":(400|408|431)/.test(body) && !/"code"/.test(body))
      return { kind: "known", issue: "parser-errors", why: `${status} fastify client error` };
  }
  // A HEAD answer shows no body: Fastify's router errors are the only plain-JSON 400/414 left.
  if (head && (status === 400 || status === 414) && /^application\/json/.test(ct))
    return { kind: "known", issue: "framework-errors", why: `${status} on HEAD (body not shown)` };
  if (ct === "" && body === "") {
    if (status === 417) return { kind: "known", issue: "expect-417", why: "417 without body" };
    if (status === 400) return { kind: "known", issue: "parser-errors", why: "400 without body" };
  }
  if (!/^application\/problem\+json/.test(ct))
    return { kind: "violation", why: `${status} with content-type ${contentType}` };
  if (head) return { kind: "ok" };
  let problem: { code?: unknown; status?: unknown };
  try {
    problem = JSON.parse(body) as { code?: unknown; status?: unknown };
  } catch {
    return { kind: "violation", why: `${status} problem body is not JSON` };
  }
  if (typeof problem.code !== "string") return { kind: "violation", why: `${status} problem without code` };
  if (problem.status !== status)
    return { kind: "violation", why: `${status} problem says status ${String(problem.status)}` };
  return { kind: "ok" };
}

async function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | "timeout"> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

test("API fuzz: generated requests never get a 5xx, every 4xx is a coded problem, good requests keep working", {
  timeout: 10 * 60_000,
}, async (t) => {
  const started = Date.now();
  const total = requests();
  const seed = partSeed(PART);
  progress(PART, `${seedLine(PART).slice(2)}; fast-check seed ${seed}`);
  const rng = createRng(seed);

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
      SEALPOST_MAX_MESSAGE_BYTES: String(BODY_LIMIT),
      SEALPOST_DELIVERY_TIMEOUT_SECONDS: "10",
    },
  });
  const base = await app.listen();
  const port = Number(new URL(base).port);

  const tokens = [
    BOOTSTRAP_KEY,
    await key(["messages:send"]),
    await key(["messages:read"]),
    await key(["messages:send", "messages:read", "messages:read_content"], "test"),
    await key(["domains:manage", "suppressions:manage"]),
  ];

  // Things that exist, so generated ids sometimes hit real rows.
  const ids: string[] = [];
  for (const sandbox of [true, true, false]) {
    const res = await app.api.inject({
      method: "POST",
      url: "/v1/messages",
      headers: auth(BOOTSTRAP_KEY),
      payload: { from: "clinic@example.com", to: "seed@example.org", subject: "seed", text: "seed", sandbox },
    });
    assert.equal(res.statusCode, 202, res.body);
    const body = res.json() as { id: string; deliveries: { id: string }[] };
    ids.push(body.id, ...body.deliveries.map((d) => d.id));
  }
  const domains = (await app.api.inject({ url: "/v1/domains", headers: auth(BOOTSTRAP_KEY) })).json() as {
    data: { id: string }[];
  };
  ids.push(...domains.data.map((d) => d.id));
  const sup = await app.api.inject({
    method: "POST",
    url: "/v1/suppressions",
    headers: auth(BOOTSTRAP_KEY),
    payload: { address: "suppressed@example.org" },
  });
  assert.equal(sup.statusCode, 201, sup.body);
  ids.push("suppressed@example.org");

  const openapi = (await app.api.inject({ url: "/openapi.json" })).json() as {
    paths: Record<string, Record<string, unknown>>;
  };
  const routes: RouteInfo[] = [];
  for (const [template, ops] of Object.entries(openapi.paths))
    for (const method of Object.keys(ops)) routes.push({ method: method.toUpperCase(), template });
  assert.ok(routes.length >= 15, `routes from /openapi.json: ${routes.length}`);

  const ctx: FuzzContext = { routes, tokens, ids, bodyLimit: BODY_LIMIT };
  const generated = fc.sample(requestArb(ctx), { seed, numRuns: total });

  const statusCounts: Record<string, number> = {};
  const kinds: Record<string, number> = {};
  const failures: string[] = [];
  const known: Record<KnownIssue, string[]> = {
    "framework-errors": [],
    "expect-417": [],
    "parser-errors": [],
  };
  let fiveHundreds = 0;
  let fourHundreds = 0;
  let hangs = 0;
  let socketRequests = 0;
  let socketNoAnswer = 0;
  const mutations: Record<string, number> = {};
  let violations = 0;
  const fail = (index: number, reason: string, r: FuzzRequest, via: string): void => {
    violations++;
    if (failures.length < 25) failures.push(`#${index} via ${via}: ${reason} — ${describeRequest(r)}`);
  };
  const record = (index: number, verdict: Verdict, r: FuzzRequest, via: string): void => {
    if (verdict.kind === "violation") fail(index, verdict.why, r, via);
    else if (verdict.kind === "known")
      known[verdict.issue].push(`#${index} via ${via}: ${verdict.why} — ${describeRequest(r)}`);
  };
  const count = (status: number): void => {
    statusCounts[status] = (statusCounts[status] ?? 0) + 1;
    if (status >= 500) fiveHundreds++;
    else if (status >= 400) fourHundreds++;
  };

  const viaInject = async (index: number, r: FuzzRequest): Promise<void> => {
    kinds[r.kind] = (kinds[r.kind] ?? 0) + 1;
    const payload = materialize(r.body);
    let res: Awaited<ReturnType<typeof app.api.inject>> | "timeout";
    try {
      res = await withTimeout(
        app.api.inject({
          method: r.method as "GET",
          url: r.url,
          headers: r.headers,
          ...(payload === undefined ? {} : { payload }),
        }),
        INJECT_TIMEOUT_MS,
      );
    } catch (err) {
      // light-my-request refused to build the request (not the server's doing).
      fail(index, `inject threw ${(err as Error).message}`, r, "inject");
      return;
    }
    if (res === "timeout") {
      hangs++;
      fail(index, "no answer in time", r, "inject");
      return;
    }
    count(res.statusCode);
    const ct = res.headers["content-type"];
    record(
      index,
      judge(res.statusCode, typeof ct === "string" ? ct : undefined, res.body, r.method === "HEAD"),
      r,
      "inject",
    );
  };

  const viaSocket = async (index: number, r: FuzzRequest): Promise<void> => {
    const mutation = rng.chance(0.5) ? "as-is" : rng.pick(RAW_MUTATIONS);
    mutations[mutation] = (mutations[mutation] ?? 0) + 1;
    socketRequests++;
    const wire = serialize(r, mutation);
    const result = await rawHttp(port, wire.bytes, {
      timeoutMs: SOCKET_TIMEOUT_MS,
      head: wire.head,
      endAfterWrite: wire.endAfterWrite,
    });
    if (result.kind !== "response") {
      if (wire.mayGoUnanswered) return;
      socketNoAnswer++;
      if (result.kind === "timeout") hangs++;
      fail(index, `socket ${result.kind} without an answer (${mutation})`, r, "socket");
      return;
    }
    const res = result.response;
    count(res.status);
    const verdict = judge(res.status, res.headers["content-type"], res.body.toString("utf8"), wire.head);
    record(
      index,
      verdict.kind === "ok" ? verdict : { ...verdict, why: `${verdict.why} (${mutation})` },
      r,
      "socket",
    );
  };

  // Good requests, interleaved with the fuzz and after it: they must keep working.
  let probes = 0;
  const probeFailures: string[] = [];
  const probe = async (n: number, overSocket: boolean): Promise<void> => {
    probes++;
    const message = {
      from: "clinic@example.com",
      to: `good-${n}@example.org`,
      subject: `Good ${n}`,
      text: "A well-formed request.",
      sandbox: true,
    };
    const headers = {
      ...auth(BOOTSTRAP_KEY),
      "content-type": "application/json",
      "idempotency-key": `good-${seed}-${n}`,
    };
    let id: string | undefined;
    if (overSocket) {
      const res = await fetch(`${base}/v1/messages`, {
        method: "POST",
        headers,
        body: JSON.stringify(message),
        signal: AbortSignal.timeout(INJECT_TIMEOUT_MS),
      }).catch((err: unknown) => err as Error);
      if (res instanceof Error) {
        probeFailures.push(`probe ${n}: ${res.message}`);
        return;
      }
      if (res.status !== 202) probeFailures.push(`probe ${n}: POST ${res.status} ${await res.text()}`);
      else id = ((await res.json()) as { id: string }).id;
    } else {
      const res = await withTimeout(
        app.api.inject({ method: "POST", url: "/v1/messages", headers, payload: JSON.stringify(message) }),
        INJECT_TIMEOUT_MS,
      );
      if (res === "timeout" || res.statusCode !== 202)
        probeFailures.push(
          `probe ${n}: POST ${res === "timeout" ? "timeout" : `${res.statusCode} ${res.body}`}`,
        );
      else id = (res.json() as { id: string }).id;
    }
    if (id === undefined) return;
    const got = await withTimeout(
      app.api.inject({ url: `/v1/messages/${id}`, headers: auth(BOOTSTRAP_KEY) }),
      INJECT_TIMEOUT_MS,
    );
    if (got === "timeout" || got.statusCode !== 200)
      probeFailures.push(`probe ${n}: GET ${got === "timeout" ? "timeout" : got.statusCode}`);
  };

  const fuzzStart = Date.now();
  for (let i = 0; i < generated.length; i += BATCH) {
    const batch = generated.slice(i, i + BATCH);
    const work: Promise<void>[] = batch.map((r, j) => viaInject(i + j, r));
    for (const [j, r] of batch.entries()) if ((i + j) % SOCKET_EVERY === 0) work.push(viaSocket(i + j, r));
    if (Math.floor(i / PROBE_EVERY) !== Math.floor((i + BATCH) / PROBE_EVERY))
      work.push(probe(i, i % 2 === 0));
    await Promise.all(work);
    if (i > 0 && i % 2000 === 0) progress(PART, `${i}/${total} sent (${seconds(fuzzStart)})`);
  }
  const fuzzTime = seconds(fuzzStart);
  for (let n = 0; n < 40; n++) await probe(total + n, n % 2 === 0);
  const ready = await app.api.inject({ url: "/readyz" });

  const logs = log.counts();
  summary(PART, {
    seed: harnessSeed(),
    fc_seed: seed,
    requests: generated.length + socketRequests,
    inject: generated.length,
    socket: socketRequests,
    responses_5xx: fiveHundreds,
    responses_4xx: fourHundreds,
    violations,
    known_framework_errors: known["framework-errors"].length,
    known_expect_417: known["expect-417"].length,
    known_parser_errors: known["parser-errors"].length,
    hangs,
    socket_unanswered: socketNoAnswer,
    good_probes: probes,
    good_probe_failures: probeFailures.length,
    uncaught: uncaught.length,
    logged_errors: (logs.error ?? 0) + (logs.fatal ?? 0),
    logged_warnings: logs.warn ?? 0,
    statuses: JSON.stringify(statusCounts),
    fuzz_time: fuzzTime,
    duration: seconds(started),
  });
  progress(PART, `kinds ${JSON.stringify(kinds)}`);
  progress(PART, `socket mutations ${JSON.stringify(mutations)}`);
  for (const f of failures) progress(PART, `VIOLATION ${f}`);
  for (const p of probeFailures.slice(0, 10)) progress(PART, `GOOD REQUEST FAILED ${p}`);
  for (const e of log.errors().slice(0, 10)) progress(PART, `LOGGED ERROR ${e}`);
  for (const u of uncaught.slice(0, 10)) progress(PART, `UNCAUGHT ${u}`);

  assert.ok(generated.length >= 10_000 || process.env.SEALPOST_RELIABILITY_FUZZ_REQUESTS !== undefined);
  assert.equal(fiveHundreds, 0, "no response >= 500");
  assert.equal(hangs, 0, "no request hangs");
  assert.deepEqual(failures, [], "every response keeps the contract");
  assert.deepEqual(probeFailures, [], "good requests keep working during and after the fuzz");
  assert.equal(ready.statusCode, 200, "still ready");
  assert.deepEqual(uncaught, [], "no uncaught exception");
  assert.equal((logs.error ?? 0) + (logs.fatal ?? 0), 0, "sealpost logged no error");

  for (const [issue, spec] of Object.entries(KNOWN_ISSUES) as [
    KnownIssue,
    (typeof KNOWN_ISSUES)[KnownIssue],
  ][]) {
    await t.test(spec.title, { todo: spec.todo }, () => {
      const hits = known[issue];
      assert.equal(hits.length, 0, `${hits.length} answers, e.g.\n${hits.slice(0, 3).join("\n")}`);
    });
  }
});
