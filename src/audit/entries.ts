import { clientAddress } from "../auth/source.ts";
import { type ActorType, type AuditEntryInput, type DetailValue, INSTANCE_CHAIN } from "./types.ts";

/**
 * The audit entries of changes (ADR 0009 §2): keys, orgs, signing keys, domains and
 * suppressions. Each names its target by id and carries only allow-listed details
 * (audit/details.ts): never an address, a name, a token or key material. The callers
 * record them with `recordNow`, after the change is committed and before they answer.
 */

/** Who acted, and for an API request from where. */
export interface AuditActor {
  readonly actorType: ActorType;
  readonly actorId: string | null;
  readonly sourceIp?: string;
  readonly requestId?: string;
}

/** The operator at the host's command line. */
export const CLI_ACTOR: AuditActor = { actorType: "operator", actorId: "cli" };

/** A worker node acting on its own (deliveries, bounces). */
export const WORKER_ACTOR: AuditActor = { actorType: "system", actorId: "worker" };

/** The key of an authenticated API request; Fastify's `ip` already went through the trusted proxies. */
export function requestActor(principal: { keyId: string }, request: { ip: string; id: string }): AuditActor {
  return {
    actorType: "key",
    actorId: principal.keyId,
    sourceIp: clientAddress(request.ip),
    requestId: request.id,
  };
}

type Details = Readonly<Record<string, DetailValue>>;

/** An `ok` change of `target` in `chain`: the shape of every change entry. */
export function changeEntry(
  actor: AuditActor,
  chain: string,
  action: string,
  target: { type: string; id: string },
  details?: Details,
): AuditEntryInput {
  return {
    chain,
    ...actor,
    action,
    targetType: target.type,
    targetId: target.id,
    outcome: "ok",
    ...(details === undefined ? {} : { details }),
  };
}

export type KeyAction = "key.create" | "key.rotate" | "key.revoke";

/** A key created, rotated or revoked, in its org's chain. */
export function keyEntry(
  actor: AuditActor,
  orgId: string,
  action: KeyAction,
  key: { id: string; mode: string; scopes: readonly string[]; expires_at: string | null },
): AuditEntryInput {
  return changeEntry(
    actor,
    orgId,
    action,
    { type: "key", id: key.id },
    {
      mode: key.mode,
      scopes: [...key.scopes],
      expires_at: key.expires_at,
    },
  );
}

/** A new org: in the instance chain (who made it) and as the first entry of its own chain. */
export function orgEntries(actor: AuditActor, org: { id: string }): AuditEntryInput[] {
  const target = { type: "org", id: org.id };
  return [
    changeEntry(actor, INSTANCE_CHAIN, "org.create", target),
    changeEntry(actor, org.id, "org.create", target),
  ];
}

/** The OAuth signing key rotated (instance chain); `kid` is the new key's id. */
export function signingKeyEntry(actor: AuditActor, kid: string): AuditEntryInput {
  return changeEntry(actor, INSTANCE_CHAIN, "signing_key.rotate", { type: "signing_key", id: kid });
}

export type DomainAction = "domain.add" | "domain.verify" | "domain.rotate_dkim";

/** A sending domain added, checked or given new DKIM keys; `state` is its status after. */
export function domainEntry(
  actor: AuditActor,
  orgId: string,
  action: DomainAction,
  domain: { id: string; status: string },
): AuditEntryInput {
  return changeEntry(actor, orgId, action, { type: "domain", id: domain.id }, { state: domain.status });
}

/** A suppression added or removed, named by its id: never the address. */
export function suppressionEntry(
  actor: AuditActor,
  orgId: string,
  action: "suppression.add" | "suppression.remove",
  row: { id: string; reason: string; delivery_id: string | null },
): AuditEntryInput {
  return changeEntry(
    actor,
    orgId,
    action,
    { type: "suppression", id: row.id },
    {
      reason: row.reason,
      delivery_id: row.delivery_id,
    },
  );
}

/** Records several entries durably, one after the other (each chain in order). */
export async function recordAllNow(
  audit: { recordNow(entry: AuditEntryInput): Promise<void> },
  entries: readonly AuditEntryInput[],
): Promise<void> {
  for (const entry of entries) await audit.recordNow(entry);
}

/** A compliance report made for an org and period (API or CLI). */
export function reportEntry(
  actor: AuditActor,
  orgId: string,
  period: { from: string; to: string },
): AuditEntryInput {
  return changeEntry(actor, orgId, "report.compliance", { type: "org", id: orgId }, period);
}
