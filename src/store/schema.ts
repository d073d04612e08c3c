/**
 * Table shapes, shared by SQLite and PostgreSQL. Times are epoch milliseconds (bigint
 * columns, read back as numbers). Binary columns hold AES-256-GCM ciphertext; no column
 * holds an address, subject or body in clear. See docs/adr/0001-storage-engine.md.
 */
export interface OrgsTable {
  id: string;
  name: string;
  created_at: number;
  /** `<n>/<s|m|h>` or `off`; null: SEALPOST_RATE_LIMIT_ORG. */
  rate_limit: string | null;
  /** Days message content is kept before it is crypto-shredded (ADR 0009). */
  content_retention_days: number;
  /** Days message metadata is kept before it is deleted. */
  metadata_retention_days: number;
  /** JSON of the org's encryption/PHI/portal policy (ADR 0010 §1); null: the defaults. */
  policy: string | null;
}

/** One entry of an org's (or the instance's) tamper-evident audit chain (ADR 0009). No PHI. */
export interface AuditLogTable {
  /** The org id, or `instance`. */
  chain: string;
  seq: number;
  id: string;
  at: number;
  actor_type: "key" | "operator" | "system" | "anonymous";
  actor_id: string | null;
  action: string;
  target_type: string | null;
  target_id: string | null;
  /** `ok` or an error code of the registry. */
  outcome: string;
  status: number | null;
  source_ip: string | null;
  request_id: string | null;
  /** JSON of allow-listed scalar fields. */
  details: string;
  prev_hash: string;
  hash: string;
}

/** The last entry of each chain; appends lock this row. */
export interface AuditHeadsTable {
  chain: string;
  seq: number;
  hash: string;
}

/** A signed statement that a chain had `hash` at `seq` (Ed25519, instance key `key_id`). */
export interface AuditCheckpointsTable {
  chain: string;
  seq: number;
  hash: string;
  at: number;
  key_id: string;
  /** base64 Ed25519 signature. */
  signature: string;
}

/** A legal hold: content covered by it is never purged while `released_at` is null. */
export interface LegalHoldsTable {
  id: string;
  org_id: string;
  kind: "message" | "recipient" | "org";
  message_id: string | null;
  /** Blind index of the held recipient address (the address is not stored in clear). */
  recipient_bidx: string | null;
  /** A short code or ticket reference; never PHI. */
  reason: string;
  created_at: number;
  created_by: string;
  released_at: number | null;
}

/**
 * Instance-wide keys (ADR 0008), wrapped by the master key with AAD `instkey:<id>:<purpose>`:
 * `key_hash` is the pepper of API-key hashes (never rotated; re-wrapped with the master key),
 * `jwt_es256` an OAuth access-token signing key (its id is the JWT `kid`).
 */
export interface InstanceKeysTable {
  id: string;
  purpose: "key_hash" | "jwt_es256" | "audit_ed25519";
  wrapped: Uint8Array;
  master_key_id: string;
  /** The public JWK (JSON) of a signing key; null for the pepper. */
  public_jwk: string | null;
  created_at: number;
  retired_at: number | null;
}

/** A used HMAC request nonce, kept until its signature's window has passed. */
export interface AuthNoncesTable {
  key_id: string;
  nonce: string;
  expires_at: number;
}

/** GCRA state of one rate-limit bucket (`k:<key id>` or `o:<org id>`); PostgreSQL only, UNLOGGED. */
export interface RateLimitsTable {
  bucket: string;
  /** Theoretical arrival time, epoch ms. */
  tat: number;
  period_ms: number;
  window_ms: number;
}

/** Failed authentications of one source (IPv4 address or IPv6 /64); PostgreSQL only, UNLOGGED. */
export interface AuthFailuresTable {
  source: string;
  window_start: number;
  failures: number;
  locked_until: number | null;
}

export interface OrgKeysTable {
  id: string;
  org_id: string;
  /** `data` wraps message data keys; `index` is the blind-index HMAC key. */
  purpose: "data" | "index";
  wrapped: Uint8Array;
  master_key_id: string;
  active: number;
  created_at: number;
}

export interface ApiKeysTable {
  id: string;
  org_id: string;
  name: string;
  /** Hash of the whole secret token, hex: `hmac-sha256` keyed by the instance pepper, or legacy `sha256`. */
  secret_hash: string;
  hash_alg: "sha256" | "hmac-sha256";
  /** JSON list of scopes. */
  scopes: string;
  mode: "live" | "test";
  created_at: number;
  expires_at: number | null;
  revoked_at: number | null;
  /** After a rotation: the previous token's hash, valid until `prev_expires_at`. */
  prev_secret_hash: string | null;
  prev_expires_at: number | null;
  /** HMAC request-signing key derived from the token, sealed with the org data key `signing_key_by` (AAD `apikey-sign:<id>`). */
  signing_key: Uint8Array | null;
  prev_signing_key: Uint8Array | null;
  signing_key_by: string | null;
  /** JSON list of ASCII domains; null: any verified domain of the org. */
  sender_domains: string | null;
  /** JSON list of CIDRs; null: any address. */
  allowed_ips: string | null;
  /** JSON list of methods (bearer basic hmac oauth smtp); null: all. */
  auth_methods: string | null;
  /** `<n>/<s|m|h>` or `off`; null: the org's, else SEALPOST_RATE_LIMIT_KEY. */
  rate_limit: string | null;
  /** `bootstrap`, `cli`, or the id of the key that created it. */
  created_by: string | null;
}

export interface MessagesTable {
  id: string;
  org_id: string;
  mode: "live" | "test";
  created_at: number;
  api_key_id: string | null;
  /** Domain of the From address, in clear: it is the sender's own domain. */
  from_domain: string;
  encryption: string;
  allow_non_tls: number;
  tags: string;
  recipient_count: number;
  attachment_count: number;
  size_bytes: number;
  /** Sealed JSON of the content; the data key is wrapped by the org data key. */
  content: Uint8Array | null;
  data_key: Uint8Array | null;
  data_key_id: string;
  idempotency_hash: string | null;
  request_hash: string | null;
  /** When a scheduled message is held until (epoch ms); null when it was sent at once. */
  send_at: number | null;
  /** When retention crypto-shredded the content (data key, content, attachments, sandbox copies); null while kept. */
  content_purged_at: number | null;
  /** JSON summary of PHI findings (ADR 0010 §2): counts by category and field, no values; null: none found. */
  phi: string | null;
  /** The template and version the message was rendered from (ADR 0011 §1); null: none. */
  template_id: string | null;
  template_version: number | null;
}

/**
 * The idempotency record of a batch submitted with an Idempotency-Key (ADR 0004): which
 * message each item became, or the coded error it got. Ids, codes and field names only.
 */
export interface BatchesTable {
  org_id: string;
  idempotency_hash: string;
  request_hash: string;
  created_at: number;
  /** JSON list, one entry per item: `{ "message_id": … }` or `{ "error": { code, field, detail, issues } }`. */
  results: string;
}

/** One sealed part (≤ 1 MiB of plaintext) of an attachment; see ADR 0006. */
export interface AttachmentPartsTable {
  message_id: string;
  /** Filled from the message since migration 0006; every org-owned table carries its org. */
  org_id: string;
  idx: number;
  seq: number;
  content: Uint8Array;
}

export type DeliveryStatus =
  | "scheduled"
  | "queued"
  | "sending"
  | "deferred"
  | "delivered"
  | "bounced"
  | "failed"
  | "suppressed"
  | "cancelled";

export interface DeliveriesTable {
  id: string;
  message_id: string;
  org_id: string;
  kind: "to" | "cc" | "bcc";
  recipient: Uint8Array;
  recipient_bidx: string;
  domain_bidx: string;
  status: DeliveryStatus;
  /** When the row is next due for a worker (queued/deferred: the attempt time; scheduled: send_at; sending: the lease expiry). Null when final. */
  due_at: number | null;
  lease_owner: string | null;
  attempts: number;
  expires_at: number;
  created_at: number;
  updated_at: number;
  last_reason: string | null;
  evidence: string | null;
  /** The protection chosen for this recipient (ADR 0010 §4): smime, pgp, tls, portal, none; null until decided. */
  encryption: string | null;
}

/** A stored template (ADR 0011 §1); its versions are in template_versions. */
export interface TemplatesTable {
  id: string;
  org_id: string;
  name: string;
  current_version: number;
  created_at: number;
  updated_at: number;
  deleted_at: number | null;
}

/** One immutable version of a template. */
export interface TemplateVersionsTable {
  template_id: string;
  version: number;
  org_id: string;
  /** JSON `{subject, text, html}`, sealed with the org key (AAD `tpl:<id>:<version>`). */
  content: Uint8Array;
  /** JSON list of the data field names marked PHI. */
  phi_fields: string;
  created_at: number;
  created_by: string;
}

/** A webhook endpoint (ADR 0011 §3). Secrets are sealed with the org key. */
export interface WebhooksTable {
  id: string;
  org_id: string;
  url: string;
  /** JSON list of event types; empty: all. */
  event_types: string;
  enabled: number;
  secret: Uint8Array;
  prev_secret: Uint8Array | null;
  prev_secret_expires_at: number | null;
  failing_since: number | null;
  disabled_at: number | null;
  disabled_reason: string | null;
  created_at: number;
  updated_at: number;
}

/** One event (or test) to one endpoint: the outbox row and its delivery log entry. */
export interface WebhookDeliveriesTable {
  /** Also the `webhook-id` header: stable across retries. */
  id: string;
  org_id: string;
  webhook_id: string;
  /** Null for a test send. */
  event_id: string | null;
  event_type: string;
  status: "pending" | "succeeded" | "failed";
  attempts: number;
  due_at: number | null;
  lease_owner: string | null;
  last_status: number | null;
  /** A code: timeout, connection_failed, http_<status>, ssrf_refused. */
  last_error: string | null;
  created_at: number;
  updated_at: number;
  delivered_at: number | null;
}

/** An S/MIME certificate or OpenPGP public key for one address (ADR 0010 §3). */
export interface RecipientKeysTable {
  id: string;
  org_id: string;
  kind: "smime" | "pgp";
  address_bidx: string;
  /** The address, sealed with the org key (AAD `rk:<id>`). */
  address: Uint8Array;
  /** PEM certificate or armored public key, sealed with the org key (AAD `rk:<id>:material`). */
  material: Uint8Array;
  /** The key/certificate id shown to users: the fingerprint's last 16 hex digits. */
  key_id: string;
  fingerprint: string;
  algorithm: string;
  not_after: number | null;
  created_at: number;
  created_by: string;
}

/** A secure-portal link for one delivery (ADR 0010 §6). Secrets are stored as hashes only. */
export interface PortalLinksTable {
  id: string;
  org_id: string;
  message_id: string;
  delivery_id: string;
  token_hash: string;
  created_at: number;
  expires_at: number;
  revoked_at: number | null;
  failed_codes: number;
  locked_until: number | null;
  code_hash: string | null;
  code_expires_at: number | null;
  session_hash: string | null;
  session_expires_at: number | null;
  verified_at: number | null;
  views: number;
}

export interface EventsTable {
  id: string;
  org_id: string;
  message_id: string;
  delivery_id: string | null;
  type: string;
  created_at: number;
  details: string;
  /** Delivery events: the protection used (ADR 0010 §4) and the TLS version, for stats (ADR 0011 §4). */
  encryption?: string | null;
  tls_version?: string | null;
}

export interface SandboxTable {
  delivery_id: string;
  org_id: string;
  message_id: string;
  created_at: number;
  raw: Uint8Array;
}

export interface DomainsTable {
  id: string;
  org_id: string;
  /** The sending domain in ASCII (punycode) form: the org's own domain, not PHI. */
  name: string;
  status: "pending" | "verified";
  created_at: number;
  verified_at: number | null;
  /** JSON of the last verification report. */
  last_check: string | null;
  mta_sts_id: string;
}

export interface DkimKeysTable {
  id: string;
  org_id: string;
  domain_id: string;
  selector: string;
  algorithm: "rsa" | "ed25519";
  /** base64 of the SubjectPublicKeyInfo (rsa) or raw 32-byte key (ed25519), as published in DNS. */
  public_key: string;
  /** PKCS#8 PEM sealed with the org data key `wrapped_by`. */
  private_key: Uint8Array;
  wrapped_by: string;
  active: number;
  created_at: number;
  retired_at: number | null;
}

export interface SuppressionsTable {
  id: string;
  org_id: string;
  address_bidx: string;
  /** The address sealed with the org data key `wrapped_by`. */
  address: Uint8Array;
  wrapped_by: string;
  reason: "hard_bounce" | "complaint" | "unsubscribe" | "manual";
  delivery_id: string | null;
  created_at: number;
}

export interface MtaStsPoliciesTable {
  domain: string;
  policy_id: string;
  mode: "enforce" | "testing" | "none";
  /** JSON list of MX patterns. */
  mx: string;
  max_age: number;
  fetched_at: number;
  expires_at: number;
}

export interface Database {
  domains: DomainsTable;
  dkim_keys: DkimKeysTable;
  suppressions: SuppressionsTable;
  mta_sts_policies: MtaStsPoliciesTable;
  orgs: OrgsTable;
  org_keys: OrgKeysTable;
  api_keys: ApiKeysTable;
  instance_keys: InstanceKeysTable;
  auth_nonces: AuthNoncesTable;
  rate_limits: RateLimitsTable;
  auth_failures: AuthFailuresTable;
  audit_log: AuditLogTable;
  audit_heads: AuditHeadsTable;
  audit_checkpoints: AuditCheckpointsTable;
  legal_holds: LegalHoldsTable;
  messages: MessagesTable;
  batches: BatchesTable;
  attachment_parts: AttachmentPartsTable;
  deliveries: DeliveriesTable;
  events: EventsTable;
  sandbox_messages: SandboxTable;
  recipient_keys: RecipientKeysTable;
  portal_links: PortalLinksTable;
  templates: TemplatesTable;
  template_versions: TemplateVersionsTable;
  webhooks: WebhooksTable;
  webhook_deliveries: WebhookDeliveriesTable;
}
