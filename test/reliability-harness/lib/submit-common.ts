/**
 * What the submit-path arbitraries (batch-arbitraries.ts, paubox-arbitraries.ts) share:
 * the building blocks api-arbitraries.ts hands them (so neither imports the other's
 * values) and a few body helpers.
 */
import fc from "fast-check";
import type { BodySpec } from "./api-arbitraries.ts";

export interface Ingredients {
  /** A body POST /v1/messages accepts. */
  validMessage: fc.Arbitrary<Record<string, unknown>>;
  /** A value for a mutated field; `undefined` removes it. */
  mutatedValue: fc.Arbitrary<unknown>;
  nastyString: fc.Arbitrary<string>;
  smallNasty: fc.Arbitrary<string>;
  anyJson: fc.Arbitrary<unknown>;
  validAddress: fc.Arbitrary<string>;
  base64: fc.Arbitrary<string>;
  /** Random Authorization, Content-Type, Idempotency-Key and other headers. */
  headers: fc.Arbitrary<Record<string, string>>;
  /** A sending key as Bearer, JSON, sometimes an Idempotency-Key. */
  goodHeaders: fc.Arbitrary<Record<string, string>>;
  /** A path segment, percent-encoded (ids that exist, random ids, nasty strings). */
  param: fc.Arbitrary<string>;
  headerValue: fc.Arbitrary<string>;
  encodeSegment: (value: string) => string;
}

/** Items a batch (or a Paubox bulk request) may hold. */
export const MAX_ITEMS = 500;

export const text = (a: fc.Arbitrary<string>) => a.map((t): BodySpec => ({ type: "text", text: t }));
export const json = (a: fc.Arbitrary<unknown>) =>
  a.map((v): BodySpec => ({ type: "text", text: JSON.stringify(v) }));

/** `n` copies of a cheap item (the request is refused or validated without building rows). */
export function manyItems(min: number, max: number): fc.Arbitrary<string> {
  return fc
    .tuple(
      fc.integer({ min, max }),
      fc.constantFrom(
        "{}",
        "null",
        "1",
        '"x"',
        '{"from":"clinic@example.com"}',
        '{"to":"p@example.org","subject":"s"}',
      ),
    )
    .map(([n, item]) => Array.from({ length: n }, () => item).join(","));
}
