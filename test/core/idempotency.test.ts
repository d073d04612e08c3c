/**
 * The canonical JSON behind Idempotency-Key request hashes: the same text as the first,
 * recursive version (so hashes stored before still match), and no stack overflow on a body
 * nested far deeper than any real request.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { canonicalJson } from "../../src/core/idempotency.ts";

/** The recursive version that stored hashes were computed with. */
function recursive(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(recursive).join(",")}]`;
  if (typeof value === "object" && value !== null)
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${recursive((value as Record<string, unknown>)[k])}`)
      .join(",")}}`;
  return JSON.stringify(value) ?? "null";
}

test("canonicalJson writes what the recursive version wrote", () => {
  fc.assert(
    fc.property(fc.jsonValue({ maxDepth: 6 }), (v) => assert.equal(canonicalJson(v), recursive(v))),
    { numRuns: 2000, seed: 20261126 },
  );
  for (const v of [
    { b: 1, a: [1, "x", null, { d: true, c: undefined }] },
    // biome-ignore lint/suspicious/noSparseArray: a hole, as Array#join writes it
    [1, , 3],
    [undefined],
    { "": "", __proto__: null },
    JSON.parse('{"__proto__":{"x":1},"a":"\\u2028"}'),
  ])
    assert.equal(canonicalJson(v), recursive(v));
  assert.equal(canonicalJson({ b: 2, a: 1 }), canonicalJson({ a: 1, b: 2 }));
});

test("canonicalJson takes a body nested 200,000 levels deep", () => {
  const depth = 200_000;
  const deep = JSON.parse(`${'{"a":['.repeat(depth)}1${"]}".repeat(depth)}`) as unknown;
  const text = canonicalJson(deep);
  assert.equal(text.length, depth * 8 + 1);
  assert.ok(text.startsWith('{"a":[{"a":['));
});
