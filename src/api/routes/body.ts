import { SealpostError } from "../../core/errors.ts";

/**
 * Reading small JSON bodies of the management routes: an object with known fields only,
 * each of the expected type. Errors name the field, never echo a value.
 */
export type Body = Record<string, unknown>;

const FIELD_NAME = /^[a-z_]{1,32}$/;

export function objectBody(raw: unknown, fields: readonly string[]): Body {
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== "object" || Array.isArray(raw))
    throw new SealpostError("invalid_type", { detail: "The body must be a JSON object." });
  for (const k of Object.keys(raw))
    if (!fields.includes(k))
      throw new SealpostError("unknown_field", { field: FIELD_NAME.test(k) ? k : "?" });
  return raw as Body;
}

function wrongType(field: string, what: string): SealpostError {
  return new SealpostError("invalid_type", { field, detail: `${field} must be ${what}.` });
}

export function optionalString(body: Body, field: string): string | undefined {
  const v = body[field];
  if (v === undefined) return undefined;
  if (typeof v !== "string") throw wrongType(field, "a string");
  return v;
}

export function requiredString(body: Body, field: string): string {
  const v = optionalString(body, field);
  if (v === undefined) throw new SealpostError("missing_field", { field });
  return v;
}

/** A list of strings, null, or absent (undefined). */
export function stringList(body: Body, field: string): string[] | null | undefined {
  const v = body[field];
  if (v === undefined || v === null) return v;
  if (!Array.isArray(v) || !v.every((s) => typeof s === "string"))
    throw wrongType(field, "a list of strings");
  return v;
}

export function nullableString(body: Body, field: string): string | null | undefined {
  const v = body[field];
  if (v === undefined || v === null) return v;
  if (typeof v !== "string") throw wrongType(field, "a string or null");
  return v;
}

export function optionalInteger(body: Body, field: string): number | undefined {
  const v = body[field];
  if (v === undefined) return undefined;
  if (typeof v !== "number" || !Number.isInteger(v)) throw wrongType(field, "an integer");
  return v;
}

export function optionalBoolean(body: Body, field: string): boolean | undefined {
  const v = body[field];
  if (v === undefined) return undefined;
  if (typeof v !== "boolean") throw wrongType(field, "true or false");
  return v;
}
