/**
 * `sealpost audit verify | export | checkpoint | public-key` (ADR 0009 §1, §3), run as the
 * operator would: an export verifies offline with `verify --file` (no configuration, no
 * store), tampering with the export or the store is named, and a signed checkpoint checks
 * out with nothing but the public key the CLI prints, as an auditor would check it.
 */
import assert from "node:assert/strict";
import { verify } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { checkpointMessage } from "../../src/audit/checkpoint.ts";
import { loadConfig } from "../../src/config/load.ts";
import { openDb } from "../../src/store/db.ts";
import { findOrgByName } from "../../src/store/orgs.ts";
import { tempDir } from "../helpers/app.ts";
import { cliEnv, runCli, runCliJson } from "../helpers/cli.ts";
import { appendN, setFields, writer } from "./chain.ts";

test("audit export → verify --file round-trips; tampering is named; verify on the store too", async (t) => {
  const env = await cliEnv(t);
  assert.equal(runCli(["orgs", "create", "acme"], env).status, 0);
  const config = loadConfig(env);
  const db = openDb(config.database, config.dataDir);
  t.after(() => db.close());
  const org = await findOrgByName(db, "acme");
  assert.ok(org !== undefined);
  const audit = writer(db);
  await appendN(audit, org.id, 12);
  await audit.close();

  const all = runCliJson(["audit", "verify", "--all"], env);
  assert.equal(all.ok, true);
  assert.ok(
    all.chains.some((c: { chain: string; checked: number }) => c.chain === org.id && c.checked >= 12),
  );

  const exported = runCli(["audit", "export", "--org", "acme"], env);
  assert.equal(exported.status, 0, exported.stderr);
  const lines = exported.stdout.trim().split("\n");
  assert.ok(lines.length >= 13);
  // The export records itself before it reads: its last line is its own entry.
  assert.equal(JSON.parse(lines.at(-1) ?? "{}").action, "audit.export");

  const dir = tempDir();
  const file = join(dir, "export.jsonl");
  writeFileSync(file, exported.stdout);
  // No configuration at all: what an auditor has.
  const offline = runCli(["audit", "verify", "--file", file, "--json"], {});
  assert.equal(offline.status, 0, offline.stderr);
  assert.equal(JSON.parse(offline.stdout).ok, true);

  // Cut lines at the start: verifies only as a slice, and says so.
  writeFileSync(file, lines.slice(2).join("\n"));
  const slice = runCli(["audit", "verify", "--file", file], {});
  assert.equal(slice.status, 0, slice.stderr);
  assert.match(slice.stdout, /a slice from seq 3/);

  const third = JSON.parse(lines[2] ?? "{}");
  third.outcome = "forbidden";
  writeFileSync(file, [...lines.slice(0, 2), JSON.stringify(third), ...lines.slice(3)].join("\n"));
  const tampered = runCli(["audit", "verify", "--file", file], {});
  assert.equal(tampered.status, 1);
  assert.match(tampered.stdout, new RegExp(`BAD .*seq 3 \\(${third.id}\\) changed`));

  await setFields(db, org.id, 5, { action: "key.create" });
  const bad = runCli(["audit", "verify", "--org", "acme", "--json"], env);
  assert.equal(bad.status, 1);
  const report = JSON.parse(bad.stdout);
  assert.equal(report.ok, false);
  assert.deepEqual(
    { seq: report.chains[0].first_bad.seq, problem: report.chains[0].first_bad.problem },
    { seq: 5, problem: "changed" },
  );
  assert.equal(runCli(["audit", "verify", "--org", "nope"], env).status, 1);
  assert.equal(runCli(["audit", "frobnicate"], env).status, 2);
});

test("audit checkpoint signs the head; the printed public key verifies it; a forged checkpoint fails verify", async (t) => {
  const env = await cliEnv(t);
  assert.equal(runCli(["orgs", "create", "acme"], env).status, 0);
  const config = loadConfig(env);
  const db = openDb(config.database, config.dataDir);
  t.after(() => db.close());
  const org = await findOrgByName(db, "acme");
  assert.ok(org !== undefined);
  const audit = writer(db);
  await appendN(audit, org.id, 8);
  await audit.close();

  const [signed] = runCliJson(["audit", "checkpoint", "--org", "acme"], env);
  assert.equal(signed.chain, org.id);
  const pem = runCli(["audit", "public-key"], env);
  assert.equal(pem.status, 0, pem.stderr);
  assert.match(pem.stdout, /^-----BEGIN PUBLIC KEY-----\n/);

  // The auditor's check: the signature over `chain\nseq\nhash\nat` with the public key.
  const row = await db.kysely
    .selectFrom("audit_checkpoints")
    .selectAll()
    .where("chain", "=", org.id)
    .executeTakeFirstOrThrow();
  assert.equal(row.seq, signed.seq);
  assert.ok(verify(null, checkpointMessage(row), pem.stdout, Buffer.from(row.signature, "base64")));
  assert.equal(runCli(["audit", "verify", "--org", "acme"], env).status, 0);

  // A checkpoint claiming another hash at that seq: bad_checkpoint.
  await db.kysely
    .updateTable("audit_checkpoints")
    .set({ hash: "f".repeat(64) })
    .where("chain", "=", org.id)
    .execute();
  const refused = runCli(["audit", "verify", "--org", "acme", "--json"], env);
  assert.equal(refused.status, 1);
  const bad = JSON.parse(refused.stdout);
  assert.equal(bad.ok, false);
  assert.equal(bad.chains[0].first_bad.problem, "bad_checkpoint");
  assert.equal(bad.chains[0].first_bad.seq, signed.seq);
});
