import type { Db } from "../store/db.ts";
import { findOrgByName, findOrg as findOrgRow, insertOrg, listOrgs as listOrgRows } from "../store/orgs.ts";
import type { OrgsTable } from "../store/schema.ts";
import type { Clock } from "./clock.ts";
import { SealpostError } from "./errors.ts";
import { newId } from "./ids.ts";
import type { Keyring } from "./keyring.ts";
import { formatRateLimit, parseRateLimit } from "./rate-limit.ts";

/**
 * Organizations (ADR 0008 §1): the tenants. Each has its own data and index keys, made
 * with the org; everything an org owns carries its id. Created by the operator (CLI) or an
 * instance admin (`/v1/admin/orgs`); `default` is made on first start.
 */
export interface OrgDeps {
  db: Db;
  keyring: Keyring;
  clock: Clock;
}

/** Lower-case ASCII, digits and hyphens, 1–63 characters: safe in a URL, a log and a shell. */
export const ORG_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;

export function checkOrgName(raw: unknown): string {
  if (typeof raw !== "string")
    throw new SealpostError("invalid_type", { field: "name", detail: "name must be a string." });
  if (!ORG_NAME.test(raw))
    throw new SealpostError("invalid_value", {
      field: "name",
      detail: "name must be 1-63 characters of a-z, 0-9 and -, starting with a letter or digit.",
    });
  return raw;
}

/** A rate limit as stored (`<n>/<s|m|h>` or `off`), or null for the instance default. */
function checkRateLimit(raw: unknown): string | null {
  if (raw === undefined || raw === null) return null;
  const parsed = typeof raw === "string" ? parseRateLimit(raw) : null;
  if (parsed === null)
    throw new SealpostError("invalid_value", {
      field: "rate_limit",
      detail: "rate_limit must be <n>/s, <n>/m, <n>/h or off.",
    });
  return formatRateLimit(parsed);
}

/** Retention defaults of a new org (ADR 0009): content 30 days, metadata 6 years. */
export const DEFAULT_CONTENT_RETENTION_DAYS = 30;
export const DEFAULT_METADATA_RETENTION_DAYS = 2190;

function newOrgRow(id: string, name: string, now: number, rateLimit: string | null): OrgsTable {
  return {
    id,
    name,
    created_at: now,
    rate_limit: rateLimit,
    policy: null,
    content_retention_days: DEFAULT_CONTENT_RETENTION_DAYS,
    metadata_retention_days: DEFAULT_METADATA_RETENTION_DAYS,
  };
}

/** The org `name`, made now with its keys if it does not exist yet (first start, tests). */
export async function ensureOrg(db: Db, keyring: Keyring, clock: Clock, name: string): Promise<OrgsTable> {
  const existing = await findOrgByName(db, name);
  if (existing !== undefined) return existing;
  const id = newId("org", clock.now());
  return insertOrg(db, newOrgRow(id, name, clock.now(), null), await keyring.newOrgKeys(id));
}

/** A new org; a name already taken (also by a concurrent creator) is `invalid_state`. */
export async function createOrg(
  deps: OrgDeps,
  input: { name: unknown; rateLimit?: unknown },
): Promise<OrgsTable> {
  const name = checkOrgName(input.name);
  const rateLimit = checkRateLimit(input.rateLimit);
  const taken = () =>
    new SealpostError("invalid_state", { field: "name", detail: "An org with this name already exists." });
  if ((await findOrgByName(deps.db, name)) !== undefined) throw taken();
  const now = deps.clock.now();
  const id = newId("org", now);
  const org = await insertOrg(
    deps.db,
    newOrgRow(id, name, now, rateLimit),
    await deps.keyring.newOrgKeys(id),
  );
  if (org.id !== id) throw taken();
  return org;
}

export async function listOrgs(db: Db): Promise<OrgsTable[]> {
  return listOrgRows(db);
}

export async function findOrg(db: Db, id: string): Promise<OrgsTable | undefined> {
  return findOrgRow(db, id);
}

/** The public JSON of an org. */
export function orgView(org: OrgsTable) {
  return {
    id: org.id,
    object: "org" as const,
    name: org.name,
    rate_limit: org.rate_limit,
    created_at: new Date(org.created_at).toISOString(),
  };
}
