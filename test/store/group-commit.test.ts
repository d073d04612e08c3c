/**
 * GroupCommitter.submitAll: units handed over together are written in one transaction,
 * never split across two, and fail or succeed together; a failing group does not fail its
 * neighbours (the combined write is retried group by group).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { GroupCommitter } from "../../src/store/group-commit.ts";

test("submitAll writes a group in one transaction, even when it is larger than maxBatch", async () => {
  const writes: number[][] = [];
  const committer = new GroupCommitter<number>(async (items) => {
    writes.push([...items]);
  }, 4);
  const group = Array.from({ length: 10 }, (_, i) => 100 + i);
  await Promise.all([
    committer.submit(1),
    committer.submitAll(group),
    committer.submit(2),
    committer.submitAll([]),
  ]);
  const holding = writes.filter((w) => w.some((i) => i >= 100));
  assert.equal(holding.length, 1, "the group is not split");
  assert.deepEqual(holding[0], group);
  assert.deepEqual(writes.flat().sort(), [1, 2, ...group].sort());
});

test("a failing group fails alone and whole; its neighbours are committed", async () => {
  const committed: number[] = [];
  const committer = new GroupCommitter<number>(async (items) => {
    if (items.includes(13)) throw new Error("unique violation");
    committed.push(...items);
  });
  const results = await Promise.allSettled([
    committer.submit(1),
    committer.submitAll([11, 12, 13]),
    committer.submitAll([21, 22]),
  ]);
  assert.deepEqual(
    results.map((r) => r.status),
    ["fulfilled", "rejected", "fulfilled"],
  );
  assert.deepEqual(committed.sort(), [1, 21, 22], "nothing of the failed group was written");
});
