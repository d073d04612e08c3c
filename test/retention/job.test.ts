/**
 * The purge job of worker nodes (ADR 0009 §4): it runs once when the worker starts and then
 * every 10 minutes; stopping waits for a run in progress.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ManualClock } from "../../src/core/clock.ts";
import { silentLogger } from "../../src/logging/logger.ts";
import { PURGE_INTERVAL_MS, purgeJob } from "../../src/retention/job.ts";
import { auth, BOOTSTRAP_KEY, eventually, startTestApp } from "../helpers/app.ts";
import { DAY, recordingAudit, rowsOf, sandboxMessage, send } from "./fixtures.ts";

async function oldCancelledMessage(app: Awaited<ReturnType<typeof startTestApp>>["app"], clock: ManualClock) {
  const { id } = await send(app, sandboxMessage());
  const res = await app.api.inject({
    method: "POST",
    url: `/v1/messages/${id}/cancel`,
    headers: auth(BOOTSTRAP_KEY),
  });
  assert.equal(res.statusCode, 200, res.body);
  clock.advance(31 * DAY);
  return id;
}

test("the job purges once at start; stop waits for the run", async (t) => {
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const { app } = await startTestApp(t, { clock, worker: false });
  const id = await oldCancelledMessage(app, clock);
  const audit = recordingAudit();
  const job = purgeJob({ db: app.db, clock, logger: silentLogger(), audit });
  assert.equal(PURGE_INTERVAL_MS, 600_000);
  job.start();
  await job.stop();
  assert.notEqual((await rowsOf(app, id)).message?.content_purged_at, null);
  assert.equal(audit.entries[0]?.action, "retention.purge");
});

test("starting a node's worker starts the purge", async (t) => {
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const { app } = await startTestApp(t, { clock, worker: false });
  const id = await oldCancelledMessage(app, clock);
  app.startWorker();
  await eventually(
    async () => ((await rowsOf(app, id)).message?.content_purged_at ?? null) !== null || undefined,
  );
});
