import type { PhiSummary } from "../phi/types.ts";
import type { ParsedAddress } from "./address.ts";

/** The validated, normalised form of a message, whatever entry point it came through. */
export type EncryptionMode = "auto" | "tls" | "portal" | "smime" | "pgp";

export interface Attachment {
  filename: string;
  contentType: string;
  content: Buffer;
  contentId: string | null;
}

export interface Recipient extends ParsedAddress {
  kind: "to" | "cc" | "bcc";
}

export interface ValidatedMessage {
  from: ParsedAddress;
  recipients: Recipient[];
  replyTo: ParsedAddress[];
  subject: string;
  text: string | null;
  html: string | null;
  attachments: Attachment[];
  headers: Record<string, string>;
  tags: string[];
  metadata: Record<string, string | number | boolean>;
  encryption: EncryptionMode;
  allowNonTls: boolean;
  /** Run the whole pipeline but capture into the sandbox inbox instead of delivering. */
  sandbox: boolean;
  /** Hold the message until this time (epoch ms); null to send at once. */
  sendAt: number | null;
  /** Set by the submit step "phi" (ADR 0010 §2): what was found, as counts; null: nothing. */
  phi?: PhiSummary | null;
  /** Set by the submit step "template" (ADR 0011 §1): the template version rendered. */
  template?: { readonly id: string; readonly version: number } | null;
}

/** What is sealed in `messages.content` (attachments are sealed separately). */
export interface StoredContent {
  v: 1;
  from: { name: string | null; address: string };
  to: string[];
  cc: string[];
  replyTo: string[];
  subject: string;
  text: string | null;
  html: string | null;
  headers: Record<string, string>;
  metadata: Record<string, string | number | boolean>;
  attachments: { filename: string; contentType: string; contentId: string | null; size: number }[];
}

export interface Limits {
  maxRecipients: number;
  maxAttachments: number;
  maxAttachmentBytes: number;
  maxTotalBytes: number;
  maxHeaders: number;
  maxHeaderValueLength: number;
  maxSubjectLength: number;
}

/** `send_at` may be at most this far ahead. */
export const MAX_SCHEDULE_MS = 30 * 24 * 3_600_000;
/** A `send_at` up to this far in the past is clock skew: the message is sent at once. */
export const SCHEDULE_SKEW_MS = 60_000;

export const DEFAULT_LIMITS: Limits = {
  maxRecipients: 100,
  maxAttachments: 20,
  maxAttachmentBytes: 25 * 1024 * 1024,
  maxTotalBytes: 30 * 1024 * 1024,
  maxHeaders: 50,
  maxHeaderValueLength: 998,
  maxSubjectLength: 998,
};
