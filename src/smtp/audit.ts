import type { TLSSocket } from "node:tls";
import type { SMTPServerSession } from "smtp-server";
import { type AuditEntryInput, type AuditLog, INSTANCE_CHAIN } from "../audit/types.ts";
import { clientAddress } from "../auth/source.ts";
import type { Credentials } from "../auth/types.ts";
import { type ErrorCode, isSealpostError } from "../core/errors.ts";
import type { Principal } from "../core/principal.ts";

/**
 * The audit entries of SMTP submission (ADR 0009 §2): `smtp.auth` for every AUTH attempt,
 * `smtp.message` for every message accepted or refused, `smtp.session` when a connection
 * closes. An entry goes to the chain of the session's org once AUTH succeeded, else to the
 * instance chain. Entries hold ids, codes and counts: never an envelope address. They are
 * buffered (`record`): auditing never holds up a reply.
 */

/** What a session has done so far, for its closing entry. */
export interface SessionRecord {
  /** The negotiated TLS protocol and cipher (null before STARTTLS). */
  tlsVersion: string | null;
  tlsCipher: string | null;
  accepted: number;
  refused: number;
}

/** The part of a session's state the audit entries read. */
export interface AuditedSession {
  readonly principal: Principal | null;
  readonly record: SessionRecord;
}

export function newSessionRecord(): SessionRecord {
  return { tlsVersion: null, tlsCipher: null, accepted: 0, refused: 0 };
}

/** The error code of a refusal; anything uncoded (a bug, the store) is `internal_error`. */
export function outcomeOf(err: unknown): ErrorCode {
  return isSealpostError(err) ? err.code : "internal_error";
}

function entry(s: AuditedSession, session: SMTPServerSession, action: string): AuditEntryInput {
  const p = s.principal;
  return {
    chain: p === null ? INSTANCE_CHAIN : p.orgId,
    actorType: p === null ? "anonymous" : "key",
    actorId: p === null ? null : p.keyId,
    action,
    outcome: "ok",
    sourceIp: clientAddress(session.remoteAddress),
  };
}

/** The TLS the session now runs over (onSecure: implicit TLS, or after STARTTLS). */
export function noteTls(s: AuditedSession, socket: unknown): void {
  const tls = socket as Partial<Pick<TLSSocket, "getProtocol" | "getCipher">>;
  s.record.tlsVersion = tls.getProtocol?.() ?? null;
  s.record.tlsCipher = tls.getCipher?.()?.name ?? null;
}

/**
 * An AUTH attempt (`method`: PLAIN or LOGIN) and its reply code. A refused one is anonymous;
 * it names the key the username claimed, if it claimed one (`key_id`). The password is never
 * recorded.
 */
export function auditAuth(
  audit: AuditLog,
  s: AuditedSession,
  session: SMTPServerSession,
  attempt: { method: string; creds: Credentials },
  outcome: "ok" | ErrorCode,
  reply: { responseCode: number },
): void {
  const claimed = attempt.creds.kind === "basic" ? attempt.creds.keyId : null;
  audit.record({
    ...entry(s, session, "smtp.auth"),
    outcome,
    status: reply.responseCode,
    details: { method: attempt.method, ...(claimed === null ? {} : { key_id: claimed }) },
  });
}

/** A message accepted after the durable commit: its id. */
export function auditAccepted(
  audit: AuditLog,
  s: AuditedSession,
  session: SMTPServerSession,
  messageId: string,
): void {
  s.record.accepted++;
  audit.record({
    ...entry(s, session, "smtp.message"),
    targetType: "message",
    targetId: messageId,
    status: 250,
  });
}

/** A message refused at MAIL FROM or after DATA: its code and reply code. */
export function auditRefused(
  audit: AuditLog,
  s: AuditedSession,
  session: SMTPServerSession,
  refusal: { outcome: ErrorCode; reply: { responseCode: number }; phase: "mail" | "data" },
): void {
  s.record.refused++;
  audit.record({
    ...entry(s, session, "smtp.message"),
    outcome: refusal.outcome,
    status: refusal.reply.responseCode,
    details: { phase: refusal.phase },
  });
}

/** The connection closed: how many messages it got accepted and refused, over which TLS. */
export function auditClosed(audit: AuditLog, s: AuditedSession, session: SMTPServerSession): void {
  audit.record({
    ...entry(s, session, "smtp.session"),
    details: {
      messages: s.record.accepted,
      failures: s.record.refused,
      tls_version: s.record.tlsVersion,
      tls_cipher: s.record.tlsCipher,
    },
  });
}
