/**
 * What the worker's step "protect" needs from the portal (ADR 0010 §6): a link for one
 * delivery and the notice that carries it. The notice holds no PHI: not the original
 * subject, not the sender's address, not the content.
 */
export interface PortalNoticeRequest {
  readonly orgId: string;
  readonly messageId: string;
  readonly deliveryId: string;
  /** The recipient's address (the notice's To). */
  readonly recipient: string;
  /** The original message's From domain: the notice comes from no-reply@ this domain. */
  readonly fromDomain: string;
  readonly now: number;
}

export interface PortalNotice {
  /** The notice as an unsigned RFC 5322 message; the worker DKIM-signs it. */
  readonly raw: Buffer;
  readonly linkId: string;
  readonly expiresAt: number;
}

/** What the portal's pages need, taken from the API's dependencies (api/context.ts). */
export interface PortalDeps {
  readonly db: import("../store/db.ts").Db;
  readonly keyring: import("../core/keyring.ts").Keyring;
  readonly clock: import("../core/clock.ts").Clock;
  /** The one submit path: codes and replies are messages like any other. */
  readonly submit: import("../core/submit.ts").SubmitDeps;
  readonly audit: import("../audit/types.ts").AuditLog;
  /** The webhook outbox: portal events' webhook rows are written with them (ADR 0011 §3). */
  readonly webhookOutbox?: import("../webhooks/outbox.ts").WebhookOutbox;
}

/** The anonymous visitor of a portal page, as events and audit entries name them. */
export interface PortalActor {
  readonly sourceIp: string;
  readonly requestId: string;
}
