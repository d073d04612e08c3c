import { type AuditActor, changeEntry, WORKER_ACTOR } from "../audit/entries.ts";
import type { AuditLog } from "../audit/types.ts";
import type { Logger } from "../logging/logger.ts";
import type { Db } from "../store/db.ts";
import { listOrgs } from "../store/orgs.ts";
import { deleteMetadata, deleteOldBatches, shredContent } from "../store/retention.ts";
import type { OrgsTable } from "../store/schema.ts";
import { systemScope } from "../store/scope.ts";

/**
 * The retention purge (ADR 0009 §4). For each org: messages past the content period, not
 * held, with every delivery final, are crypto-shredded (data key, content, attachment
 * parts and sandbox copies gone; metadata and evidence kept); messages past the metadata
 * period are deleted with their deliveries and events, and old batch records with them.
 * Work is done in transactions of `batchSize` messages, at most `maxBatches` of each kind
 * per org per run, so one run is bounded however far behind it is; the next run goes on.
 * Safe to run on several nodes at once: a message is shredded (and counted) once.
 */
export interface PurgeDeps {
  db: Db;
  audit: AuditLog;
  logger: Logger;
}

export interface PurgeOptions {
  batchSize?: number;
  maxBatches?: number;
  actor?: AuditActor;
}

export interface OrgPurge {
  orgId: string;
  /** Messages whose content this run shredded. */
  contentPurged: string[];
  /** Messages this run deleted (metadata period over). */
  metadataDeleted: string[];
  batchesDeleted: number;
}

export const PURGE_BATCH = 500;
const MAX_BATCHES = 10;
/** Ids listed in one audit entry; the counts are always complete. */
const AUDIT_IDS = 500;
const DAY_MS = 86_400_000;

/** Runs `step` until it returns less than a full batch, at most `max` times. */
async function inBatches<T>(max: number, size: number, step: () => Promise<T[]>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < max; i++) {
    const done = await step();
    out.push(...done);
    if (done.length < size) break;
  }
  return out;
}

async function purgeOrg(db: Db, org: OrgsTable, now: number, size: number, max: number): Promise<OrgPurge> {
  const scope = systemScope(db, org.id, "worker");
  const contentCutoff = now - org.content_retention_days * DAY_MS;
  const metadataCutoff = now - org.metadata_retention_days * DAY_MS;
  const contentPurged = await inBatches(max, size, () => shredContent(scope, contentCutoff, now, size));
  const metadataDeleted = await inBatches(max, size, () => deleteMetadata(scope, metadataCutoff, size));
  let batchesDeleted = 0;
  for (let i = 0; i < max; i++) {
    const n = await deleteOldBatches(scope, metadataCutoff, size);
    batchesDeleted += n;
    if (n < size) break;
  }
  return { orgId: org.id, contentPurged, metadataDeleted, batchesDeleted };
}

function hasWork(p: OrgPurge): boolean {
  return p.contentPurged.length + p.metadataDeleted.length + p.batchesDeleted > 0;
}

function recordPurge(deps: PurgeDeps, actor: AuditActor, result: OrgPurge): Promise<void> {
  return deps.audit.recordNow(
    changeEntry(
      actor,
      result.orgId,
      "retention.purge",
      { type: "org", id: result.orgId },
      {
        shredded: result.contentPurged.length,
        deleted: result.metadataDeleted.length,
        batches: result.batchesDeleted,
        message_ids: result.contentPurged.slice(0, AUDIT_IDS),
        deleted_message_ids: result.metadataDeleted.slice(0, AUDIT_IDS),
      },
    ),
  );
}

/**
 * One purge run over every org at `now`; returns what it did for the orgs where it did
 * something, each recorded as `retention.purge` on the org's chain. An org whose purge
 * fails is logged (ids and codes only) and the others go on.
 */
export async function runPurge(deps: PurgeDeps, now: number, opts: PurgeOptions = {}): Promise<OrgPurge[]> {
  const size = opts.batchSize ?? PURGE_BATCH;
  const max = opts.maxBatches ?? MAX_BATCHES;
  const actor = opts.actor ?? WORKER_ACTOR;
  const done: OrgPurge[] = [];
  for (const org of await listOrgs(deps.db)) {
    let result: OrgPurge;
    try {
      result = await purgeOrg(deps.db, org, now, size, max);
    } catch (err) {
      deps.logger.error({ err, orgId: org.id }, "retention purge failed");
      continue;
    }
    if (!hasWork(result)) continue;
    done.push(result);
    await recordPurge(deps, actor, result).catch((err: unknown) =>
      deps.logger.error({ err, orgId: org.id }, "recording a retention purge failed"),
    );
    deps.logger.info(
      {
        orgId: org.id,
        contentPurged: result.contentPurged.length,
        metadataDeleted: result.metadataDeleted.length,
        batchesDeleted: result.batchesDeleted,
      },
      "retention purge",
    );
  }
  return done;
}
