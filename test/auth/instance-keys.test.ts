/**
 * Instance keys (ADR 0008 §2): the key-hash pepper is created once per database, shared by
 * every handle and node, settled to one row when two start together, and re-wrapped by a
 * master-key rotation. Runs on the suite's store.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { instanceKeyAad, loadPepper, rewrapInstanceKeys } from "../../src/auth/instance-keys.ts";
import { ManualClock } from "../../src/core/clock.ts";
import { localKeyWrapper } from "../../src/crypto/key-provider.ts";
import { masterKeyId } from "../../src/crypto/master-key.ts";
import { type Db, toBuffer } from "../../src/store/db.ts";
import { freshDatabase } from "./db.ts";

function wrapperFor(key: Buffer) {
  return localKeyWrapper({ key, keyId: masterKeyId(key) });
}

async function pepperRows(db: Db) {
  return db.kysely.selectFrom("instance_keys").selectAll().where("purpose", "=", "key_hash").execute();
}

test("the pepper is 32 bytes, created once, and memoized per handle", async (t) => {
  const open = await freshDatabase(t);
  const db = open();
  const deps = { db, wrapper: wrapperFor(randomBytes(32)), clock: new ManualClock() };
  const pepper = await loadPepper(deps);
  assert.equal(pepper.length, 32);
  assert.equal(await loadPepper(deps), pepper, "the same Buffer from the memo");
  const rows = await pepperRows(db);
  assert.equal(rows.length, 1);
  const row = rows[0];
  assert.ok(row !== undefined);
  assert.match(row.id, /^ikey_[0-9a-hjkmnp-tv-z]{26}$/);
  assert.equal(row.master_key_id, deps.wrapper.keyId);
  assert.equal(row.public_jwk, null);
  assert.equal(row.retired_at, null);
  assert.equal(toBuffer(row.wrapped).includes(pepper), false, "stored wrapped, not in clear");
});

test("two handles on one database read the same pepper", async (t) => {
  const open = await freshDatabase(t);
  const wrapper = wrapperFor(randomBytes(32));
  const clock = new ManualClock();
  const first = await loadPepper({ db: open(), wrapper, clock });
  const second = await loadPepper({ db: open(), wrapper, clock });
  assert.ok(first.equals(second));
});

test("two nodes starting together settle on one pepper row", async (t) => {
  const open = await freshDatabase(t);
  const wrapper = wrapperFor(randomBytes(32));
  const clock = new ManualClock();
  const handles = [open(), open(), open()];
  const peppers = await Promise.all(handles.map((db) => loadPepper({ db, wrapper, clock })));
  for (const p of peppers) assert.ok(p.equals(peppers[0] ?? Buffer.alloc(0)));
  const [db] = handles;
  assert.ok(db !== undefined);
  assert.equal((await pepperRows(db)).length, 1);
});

test("a wrong master key cannot open the pepper, and the failure is not memoized", async (t) => {
  const open = await freshDatabase(t);
  const clock = new ManualClock();
  const right = wrapperFor(randomBytes(32));
  const pepper = await loadPepper({ db: open(), wrapper: right, clock });
  const db = open();
  await assert.rejects(loadPepper({ db, wrapper: wrapperFor(randomBytes(32)), clock }));
  assert.ok((await loadPepper({ db, wrapper: right, clock })).equals(pepper));
});

test("master-key rotation re-wraps instance keys with the same secret", async (t) => {
  const open = await freshDatabase(t);
  const clock = new ManualClock();
  const oldWrapper = wrapperFor(randomBytes(32));
  const newWrapper = wrapperFor(randomBytes(32));
  const pepper = await loadPepper({ db: open(), wrapper: oldWrapper, clock });
  const db = open();
  assert.equal(await rewrapInstanceKeys(db, oldWrapper, newWrapper), 1);
  assert.equal(await rewrapInstanceKeys(db, oldWrapper, newWrapper), 0, "already re-wrapped");
  const [row] = await pepperRows(db);
  assert.ok(row !== undefined);
  assert.equal(row.master_key_id, newWrapper.keyId);
  const aad = instanceKeyAad(row.id, row.purpose);
  await assert.rejects(oldWrapper.unwrap(toBuffer(row.wrapped), aad));
  assert.ok((await loadPepper({ db: open(), wrapper: newWrapper, clock })).equals(pepper));
});
