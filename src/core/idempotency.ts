import { createHash } from "node:crypto";
import { hmacSha256 } from "../crypto/secret-key.ts";
import { deliveriesOf, findBatch, findByIdempotency, findMessagesByIds } from "../store/messages.ts";
import type { BatchesTable } from "../store/schema.ts";
import { scopeOf } from "../store/scope.ts";
import { ERRORS, type ErrorCode, type FieldIssue, SealpostError } from "./errors.ts";
import type { Principal } from "./principal.ts";
import type { BatchItemResult, SubmitDeps, SubmitResult } from "./submit.ts";
import { storedResult } from "./submit-rows.ts";

/**
 * Idempotency-Key handling for the submit path: a retry with the same key and the same
 * body returns the first answer and stores nothing; another body is a conflict. Keys are
 * stored as keyed hashes under the org's index key, never in clear. Single messages keep
 * theirs on the message row, batches in the `batches` table (ADR 0004).
 */
export interface Idem {
  hash: string;
  request: string;
}

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

export function checkIdempotencyKey(key: string | undefined): void {
  if (key !== undefined && !IDEMPOTENCY_KEY.test(key))
    throw new SealpostError("invalid_idempotency_key", {
      field: "Idempotency-Key",
      detail: "Idempotency-Key must be 1-255 printable ASCII characters.",
    });
}

/**
 * The body as JSON with object keys sorted, so the same request hashes the same whatever
 * its key order. Iterative, not recursive: a body nested a hundred thousand levels deep
 * (valid JSON, refused later by validation) must not overflow the stack here.
 */
export function canonicalJson(value: unknown): string {
  const out: string[] = [];
  // Work in reverse order: text to write as it is, or a value still to write.
  const work: ({ text: string } | { value: unknown })[] = [{ value }];
  for (let w = work.pop(); w !== undefined; w = work.pop()) {
    if ("text" in w) {
      out.push(w.text);
      continue;
    }
    const v = w.value;
    if (Array.isArray(v)) {
      work.push({ text: "]" });
      for (let i = v.length - 1; i >= 0; i--) {
        // A hole in a sparse array writes nothing, as Array#join does.
        if (i in v) work.push({ value: v[i] });
        if (i > 0) work.push({ text: "," });
      }
      work.push({ text: "[" });
    } else if (typeof v === "object" && v !== null) {
      const keys = Object.keys(v).sort();
      work.push({ text: "}" });
      for (let i = keys.length - 1; i >= 0; i--) {
        const k = keys[i] ?? "";
        work.push({ value: (v as Record<string, unknown>)[k] });
        work.push({ text: `${i > 0 ? "," : ""}${JSON.stringify(k)}:` });
      }
      work.push({ text: "{" });
    } else out.push(JSON.stringify(v) ?? "null");
  }
  return out.join("");
}

/**
 * `namespace` keeps message keys and batch keys apart. A test key's keys live apart from
 * live keys' too: it reads only test-mode messages (ADR 0008), so it must never meet, and
 * replay, a live key's record made under the same Idempotency-Key.
 */
export async function idempotencyOf(
  deps: SubmitDeps,
  principal: Principal,
  namespace: "idempotency" | "idempotency-batch",
  key: string,
  input: unknown,
): Promise<Idem> {
  const { indexKey } = await deps.keyring.orgKeys(principal.orgId);
  const space = principal.mode === "test" ? `${namespace}:test` : namespace;
  return {
    hash: hmacSha256(indexKey).update(`${space}\0${key}`).digest("base64url"),
    request: createHash("sha256").update(canonicalJson(input)).digest("base64url"),
  };
}

export function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  const errcode = (err as { errcode?: unknown }).errcode;
  return code === "23505" || errcode === 2067 || errcode === 1555;
}

export async function replayMessage(
  deps: SubmitDeps,
  principal: Principal,
  idem: Idem,
): Promise<SubmitResult | null> {
  const scope = scopeOf(deps.db, principal);
  const existing = await findByIdempotency(scope, idem.hash);
  if (existing === undefined) return null;
  if (existing.request_hash !== idem.request)
    throw new SealpostError("idempotency_conflict", { field: "Idempotency-Key" });
  return storedResult(deps, existing, await deliveriesOf(scope, [existing.id]));
}

/** What the `batches` row stores per item: ids and coded errors only, no PHI. */
type StoredItem =
  | { message_id: string }
  | { error: { code: string; field?: string; detail?: string; issues?: FieldIssue[] } };

export function batchRow(
  principal: Principal,
  idem: Idem,
  now: number,
  results: readonly (string | SealpostError)[],
): BatchesTable {
  const items: StoredItem[] = results.map((r) =>
    typeof r === "string"
      ? { message_id: r }
      : {
          error: {
            code: r.code,
            ...(r.field === undefined ? {} : { field: r.field }),
            ...(r.detail === undefined ? {} : { detail: r.detail }),
            ...(r.issues.length === 0 ? {} : { issues: [...r.issues] }),
          },
        },
  );
  return {
    org_id: principal.orgId,
    idempotency_hash: idem.hash,
    request_hash: idem.request,
    created_at: now,
    results: JSON.stringify(items),
  };
}

function errorOf(stored: { code: string; field?: string; detail?: string; issues?: FieldIssue[] }) {
  const code: ErrorCode = stored.code in ERRORS ? (stored.code as ErrorCode) : "internal_error";
  return new SealpostError(code, {
    ...(stored.field === undefined ? {} : { field: stored.field }),
    ...(stored.detail === undefined ? {} : { detail: stored.detail }),
    ...(stored.issues === undefined ? {} : { issues: stored.issues }),
  });
}

export async function replayBatch(
  deps: SubmitDeps,
  principal: Principal,
  idem: Idem,
): Promise<BatchItemResult[] | null> {
  const scope = scopeOf(deps.db, principal);
  const existing = await findBatch(scope, idem.hash);
  if (existing === undefined) return null;
  if (existing.request_hash !== idem.request)
    throw new SealpostError("idempotency_conflict", { field: "Idempotency-Key" });
  const items = JSON.parse(existing.results) as StoredItem[];
  const ids = items.flatMap((i) => ("message_id" in i ? [i.message_id] : []));
  const messages = new Map((await findMessagesByIds(scope, ids)).map((m) => [m.id, m]));
  const deliveries = Map.groupBy(await deliveriesOf(scope, ids), (d) => d.message_id);
  return Promise.all(
    items.map(async (item, index): Promise<BatchItemResult> => {
      if ("error" in item) return { index, error: errorOf(item.error) };
      const m = messages.get(item.message_id);
      if (m === undefined) throw new Error("batch message missing");
      return { index, result: await storedResult(deps, m, deliveries.get(m.id) ?? []) };
    }),
  );
}
