/**
 * Orgs (ADR 0008 §1): names are `^[a-z0-9][a-z0-9-]{0,62}$`, taken once (also by two
 * creators at the same time), each org gets its own keys, and `ensureOrg` is idempotent.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { SealpostError } from "../../src/core/errors.ts";
import { checkOrgName, createOrg, ensureOrg, findOrg, listOrgs, orgView } from "../../src/core/orgs.ts";
import { startTestApp } from "../helpers/app.ts";

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof SealpostError ? `${err.code}:${err.field}` : "other";
  }
  return undefined;
}

test("org names: lower-case letters, digits and hyphens, 1-63, not starting with a hyphen", () => {
  for (const ok of ["a", "0", "clinic-a", "st-mary-2", "a".repeat(63)]) assert.equal(checkOrgName(ok), ok);
  for (const bad of ["", "Clinic", "-clinic", "clinic_a", "clinic.a", "clínica", " a", "a ", "a".repeat(64)])
    assert.equal(
      code(() => checkOrgName(bad)),
      "invalid_value:name",
      JSON.stringify(bad),
    );
  assert.equal(
    code(() => checkOrgName(42)),
    "invalid_type:name",
  );
});

test("createOrg: a new org with its own keys; a taken name is invalid_state, also when two race", async (t) => {
  const { app } = await startTestApp(t, { worker: false });
  const deps = { db: app.db, keyring: app.keyring, clock: app.clock };
  const a = await createOrg(deps, { name: "clinic-a", rateLimit: "20/m" });
  assert.match(a.id, /^org_[0-9a-z]{26}$/);
  assert.equal(a.rate_limit, "20/m");
  assert.deepEqual({ ...(await findOrg(app.db, a.id)) }, a);
  // Its own data and index keys exist.
  const keys = await app.keyring.orgKeys(a.id);
  assert.equal(keys.indexKey.length, 32);

  await assert.rejects(createOrg(deps, { name: "clinic-a" }), (err: unknown) => {
    assert.ok(err instanceof SealpostError);
    assert.equal(err.code, "invalid_state");
    assert.equal(err.field, "name");
    return true;
  });
  const raced = await Promise.allSettled([
    createOrg(deps, { name: "clinic-b" }),
    createOrg(deps, { name: "clinic-b" }),
  ]);
  assert.deepEqual(raced.map((r) => r.status).sort(), ["fulfilled", "rejected"]);
  await assert.rejects(createOrg(deps, { name: "x", rateLimit: "fast" }), /rate_limit must be/);
  await assert.rejects(createOrg(deps, { name: "Bad" }), /name must be/);

  const names = (await listOrgs(app.db)).map((o) => o.name);
  assert.deepEqual(names.sort(), ["clinic-a", "clinic-b", "default"]);
  assert.deepEqual(Object.keys(orgView(a)).sort(), ["created_at", "id", "name", "object", "rate_limit"]);
});

test("ensureOrg returns the existing org, or makes it once", async (t) => {
  const { app } = await startTestApp(t, { worker: false });
  const again = await ensureOrg(app.db, app.keyring, app.clock, "default");
  assert.equal(again.id, app.defaultOrgId);
  const [x, y] = await Promise.all([
    ensureOrg(app.db, app.keyring, app.clock, "other"),
    ensureOrg(app.db, app.keyring, app.clock, "other"),
  ]);
  assert.equal(x.id, y.id);
});
