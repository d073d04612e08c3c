import type { ErrorCode } from "../core/errors.ts";
import type { ChainDrafts } from "../store/audit.ts";

/**
 * The audit trail's contract (ADR 0009). One hash chain per org (its id) and one for the
 * instance (`instance`). Entries hold ids, codes and counts only: never an address, a
 * subject, content, a token or key material.
 */
export const INSTANCE_CHAIN = "instance";

export type ActorType = "key" | "operator" | "system" | "anonymous";

/** Values `details` may hold: scalars only, under allow-listed names (audit/details.ts). */
export type DetailValue = string | number | boolean | null | readonly string[];

export interface AuditEntryInput {
  /** The org id, or INSTANCE_CHAIN. */
  readonly chain: string;
  readonly actorType: ActorType;
  /** Key id, `cli`, `worker`, or null. */
  readonly actorId: string | null;
  /** Stable action name: `http.request`, `key.create`, `delivery.delivered`, … (ADR 0009 §2). */
  readonly action: string;
  readonly targetType?: string;
  readonly targetId?: string;
  readonly outcome: "ok" | ErrorCode;
  /** HTTP status or SMTP reply code. */
  readonly status?: number;
  readonly sourceIp?: string;
  readonly requestId?: string;
  readonly details?: Readonly<Record<string, DetailValue>>;
}

export interface AuditLog {
  /** Buffered; group-committed within about 25 ms (request and delivery entries). */
  record(entry: AuditEntryInput): void;
  /** Appended (durably) before it resolves: key, org, domain, retention and hold changes, purges, exports. */
  recordNow(entry: AuditEntryInput): Promise<void>;
  /**
   * The buffered entries not yet being written, for a transaction of another writer, which
   * appends them and settles the handoff once it has ended (writer.ts `carryingAudit`).
   */
  handOff(): AuditHandoff | null;
  /** Waits until everything recorded so far is committed. */
  flush(): Promise<void>;
  /** Flushes and stops; later records are dropped with a warning. */
  close(): Promise<void>;
}

export interface AuditHandoff {
  readonly chains: readonly ChainDrafts[];
  /** `true`: committed with the other transaction; `false`: back to their own writers. */
  settle(committed: boolean): void;
}

export type ChainProblem =
  | "changed"
  | "removed"
  | "inserted"
  | "reordered"
  | "head_mismatch"
  | "bad_checkpoint";

export interface VerifyReport {
  readonly ok: boolean;
  readonly chain: string;
  readonly checked: number;
  readonly firstBad: {
    readonly seq: number;
    readonly id: string | null;
    readonly problem: ChainProblem;
  } | null;
}
