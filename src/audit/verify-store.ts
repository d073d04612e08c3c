import { findHead, listEntries, maxSeq, streamEntries } from "../store/audit.ts";
import type { Db } from "../store/db.ts";
import { checkpointClaims } from "./checkpoint.ts";
import type { VerifyReport } from "./types.ts";
import { verifyChainStream } from "./verify.ts";

/**
 * Verifies a chain as stored, while nodes may still be appending to it: the head is read
 * first and the entries up to it verified (with the chain's signed checkpoints); entries
 * appended meanwhile are left to the next run. An entry beyond the head as read again
 * afterwards was not appended by a writer (they move the head in the same transaction):
 * it is reported as inserted.
 */
export async function verifyStoredChain(db: Db, chain: string): Promise<VerifyReport> {
  const head = (await findHead(db, chain)) ?? { seq: 0, hash: "0".repeat(64) };
  const checkpoints = (await checkpointClaims(db, chain)).filter((c) => c.seq <= head.seq);
  const report = await verifyChainStream(streamEntries(db, chain, { throughSeq: head.seq }), {
    chain,
    head,
    checkpoints,
  });
  if (!report.ok) return report;
  // Highest stored seq first, then the head: a legitimate append moves both at once.
  const highest = await maxSeq(db, chain);
  const now = (await findHead(db, chain)) ?? head;
  if (highest <= now.seq) return report;
  const [beyond] = await listEntries(db, chain, { afterSeq: now.seq }, 1);
  return {
    ...report,
    ok: false,
    firstBad: { seq: beyond?.seq ?? now.seq + 1, id: beyond?.id ?? null, problem: "inserted" },
  };
}
