/**
 * `sealpost orgs retention NAME [--content 30d] [--metadata 6y] [--json]`: shows or sets an
 * org's retention periods; bad periods exit 2 and change nothing; the change is audited as
 * the operator's.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { loadConfig } from "../../src/config/load.ts";
import { openDb } from "../../src/store/db.ts";
import { cliEnv, runCli, runCliJson } from "../helpers/cli.ts";

test("orgs retention shows and sets the periods; bad ones are refused; changes are audited", async (t) => {
  const env = await cliEnv(t);
  const orgId = runCli(["orgs", "create", "clinic-a"], env).stdout.trim();
  assert.deepEqual(runCliJson(["orgs", "retention", "clinic-a"], env), {
    content_retention_days: 30,
    metadata_retention_days: 2190,
  });
  assert.deepEqual(
    runCliJson(["orgs", "retention", "clinic-a", "--content", "7d", "--metadata", "1y"], env),
    {
      content_retention_days: 7,
      metadata_retention_days: 365,
    },
  );
  const text = runCli(["orgs", "retention", "clinic-a", "--metadata", "6y"], env);
  assert.equal(text.status, 0, text.stderr);
  assert.equal(text.stdout.trim(), "content 7d  metadata 2190d");

  // Out of range, and metadata shorter than the stored content period.
  for (const args of [
    ["--content", "0"],
    ["--metadata", "3d"],
  ]) {
    const r = runCli(["orgs", "retention", "clinic-a", ...args], env);
    assert.equal(r.status, 2, `${args.join(" ")}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, /retention_days must be/);
  }
  assert.equal(runCli(["orgs", "retention", "nobody", "--content", "1"], env).status, 1);
  assert.equal(runCli(["orgs", "retention", "clinic-a"], env).stdout.trim(), "content 7d  metadata 2190d");

  const config = loadConfig(env);
  const db = openDb(config.database, config.dataDir);
  t.after(() => db.close());
  const entries = await db.kysely
    .selectFrom("audit_log")
    .selectAll()
    .where("chain", "=", orgId)
    .where("action", "=", "retention.update")
    .orderBy("seq")
    .execute();
  assert.deepEqual(
    entries.map((e) => [e.actor_type, e.actor_id, JSON.parse(e.details)]),
    [
      ["operator", "cli", { content_days: 7, metadata_days: 365 }],
      ["operator", "cli", { content_days: 7, metadata_days: 2190 }],
    ],
  );
});
