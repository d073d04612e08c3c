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

/** A committer that records its writes and lingers a minute: only handOff, `now` or flushed() end a wait. */
function lingering(): { writes: number[][]; committer: GroupCommitter<number> } {
  const writes: number[][] = [];
  const committer = new GroupCommitter<number>(
    async (items) => {
      writes.push([...items]);
    },
    256,
    60_000,
  );
  return { writes, committer };
}

test("handOff: another writer carries the waiting units; they settle with its transaction", async () => {
  const { writes, committer } = lingering();
  const a = committer.submit(1);
  const b = committer.submitAll([2, 3]);
  const handoff = committer.handOff();
  assert.deepEqual(handoff?.items, [1, 2, 3]);
  assert.equal(committer.handOff(), null, "taken units are not taken twice");
  const flushed = committer.flushed();
  handoff?.settle(true);
  await Promise.all([a, b, flushed]);
  assert.deepEqual(writes, [], "carried units are not written again here");
});

test("handOff: a failed carrier gives the units back; they are written here, never carried again", async () => {
  const { writes, committer } = lingering();
  const a = committer.submit(1);
  const first = committer.handOff();
  first?.settle(false);
  assert.equal(committer.handOff(), null, "a unit given back is not handed off again");
  const c = committer.submit(2);
  await Promise.all([a, c, committer.flushed()]);
  assert.deepEqual(writes.flat().sort(), [1, 2]);
});

test("a linger is cut short by a waiting caller and by flushed()", async () => {
  const { writes, committer } = lingering();
  const buffered = committer.submit(1);
  // `now` starts the write at once, and unit 1 joins it.
  await committer.submit(2, { now: true });
  await buffered;
  assert.deepEqual(writes, [[1, 2]]);
  const more = committer.submit(3);
  await committer.flushed();
  await more;
  assert.deepEqual(writes, [[1, 2], [3]]);
});
