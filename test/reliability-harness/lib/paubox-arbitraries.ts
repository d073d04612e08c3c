/**
 * fast-check arbitraries for the Paubox-compatible routes (`/v1/{username}/messages`,
 * `bulk_messages`, `message_receipt`, the template endpoints, and the same under
 * `/paubox/v1`): good and bad `Authorization: Token token=` headers, bodies built as the
 * official SDK builds them, one field of them mutated, malformed bodies, bulk requests over
 * 500 messages and over the body limit.
 */
import fc from "fast-check";
import type { BodySpec, FuzzContext, FuzzRequest } from "./api-arbitraries.ts";
import { type Ingredients, json, MAX_ITEMS, manyItems, text } from "./submit-common.ts";

/** `data.message` as the official Paubox SDK builds it (unset options are null, HTML base64). */
function sdkMessageArb(ing: Ingredients): fc.Arbitrary<Record<string, unknown>> {
  const nullable = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: null, freq: 2 });
  return fc
    .record({
      recipients: fc.array(
        fc.oneof(
          ing.validAddress,
          ing.validAddress.map((a) => `Pat Doe <${a}>`),
        ),
        { minLength: 1, maxLength: 3 },
      ),
      cc: nullable(fc.array(ing.validAddress, { maxLength: 2 })),
      bcc: nullable(fc.array(ing.validAddress, { maxLength: 2 })),
      from: fc.constantFrom("clinic@example.com", "Clinic <clinic@example.com>", "noreply@clinic.example"),
      subject: fc.stringMatching(/^[A-Za-z0-9 ,.!?-]{1,60}$/),
      replyTo: nullable(fc.constant("Front Desk <desk@example.com>")),
      custom: fc.dictionary(
        fc.constantFrom("X-Clinic-Ref", "X-Custom-Header", "X-Trace"),
        fc.stringMatching(/^[A-Za-z0-9 -]{0,20}$/),
        { maxKeys: 2 },
      ),
      plain: fc.option(fc.string({ maxLength: 200 }), { nil: undefined }),
      html: nullable(fc.constantFrom("<p>Hello</p>", "<html><body><h1>Results</h1></body></html>")),
      htmlAsIs: fc.boolean(),
      attachments: nullable(
        fc.array(
          fc.record({
            fileName: fc.constantFrom("a.txt", "scan.pdf"),
            contentType: fc.constantFrom("text/plain", "application/pdf"),
            content: ing.base64,
          }),
          { maxLength: 2 },
        ),
      ),
      allowNonTLS: fc.constantFrom(false, true, "false", "true", null),
      forceSecureNotification: fc.constantFrom(false, false, false, "false", null, true),
    })
    .map((m) => {
      const out = {
        recipients: m.recipients,
        cc: m.cc,
        bcc: m.bcc,
        headers: {
          subject: m.subject,
          from: m.from,
          "reply-to": m.replyTo,
          "List-Unsubscribe": null,
          "List-Unsubscribe-Post": null,
          ...m.custom,
        },
        content: {
          "text/plain": m.plain ?? (m.html === null ? "Hello." : undefined),
          "text/html": m.html === null || m.htmlAsIs ? m.html : Buffer.from(m.html).toString("base64"),
        },
        attachments: m.attachments,
        allowNonTLS: m.allowNonTLS,
        forceSecureNotification: m.forceSecureNotification,
      };
      return JSON.parse(JSON.stringify(out)) as Record<string, unknown>;
    });
}

/** Places in a Paubox message where one value is replaced (the last step may be a new key). */
const PAUBOX_PATHS: readonly (readonly string[])[] = [
  [],
  ["recipients"],
  ["cc"],
  ["bcc"],
  ["headers"],
  ["headers", "from"],
  ["headers", "subject"],
  ["headers", "reply-to"],
  ["headers", "List-Unsubscribe"],
  ["headers", "Date"],
  ["headers", "X-Clinic-Ref"],
  ["content"],
  ["content", "text/plain"],
  ["content", "text/html"],
  ["attachments"],
  ["allowNonTLS"],
  ["forceSecureNotification"],
];

function setPath(root: Record<string, unknown>, path: readonly string[], value: unknown): unknown {
  if (path.length === 0) return value;
  const [head = "", ...rest] = path;
  const current = root[head];
  const child =
    typeof current === "object" && current !== null && !Array.isArray(current)
      ? { ...(current as Record<string, unknown>) }
      : {};
  const next = rest.length === 0 ? value : setPath(child, rest, value);
  const out: Record<string, unknown> = { ...root };
  if (next === undefined) delete out[head];
  else out[head] = next;
  return out;
}

function nearSdkMessageArb(ing: Ingredients): fc.Arbitrary<unknown> {
  const path = fc.oneof(
    { arbitrary: fc.constantFrom(...PAUBOX_PATHS), weight: 6 },
    {
      arbitrary: fc
        .tuple(fc.constantFrom("headers", "content", "data"), ing.smallNasty)
        .map(([a, b]) => [a, b]),
      weight: 1,
    },
    { arbitrary: ing.smallNasty.map((k) => [k]), weight: 1 },
  );
  return fc.tuple(sdkMessageArb(ing), path, ing.mutatedValue).map(([m, p, v]) => setPath(m, p, v));
}

function pauboxAuthArb(ctx: FuzzContext, ing: Ingredients): fc.Arbitrary<string | undefined> {
  const token = fc.constantFrom(...ctx.tokens);
  return fc.oneof(
    { arbitrary: token.map((k) => `Token token=${k}`), weight: 10 },
    {
      arbitrary: fc.oneof(
        token.map((k) => `Token token="${k}"`),
        token.map((k) => `Token ${k}`),
        token.map((k) => `Bearer ${k}`),
        token.map((k) => `token token=${k}`),
        token.map((k) => `Token token=${k}, realm="x"`),
      ),
      weight: 3,
    },
    {
      arbitrary: fc.oneof(
        fc.constantFrom(
          undefined,
          "Token",
          "Token ",
          "Token token=",
          'Token token=""',
          "Token token=sp_live_wrongwrongwrongwrongwrongwrong",
        ),
        token.map((k) => `Token token="${k}`),
        token.map((k) => `Token token=${k}"`),
        token.map((k) => `Token token=${k} ${k}`),
        token.map((k) => `Token token = ${k}`),
        token.map((k) => `Token token=${k.slice(0, -1)}`),
        token.map((k) => `Token token=${k}\u00e9`),
        token.map((k) => `Basic ${Buffer.from(`u:${k}`).toString("base64")}`),
        ing.headerValue.map((v) => `Token token=${v}`),
        ing.headerValue,
        fc.integer({ min: 300, max: 9000 }).map((n) => `Token token=${"k".repeat(n)}`),
      ),
      weight: 4,
    },
  );
}

function pauboxHeadersArb(ctx: FuzzContext, ing: Ingredients): fc.Arbitrary<Record<string, string>> {
  const contentType = fc.oneof(
    { arbitrary: fc.constant("application/json"), weight: 10 },
    {
      arbitrary: fc.constantFrom(
        undefined,
        "text/plain",
        "multipart/form-data; boundary=xyz",
        "application/json; charset=latin1",
        "",
      ),
      weight: 2,
    },
  );
  return fc.oneof(
    {
      arbitrary: fc.tuple(pauboxAuthArb(ctx, ing), contentType).map(([a, c]) => {
        const out: Record<string, string> = {};
        if (a !== undefined) out.authorization = a;
        if (c !== undefined) out["content-type"] = c;
        return out;
      }),
      weight: 6,
    },
    { arbitrary: ing.headers, weight: 1 },
  );
}

export function pauboxRequestArb(ctx: FuzzContext, ing: Ingredients): fc.Arbitrary<FuzzRequest> {
  const username = fc.oneof(
    { arbitrary: fc.constantFrom("u", "clinic", "paubox-user", "messages", "batch", "v1"), weight: 4 },
    { arbitrary: ing.param, weight: 1 },
  );
  // The documented layout and the username-less one of the current SDK.
  const prefix = fc.oneof(
    { arbitrary: username.map((u) => `/v1/${u}`), weight: 3 },
    { arbitrary: fc.constant("/paubox/v1"), weight: 1 },
  );
  const method = (right: string) =>
    fc.oneof(
      { arbitrary: fc.constant(right), weight: 8 },
      { arbitrary: fc.constantFrom("GET", "POST", "PUT", "DELETE", "HEAD"), weight: 1 },
    );
  const headers = pauboxHeadersArb(ctx, ing);
  const message = fc.oneof(
    { arbitrary: sdkMessageArb(ing), weight: 3 },
    { arbitrary: nearSdkMessageArb(ing), weight: 4 },
    { arbitrary: ing.anyJson, weight: 1 },
  );
  const malformed = fc.oneof(
    ing.anyJson,
    fc.oneof(ing.anyJson, ing.nastyString).map((d) => ({ data: d })),
    fc.oneof(ing.anyJson, ing.nastyString).map((m) => ({ data: { message: m } })),
    fc.oneof(ing.anyJson, ing.nastyString).map((m) => ({ data: { messages: m } })),
  );
  const send = fc.oneof(
    { arbitrary: message.map((m) => ({ data: { message: m } })), weight: 6 },
    { arbitrary: malformed, weight: 2 },
  );
  const bulk = fc.oneof(
    {
      arbitrary: json(
        fc.array(message, { minLength: 1, maxLength: 8 }).map((messages) => ({ data: { messages } })),
      ),
      weight: 6,
    },
    { arbitrary: json(malformed), weight: 2 },
    {
      arbitrary: text(manyItems(MAX_ITEMS + 1, 900).map((items) => `{"data":{"messages":[${items}]}}`)),
      weight: 1,
    },
  );
  const trackingId = fc.oneof(
    { arbitrary: fc.constantFrom(...ctx.ids).map(ing.encodeSegment), weight: 4 },
    { arbitrary: fc.stringMatching(/^msg_[0-9a-z]{26}$/), weight: 2 },
    { arbitrary: fc.uuid(), weight: 1 },
    { arbitrary: ing.nastyString.map(ing.encodeSegment), weight: 2 },
  );
  const receiptQuery = fc.oneof(
    { arbitrary: trackingId.map((id) => `?sourceTrackingId=${id}`), weight: 6 },
    {
      arbitrary: fc
        .tuple(trackingId, trackingId)
        .map(([a, b]) => `?sourceTrackingId=${a}&sourceTrackingId=${b}`),
      weight: 1,
    },
    {
      arbitrary: fc.constantFrom("", "?", "?sourceTrackingId", "?sourceTrackingId=", "?sourcetrackingid=x"),
      weight: 1,
    },
  );
  const request = (
    kind: string,
    m: fc.Arbitrary<string>,
    path: fc.Arbitrary<string>,
    body: fc.Arbitrary<BodySpec | null>,
  ) =>
    fc.record({
      kind: fc.constant(kind),
      method: m,
      url: fc.tuple(prefix, path).map(([p, s]) => p + s),
      headers,
      body,
    });
  return fc.oneof(
    { arbitrary: request("paubox-send", method("POST"), fc.constant("/messages"), json(send)), weight: 8 },
    { arbitrary: request("paubox-bulk", method("POST"), fc.constant("/bulk_messages"), bulk), weight: 5 },
    {
      arbitrary: request(
        "paubox-receipt",
        method("GET"),
        receiptQuery.map((q) => `/message_receipt${q}`),
        fc.constant(null),
      ),
      weight: 4,
    },
    {
      arbitrary: request(
        "paubox-templates",
        fc.constantFrom("GET", "POST", "PATCH", "DELETE"),
        fc.oneof(
          fc.constant("/templated_messages"),
          fc.constant("/dynamic_templates"),
          ing.param.map((id) => `/dynamic_templates/${id}`),
        ),
        fc.option(json(ing.anyJson), { nil: null }),
      ),
      weight: 1,
    },
    {
      arbitrary: request(
        "paubox-oversized",
        fc.constant("POST"),
        fc.constantFrom("/messages", "/bulk_messages"),
        fc.integer({ min: ctx.bodyLimit + 1, max: ctx.bodyLimit * 2 }).map(
          (size): BodySpec => ({
            type: "repeat",
            prefix:
              '{"data":{"message":{"recipients":["p@example.org"],"headers":{"from":"clinic@example.com","subject":"s"},"content":{"text/plain":"',
            fill: "x",
            size,
            suffix: '"}}}}',
          }),
        ),
      ),
      weight: 1,
    },
  );
}
