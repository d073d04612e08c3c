/**
 * Migration 0006 (ADR 0008): attachment parts stored before it get the org of their
 * message, so every org-owned table carries its org and scoped reads find them, on both
 * stores.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { sql } from "kysely";
import { loadConfig } from "../../src/config/load.ts";
import { openDb } from "../../src/store/db.ts";
import { attachmentPartsOf } from "../../src/store/messages.ts";
import { migrate } from "../../src/store/migrations.ts";
import { systemScope } from "../../src/store/scope.ts";
import { createTestDatabase, tempDir } from "../helpers/app.ts";

test("migration 0006 fills attachment_parts.org_id from each part's message", async (t) => {
  const database = await createTestDatabase();
  t.after(() => database.drop());
  const config = loadConfig({
    SEALPOST_DATA_DIR: tempDir(),
    ...(database.url === undefined ? {} : { SEALPOST_DATABASE_URL: database.url }),
  });
  const db = openDb(config.database, config.dataDir);
  t.after(() => db.close());
  await migrate(db, { to: "0005_attachment_parts" });

  for (const [org, msg] of [
    ["org_a", "msg_a"],
    ["org_b", "msg_b"],
  ] as const) {
    await sql`insert into orgs (id, name, created_at) values (${org}, ${org}, 1)`.execute(db.kysely);
    await sql`insert into messages (id, org_id, mode, created_at, from_domain, encryption, allow_non_tls,
        tags, recipient_count, attachment_count, size_bytes, data_key_id)
      values (${msg}, ${org}, 'live', 1, 'example.com', 'auto', 0, '[]', 1, 2, 10, 'k')`.execute(db.kysely);
    for (const [idx, seq] of [
      [0, 0],
      [0, 1],
      [1, 0],
    ])
      await sql`insert into attachment_parts (message_id, idx, seq, content)
        values (${msg}, ${idx}, ${seq}, ${Buffer.from(`${msg}:${idx}:${seq}`)})`.execute(db.kysely);
  }

  const { applied } = await migrate(db);
  assert.ok(applied.includes("0006_access_control"));
  const rows = await sql<{ message_id: string; org_id: string | null }>`
    select message_id, org_id from attachment_parts order by message_id, idx, seq`.execute(db.kysely);
  assert.deepEqual(
    rows.rows.map((r) => [r.message_id, r.org_id]),
    [
      ["msg_a", "org_a"],
      ["msg_a", "org_a"],
      ["msg_a", "org_a"],
      ["msg_b", "org_b"],
      ["msg_b", "org_b"],
      ["msg_b", "org_b"],
    ],
  );

  // Scoped reads now find the parts in their own org, and nothing from another.
  const read = async (org: string, msg: string, idx: number) => {
    const out: string[] = [];
    for await (const p of attachmentPartsOf(systemScope(db, org, "admin"), msg, idx))
      out.push(Buffer.from(p.content).toString());
    return out;
  };
  assert.deepEqual(await read("org_a", "msg_a", 0), ["msg_a:0:0", "msg_a:0:1"]);
  assert.deepEqual(await read("org_b", "msg_b", 1), ["msg_b:1:0"]);
  assert.deepEqual(await read("org_b", "msg_a", 0), [], "another org's parts are not read");
});
