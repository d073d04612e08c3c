import type { EncryptionMode } from "../core/message.ts";
import { dailyMessageCounts, legalHoldCounts, messageCounts, recipientCounts } from "../store/reports.ts";
import type { DeliveryStatus, OrgsTable } from "../store/schema.ts";
import type { OrgScope } from "../store/scope.ts";
import { auditSections } from "./audit-sections.ts";
import { tallyEvidence, token } from "./evidence.ts";
import { phiSection } from "./phi.ts";
import type { ComplianceReport, Counts, NotAvailable, ReportPeriod } from "./types.ts";
import { unusualVolume, volumeSpan } from "./volume.ts";

/**
 * Builds the compliance report of one org for a period (ADR 0009 §5). Messages and their
 * recipients are those created in the period; a recipient's status and evidence are as they
 * stand when the report is made. Audit-derived counts are entries recorded in the period.
 */
const ENCRYPTION_MODES: readonly EncryptionMode[] = ["auto", "tls", "portal", "smime", "pgp"];
const STATUSES: readonly DeliveryStatus[] = [
  "scheduled",
  "queued",
  "sending",
  "deferred",
  "delivered",
  "bounced",
  "failed",
  "suppressed",
  "cancelled",
];

export const NOTES = {
  allowedDomains:
    "Not applicable: sealpost has no per-org allowed-recipient-domain policy yet, so no recipient is outside one.",
} as const;

function notAvailable(note: string): NotAvailable {
  return { available: false, count: 0, note };
}

function zeroes<K extends string>(keys: readonly K[]): Record<K, number> {
  return Object.fromEntries(keys.map((k) => [k, 0])) as Record<K, number>;
}

/** Keys come from stored codes; token() keeps anything odd (or `__proto__`) out of the object. */
function add(counts: Counts, raw: string, n: number): void {
  const key = token(raw);
  counts[key] = (Object.hasOwn(counts, key) ? (counts[key] ?? 0) : 0) + n;
}

async function messageSections(
  scope: OrgScope,
  period: ReportPeriod,
): Promise<Pick<ComplianceReport, "messages" | "recipients" | "delivery_outcomes">> {
  const [messages, recipients] = await Promise.all([
    messageCounts(scope, period),
    recipientCounts(scope, period),
  ]);
  const byMode = { live: 0, test: 0 };
  const byEncryption: Counts = zeroes(ENCRYPTION_MODES);
  for (const r of messages) {
    byMode[r.mode] += r.n;
    add(byEncryption, r.encryption, r.n);
  }
  const recipientsByEncryption: Counts = zeroes(ENCRYPTION_MODES);
  const byStatus = zeroes(STATUSES);
  const byReason: Counts = {};
  for (const r of recipients) {
    add(recipientsByEncryption, r.encryption, r.n);
    byStatus[r.status] += r.n;
    if (r.status !== "delivered" && r.last_reason !== null) add(byReason, r.last_reason, r.n);
  }
  return {
    messages: { total: byMode.live + byMode.test, by_mode: byMode, by_encryption: byEncryption },
    recipients: {
      total: recipients.reduce((a, r) => a + r.n, 0),
      by_encryption: recipientsByEncryption,
    },
    delivery_outcomes: { by_status: byStatus, by_reason: byReason },
  };
}

async function retentionSection(
  scope: OrgScope,
  period: ReportPeriod,
  purges: { runs: number; purged: Counts },
): Promise<ComplianceReport["retention"]> {
  const holds = await legalHoldCounts(scope, period);
  const byKind = { message: 0, recipient: 0, org: 0 };
  for (const r of holds.created) if (r.kind in byKind) byKind[r.kind] += r.n;
  return {
    purge_runs: purges.runs,
    purged: purges.purged,
    legal_holds: {
      created: holds.created.reduce((a, r) => a + r.n, 0),
      created_by_kind: byKind,
      released: holds.released,
      active_at_end: holds.activeAtEnd,
    },
  };
}

export async function complianceReport(
  scope: OrgScope,
  org: Pick<OrgsTable, "id" | "name" | "created_at">,
  period: ReportPeriod,
  now: number,
): Promise<ComplianceReport> {
  const [counts, evidence, daily, audit] = await Promise.all([
    messageSections(scope, period),
    tallyEvidence(scope, period),
    dailyMessageCounts(scope, volumeSpan(period)),
    auditSections(scope, period),
  ]);
  const phi = await phiSection(scope, period, audit.policy_violations.by_code.phi_in_subject ?? 0);
  return {
    object: "compliance_report",
    version: 1,
    org: { id: org.id, name: org.name },
    period: { from: new Date(period.from).toISOString(), to: new Date(period.to).toISOString() },
    generated_at: new Date(now).toISOString(),
    ...counts,
    ...evidence.sections(),
    phi_detections: phi,
    policy_violations: audit.policy_violations,
    unusual_volume: unusualVolume(period, org.created_at, new Map(daily.map((d) => [d.day, d.n]))),
    recipients_outside_allowed_domains: notAvailable(NOTES.allowedDomains),
    failed_authentications: audit.failed_authentications,
    keys: audit.keys,
    retention: await retentionSection(scope, period, audit.purges),
  };
}
