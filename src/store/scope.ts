import {
  type DeleteQueryBuilder,
  type DeleteResult,
  type InsertObject,
  type InsertQueryBuilder,
  type InsertResult,
  type RawBuilder,
  type SelectQueryBuilder,
  sql,
  type UpdateQueryBuilder,
  type UpdateResult,
} from "kysely";
import type { Principal } from "../core/principal.ts";
import type { Db } from "./db.ts";
import type { Database } from "./schema.ts";

/**
 * Org scoping by construction (ADR 0008 §1). Every store function on an org-owned table
 * takes an `OrgScope` first, and only two functions make one: `scopeOf` from an
 * authenticated principal, and `systemScope` for the worker, the CLI and admin code, named
 * so that every use is easy to grep for.
 */
declare const orgIdBrand: unique symbol;
export type OrgId = string & { readonly [orgIdBrand]: true };

export interface OrgScope {
  readonly db: Db;
  readonly orgId: OrgId;
  /** `test`: a test-mode key, which reads only test-mode messages. */
  readonly mode: "any" | "test";
}

export function scopeOf(db: Db, principal: Pick<Principal, "orgId" | "mode">): OrgScope {
  return { db, orgId: principal.orgId as OrgId, mode: principal.mode === "test" ? "test" : "any" };
}

export function systemScope(
  db: Db,
  orgId: string,
  _who: "worker" | "inbound" | "cli" | "admin" | "bootstrap",
): OrgScope {
  return { db, orgId: orgId as OrgId, mode: "any" };
}

/** What a select has before any column is chosen (Kysely's `{}`). */
type NoColumns = Record<never, never>;

/** The tables whose rows belong to one org: every table with an `org_id`. */
export type OrgTable = {
  [T in keyof Database]: Database[T] extends { org_id: string } ? T : never;
}[keyof Database];

/** Rows that hang off a message: a test scope sees them only for its test-mode messages. */
const MESSAGE_CHILDREN: ReadonlySet<string> = new Set([
  "deliveries",
  "events",
  "sandbox_messages",
  "attachment_parts",
]);

/**
 * The org condition of a query on `table`, and for a test scope the test-mode condition:
 * `messages.mode = 'test'`, or for a message's rows that their message is a test one.
 */
function orgConditions(scope: OrgScope, table: OrgTable): RawBuilder<boolean>[] {
  const out = [sql<boolean>`${sql.ref(`${table}.org_id`)} = ${scope.orgId}`];
  if (scope.mode !== "test") return out;
  if (table === "messages") out.push(sql<boolean>`${sql.ref("messages.mode")} = ${"test"}`);
  else if (MESSAGE_CHILDREN.has(table))
    out.push(
      sql<boolean>`${sql.ref(`${table}.message_id`)} in (${scope.db.kysely
        .selectFrom("messages")
        .select("messages.id")
        .where("messages.org_id", "=", scope.orgId)
        .where("messages.mode", "=", "test")})`,
    );
  return out;
}

/** `SELECT … FROM table WHERE org_id = <scope>` (and the test-mode condition). */
export function selectOrg<T extends OrgTable>(
  scope: OrgScope,
  table: T,
): SelectQueryBuilder<Database, T, NoColumns> {
  let q = scope.db.kysely.selectFrom(table as OrgTable) as unknown as SelectQueryBuilder<
    Database,
    T,
    NoColumns
  >;
  for (const c of orgConditions(scope, table)) q = q.where(c);
  return q;
}

/** `UPDATE table … WHERE org_id = <scope>` (and the test-mode condition). */
export function updateOrg<T extends OrgTable>(
  scope: OrgScope,
  table: T,
): UpdateQueryBuilder<Database, T, T, UpdateResult> {
  let q = scope.db.kysely.updateTable(table as OrgTable) as unknown as UpdateQueryBuilder<
    Database,
    T,
    T,
    UpdateResult
  >;
  for (const c of orgConditions(scope, table)) q = q.where(c);
  return q;
}

/** `DELETE FROM table WHERE org_id = <scope>` (and the test-mode condition). */
export function deleteOrg<T extends OrgTable>(
  scope: OrgScope,
  table: T,
): DeleteQueryBuilder<Database, T, DeleteResult> {
  let q = scope.db.kysely.deleteFrom(table as OrgTable) as unknown as DeleteQueryBuilder<
    Database,
    T,
    DeleteResult
  >;
  for (const c of orgConditions(scope, table)) q = q.where(c);
  return q;
}

/** `INSERT INTO table`, each row's `org_id` set to the scope's whatever it held. */
export function insertOrg<T extends OrgTable>(
  scope: OrgScope,
  table: T,
  rows: readonly Database[T][],
): InsertQueryBuilder<Database, T, InsertResult> {
  const owned = rows.map((r) => ({ ...r, org_id: scope.orgId }));
  return (scope.db.kysely.insertInto(table) as InsertQueryBuilder<Database, T, InsertResult>).values(
    owned as unknown as InsertObject<Database, T>[],
  );
}

/** Runs `run` in one transaction, with a scope of the same org and mode on it. */
/**
 * Reads in one snapshot, so a view made of several queries is consistent (a delivery's
 * status and its events): REPEATABLE READ on PostgreSQL; a SQLite transaction reads one
 * snapshot of the WAL anyway.
 */
export function orgSnapshot<R>(scope: OrgScope, run: (tx: OrgScope) => Promise<R>): Promise<R> {
  return scope.db.kysely
    .transaction()
    .setIsolationLevel("repeatable read")
    .execute((trx) => run({ db: { ...scope.db, kysely: trx }, orgId: scope.orgId, mode: scope.mode }));
}

export function orgTransaction<R>(scope: OrgScope, run: (tx: OrgScope) => Promise<R>): Promise<R> {
  return scope.db.kysely
    .transaction()
    .execute((trx) => run({ db: { ...scope.db, kysely: trx }, orgId: scope.orgId, mode: scope.mode }));
}
