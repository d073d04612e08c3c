import type { EventsTable } from "../store/schema.ts";

/**
 * The one public shape of a stored event (ADR 0011 §2), shared by `GET /v1/events` and the
 * webhook payloads (§3), so a webhook can never carry more than the events API shows.
 * `details` is built by allow-list from the stored JSON (the worker's evidence, a DSN's
 * fields, the portal's counts): only named scalars of the expected type, every string a
 * short code or host name that cannot hold an address (no `@`, no spaces). Never a reply
 * text, never an address, never content.
 */
export interface EventDetails {
  mx_host?: string;
  tls_version?: string;
  cipher?: string;
  cert_verified?: boolean;
  mta_sts_mode?: string;
  encryption?: string;
  encryption_reason?: string;
  reply_code?: number;
  enhanced_code?: string;
  reason?: string;
  retry_at?: string;
  attempt?: number;
  /** A scheduled message's time (event `scheduled`). */
  send_at?: string;
  /** A `failed` event after temporary failures past the retry window. */
  gave_up?: boolean;
  /** The endpoint of a `webhook_disabled` event. */
  webhook_id?: string;
}

export interface EventView {
  object: "event";
  id: string;
  type: string;
  created_at: string;
  org_id: string;
  message_id: string | null;
  delivery_id: string | null;
  details: EventDetails;
}

/** A code, host name, cipher, version or ISO time: never an address or free text. */
const SAFE_STRING = /^[A-Za-z0-9_.:+-]{1,128}$/;
const ENHANCED_CODE = /^[245]\.\d{1,3}\.\d{1,3}$/;

type Json = Record<string, unknown>;

function parsed(raw: string): Json {
  try {
    const v: unknown = JSON.parse(raw);
    return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Json) : {};
  } catch {
    return {};
  }
}

function str(v: unknown): string | undefined {
  return typeof v === "string" && SAFE_STRING.test(v) ? v : undefined;
}

function int(v: unknown): number | undefined {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0 ? v : undefined;
}

function bool(v: unknown): boolean | undefined {
  return typeof v === "boolean" ? v : undefined;
}

function iso(v: unknown): string | undefined {
  const s = str(v);
  return s !== undefined && !Number.isNaN(Date.parse(s)) ? new Date(Date.parse(s)).toISOString() : undefined;
}

function nested(v: unknown, key: string): unknown {
  return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Json)[key] : undefined;
}

/** The allow-listed details of one stored details JSON; a field of the wrong type is left out. */
export function eventDetails(raw: string): EventDetails {
  const e = parsed(raw);
  // A DSN's `status` is its RFC 3464 enhanced status code (smtp/inbound.ts).
  const dsnCode = e.source === "dsn" && typeof e.status === "string" ? e.status : undefined;
  const enhanced = typeof e.enhanced_code === "string" ? e.enhanced_code : dsnCode;
  const all: EventDetails = {
    mx_host: str(e.mx_host),
    tls_version: str(e.tls_version),
    cipher: str(e.cipher),
    cert_verified: bool(e.cert_verified),
    mta_sts_mode: str(nested(e.mta_sts, "mode")),
    encryption: str(nested(e.encryption, "mode")),
    encryption_reason: str(nested(e.encryption, "reason")),
    reply_code: int(e.reply_code),
    enhanced_code: enhanced !== undefined && ENHANCED_CODE.test(enhanced) ? enhanced : undefined,
    reason: str(e.reason),
    retry_at: iso(e.retry_at),
    attempt: int(e.attempt),
    send_at: iso(e.send_at),
    gave_up: bool(e.gave_up),
    webhook_id: str(e.webhook_id),
  };
  return Object.fromEntries(Object.entries(all).filter(([, v]) => v !== undefined)) as EventDetails;
}

export function eventView(row: EventsTable): EventView {
  return {
    object: "event",
    id: row.id,
    type: row.type,
    created_at: new Date(row.created_at).toISOString(),
    org_id: row.org_id,
    message_id: row.message_id === "" ? null : row.message_id,
    delivery_id: row.delivery_id,
    details: eventDetails(row.details),
  };
}
