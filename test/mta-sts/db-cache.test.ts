/**
 * The database policy cache on the store the suite runs on (SEALPOST_TEST_STORE=sqlite|postgres),
 * and getMtaStsPolicy on top of it across two cache instances (two workers, or a restart).
 */
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { ManualClock } from "../../src/core/clock.ts";
import { createResolver } from "../../src/delivery/dns.ts";
import { getMtaStsPolicy, type MtaStsPolicy } from "../../src/delivery/mta-sts.ts";
import { type Db, openDb } from "../../src/store/db.ts";
import { migrate } from "../../src/store/migrations.ts";
import { dbMtaStsCache } from "../../src/store/mta-sts-cache.ts";
import { createTestDatabase, type TestDatabase, tempDir, testStore } from "../helpers/app.ts";
import { type DnsTestServer, startDnsServer } from "../helpers/dns-server.ts";
import { type PolicyServer, startPolicyServer } from "../helpers/policy-server.ts";
import { testCa } from "../helpers/test-ca.ts";
import { requireTool } from "../helpers/tools.ts";
import { ENFORCE_POLICY, stsRecords } from "./fixtures.ts";

// The DNS server is a private Knot DNS (test/helpers/dns-server.ts): skipped, and listed, without it.
const skip = requireTool(undefined, "dns-server")
  ? false
  : "missing tool: dns-server (install with scripts/install-test-tools.sh)";

describe(`dbMtaStsCache (${testStore()})`, () => {
  let dir: string;
  let database: TestDatabase;
  let db: Db;

  before(async () => {
    dir = tempDir("sealpost-mta-sts-");
    database = await createTestDatabase();
    db = openDb(
      database.url === undefined
        ? { kind: "sqlite", path: join(dir, "cache.db") }
        : { kind: "postgres", url: database.url },
      dir,
    );
    await migrate(db);
  });
  after(async () => {
    await db.close();
    await database.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  const policy: MtaStsPolicy = {
    id: "20260101T000000",
    mode: "enforce",
    mx: ["mx1.example.com", "*.pool.example.com"],
    maxAgeSeconds: 31_557_600,
    fetchedAt: Date.UTC(2026, 0, 1, 12, 30, 15, 123),
  };

  test("round trip, absent domain, and replacement (upsert)", async () => {
    const cache = dbMtaStsCache(db);
    assert.equal(await cache.get("example.com"), null);
    await cache.put("example.com", policy);
    assert.deepEqual(await cache.get("example.com"), policy);
    assert.equal(await cache.get("other.example"), null);

    const next: MtaStsPolicy = {
      id: "2",
      mode: "testing",
      mx: ["mx.example.com"],
      maxAgeSeconds: 60,
      fetchedAt: policy.fetchedAt + 5,
    };
    await cache.put("example.com", next);
    assert.deepEqual(await cache.get("example.com"), next);
    const rows = await db.kysely
      .selectFrom("mta_sts_policies")
      .selectAll()
      .where("domain", "=", "example.com")
      .execute();
    assert.equal(rows.length, 1);
    assert.equal(Number(rows[0]?.expires_at), next.fetchedAt + 60_000);
  });

  test("mode none with no mx", async () => {
    const cache = dbMtaStsCache(db);
    const none: MtaStsPolicy = { id: "n", mode: "none", mx: [], maxAgeSeconds: 0, fetchedAt: 1 };
    await cache.put("none.example", none);
    assert.deepEqual(await cache.get("none.example"), none);
  });

  test("a corrupt row reads as absent", async () => {
    await db.kysely
      .insertInto("mta_sts_policies")
      .values({
        domain: "corrupt.example",
        policy_id: "x",
        mode: "enforce",
        mx: "{not json",
        max_age: 1,
        fetched_at: 1,
        expires_at: 1001,
      })
      .execute();
    assert.equal(await dbMtaStsCache(db).get("corrupt.example"), null);
  });

  describe("with getMtaStsPolicy", { skip }, () => {
    let dns: DnsTestServer;
    let server: PolicyServer;
    let caCert: string;
    before(async () => {
      dns = await startDnsServer(stsRecords("shared.test", "7"));
      const ca = await testCa();
      caCert = ca.caCert;
      server = await startPolicyServer({
        ...(await ca.issue(["mta-sts.shared.test"])),
        policies: { "shared.test": ENFORCE_POLICY },
      });
    });
    after(async () => {
      await Promise.all([dns.close(), server.close()]);
    });

    test("a policy fetched through one cache instance is used by another", async () => {
      const clock = new ManualClock();
      const common = {
        resolver: createResolver([dns.address], 1000),
        now: () => clock.now(),
        httpsPort: server.port,
        ca: caCert,
        timeoutMs: 3000,
      };
      const first = await getMtaStsPolicy("shared.test", { ...common, cache: dbMtaStsCache(db) });
      assert.equal(first.kind === "policy" && first.fromCache, false);
      clock.advance(60_000);
      const second = await getMtaStsPolicy("shared.test", { ...common, cache: dbMtaStsCache(db) });
      assert.equal(second.kind === "policy" && second.fromCache, true);
      assert.equal(second.kind === "policy" && second.policy.fetchedAt, clock.now() - 60_000);
      assert.equal(server.requests("shared.test"), 1);
    });
  });
});
