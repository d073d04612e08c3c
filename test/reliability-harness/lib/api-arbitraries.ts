/**
 * fast-check arbitraries for HTTP requests to sealpost's API: the real routes (from
 * /openapi.json) with random and wrong methods, parameters and query strings; arbitrary JSON,
 * near-valid message bodies with one field mutated, deeply nested and oversized bodies,
 * invalid UTF-8; random Authorization, Content-Type and Idempotency-Key headers. Batches,
 * `send_at` and the Paubox-compatible routes come from batch-arbitraries.ts and
 * paubox-arbitraries.ts.
 *
 * Large bodies are described (`BodySpec`) and built only when sent, so ten thousand
 * generated requests stay small in memory.
 */
import fc from "fast-check";
import { MESSAGE_FIELDS } from "../../../src/core/validate.ts";
import { batchRequestArb } from "./batch-arbitraries.ts";
import { pauboxRequestArb } from "./paubox-arbitraries.ts";
import type { Ingredients } from "./submit-common.ts";

export type BodySpec =
  | { type: "text"; text: string }
  | { type: "bytes"; bytes: Uint8Array }
  /** `prefix` + `fill` repeated to `size` bytes + `suffix`. */
  | { type: "repeat"; prefix: string; fill: string; size: number; suffix: string }
  /** `prefix` + `open` x depth + `core` + `close` x depth + `suffix`. */
  | {
      type: "nested";
      prefix: string;
      open: string;
      core: string;
      close: string;
      depth: number;
      suffix: string;
    };

export interface FuzzRequest {
  /** Generator family, for the report. */
  kind: string;
  method: string;
  /** Path and query, already percent-encoded where needed. */
  url: string;
  headers: Record<string, string>;
  body: BodySpec | null;
}

export interface RouteInfo {
  method: string;
  /** OpenAPI path template, e.g. /v1/messages/{id}. */
  template: string;
}

export interface FuzzContext {
  routes: readonly RouteInfo[];
  /** Valid bearer tokens: admin, narrower scopes, a test-mode key. */
  tokens: readonly string[];
  /** Ids that exist (messages, deliveries, domains) and addresses on the suppression list. */
  ids: readonly string[];
  /** Largest request body the app accepts. */
  bodyLimit: number;
  /** The app's clock when the requests are generated: `send_at` values are relative to it. */
  now: number;
}

export function materialize(body: BodySpec | null): Buffer | undefined {
  if (body === null) return undefined;
  switch (body.type) {
    case "text":
      return Buffer.from(body.text, "utf8");
    case "bytes":
      return Buffer.from(body.bytes);
    case "repeat": {
      const fillBytes = Math.max(0, body.size - body.prefix.length - body.suffix.length);
      return Buffer.concat([
        Buffer.from(body.prefix),
        Buffer.alloc(fillBytes, body.fill),
        Buffer.from(body.suffix),
      ]);
    }
    case "nested":
      return Buffer.from(
        body.prefix + body.open.repeat(body.depth) + body.core + body.close.repeat(body.depth) + body.suffix,
      );
  }
}

export function describe(r: FuzzRequest): string {
  const body =
    r.body === null
      ? "-"
      : r.body.type === "text"
        ? JSON.stringify(r.body.text.length > 160 ? `${r.body.text.slice(0, 160)}…` : r.body.text)
        : r.body.type === "bytes"
          ? `bytes(${r.body.bytes.length}) ${Buffer.from(r.body.bytes.subarray(0, 60)).toString("hex")}`
          : r.body.type === "repeat"
            ? `repeat(${r.body.size})`
            : `nested(${r.body.depth})`;
  const url = r.url.length > 160 ? `${r.url.slice(0, 160)}…` : r.url;
  return `${r.kind}: ${r.method} ${url} headers=${JSON.stringify(r.headers).slice(0, 300)} body=${body}`;
}

const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"] as const;

const FIELDS = MESSAGE_FIELDS;

/** Strings that are often special somewhere: addresses, injections, encodings, controls. */
const NASTY = [
  "",
  " ",
  "\r\n",
  "\n",
  "\u0000",
  "a\r\nBcc: x@evil.example",
  "\ud800",
  "\udfff\ud800",
  "\u202e",
  "\ufeff",
  "😀",
  "a@b",
  "a@b.c",
  "<a@b.co>",
  "Jane Doe <jane@example.org>",
  '"quoted local"@example.org',
  "x@localhost",
  "x@[127.0.0.1]",
  "x@xn--nxasmq6b.example",
  "ü@exämple.org",
  "a@b@c.example",
  "@example.org",
  "x@-bad-.example",
  "%00",
  "%zz",
  "../../etc/passwd",
  "=?utf-8?b?AAAA?=",
  "__proto__",
  "constructor",
  "null",
  "NaN",
  "1e309",
  "-0",
  "true",
  "msg_00000000000000000000000000",
  "dlv_zzzzzzzzzzzzzzzzzzzzzzzzzz",
] as const;

/** Short nasty strings (cheap to generate in bulk, for lists and records). */
const smallNasty = fc.oneof(
  { arbitrary: fc.constantFrom(...NASTY), weight: 4 },
  { arbitrary: fc.string({ maxLength: 40 }), weight: 3 },
  { arbitrary: fc.string({ unit: "binary", maxLength: 40 }), weight: 2 },
  { arbitrary: fc.string({ unit: "grapheme", maxLength: 20 }), weight: 1 },
);

/** Long strings: over every length limit (998-character lines, 255-character keys, 64 KB). */
const longString = fc
  .tuple(fc.constantFrom("a", "é", "\r\n", "x@y.example,"), fc.integer({ min: 100, max: 70_000 }))
  .map(([s, n]) => s.repeat(Math.ceil(n / s.length)));

const nastyString = fc.oneof({ arbitrary: smallNasty, weight: 10 }, { arbitrary: longString, weight: 1 });

const anyJson = fc.jsonValue({ maxDepth: 4 });

const validAddress = fc
  .tuple(
    fc.stringMatching(/^[a-z][a-z0-9.+-]{0,15}$/),
    fc.constantFrom("example.org", "example.net", "clinic.example"),
  )
  .map(([local, domain]) => `${local.replace(/\.+$/, "").replace(/\.\.+/g, ".")}@${domain}`);

const base64 = fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b).toString("base64"));

/** A message body that sealpost accepts (202) when sent with a key that may send. */
const validMessage = fc
  .record(
    {
      from: fc.constantFrom("clinic@example.com", "Clinic <clinic@example.com>", "noreply@clinic.example"),
      to: fc.oneof(validAddress, fc.array(validAddress, { minLength: 1, maxLength: 3 })),
      cc: fc.array(validAddress, { maxLength: 2 }),
      subject: fc.stringMatching(/^[A-Za-z0-9 ,.!?-]{1,60}$/),
      text: fc.string({ maxLength: 200 }),
      html: fc.constant("<p>Hello</p>"),
      tags: fc.array(fc.stringMatching(/^[A-Za-z0-9_.:-]{1,12}$/), { maxLength: 3 }),
      metadata: fc.dictionary(
        fc.stringMatching(/^[a-z_]{1,10}$/),
        fc.oneof(fc.string({ maxLength: 20 }), fc.integer()),
      ),
      headers: fc.constant({ "X-Clinic-Ref": "C-1" }),
      attachments: fc.array(fc.record({ filename: fc.constantFrom("a.txt", "scan.pdf"), content: base64 }), {
        maxLength: 2,
      }),
      sandbox: fc.boolean(),
    },
    { requiredKeys: ["from", "to", "subject", "text"] },
  )
  .map((m) => m as Record<string, unknown>);

const mutatedValue = fc.oneof(
  { arbitrary: nastyString, weight: 4 },
  { arbitrary: anyJson, weight: 3 },
  { arbitrary: fc.array(smallNasty, { maxLength: 120 }), weight: 1 },
  { arbitrary: fc.dictionary(fc.string({ maxLength: 12 }), anyJson, { maxKeys: 60 }), weight: 1 },
  {
    arbitrary: fc.array(
      fc.record(
        {
          filename: smallNasty,
          content: fc.oneof(base64, smallNasty),
          content_type: smallNasty,
          content_id: smallNasty,
        },
        { requiredKeys: [] },
      ),
      { maxLength: 25, size: "small" },
    ),
    weight: 1,
  },
  { arbitrary: fc.constant(undefined), weight: 1 },
);

/** A valid message with exactly one field replaced (or removed, or added). */
const nearValidMessage = fc
  .tuple(validMessage, fc.oneof(fc.constantFrom(...FIELDS), fc.string({ maxLength: 20 })), mutatedValue)
  .map(([m, field, value]) => {
    const out: Record<string, unknown> = { ...m };
    if (value === undefined) delete out[field];
    else out[field] = value;
    return JSON.stringify(out);
  });

const otherRouteBody = fc
  .oneof(
    fc.record({ name: fc.oneof(nastyString, anyJson, fc.domain()) }, { requiredKeys: [] }),
    fc.record(
      { address: fc.oneof(nastyString, validAddress, anyJson), reason: fc.oneof(nastyString, anyJson) },
      { requiredKeys: [] },
    ),
    fc.record(
      {
        headers: fc.oneof(
          nastyString,
          anyJson,
          fc.constant(
            "Received: from a (a [192.0.2.1]) by b with ESMTPS id 1; Mon, 1 Jan 2026 00:00:00 +0000\r\n\r\n",
          ),
        ),
      },
      { requiredKeys: [] },
    ),
  )
  .map((b) => JSON.stringify(b));

function nestedBody(): fc.Arbitrary<BodySpec> {
  return fc
    .tuple(
      fc.integer({ min: 500, max: 150_000 }),
      fc.constantFrom(
        { prefix: "", open: "[", core: "1", close: "]", suffix: "" },
        { prefix: "", open: '{"a":', core: "1", close: "}", suffix: "" },
        {
          prefix: '{"from":"clinic@example.com","to":"p@example.org","subject":"s","text":"t","metadata":',
          open: '{"a":',
          core: "1",
          close: "}",
          suffix: "}",
        },
        {
          prefix: '{"from":"clinic@example.com","to":',
          open: "[",
          core: '"p@example.org"',
          close: "]",
          suffix: ',"subject":"s","text":"t"}',
        },
        {
          prefix: '{"from":"clinic@example.com","to":"p@example.org","subject":"s","text":"t","attachments":',
          open: "[",
          core: "{}",
          close: "]",
          suffix: "}",
        },
        { prefix: '{"__proto__":', open: '{"__proto__":', core: "{}", close: "}", suffix: "}" },
        { prefix: "", open: "[", core: "", close: "", suffix: "" },
      ),
    )
    .map(([depth, shape]) => ({ type: "nested" as const, depth, ...shape }));
}

function oversizedBody(limit: number): fc.Arbitrary<BodySpec> {
  return fc
    .tuple(fc.integer({ min: limit + 1, max: limit * 3 }), fc.constantFrom("x", "é", " ", "\\"))
    .map(([size, fill]) => ({
      type: "repeat" as const,
      prefix: '{"from":"clinic@example.com","to":"p@example.org","subject":"big","text":"',
      fill,
      size,
      suffix: '"}',
    }));
}

/** Invalid UTF-8 byte sequences, placed inside a JSON string or anywhere in the body. */
const BAD_UTF8 = [
  [0xff],
  [0xfe, 0xff],
  [0xc3, 0x28],
  [0xe2, 0x82],
  [0xed, 0xa0, 0x80],
  [0xf0, 0x28, 0x8c, 0xbc],
  [0xc0, 0xaf],
  [0xf8, 0x88, 0x80, 0x80, 0x80],
  [0x00],
] as const;

const invalidUtf8Body = fc
  .tuple(
    fc.constantFrom("subject", "text", "to", "from", "html", "key"),
    fc.constantFrom(...BAD_UTF8),
    fc.boolean(),
    fc.nat(200),
  )
  .map(([field, bad, inString, at]): BodySpec => {
    const message: Record<string, string> = {
      from: "clinic@example.com",
      to: "p@example.org",
      subject: "Hello",
      text: "Body",
    };
    const marker = "\u0001MARK\u0001";
    message[field] = `${message[field] ?? ""}${marker}`;
    const json = JSON.stringify(message);
    const [before, after] = json.split(JSON.stringify(marker).slice(1, -1));
    const head = Buffer.from(before ?? "");
    const tail = Buffer.from(after ?? "");
    const bytes = Buffer.concat([head, Buffer.from(bad), tail]);
    if (inString) return { type: "bytes", bytes };
    const pos = Math.min(at, bytes.length);
    return {
      type: "bytes",
      bytes: Buffer.concat([bytes.subarray(0, pos), Buffer.from(bad), bytes.subarray(pos)]),
    };
  });

function headerValue(): fc.Arbitrary<string> {
  // What an HTTP client can put in a header: visible Latin-1 and spaces, no CR/LF.
  return fc.string({
    unit: fc
      .integer({ min: 0x20, max: 0xff })
      .filter((c) => c !== 0x7f)
      .map((c) => String.fromCharCode(c)),
    maxLength: 80,
  });
}

function headersArb(ctx: FuzzContext): fc.Arbitrary<Record<string, string>> {
  const token = fc.constantFrom(...ctx.tokens);
  const authorization = fc.oneof(
    { arbitrary: token.map((k) => `Bearer ${k}`), weight: 8 },
    { arbitrary: fc.constant(undefined), weight: 2 },
    {
      arbitrary: fc.oneof(
        token.map((k) => `bearer ${k}`),
        token.map((k) => k),
        token.map((k) => `Bearer ${k} `),
        token.map((k) => `Bearer  ${k}`),
        token.map((k) => `Bearer ${k.slice(0, -1)}`),
        token.map((k) => `Basic ${Buffer.from(`api:${k}`).toString("base64")}`),
        fc.constant("Bearer "),
        fc.constant("Bearer sp_live_wrongwrongwrongwrongwrongwrong"),
        headerValue().map((v) => `Bearer ${v}`),
        headerValue(),
        fc.integer({ min: 300, max: 9000 }).map((n) => `Bearer ${"k".repeat(n)}`),
      ),
      weight: 3,
    },
  );
  const contentType = fc.oneof(
    { arbitrary: fc.constant("application/json"), weight: 8 },
    {
      arbitrary: fc.constantFrom(
        undefined,
        "application/json; charset=utf-8",
        "application/json; charset=latin1",
        "application/json;charset=UTF-16",
        "APPLICATION/JSON",
        "application/json, text/plain",
        "text/plain",
        "text/html",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=xyz",
        "application/problem+json",
        "application/merge-patch+json",
        "application/octet-stream",
        "",
        "*/*",
        "json",
      ),
      weight: 3,
    },
    { arbitrary: headerValue(), weight: 1 },
  );
  const idempotencyKey = fc.oneof(
    { arbitrary: fc.constant(undefined), weight: 6 },
    { arbitrary: fc.constantFrom("fuzz-key-1", "fuzz-key-2", "fuzz-key-3"), weight: 2 },
    { arbitrary: fc.stringMatching(/^[\x21-\x7e]{1,40}$/), weight: 2 },
    { arbitrary: headerValue(), weight: 1 },
    { arbitrary: fc.integer({ min: 250, max: 600 }).map((n) => "i".repeat(n)), weight: 1 },
  );
  const extraHeaders = fc.dictionary(
    fc.constantFrom(
      "accept",
      "accept-encoding",
      "x-forwarded-for",
      "x-request-id",
      "origin",
      "content-encoding",
      "expect",
      "if-none-match",
      "x-junk",
    ),
    headerValue(),
    { maxKeys: 3 },
  );
  const extra = fc.oneof(
    { arbitrary: fc.constant<Record<string, string>>({}), weight: 7 },
    { arbitrary: extraHeaders, weight: 3 },
  );
  return fc.tuple(authorization, contentType, idempotencyKey, extra).map(([a, c, i, x]) => {
    const out: Record<string, string> = { ...x };
    if (a !== undefined) out.authorization = a;
    if (c !== undefined) out["content-type"] = c;
    if (i !== undefined) out["idempotency-key"] = i;
    return out;
  });
}

function encodeSegment(value: string): string {
  try {
    return encodeURIComponent(value);
  } catch {
    return "x%ED%A0%80";
  }
}

function paramArb(ctx: FuzzContext): fc.Arbitrary<string> {
  return fc.oneof(
    { arbitrary: fc.constantFrom(...ctx.ids).map(encodeSegment), weight: 4 },
    { arbitrary: fc.stringMatching(/^(msg|dlv|dom|sup|key)_[0-9a-z]{26}$/), weight: 2 },
    { arbitrary: nastyString.map(encodeSegment), weight: 3 },
    {
      arbitrary: fc.constantFrom("%", "%zz", "%00", "%c3%28", "..", "%2e%2e", "a%2Fb", "a/b", ""),
      weight: 1,
    },
  );
}

function pathArb(param: fc.Arbitrary<string>, template: string): fc.Arbitrary<string> {
  const parts = template.split(/\{[^}]+\}/);
  if (parts.length === 1) return fc.constant(template);
  return fc
    .tuple(...parts.slice(1).map(() => param))
    .map((values) => parts.map((p, i) => p + (values[i] ?? "")).join(""));
}

const QUERY_KEYS = [
  "status",
  "recipient",
  "tag",
  "from",
  "to",
  "limit",
  "cursor",
  "include",
  "domain",
  "address",
] as const;

const queryArb = fc
  .array(
    fc.tuple(
      fc.oneof(
        { arbitrary: fc.constantFrom(...QUERY_KEYS), weight: 4 },
        { arbitrary: fc.string({ maxLength: 10 }), weight: 1 },
      ),
      fc.oneof(
        fc.constantFrom(
          "1",
          "0",
          "-1",
          "100",
          "101",
          "abc",
          "content",
          "queued",
          "delivered",
          "2026-01-01T00:00:00Z",
          "p@example.org",
          "example.org",
          "bXNnXzAx",
          "",
        ),
        nastyString,
      ),
    ),
    { maxLength: 5 },
  )
  .map((pairs) =>
    pairs.length === 0
      ? ""
      : `?${pairs.map(([k, v]) => `${encodeSegment(k)}=${encodeSegment(v)}`).join("&")}`,
  );

const RANDOM_PATHS = [
  "/",
  "//",
  "/v1",
  "/v1/",
  "/v1/messages/",
  "/v1/messages//cancel",
  "/v1/messages/a/b/c",
  "/v2/messages",
  "/docs",
  "/docs/",
  "/docs/json",
  "/docs/yaml",
  "/docs/static/index.html",
  "/docs/static/nothing.js",
  "/docs/static/..%2f..%2fpackage.json",
  "/openapi.json",
  "/%2e%2e/%2e%2e/etc/passwd",
  "/v1/messages%00",
  "/v1/messages?",
  "/v1/messages#x",
] as const;

/** One arbitrary request, from every family, with weights. */
export function requestArb(ctx: FuzzContext): fc.Arbitrary<FuzzRequest> {
  const headers = headersArb(ctx);
  const anyMethod = fc.constantFrom(...METHODS);
  // Built once per route (building arbitraries inside .chain would redo it for every sample).
  const param = paramArb(ctx);
  const perRoute = new Map(
    ctx.routes.map((info) => [
      info,
      {
        method: fc.oneof(
          { arbitrary: fc.constant(info.method), weight: 4 },
          { arbitrary: anyMethod, weight: 1 },
        ),
        url: fc.tuple(pathArb(param, info.template), queryArb).map(([p, q]) => p + q),
      },
    ]),
  );
  // Mostly well-authenticated JSON, so bodies get past authentication and reach validation.
  const firstToken = ctx.tokens[0] ?? "";
  const goodHeaders = fc
    .tuple(
      fc.constantFrom(...ctx.tokens.slice(0, 2)),
      fc.option(fc.stringMatching(/^[\x21-\x7e]{1,40}$/), { freq: 2 }),
    )
    .map(([token, key]) => ({
      authorization: `Bearer ${token || firstToken}`,
      "content-type": "application/json",
      ...(key === null ? {} : { "idempotency-key": key }),
    }));
  const mostlyGood = fc.oneof({ arbitrary: goodHeaders, weight: 3 }, { arbitrary: headers, weight: 1 });
  const forRoutes = (
    kind: string,
    body: fc.Arbitrary<BodySpec | null>,
    routes: readonly RouteInfo[],
    hdrs: fc.Arbitrary<Record<string, string>> = headers,
  ) =>
    fc.oneof(
      ...routes.map((info) => {
        const r = perRoute.get(info) ?? {
          method: fc.constant(info.method),
          url: fc.tuple(pathArb(param, info.template), queryArb).map(([p, q]) => p + q),
        };
        return fc.record({ kind: fc.constant(kind), method: r.method, url: r.url, headers: hdrs, body });
      }),
    );
  const routed = (kind: string, body: fc.Arbitrary<BodySpec | null>, only?: RouteInfo) =>
    forRoutes(
      kind,
      body,
      only === undefined ? ctx.routes : [only],
      only === undefined ? headers : mostlyGood,
    );
  const messages: RouteInfo = ctx.routes.find(
    (r) => r.method === "POST" && r.template === "/v1/messages",
  ) ?? {
    method: "POST",
    template: "/v1/messages",
  };
  const postRoutes = ctx.routes.filter((r) => r.method === "POST");
  const text = (a: fc.Arbitrary<string>) => a.map((t): BodySpec => ({ type: "text", text: t }));
  const ingredients: Ingredients = {
    validMessage,
    mutatedValue,
    nastyString,
    smallNasty,
    anyJson,
    validAddress,
    base64,
    headers,
    goodHeaders,
    param,
    headerValue: headerValue(),
    encodeSegment,
  };

  return fc.oneof(
    { arbitrary: routed("near-valid-message", text(nearValidMessage), messages), weight: 30 },
    {
      arbitrary: routed("valid-message", text(validMessage.map((m) => JSON.stringify(m))), messages),
      weight: 8,
    },
    { arbitrary: routed("arbitrary-json", text(fc.json({ maxDepth: 5 }))), weight: 14 },
    { arbitrary: forRoutes("other-route-body", text(otherRouteBody), postRoutes), weight: 8 },
    { arbitrary: routed("no-body", fc.constant(null)), weight: 10 },
    {
      arbitrary: routed(
        "random-bytes",
        fc.uint8Array({ maxLength: 400 }).map((bytes): BodySpec => ({ type: "bytes", bytes })),
      ),
      weight: 4,
    },
    { arbitrary: routed("invalid-utf8", invalidUtf8Body, messages), weight: 5 },
    { arbitrary: routed("deeply-nested", nestedBody()), weight: 3 },
    { arbitrary: routed("oversized", oversizedBody(ctx.bodyLimit), messages), weight: 1 },
    // Their own kinds: batch-*, send-at, paubox-*.
    { arbitrary: batchRequestArb(ctx, ingredients), weight: 16 },
    { arbitrary: pauboxRequestArb(ctx, ingredients), weight: 14 },
    {
      arbitrary: fc.record({
        kind: fc.constant("random-path"),
        method: fc.constantFrom(...METHODS),
        url: fc.tuple(fc.constantFrom(...RANDOM_PATHS), queryArb).map(([p, q]) => p + q),
        headers,
        body: fc.option(text(fc.json({ maxDepth: 2 })), { nil: null }),
      }),
      weight: 5,
    },
  );
}

/** Byte-level damage only a raw socket can deliver; each is applied to a serialized request. */
export const RAW_MUTATIONS = [
  "as-is",
  "bad-utf8-header",
  "bad-utf8-path",
  "nul-in-header",
  "bare-lf",
  "cl-and-te",
  "bad-chunked",
  "chunked",
  "cl-too-short",
  "cl-too-long",
  "huge-header",
  "many-headers",
  "no-host",
  "http10",
  "unknown-method",
  "pipelined",
  "absolute-uri",
  "obs-fold",
  "space-before-colon",
  "early-close",
] as const;

export type RawMutation = (typeof RAW_MUTATIONS)[number];

/**
 * The bytes of `r` on the wire after `mutation`. `endAfterWrite`: half-close after writing;
 * `mayGoUnanswered`: the request is incomplete on purpose, so no answer is fine.
 */
export function serialize(
  r: FuzzRequest,
  mutation: RawMutation,
): { bytes: Buffer; endAfterWrite: boolean; mayGoUnanswered: boolean; head: boolean } {
  const body = materialize(r.body) ?? Buffer.alloc(0);
  let method = r.method;
  let target = r.url;
  let version = "HTTP/1.1";
  const lines: string[] = [];
  const eol = mutation === "bare-lf" ? "\n" : "\r\n";
  if (mutation === "unknown-method") method = "FROB";
  if (mutation === "http10") version = "HTTP/1.0";
  if (mutation === "absolute-uri") target = `http://127.0.0.1${r.url}`;
  if (mutation !== "no-host") lines.push("Host: 127.0.0.1");
  lines.push("Connection: close");
  for (const [k, v] of Object.entries(r.headers)) lines.push(`${k}: ${v}`);
  const raw: Buffer[] = [];
  let endAfterWrite = false;
  let mayGoUnanswered = false;
  switch (mutation) {
    case "cl-and-te":
      lines.push(`Content-Length: ${body.length}`, "Transfer-Encoding: chunked");
      break;
    case "chunked":
    case "bad-chunked":
      lines.push("Transfer-Encoding: chunked");
      break;
    case "cl-too-short":
      lines.push(`Content-Length: ${Math.max(0, body.length - 5)}`);
      break;
    case "cl-too-long":
      lines.push(`Content-Length: ${body.length + 100}`);
      endAfterWrite = true;
      mayGoUnanswered = true;
      break;
    case "huge-header":
      lines.push(`X-Huge: ${"h".repeat(20_000)}`, `Content-Length: ${body.length}`);
      break;
    case "many-headers":
      for (let i = 0; i < 2500; i++) lines.push(`X-H${i}: ${i}`);
      lines.push(`Content-Length: ${body.length}`);
      break;
    case "obs-fold":
      lines.push("X-Folded: first", " continued", `Content-Length: ${body.length}`);
      break;
    case "space-before-colon":
      lines.push(`Content-Length : ${body.length}`);
      break;
    case "early-close":
      lines.push(`Content-Length: ${body.length + 10}`);
      endAfterWrite = true;
      mayGoUnanswered = true;
      break;
    default:
      lines.push(`Content-Length: ${body.length}`);
  }
  const head = Buffer.from(`${method} ${target} ${version}${eol}${lines.join(eol)}${eol}${eol}`, "latin1");
  if (mutation === "bad-utf8-header") {
    raw.push(head.subarray(0, head.length - 2 * eol.length));
    raw.push(Buffer.from(`${eol}Idempotency-Key: `), Buffer.from([0xff, 0xfe, 0xc3, 0x28]));
    raw.push(
      Buffer.from(`${eol}X-Name: caf`),
      Buffer.from([0xe9, 0xed, 0xa0, 0x80]),
      Buffer.from(`${eol}${eol}`),
    );
  } else if (mutation === "bad-utf8-path") {
    const [first, ...rest] = head.toString("latin1").split(" ");
    raw.push(
      Buffer.from(`${first} `, "latin1"),
      Buffer.from([0x2f, 0xff, 0xc3, 0x28]),
      Buffer.from(`${target} ${rest.slice(1).join(" ")}`, "latin1"),
    );
  } else if (mutation === "nul-in-header") {
    raw.push(head.subarray(0, head.length - 4), Buffer.from("\r\nX-Nul: a\u0000b\r\n\r\n", "latin1"));
  } else {
    raw.push(head);
  }
  if (mutation === "chunked")
    raw.push(Buffer.from(`${body.length.toString(16)}\r\n`), body, Buffer.from("\r\n0\r\n\r\n"));
  else if (mutation === "bad-chunked") raw.push(Buffer.from("zz\r\n"), body, Buffer.from("\r\n-1\r\n\r\n"));
  else if (mutation === "cl-and-te")
    raw.push(Buffer.from(`${body.length.toString(16)}\r\n`), body, Buffer.from("\r\n0\r\n\r\n"));
  else raw.push(body);
  if (mutation === "pipelined")
    raw.push(Buffer.from("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\nGARBAGE / HTTP/1.1\r\n\r\n"));
  return { bytes: Buffer.concat(raw), endAfterWrite, mayGoUnanswered, head: method === "HEAD" };
}
