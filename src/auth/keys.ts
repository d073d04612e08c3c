import { type Cidr, cidrWithin, formatCidr, parseCidr } from "../core/cidr.ts";
import type { Clock } from "../core/clock.ts";
import { SealpostError } from "../core/errors.ts";
import { isId } from "../core/ids.ts";
import type { Keyring } from "../core/keyring.ts";
import {
  ALL_AUTH_METHODS,
  ALL_SCOPES,
  type AuthMethod,
  type Principal,
  type Scope,
  scopesContain,
  senderDomainsContain,
} from "../core/principal.ts";
import {
  findApiKey,
  findAuthKeyById,
  insertApiKey,
  listApiKeys,
  revokeApiKey,
  rotateApiKey,
} from "../store/api-keys.ts";
import type { Db } from "../store/db.ts";
import type { ApiKeysTable } from "../store/schema.ts";
import type { OrgScope } from "../store/scope.ts";
import { type NewKeyInput, validateNewKey } from "./key-input.ts";
import { resealSigningKey, secretColumns } from "./key-secrets.ts";
import { newToken, tokenFor } from "./tokens.ts";

/**
 * API keys (ADR 0008 §2): create, list, read, revoke and rotate, with the granting rules.
 * A token is returned once, by create and rotate; nothing else ever sees it again.
 */

export interface KeyDeps {
  readonly db: Db;
  readonly keyring: Keyring;
  readonly clock: Clock;
  /** The key-hash pepper (auth/instance-keys.ts loadPepper). */
  readonly pepper: Buffer;
}

/** A key's limits besides scopes and sender domains; null: unlimited. */
export interface KeyBounds {
  readonly allowedIps: readonly Cidr[] | null;
  readonly authMethods: readonly AuthMethod[] | null;
  readonly expiresAt: number | null;
}

const UNBOUNDED: KeyBounds = { allowedIps: null, authMethods: null, expiresAt: null };

/** Who creates, revokes or rotates a key: what it may grant, and what `created_by` records. */
export interface Grantor {
  readonly scopes: readonly Scope[];
  readonly senderDomains: readonly string[] | null;
  /** The acting key's own limits: a key it grants (or takes over by rotation) stays within them. */
  readonly bounds: KeyBounds;
  /** `cli`, `bootstrap`, or the id of the acting key. */
  readonly createdBy: string;
}

/** Host access is operator access: the CLI (and the bootstrap) may grant every scope. */
export function operatorGrantor(createdBy: "cli" | "bootstrap"): Grantor {
  return { scopes: ALL_SCOPES, senderDomains: null, bounds: UNBOUNDED, createdBy };
}

/** An authenticated key acting on keys of its own org, with the limits its row has now. */
export async function grantorFor(db: Db, principal: Principal): Promise<Grantor> {
  const row = await findAuthKeyById(db, principal.keyId);
  if (row === undefined) throw new SealpostError("unauthorized");
  return {
    scopes: principal.scopes,
    senderDomains: principal.senderDomains,
    bounds: boundsOf(row),
    createdBy: principal.keyId,
  };
}

function boundsOf(row: Pick<ApiKeysTable, "allowed_ips" | "auth_methods" | "expires_at">): KeyBounds {
  return { allowedIps: keyAllowedIps(row), authMethods: keyAuthMethods(row), expiresAt: row.expires_at };
}

/** The public JSON of a key: never its token, hash or signing key. */
export interface KeyView {
  id: string;
  name: string;
  mode: "live" | "test";
  scopes: Scope[];
  sender_domains: string[] | null;
  allowed_ips: string[] | null;
  auth_methods: AuthMethod[] | null;
  rate_limit: string | null;
  created_at: string;
  expires_at: string | null;
  revoked_at: string | null;
  /** After a rotation: until when the previous token still works. */
  prev_expires_at: string | null;
  created_by: string | null;
}

export interface IssuedKey {
  key: KeyView;
  /** The token, shown this once. */
  token: string;
}

export const DEFAULT_OVERLAP_SECONDS = 86_400;
export const MAX_OVERLAP_SECONDS = 604_800;
export const DEFAULT_PAGE = 50;
export const MAX_PAGE = 100;

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

function jsonList<T extends string>(raw: string | null, allowed?: readonly T[]): T[] | null {
  if (raw === null) return null;
  const list = JSON.parse(raw) as unknown;
  if (!Array.isArray(list)) return [];
  return list.filter(
    (v): v is T => typeof v === "string" && (allowed === undefined || allowed.includes(v as T)),
  );
}

/** The decoded properties of a key row. */
export function keyScopes(row: Pick<ApiKeysTable, "scopes">): Scope[] {
  return jsonList(row.scopes, ALL_SCOPES) ?? [];
}

export function keySenderDomains(row: Pick<ApiKeysTable, "sender_domains">): string[] | null {
  return jsonList(row.sender_domains);
}

export function keyAuthMethods(row: Pick<ApiKeysTable, "auth_methods">): AuthMethod[] | null {
  return jsonList(row.auth_methods, ALL_AUTH_METHODS);
}

export function keyAllowedIps(row: Pick<ApiKeysTable, "allowed_ips">): Cidr[] | null {
  const list = jsonList(row.allowed_ips);
  return list === null ? null : list.map(parseCidr).filter((c): c is Cidr => c !== null);
}

export function keyView(row: ApiKeysTable): KeyView {
  return {
    id: row.id,
    name: row.name,
    mode: row.mode,
    scopes: keyScopes(row),
    sender_domains: keySenderDomains(row),
    allowed_ips: jsonList(row.allowed_ips),
    auth_methods: keyAuthMethods(row),
    rate_limit: row.rate_limit,
    created_at: new Date(row.created_at).toISOString(),
    expires_at: iso(row.expires_at),
    revoked_at: iso(row.revoked_at),
    prev_expires_at: iso(row.prev_expires_at),
    created_by: row.created_by,
  };
}

function forbidden(detail: string): SealpostError {
  return new SealpostError("forbidden", { detail });
}

/**
 * Whether `grantor` holds everything `key` holds and is limited no less: needed to create,
 * revoke or rotate it. Otherwise a key limited to an address range, to some methods or to
 * a date could mint (or rotate and so receive) a key without those limits.
 */
function checkContainment(
  grantor: Grantor,
  key: { scopes: readonly Scope[]; senderDomains: readonly string[] | null; bounds: KeyBounds },
): void {
  if (!scopesContain(grantor.scopes, key.scopes))
    throw forbidden("The key holds scopes the calling key does not hold.");
  if (!senderDomainsContain(grantor.senderDomains, key.senderDomains))
    throw forbidden("The key may send from domains the calling key may not send from.");
  const outer = grantor.bounds;
  const inner = key.bounds;
  if (outer.allowedIps !== null) {
    const allowed = outer.allowedIps;
    if (inner.allowedIps === null || !inner.allowedIps.every((c) => cidrWithin(c, allowed)))
      throw forbidden("The key may be used from addresses the calling key may not be used from.");
  }
  if (outer.authMethods !== null) {
    const methods = outer.authMethods;
    if (inner.authMethods === null || !inner.authMethods.every((m) => methods.includes(m)))
      throw forbidden("The key may use authentication methods the calling key may not use.");
  }
  if (outer.expiresAt !== null && (inner.expiresAt === null || inner.expiresAt > outer.expiresAt))
    throw forbidden("The key would outlive the calling key.");
}

function keyLimits(row: ApiKeysTable) {
  return { scopes: keyScopes(row), senderDomains: keySenderDomains(row), bounds: boundsOf(row) };
}

export async function createKey(
  deps: KeyDeps,
  scope: OrgScope,
  grantor: Grantor,
  input: NewKeyInput,
): Promise<IssuedKey> {
  const now = deps.clock.now();
  const valid = validateNewKey(input, now);
  // Omitted limits inherit the caller's; an explicit null asks for none (and needs an unlimited caller).
  const senderDomains = valid.senderDomains === undefined ? grantor.senderDomains : valid.senderDomains;
  const bounds: KeyBounds = {
    allowedIps: input.allowedIps === undefined ? grantor.bounds.allowedIps : valid.allowedIps,
    authMethods: input.authMethods === undefined ? grantor.bounds.authMethods : valid.authMethods,
    expiresAt: input.expiresAt === undefined ? grantor.bounds.expiresAt : valid.expiresAt,
  };
  checkContainment(grantor, { scopes: valid.scopes, senderDomains, bounds });
  const { id, token } = newToken(valid.mode, now);
  const org = await deps.keyring.orgKeys(scope.orgId);
  const row: ApiKeysTable = {
    id,
    org_id: scope.orgId,
    name: valid.name,
    ...secretColumns(deps.pepper, org, id, token),
    scopes: JSON.stringify(valid.scopes),
    mode: valid.mode,
    created_at: now,
    expires_at: bounds.expiresAt,
    revoked_at: null,
    prev_secret_hash: null,
    prev_expires_at: null,
    prev_signing_key: null,
    sender_domains: senderDomains === null ? null : JSON.stringify(senderDomains),
    allowed_ips: bounds.allowedIps === null ? null : JSON.stringify(bounds.allowedIps.map(formatCidr)),
    auth_methods: bounds.authMethods === null ? null : JSON.stringify(bounds.authMethods),
    rate_limit: valid.rateLimit,
    created_by: grantor.createdBy,
  };
  await insertApiKey(scope, row);
  return { key: keyView(row), token };
}

/** One page of the org's keys, newest first (as every list), before the key id `before`; `next` is the `before` of the next page. */
export async function listKeys(
  scope: OrgScope,
  opts: { before?: string | undefined; limit?: number | undefined } = {},
): Promise<{ data: KeyView[]; next: string | null }> {
  if (opts.before !== undefined && !isId(opts.before, "key")) throw new SealpostError("invalid_cursor");
  const limit = Math.min(Math.max(opts.limit ?? DEFAULT_PAGE, 1), MAX_PAGE);
  const rows = await listApiKeys(scope, { before: opts.before, limit: limit + 1 });
  const page = rows.slice(0, limit);
  return { data: page.map(keyView), next: rows.length > limit ? (page.at(-1)?.id ?? null) : null };
}

async function existing(scope: OrgScope, id: string): Promise<ApiKeysTable> {
  const row = isId(id, "key") ? await findApiKey(scope, id) : undefined;
  if (row === undefined) throw new SealpostError("not_found");
  return row;
}

export async function getKey(scope: OrgScope, id: string): Promise<KeyView> {
  return keyView(await existing(scope, id));
}

/**
 * Revokes at once on every node (rows are never cached) and forgets the previous secret.
 * Revoking a revoked key changes nothing; `revoked` says whether this call did it.
 */
export async function revokeKey(
  deps: Pick<KeyDeps, "clock">,
  scope: OrgScope,
  grantor: Grantor,
  id: string,
): Promise<{ key: KeyView; revoked: boolean }> {
  const row = await existing(scope, id);
  checkContainment(grantor, keyLimits(row));
  const revoked = await revokeApiKey(scope, id, deps.clock.now());
  return { key: keyView(await existing(scope, id)), revoked };
}

/**
 * A new token for the same key id. The old one keeps working for `overlapSeconds`
 * (0–604800, default 86400); a token older than that is dropped, so two rotations in a
 * row leave only the last two tokens.
 */
export async function rotateKey(
  deps: KeyDeps,
  scope: OrgScope,
  grantor: Grantor,
  id: string,
  opts: { overlapSeconds?: number | undefined } = {},
): Promise<IssuedKey> {
  const overlap = opts.overlapSeconds ?? DEFAULT_OVERLAP_SECONDS;
  if (!Number.isInteger(overlap) || overlap < 0 || overlap > MAX_OVERLAP_SECONDS)
    throw new SealpostError("invalid_value", {
      field: "overlap_seconds",
      detail: `overlap_seconds must be an integer from 0 to ${MAX_OVERLAP_SECONDS}.`,
    });
  const row = await existing(scope, id);
  checkContainment(grantor, keyLimits(row));
  const now = deps.clock.now();
  if (row.revoked_at !== null || (row.expires_at !== null && row.expires_at <= now))
    throw new SealpostError("invalid_state", { detail: "A revoked or expired key cannot be rotated." });
  const token = tokenFor(row.mode, row.id);
  const org = await deps.keyring.orgKeys(row.org_id);
  const keep = overlap > 0;
  const columns = {
    ...secretColumns(deps.pepper, org, row.id, token),
    prev_secret_hash: keep ? row.secret_hash : null,
    prev_expires_at: keep ? now + overlap * 1000 : null,
    prev_signing_key: keep ? await resealSigningKey(deps.keyring, row, org) : null,
  };
  if (!(await rotateApiKey(scope, row.id, row.secret_hash, columns)))
    throw new SealpostError("invalid_state", { detail: "The key was rotated or revoked at the same time." });
  return { key: keyView(await existing(scope, id)), token };
}
