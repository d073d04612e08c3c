/**
 * Migration 0005 (ADR 0006): an attachment stored as one blob before parts existed
 * becomes part 0 without re-encryption and still opens, on both stores.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { sql } from "kysely";
import { loadConfig } from "../../src/config/load.ts";
import { openAttachmentParts, PART_BYTES } from "../../src/core/attachment-parts.ts";
import { seal } from "../../src/crypto/aead.ts";
import { openDb } from "../../src/store/db.ts";
import { migrate } from "../../src/store/migrations.ts";
import { createTestDatabase, tempDir } from "../helpers/app.ts";

test("migration 0005 turns single-blob attachments into part 0, still readable", async (t) => {
  const database = await createTestDatabase();
  t.after(() => database.drop());
  const dataDir = tempDir();
  const config = loadConfig({
    SEALPOST_DATA_DIR: dataDir,
    ...(database.url === undefined ? {} : { SEALPOST_DATABASE_URL: database.url }),
  });
  const db = openDb(config.database, config.dataDir);
  t.after(() => db.close());
  await migrate(db, { to: "0004_batch_and_schedule" });

  const key = randomBytes(32);
  const content = randomBytes(2 * PART_BYTES + 3);
  const legacy = seal(key, content, "att:msg_legacy:0");
  await sql`insert into orgs (id, name, created_at) values ('org_1', 'o', 1)`.execute(db.kysely);
  await sql`insert into messages (id, org_id, mode, created_at, from_domain, encryption, allow_non_tls,
      tags, recipient_count, attachment_count, size_bytes, data_key_id)
    values ('msg_legacy', 'org_1', 'live', 1, 'example.com', 'auto', 0, '[]', 1, 1, ${content.length}, 'k')`.execute(
    db.kysely,
  );
  await sql`insert into attachments (message_id, idx, content) values ('msg_legacy', 0, ${legacy})`.execute(
    db.kysely,
  );

  const { applied } = await migrate(db);
  assert.ok(applied.includes("0005_attachment_parts"));
  const rows = await db.kysely.selectFrom("attachment_parts").selectAll().execute();
  assert.equal(rows.length, 1);
  assert.equal(rows[0]?.seq, 0);
  const opened = await openAttachmentParts(key, "msg_legacy", 0, content.length, rows);
  assert.ok(Buffer.concat(opened).equals(content));
});
