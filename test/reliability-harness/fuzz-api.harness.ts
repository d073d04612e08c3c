/**
 * API fuzz: at least 10,000 generated requests (fast-check, seeded: the seed is printed and
 * SEALPOST_RELIABILITY_SEED replays it) against a real sealpost, in-process through
 * `app.api.inject`, and about one in eight also over a real socket, some of those with
 * byte-level damage only a socket can carry (invalid UTF-8 in the path and headers, NUL,
 * bare LF, conflicting or lying lengths, header floods, pipelining).
 *
 * The requests cover every documented route, the batch route, `send_at` and the
 * Paubox-compatible routes (lib/batch-arbitraries.ts, lib/paubox-arbitraries.ts).
 *
 * Asserts (lib/api-contract.ts): no response >= 500, and no item >= 500 inside a 200 batch or
 * bulk answer; every 4xx the application answers is application/problem+json with a `code`
 * (on the Paubox routes: Paubox's `{ "errors": [{ code, title, details }] }`); no request
 * hangs (per-request timeout); well-formed requests (single, batch, Paubox send and receipt)
 * interleaved with the fuzz, and after it, still succeed; no uncaught exception; no error
 * logged by sealpost.
 *
 * Answers the HTTP parser gives before the application sees a request (malformed framing:
 * Node's `clientError`, an unsupported Expect, no Host) are counted apart and checked by
 * their own tests: they must be problem+json too (src/api/http-errors.ts).
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
import { itemStatuses, judge, KNOWN_ISSUES, type KnownIssue, type Verdict } from "./lib/api-contract.ts";
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
      // The fuzz sends thousands of bad credentials from loopback; locking loopback out would
      // turn every later answer into 429 auth_locked. The lockout has tests of its own.
      SEALPOST_AUTH_LOCKOUT_EXEMPT: "127.0.0.0/8,::1",
    },
  });
  const base = await app.listen();
  const port = Number(new URL(base).port);

  // Paubox has no sandbox flag: its good probes use a test-mode key (the fuzz may remove domains).
  const testKey = await key(["messages:send", "messages:read", "messages:read_content"], "test");
  const tokens = [
    BOOTSTRAP_KEY,
    await key(["messages:send"]),
    await key(["messages:read"]),
    testKey,
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

  const ctx: FuzzContext = { routes, tokens, ids, bodyLimit: BODY_LIMIT, now: app.clock.now() };
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
  // Items of 200 batch and Paubox bulk answers, by status: a 5xx hidden inside a 200 counts.
  const itemCounts: Record<string, number> = {};
  let itemFiveHundreds = 0;
  const count = (status: number, url: string, body: string): void => {
    statusCounts[status] = (statusCounts[status] ?? 0) + 1;
    if (status >= 500) fiveHundreds++;
    else if (status >= 400) fourHundreds++;
    const items = itemStatuses(url, status, body);
    if (!Array.isArray(items)) return;
    for (const s of items) {
      itemCounts[s] = (itemCounts[s] ?? 0) + 1;
      if (s >= 500) itemFiveHundreds++;
    }
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
    count(res.statusCode, r.url, r.method === "HEAD" ? "" : res.body);
    const ct = res.headers["content-type"];
    record(
      index,
      judge(r.url, res.statusCode, typeof ct === "string" ? ct : undefined, res.body, r.method === "HEAD"),
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
    const text = res.body.toString("utf8");
    count(res.status, r.url, wire.head ? "" : text);
    const verdict = judge(r.url, res.status, res.headers["content-type"], text, wire.head);
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

  // The other ways in keep working too: a batch, and a Paubox send read back by its receipt.
  const probeOthers = async (n: number): Promise<void> => {
    probes++;
    const message = { from: "clinic@example.com", subject: `Good ${n}`, text: "Well-formed.", sandbox: true };
    const batch = await withTimeout(
      app.api.inject({
        method: "POST",
        url: "/v1/messages/batch",
        headers: auth(BOOTSTRAP_KEY),
        payload: { messages: [0, 1].map((k) => ({ ...message, to: `good-${n}-${k}@example.org` })) },
      }),
      INJECT_TIMEOUT_MS,
    );
    if (batch === "timeout" || batch.statusCode !== 200 || batch.json().accepted !== 2)
      probeFailures.push(
        `probe ${n}: batch ${batch === "timeout" ? "timeout" : `${batch.statusCode} ${batch.body}`}`,
      );
    const paubox = { authorization: `Token token=${testKey}` };
    const sent = await withTimeout(
      app.api.inject({
        method: "POST",
        url: "/v1/clinic/messages",
        headers: paubox,
        payload: {
          data: {
            message: {
              recipients: [`good-${n}@example.org`],
              headers: { from: "clinic@example.com", subject: `Good ${n}` },
              content: {
                "text/plain": "Well-formed.",
                "text/html": Buffer.from("<p>Hi</p>").toString("base64"),
              },
            },
          },
        },
      }),
      INJECT_TIMEOUT_MS,
    );
    if (sent === "timeout" || sent.statusCode !== 200) {
      probeFailures.push(
        `probe ${n}: paubox ${sent === "timeout" ? "timeout" : `${sent.statusCode} ${sent.body}`}`,
      );
      return;
    }
    const id = (sent.json() as { sourceTrackingId: string }).sourceTrackingId;
    const receipt = await withTimeout(
      app.api.inject({ url: `/v1/clinic/message_receipt?sourceTrackingId=${id}`, headers: paubox }),
      INJECT_TIMEOUT_MS,
    );
    if (receipt === "timeout" || receipt.statusCode !== 200)
      probeFailures.push(`probe ${n}: receipt ${receipt === "timeout" ? "timeout" : receipt.statusCode}`);
  };

  const fuzzStart = Date.now();
  for (let i = 0; i < generated.length; i += BATCH) {
    const batch = generated.slice(i, i + BATCH);
    const work: Promise<void>[] = batch.map((r, j) => viaInject(i + j, r));
    for (const [j, r] of batch.entries()) if ((i + j) % SOCKET_EVERY === 0) work.push(viaSocket(i + j, r));
    if (Math.floor(i / PROBE_EVERY) !== Math.floor((i + BATCH) / PROBE_EVERY))
      work.push(i % 3 === 0 ? probeOthers(i) : probe(i, i % 2 === 0));
    await Promise.all(work);
    if (i > 0 && i % 2000 === 0) progress(PART, `${i}/${total} sent (${seconds(fuzzStart)})`);
  }
  const fuzzTime = seconds(fuzzStart);
  for (let n = 0; n < 40; n++) await probe(total + n, n % 2 === 0);
  for (let n = 0; n < 10; n++) await probeOthers(total + 40 + n);
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
    item_5xx: itemFiveHundreds,
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
    item_statuses: JSON.stringify(itemCounts),
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
  assert.equal(itemFiveHundreds, 0, "no batch or bulk item >= 500");
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
