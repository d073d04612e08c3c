/**
 * The one registry of coded errors. Every expected failure in sealpost carries one of
 * these codes; the HTTP layer maps a code to a status and an RFC 9457 body in one place
 * (src/api/problem.ts), the SMTP layer to a reply code and enhanced status.
 *
 * Messages here are fixed texts: never put PHI, an address or a secret in them.
 */

export interface ErrorSpec {
  readonly status: number;
  readonly title: string;
  /** SMTP reply code and enhanced status, for the submission entry point. */
  readonly smtp: readonly [number, string];
}

export const ERRORS = {
  validation_failed: { status: 422, title: "The request is not valid.", smtp: [501, "5.5.4"] },
  missing_field: { status: 422, title: "A required field is missing.", smtp: [501, "5.5.4"] },
  unknown_field: {
    status: 422,
    title: "The request has a field sealpost does not know.",
    smtp: [501, "5.5.4"],
  },
  invalid_type: { status: 422, title: "A field has the wrong type.", smtp: [501, "5.5.4"] },
  invalid_value: { status: 422, title: "A field has a value that is not allowed.", smtp: [501, "5.5.4"] },
  not_supported: {
    status: 422,
    title: "This option is not available in this version of sealpost.",
    smtp: [504, "5.5.4"],
  },
  domain_not_verified: {
    status: 422,
    title: "The From domain is not a verified sending domain of this organization.",
    smtp: [550, "5.7.1"],
  },
  send_at_in_past: {
    status: 422,
    title: "send_at is in the past (more than 60 seconds ago).",
    smtp: [501, "5.5.4"],
  },
  send_at_too_far: { status: 422, title: "send_at is more than 30 days ahead.", smtp: [501, "5.5.4"] },
  batch_too_large: { status: 422, title: "A batch holds at most 500 messages.", smtp: [452, "4.5.3"] },
  malformed_json: { status: 400, title: "The request body is not valid JSON.", smtp: [501, "5.5.4"] },
  malformed_request: { status: 400, title: "The request is not valid HTTP/1.1.", smtp: [500, "5.5.2"] },
  headers_too_large: { status: 431, title: "The request headers are too large.", smtp: [500, "5.5.2"] },
  request_timeout: { status: 408, title: "The request was not received in time.", smtp: [451, "4.4.2"] },
  expectation_failed: {
    status: 417,
    title: "Only Expect: 100-continue is supported.",
    smtp: [500, "5.5.2"],
  },
  unsupported_media_type: {
    status: 415,
    title: "The request body must be application/json.",
    smtp: [554, "5.6.0"],
  },
  payload_too_large: { status: 413, title: "The request body is too large.", smtp: [552, "5.3.4"] },
  header_injection: {
    status: 422,
    title: "A header value contains a line break.",
    smtp: [554, "5.6.0"],
  },
  invalid_address: { status: 422, title: "An email address is not valid.", smtp: [553, "5.1.3"] },
  too_many_recipients: { status: 422, title: "The message has too many recipients.", smtp: [452, "4.5.3"] },
  invalid_attachment: { status: 422, title: "An attachment is not valid.", smtp: [554, "5.6.0"] },
  invalid_idempotency_key: {
    status: 400,
    title: "The Idempotency-Key header is not valid.",
    smtp: [501, "5.5.4"],
  },
  idempotency_conflict: {
    status: 409,
    title: "The Idempotency-Key was already used with a different request.",
    smtp: [554, "5.5.0"],
  },
  idempotency_in_progress: {
    status: 409,
    title: "A request with this Idempotency-Key is still being processed.",
    smtp: [451, "4.5.0"],
  },
  unauthorized: { status: 401, title: "Authentication is required.", smtp: [535, "5.7.8"] },
  forbidden: { status: 403, title: "The API key lacks a required scope.", smtp: [550, "5.7.1"] },
  key_revoked: { status: 401, title: "The API key has been revoked.", smtp: [535, "5.7.8"] },
  key_expired: { status: 401, title: "The API key has expired.", smtp: [535, "5.7.8"] },
  token_expired: { status: 401, title: "The access token has expired.", smtp: [535, "5.7.8"] },
  signature_malformed: {
    status: 401,
    title: "The SP1-HMAC-SHA256 authorization is malformed.",
    smtp: [535, "5.7.8"],
  },
  signature_expired: {
    status: 401,
    title: "The signed request's timestamp is outside the 5-minute window.",
    smtp: [535, "5.7.8"],
  },
  signature_mismatch: {
    status: 401,
    title: "The request signature does not match.",
    smtp: [535, "5.7.8"],
  },
  nonce_reused: { status: 401, title: "The request nonce was already used.", smtp: [535, "5.7.8"] },
  content_digest_mismatch: {
    status: 401,
    title: "The request body does not match its Content-Digest.",
    smtp: [535, "5.7.8"],
  },
  ip_not_allowed: {
    status: 403,
    title: "The API key may not be used from this address.",
    smtp: [535, "5.7.8"],
  },
  auth_method_not_allowed: {
    status: 403,
    title: "The API key may not be used with this authentication method.",
    smtp: [535, "5.7.8"],
  },
  sender_not_allowed: {
    status: 403,
    title: "The API key may not send from this domain.",
    smtp: [550, "5.7.1"],
  },
  auth_locked: {
    status: 429,
    title: "Too many failed authentications from this address; try again later.",
    smtp: [454, "4.7.0"],
  },
  phi_in_subject: {
    status: 422,
    title: "The subject line contains protected health information; move it into the body.",
    smtp: [550, "5.7.1"],
  },
  phi_in_policy: {
    status: 422,
    title: "The portal notice wording contains protected health information.",
    smtp: [550, "5.7.1"],
  },
  recipient_key_invalid: {
    status: 422,
    title: "The certificate or public key cannot be used for this address.",
    smtp: [554, "5.7.0"],
  },
  template_invalid: {
    status: 422,
    title: "The template cannot be saved as it is.",
    smtp: [554, "5.6.0"],
  },
  template_variable_missing: {
    status: 422,
    title: "The template uses a variable the data does not give.",
    smtp: [554, "5.6.0"],
  },
  webhook_url_refused: {
    status: 422,
    title: "The webhook URL is not allowed (HTTPS to a public address only).",
    smtp: [554, "5.7.0"],
  },
  not_found: { status: 404, title: "The resource does not exist.", smtp: [550, "5.1.0"] },
  content_purged: {
    status: 410,
    title: "The message content was destroyed at the end of its retention period.",
    smtp: [550, "5.1.0"],
  },
  route_not_found: { status: 404, title: "No such route.", smtp: [500, "5.5.1"] },
  method_not_allowed: { status: 405, title: "Method not allowed.", smtp: [500, "5.5.1"] },
  invalid_cursor: { status: 400, title: "The pagination cursor is not valid.", smtp: [501, "5.5.4"] },
  invalid_state: {
    status: 409,
    title: "The resource is not in a state that allows this.",
    smtp: [554, "5.5.0"],
  },
  rate_limited: { status: 429, title: "Too many requests.", smtp: [451, "4.7.0"] },
  not_ready: { status: 503, title: "The service is not ready.", smtp: [421, "4.3.0"] },
  internal_error: { status: 500, title: "An internal error occurred.", smtp: [451, "4.3.0"] },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

/** A violation of one field of the input; `field` is a JSON pointer-ish path like `to[2]`. */
export interface FieldIssue {
  readonly field: string;
  readonly code: ErrorCode;
  /** A fixed description of the rule that failed; never the offending value. */
  readonly detail: string;
}

export class SealpostError extends Error {
  readonly code: ErrorCode;
  readonly field: string | undefined;
  readonly issues: readonly FieldIssue[];
  readonly detail: string | undefined;

  constructor(
    code: ErrorCode,
    opts: { detail?: string; field?: string; issues?: readonly FieldIssue[]; cause?: unknown } = {},
  ) {
    super(opts.detail ?? ERRORS[code].title, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = "SealpostError";
    this.code = code;
    this.field = opts.field;
    this.issues = opts.issues ?? [];
    this.detail = opts.detail;
  }

  get status(): number {
    return ERRORS[this.code].status;
  }
}

export function isSealpostError(err: unknown): err is SealpostError {
  return err instanceof SealpostError;
}
