/**
 * Org scoping by construction (ADR 0008 §1): a query on a table that has `org_id` is
 * written only through the helpers of src/store/scope.ts, which add the org (and for a
 * test-mode scope, the test-mode condition). This test reads the sources and fails on any
 * `selectFrom|updateTable|deleteFrom|insertInto("<org-owned table>")`, or raw SQL on one,
 * outside scope.ts and the allow-list below, whose entries each say why the file may.
 * The org-owned tables are read from src/store/schema.ts, so a new one is covered at once.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { ensureOrg } from "../../src/core/orgs.ts";
import { suppressionRow } from "../../src/core/suppressions.ts";
import {
  cancelPending,
  deliveriesOf,
  eventsOf,
  findDelivery,
  findMessage,
  findMessagesByIds,
  listMessages,
} from "../../src/store/messages.ts";
import { scopeOf, systemScope } from "../../src/store/scope.ts";
import { findSuppression, insertSuppression } from "../../src/store/suppressions.ts";
import { auth, startTestApp } from "../helpers/app.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** Files that may query org-owned tables directly, with a plain Db, and why. */
const ALLOW: Record<string, string> = {
  "src/store/submissions.ts":
    "insertSubmissions: one group commit writes the submissions of many orgs; each row is built with its principal's org",
  "src/store/queue.ts":
    "the delivery queue: workers claim, renew and record the work of every org, queue depth is instance-wide, and a DSN names only a delivery id",
  "src/store/migrations.ts": "schema changes and backfills run over every org's rows",
  "src/store/orgs.ts":
    "creating an org writes its keys; the keyring reads the keys of whichever org it serves",
  "src/store/api-keys.ts": "a key is looked up by its id or hash before any org is known",
  "src/store/portal.ts": "a portal link is found by its token's hash before its org is known",
  "src/store/webhooks.ts":
    "the webhook outbox: event writers insert the rows of many orgs' events in their transaction (each row built with its event's org), and the dispatcher claims due deliveries of every org, as the delivery queue does",
};

/** Tables whose row type has an `org_id` column, from the schema's `Database` interface. */
function orgOwnedTables(): string[] {
  const schema = readFileSync(join(ROOT, "src/store/schema.ts"), "utf8");
  const withOrg = new Set<string>();
  for (const m of schema.matchAll(/export interface (\w+) \{([\s\S]*?)\n\}/g))
    if (/^\s*org_id: /m.test(m[2] ?? "")) withOrg.add(m[1] ?? "");
  const database = /export interface Database \{([\s\S]*?)\n\}/.exec(schema)?.[1] ?? "";
  const tables = [...database.matchAll(/^\s*(\w+): (\w+);/gm)]
    .filter((m) => withOrg.has(m[2] ?? ""))
    .map((m) => m[1] ?? "");
  return tables;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(path);
    return e.name.endsWith(".ts") ? [path] : [];
  });
}

interface Hit {
  file: string;
  line: number;
  text: string;
}

/** Direct queries on org-owned tables (and query builders on a table not named literally). */
function hitsIn(file: string, source: string, tables: readonly string[]): Hit[] {
  const names = tables.join("|");
  const patterns = [
    new RegExp(`\\b(?:selectFrom|updateTable|deleteFrom|insertInto)\\(\\s*["'\`](?:${names})\\b`, "g"),
    // A table given as an expression cannot be checked here; only scope.ts does that.
    /\b(?:selectFrom|updateTable|deleteFrom|insertInto)\(\s*(?!["'`\s])/g,
  ];
  const hits: Hit[] = [];
  const at = (index: number, text: string) =>
    hits.push({ file, line: source.slice(0, index).split("\n").length, text });
  for (const p of patterns) for (const m of source.matchAll(p)) at(m.index, m[0]);
  // Raw SQL: the contents of sql`…` templates that read or write an org-owned table.
  const raw = new RegExp(`\\b(?:from|update|into|join)\\s+"?(?:${names})\\b`, "gi");
  for (const t of source.matchAll(/\bsql(?:<[^>]*>)?`([^`]*)`/g))
    for (const m of (t[1] ?? "").matchAll(raw)) at(t.index + m.index, m[0]);
  return hits;
}

test("the schema's org-owned tables are found (the scan below covers them)", () => {
  const tables = orgOwnedTables();
  for (const t of [
    "messages",
    "deliveries",
    "events",
    "sandbox_messages",
    "attachment_parts",
    "batches",
    "domains",
    "dkim_keys",
    "suppressions",
    "api_keys",
    "org_keys",
  ])
    assert.ok(tables.includes(t), `${t} is org-owned`);
  assert.ok(!tables.includes("orgs"));
});

test("every query on an org-owned table goes through store/scope.ts or an allow-listed file", () => {
  const tables = orgOwnedTables();
  const used = new Set<string>();
  const offending: string[] = [];
  for (const path of sourceFiles(join(ROOT, "src"))) {
    const file = relative(ROOT, path).split("\\").join("/");
    if (file === "src/store/scope.ts") continue;
    const hits = hitsIn(file, readFileSync(path, "utf8"), tables);
    if (hits.length === 0) continue;
    if (file in ALLOW) used.add(file);
    else for (const h of hits) offending.push(`${h.file}:${h.line}: ${h.text}`);
  }
  assert.deepEqual(offending, [], "unscoped queries (use selectOrg/updateOrg/deleteOrg/insertOrg)");
  const stale = Object.keys(ALLOW).filter((f) => !used.has(f));
  assert.deepEqual(stale, [], "allow-list entries that no longer query an org-owned table");
});

test("the scan catches what it is meant to catch", () => {
  const tables = ["messages", "deliveries"];
  const found = (src: string) => hitsIn("x.ts", src, tables).length;
  assert.equal(found(`db.kysely.selectFrom("messages").selectAll()`), 1);
  assert.equal(found(`trx\n  .updateTable(\n    "deliveries")`), 1);
  assert.equal(found(`eb.selectFrom('deliveries')`), 1);
  assert.equal(found(`db.kysely.insertInto(table)`), 1, "a table that is not a literal");
  assert.equal(found("await sql`update deliveries set x = 1`.execute(db)"), 1);
  assert.equal(found('sql<number>`select 1 from "messages"`'), 1);
  assert.equal(found(`db.kysely.selectFrom("orgs")`), 0);
  assert.equal(found(`db.kysely.selectFrom("messages_archive")`), 0);
  assert.equal(found("// the messages table"), 0);
});

test("scoped reads and writes stay in their org, and a test scope sees no live message", async (t) => {
  const { app, adminKey } = await startTestApp(t, { worker: false });
  const res = await app.api.inject({
    method: "POST",
    url: "/v1/messages",
    headers: auth(adminKey),
    payload: {
      from: "clinic@example.com",
      to: "pat@example.org",
      subject: "Hi",
      text: "Hello",
      send_at: new Date(app.clock.now() + 3_600_000).toISOString(),
    },
  });
  assert.equal(res.statusCode, 202, res.body);
  const id: string = res.json().id;
  const deliveryId: string = res.json().deliveries[0].id;
  const other = await ensureOrg(app.db, app.keyring, app.clock, "other");
  const own = systemScope(app.db, app.defaultOrgId, "admin");
  const elsewhere = systemScope(app.db, other.id, "admin");
  const testMode = scopeOf(app.db, { orgId: app.defaultOrgId, mode: "test" });

  assert.equal((await findMessage(own, id))?.id, id);
  assert.equal((await findDelivery(own, deliveryId))?.id, deliveryId);
  for (const scope of [elsewhere, testMode]) {
    assert.equal(await findMessage(scope, id), undefined);
    assert.deepEqual(await findMessagesByIds(scope, [id]), []);
    assert.equal(await findDelivery(scope, deliveryId), undefined);
    assert.deepEqual(await deliveriesOf(scope, [id]), []);
    assert.deepEqual(await eventsOf(scope, id), []);
    assert.deepEqual(await listMessages(scope, { limit: 10 }), []);
    assert.deepEqual(await listMessages(scope, { limit: 10, status: "scheduled" }), []);
    const cancelled = await cancelPending(scope, id, app.clock.now(), () => assert.fail("no event"));
    assert.deepEqual(cancelled, []);
  }
  assert.equal((await deliveriesOf(own, [id]))[0]?.status, "scheduled", "nothing was cancelled");

  // An insert takes the scope's org, whatever the row said.
  const row = await suppressionRow(app.keyring, app.clock, app.defaultOrgId, "x@example.org", "manual", null);
  assert.equal(await insertSuppression(elsewhere, row), true);
  assert.equal((await findSuppression(elsewhere, row.address_bidx))?.org_id, other.id);
  assert.equal(await findSuppression(own, row.address_bidx), undefined);
});
