/**
 * `sealpost report` (ADR 0009 §5): the operator's compliance report from the host, as JSON
 * or CSV, for a named org; bad periods and options exit 2, an unknown org 1.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { test } from "node:test";
import { ManualClock } from "../../src/core/clock.ts";
import { startTestApp } from "../helpers/app.ts";
import { BIN } from "../helpers/cli.ts";
import { DAY, insertAudit, keepContent, send } from "./seed.ts";

const T0 = Date.UTC(2026, 2, 1);

/**
 * The real bin, without blocking this process: the test app runs here, and an audit append
 * it has in flight must be able to finish (spawnSync would freeze it holding the chain's
 * head lock, which the CLI's own audit entry then waits for).
 */
function runCli(
  args: readonly string[],
  env: Record<string, string>,
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { env: { PATH: process.env.PATH ?? "", ...env }, encoding: "utf8", timeout: 120_000 },
      (err, stdout, stderr) =>
        resolve({
          status: err === null ? 0 : typeof err.code === "number" ? err.code : null,
          stdout,
          stderr,
        }),
    );
  });
}

test("sealpost report prints the org's report as JSON or CSV; bad input exits 2, an unknown org 1", async (t) => {
  const clock = new ManualClock(T0 + 1000);
  const { app, adminKey, env } = await startTestApp(t, { clock, worker: false });
  const orgId = app.defaultOrgId;
  await keepContent(app, orgId);
  clock.set(T0 + DAY);
  await send(app, adminKey, { day: 1, to: ["p1@example.org"], cc: ["p2@example.org"] }, T0);
  await send(app, adminKey, { day: 1, sandbox: true, encryption: "tls", to: ["p3@example.org"] }, T0);
  clock.set(T0 + 9 * DAY);
  await send(app, adminKey, { day: 9, to: ["p4@example.org"] }, T0);
  await insertAudit(app, [
    { chain: orgId, at: T0 + 2 * DAY, action: "key.revoke", outcome: "ok" },
    { chain: orgId, at: T0 + 3 * DAY, action: "smtp.auth", outcome: "auth_locked", status: 454 },
  ]);

  // spawnSync stops this process's event loop: nothing of the in-process node may be
  // mid-transaction on the audit head the CLI's own audit entry needs.
  await app.audit.flush();
  const json = await runCli(["report", "--from", "2026-03-01", "--to", "2026-03-08"], env);
  assert.equal(json.status, 0, json.stderr);
  const r = JSON.parse(json.stdout);
  assert.deepEqual(r.org, { id: orgId, name: "default" });
  assert.equal(r.messages.total, 2);
  assert.deepEqual(r.messages.by_mode, { live: 1, test: 1 });
  assert.equal(r.messages.by_encryption.tls, 1);
  assert.equal(r.recipients.total, 3);
  assert.equal(r.delivery_outcomes.by_status.queued, 3, "the worker is off: nothing was delivered");
  assert.equal(r.delivery_outcomes.by_status.delivered, 0);
  assert.deepEqual(r.keys, { created: 0, rotated: 0, revoked: 1 });
  assert.equal(r.failed_authentications.by_channel.smtp, 1);
  assert.equal(r.unusual_volume.status, "insufficient_history");
  assert.doesNotMatch(json.stdout, /@/);

  const csv = await runCli(
    ["report", "--from", "2026-03-01", "--to", "2026-03-08", "--format", "csv", "--org", "default"],
    env,
  );
  assert.equal(csv.status, 0, csv.stderr);
  const lines = csv.stdout.split("\r\n");
  assert.equal(lines[0], "section,key,value");
  assert.ok(lines.includes("messages,total,2"));
  assert.ok(lines.includes("recipients,by_encryption.auto,2"));
  assert.ok(lines.includes("failed_authentications,by_code.auth_locked,1"));

  // Making the report is audited, in the org's chain, as the operator.
  const audited = await app.db.kysely
    .selectFrom("audit_log")
    .select(["actor_type", "actor_id", "outcome"])
    .where("chain", "=", orgId)
    .where("action", "=", "report.compliance")
    .execute();
  assert.deepEqual(
    audited.map((a) => ({ ...a })),
    [
      { actor_type: "operator", actor_id: "cli", outcome: "ok" },
      { actor_type: "operator", actor_id: "cli", outcome: "ok" },
    ],
  );

  const unknown = await runCli(
    ["report", "--from", "2026-03-01", "--to", "2026-03-08", "--org", "nope"],
    env,
  );
  assert.equal(unknown.status, 1);
  assert.match(unknown.stderr, /No such org/);
  assert.equal(unknown.stdout, "");

  for (const [args, message] of [
    [["--from", "2026-03-01"], /--to: required/],
    [["--from", "March", "--to", "2026-03-08"], /--from: from must be an ISO 8601/],
    [["--from", "2025-01-01", "--to", "2026-03-01"], /at most 366 days/],
    [
      ["--from", "2026-03-01", "--to", "2026-03-08", "--format", "xml"],
      /--format: format must be json or csv/,
    ],
    [["--from", "2026-03-01", "--to", "2026-03-08", "--bogus"], /unknown option/],
  ] as const) {
    const res = await runCli(["report", ...args], env);
    assert.equal(res.status, 2, `${args.join(" ")}: ${res.stderr}`);
    assert.match(res.stderr, message);
    assert.match(res.stderr, /usage: sealpost report/);
    assert.equal(res.stdout, "");
  }
  assert.match((await runCli(["--help"], env)).stdout, /report --from ISO --to ISO/);
});
