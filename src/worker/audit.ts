import { deliveryEntry } from "../audit/delivery.ts";
import { suppressionEntry, WORKER_ACTOR } from "../audit/entries.ts";
import type { AuditLog } from "../audit/types.ts";
import type { Logger } from "../logging/logger.ts";
import type { Committed } from "../store/queue.ts";

/**
 * The audit entries of delivery (ADR 0009 §2): after the worker's results are committed,
 * one `delivery.<event type>` per event (sent, delivered, deferred, bounced, failed,
 * suppressed; audit/delivery.ts), with the TLS evidence of the attempt; and
 * `suppression.add` for a hard bounce that suppressed its address. Buffered (`record`): the
 * delivery path never waits for the audit trail.
 */

/** Records what one commit of results wrote. Never throws: the results are already committed. */
export function auditCommitted(audit: AuditLog, logger: Logger, committed: Committed): void {
  try {
    for (const c of committed.applied)
      for (const e of c.events) audit.record(deliveryEntry(WORKER_ACTOR, e, c.attempt));
    for (const row of committed.suppressions)
      audit.record(suppressionEntry(WORKER_ACTOR, row.org_id, "suppression.add", row));
  } catch (err) {
    logger.error({ err }, "auditing delivery results failed");
  }
}
