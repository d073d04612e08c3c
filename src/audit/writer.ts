import type { Clock } from "../core/clock.ts";
import { canonicalJson } from "../core/idempotency.ts";
import { newId } from "../core/ids.ts";
import type { Logger } from "../logging/logger.ts";
import { type AuditDraft, appendEntries, type ChainDrafts } from "../store/audit.ts";
import type { Db } from "../store/db.ts";
import { GroupCommitter, type Handoff } from "../store/group-commit.ts";
import { allowDetails } from "./details.ts";
import type { AuditEntryInput, AuditLog } from "./types.ts";

/**
 * The audit trail's writer (ADR 0009 §2): one group committer per chain, so entries that
 * arrive while a chain's transaction is in flight are chained together in its next one,
 * and two orgs never wait on each other. `record` hands an entry over and returns at once
 * (a failed append is logged, never thrown at the caller): it waits up to LINGER_MS for
 * company, and meanwhile a submission or delivery commit may carry it (`handOff`, through
 * `carryingAudit`), so a request costs one commit, not two. `recordNow` resolves once the
 * entry is committed, without waiting. Each entry takes its id and time when it is
 * recorded, its seq and hashes when it is appended.
 */
export interface AuditLogDeps {
  db: Db;
  clock: Clock;
  logger: Logger;
}

/** Entries per transaction: a burst larger than this is chained over several. */
const MAX_BATCH = 256;

/** How long a buffered entry waits for a commit to ride in before it is written alone. */
export const LINGER_MS = 20;

const ACTION = /^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$/;
/** Ids, codes, `cli`, `worker`, route-free tokens: never a character of an address. */
const TOKEN = /^[A-Za-z0-9_.:-]+$/;
const MAX_FIELD = 128;

function token(value: string | null | undefined): string | null {
  if (value === undefined || value === null) return null;
  return value.length <= MAX_FIELD && TOKEN.test(value) ? value : null;
}

function sourceIp(value: string | undefined): string | null {
  // An IPv4 or IPv6 literal (with a zone or a mapped IPv4 tail): hex digits, dots, colons.
  return value !== undefined && value.length <= 64 && /^[0-9A-Fa-f.:%a-z]+$/.test(value) ? value : null;
}

/** The stored form of an entry, its free-form parts bounded and allow-listed. */
export function draftOf(entry: AuditEntryInput, at: number): AuditDraft {
  if (!ACTION.test(entry.action) || entry.action.length > 64)
    throw new Error("audit action must be a dotted lower-case name");
  return {
    chain: entry.chain,
    id: newId("aud", at),
    at,
    actor_type: entry.actorType,
    actor_id: token(entry.actorId),
    action: entry.action,
    target_type: token(entry.targetType),
    target_id: token(entry.targetId),
    outcome: entry.outcome,
    status: entry.status !== undefined && Number.isInteger(entry.status) ? entry.status : null,
    source_ip: sourceIp(entry.sourceIp),
    request_id: token(entry.requestId),
    details: canonicalJson(allowDetails(entry.details)),
  };
}

export function createAuditLog(deps: AuditLogDeps): AuditLog {
  const { db, clock, logger } = deps;
  const chains = new Map<string, GroupCommitter<AuditDraft>>();
  let closed = false;

  function committerOf(chain: string): GroupCommitter<AuditDraft> {
    let c = chains.get(chain);
    if (c === undefined) {
      c = new GroupCommitter<AuditDraft>(
        async (drafts) => {
          await appendEntries(db, chain, drafts);
        },
        MAX_BATCH,
        LINGER_MS,
      );
      chains.set(chain, c);
    }
    return c;
  }

  // Logs name the action under `code` (the logger keeps allow-listed fields only).
  function submit(entry: AuditEntryInput, now: boolean): Promise<void> {
    const draft = draftOf(entry, clock.now());
    return committerOf(draft.chain).submit(draft, { now });
  }

  async function flush(): Promise<void> {
    // A drain takes in whatever arrives while it runs, so one wait per chain suffices.
    await Promise.all([...chains.values()].map((c) => c.flushed()));
  }

  return {
    record(entry) {
      if (closed) {
        logger.warn({ code: entry.action }, "audit entry recorded after the audit log closed: dropped");
        return;
      }
      try {
        submit(entry, false).catch((err: unknown) => {
          logger.error({ err, code: entry.action }, "audit entry could not be appended");
        });
      } catch (err) {
        // Not its action: a refused one is not known to be a safe name.
        logger.error({ err }, "audit entry refused");
      }
    },
    async recordNow(entry) {
      if (closed) throw new Error("the audit log is closed");
      await submit(entry, true);
    },
    handOff() {
      const taken: Array<{ chain: string; handoff: Handoff<AuditDraft> }> = [];
      for (const [chain, c] of chains) {
        const handoff = c.handOff();
        if (handoff !== null) taken.push({ chain, handoff });
      }
      if (taken.length === 0) return null;
      return {
        chains: taken.map(({ chain, handoff }) => ({ chain, drafts: handoff.items })),
        settle(committed) {
          for (const t of taken) t.handoff.settle(committed);
        },
      };
    },
    flush,
    async close() {
      closed = true;
      await flush();
    },
  };
}

/**
 * Runs `write`, a transaction of another writer, with the audit entries buffered so far:
 * `write` appends them (appendChains) inside its transaction. If it fails, the entries go
 * back to their chains' writers and are appended there.
 */
export async function carryingAudit<R>(
  audit: AuditLog,
  write: (entries: readonly ChainDrafts[]) => Promise<R>,
): Promise<R> {
  const handoff = audit.handOff();
  try {
    const result = await write(handoff?.chains ?? []);
    handoff?.settle(true);
    return result;
  } catch (err) {
    handoff?.settle(false);
    throw err;
  }
}
