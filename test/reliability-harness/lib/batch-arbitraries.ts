/**
 * fast-check arbitraries for `POST /v1/messages/batch` (valid, mixed, malformed, over 500
 * items, at exactly 500, over the body limit, deeply nested; fixed Idempotency-Keys for
 * replays and conflicts) and for `send_at` values (ahead, about now, past, too far,
 * impossible dates, unparsable, not strings) on single messages and batch items.
 */
import fc from "fast-check";
import type { BodySpec, FuzzContext, FuzzRequest } from "./api-arbitraries.ts";
import { type Ingredients, json, MAX_ITEMS, manyItems, text } from "./submit-common.ts";

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

/** One instant written the ways RFC 3339 allows (and a few it does not). */
function writeTime(ms: number, style: number, offsetMin: number): string {
  const iso = new Date(ms).toISOString();
  switch (style) {
    case 0:
      return iso;
    case 1:
      return iso.replace(/\.\d{3}Z$/, "Z");
    case 2: {
      const local = new Date(ms + offsetMin * MINUTE).toISOString().slice(0, 19);
      const abs = Math.abs(offsetMin);
      const hh = String(Math.floor(abs / 60)).padStart(2, "0");
      const mm = String(abs % 60).padStart(2, "0");
      return `${local}${offsetMin < 0 ? "-" : "+"}${hh}:${mm}`;
    }
    case 3:
      return iso.replace("T", "t").replace("Z", "z");
    case 4:
      return iso.replace("T", " ");
    case 5:
      return iso.replace(/\.(\d{3})Z$/, ".$1456789Z");
    case 6:
      return iso.replace(/Z$/, ""); // no offset: refused
    default:
      return iso.replace(/Z$/, "+0000"); // offset without colon: refused
  }
}

const ODD_TIMES = [
  "2026-02-30T09:00:00Z",
  "2026-13-01T09:00:00Z",
  "2026-01-31T24:00:00Z",
  "2026-01-31T23:59:60Z",
  "2026-01-31T09:00:00+24:00",
  "2026-01-31T09:00:00-00:00",
  "2026-01-31T09:00:00.1234567891Z",
  "2026-01-31",
  "09:00:00Z",
  "0000-01-01T00:00:00Z",
  "9999-12-31T23:59:59Z",
  "+275760-09-13T00:00:00Z",
  "-000001-01-01T00:00:00Z",
  "2026-W05-6T09:00:00Z",
  "Sat, 31 Jan 2026 09:00:00 GMT",
  "now",
  "tomorrow",
  "",
  " ",
  "1769850000",
  "2026-01-31T09:00:00Z\r\nBcc: x@evil.example",
] as const;

/** A `send_at` value relative to `now`: mostly times, some of them out of range, some not times. */
export function sendAtArb(now: number, ing: Ingredients): fc.Arbitrary<unknown> {
  const at = (min: number, max: number) =>
    fc
      .tuple(
        fc.integer({ min, max }),
        fc.integer({ min: 0, max: 7 }),
        fc.integer({ min: -14 * 60, max: 14 * 60 }),
      )
      .map(([delta, style, offset]) => writeTime(now + delta, style, offset));
  return fc.oneof(
    { arbitrary: at(2 * MINUTE, 29 * DAY), weight: 5 }, // ahead, within 30 days
    { arbitrary: at(-50_000, 50_000), weight: 2 }, // about now (the 60 s skew)
    { arbitrary: at(-400 * DAY, -2 * MINUTE), weight: 2 }, // in the past
    { arbitrary: at(31 * DAY, 3650 * DAY), weight: 2 }, // too far ahead
    { arbitrary: fc.constantFrom(...ODD_TIMES), weight: 3 },
    {
      arbitrary: fc.oneof(fc.integer(), fc.double(), fc.boolean(), fc.constant(null), ing.anyJson),
      weight: 2,
    },
    { arbitrary: ing.nastyString, weight: 1 },
  );
}

/** A message for the batch route: valid, valid with send_at, one field mutated, or any JSON. */
function batchItemArb(now: number, ing: Ingredients): fc.Arbitrary<unknown> {
  const mutated = fc
    .tuple(
      ing.validMessage,
      fc.oneof(
        fc.constantFrom("to", "from", "subject", "text", "send_at", "tags"),
        fc.string({ maxLength: 12 }),
      ),
      ing.mutatedValue,
    )
    .map(([m, field, value]) => {
      const out: Record<string, unknown> = { ...m };
      if (value === undefined) delete out[field];
      else out[field] = value;
      return out;
    });
  return fc.oneof(
    { arbitrary: ing.validMessage, weight: 4 },
    {
      arbitrary: fc.tuple(ing.validMessage, sendAtArb(now, ing)).map(([m, s]) => ({ ...m, send_at: s })),
      weight: 2,
    },
    { arbitrary: mutated, weight: 3 },
    { arbitrary: ing.anyJson, weight: 1 },
  );
}

function batchBodyArb(ctx: FuzzContext, ing: Ingredients): fc.Arbitrary<{ kind: string; body: BodySpec }> {
  const item = batchItemArb(ctx.now, ing);
  const tag = (kind: string) => (body: BodySpec) => ({ kind, body });
  const malformed = fc.oneof(
    ing.anyJson.map((v) => JSON.stringify(v)),
    fc.oneof(ing.anyJson, ing.nastyString).map((m) => JSON.stringify({ messages: m })),
    fc.constantFrom(
      "{}",
      '{"messages":[]}',
      '{"messages":null}',
      '{"messages":{}}',
      '{"messages":[{}],"messages":"x"}',
      '{"__proto__":{"messages":[{}]}}',
      '{"messages":[],"constructor":{}}',
      "[]",
      '{"messages":[',
    ),
    fc
      .tuple(fc.array(item, { minLength: 1, maxLength: 3 }), fc.string({ maxLength: 12 }), ing.anyJson)
      .map(([messages, key, extra]) => JSON.stringify({ messages, [key === "messages" ? "x" : key]: extra })),
  );
  return fc.oneof(
    {
      arbitrary: json(
        fc.array(ing.validMessage, { minLength: 1, maxLength: 5 }).map((messages) => ({ messages })),
      ).map(tag("batch-valid")),
      weight: 4,
    },
    {
      arbitrary: json(fc.array(item, { minLength: 1, maxLength: 12 }).map((messages) => ({ messages }))).map(
        tag("batch-mixed"),
      ),
      weight: 6,
    },
    { arbitrary: text(malformed).map(tag("batch-malformed")), weight: 5 },
    // Just over the item limit: refused as a whole before any item is looked at.
    {
      arbitrary: text(manyItems(MAX_ITEMS + 1, 1200).map((items) => `{"messages":[${items}]}`)).map(
        tag("batch-too-many"),
      ),
      weight: 2,
    },
    // Exactly the limit: every item validated on its own, a few valid ones accepted.
    {
      arbitrary: fc
        .tuple(
          manyItems(MAX_ITEMS - 3, MAX_ITEMS - 3),
          fc.array(ing.validMessage, { minLength: 3, maxLength: 3 }),
        )
        .map(
          ([items, valid]): BodySpec => ({
            type: "text",
            text: `{"messages":[${valid.map((m) => JSON.stringify(m)).join(",")},${items}]}`,
          }),
        )
        .map(tag("batch-at-limit")),
      weight: 1,
    },
    {
      arbitrary: fc
        .tuple(
          fc.integer({ min: ctx.bodyLimit + 1, max: ctx.bodyLimit * 2 }),
          fc.constantFrom("x", "é", "\\"),
        )
        .map(
          ([size, fill]): BodySpec => ({
            type: "repeat",
            prefix: '{"messages":[{"from":"clinic@example.com","to":"p@example.org","subject":"big","text":"',
            fill,
            size,
            suffix: '"}]}',
          }),
        )
        .map(tag("batch-oversized")),
      weight: 1,
    },
    {
      arbitrary: fc
        .tuple(fc.integer({ min: 500, max: 100_000 }), fc.constantFrom(["[", "]"], ['{"messages":', "}"]))
        .map(
          ([depth, [open, close]]): BodySpec => ({
            type: "nested",
            prefix: '{"messages":',
            open,
            core: "[]",
            close,
            suffix: "}",
            depth,
          }),
        )
        .map(tag("batch-nested")),
      weight: 1,
    },
  );
}

/** Batch and send_at requests, for requestArb to mix in. */
export function batchRequestArb(ctx: FuzzContext, ing: Ingredients): fc.Arbitrary<FuzzRequest> {
  const mostlyGood = fc.oneof(
    { arbitrary: ing.goodHeaders, weight: 4 },
    { arbitrary: ing.headers, weight: 1 },
  );
  const batchHeaders = fc.oneof(
    { arbitrary: mostlyGood, weight: 5 },
    // The same few keys again and again: replays and conflicts.
    {
      arbitrary: fc
        .tuple(ing.goodHeaders, fc.constantFrom("batch-key-1", "batch-key-2"))
        .map(([h, k]) => ({ ...h, "idempotency-key": k })),
      weight: 1,
    },
  );
  const method = fc.oneof(
    { arbitrary: fc.constant("POST"), weight: 12 },
    { arbitrary: fc.constantFrom("GET", "PUT", "DELETE"), weight: 1 },
  );
  const batch = fc.tuple(batchBodyArb(ctx, ing), method, batchHeaders).map(
    ([b, m, headers]): FuzzRequest => ({
      kind: b.kind,
      method: m,
      url: "/v1/messages/batch",
      headers,
      body: b.body,
    }),
  );
  const sendAt = fc.tuple(ing.validMessage, sendAtArb(ctx.now, ing), mostlyGood).map(
    ([m, s, headers]): FuzzRequest => ({
      kind: "send-at",
      method: "POST",
      url: "/v1/messages",
      headers,
      body: { type: "text", text: JSON.stringify({ ...m, send_at: s }) },
    }),
  );
  return fc.oneof({ arbitrary: batch, weight: 12 }, { arbitrary: sendAt, weight: 5 });
}
