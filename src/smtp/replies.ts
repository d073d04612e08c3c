import { ERRORS, isSealpostError } from "../core/errors.ts";

/**
 * The one place where errors become SMTP replies. Each reply carries its reply code and,
 * at the front of its text, the enhanced status code (RFC 3463) from the error registry;
 * ReplyServer sends that code instead of the generic one smtp-server would derive from
 * the reply code. Texts are fixed (the registry's titles), never a value from the message.
 */
export type SmtpError = Error & { responseCode: number };

export function smtpError(code: number, enhanced: string, text: string): SmtpError {
  return Object.assign(new Error(`${enhanced} ${text}`), { responseCode: code });
}

/** Replies of the session itself: protocol states rather than submit errors. */
const SESSION = {
  authInvalid: [535, "5.7.8", "Authentication credentials invalid"],
  authLimit: [421, "4.7.0", "Too many failed authentication attempts, closing connection"],
  authRequired: [530, "5.7.0", "Authentication required"],
  shuttingDown: [421, "4.3.2", "Service shutting down, try again later"],
  temporary: [451, "4.3.0", "Temporary local error, try again later."],
  noSuchRecipient: [550, "5.1.1", "No such recipient here"],
} as const satisfies Record<string, readonly [number, string, string]>;

export type SessionReply = keyof typeof SESSION;

export function sessionError(name: SessionReply): SmtpError {
  const [code, enhanced, text] = SESSION[name];
  return smtpError(code, enhanced, text);
}

/** The reply text for a direct `connection.send(code, text)`. */
export function sessionReply(name: SessionReply): { code: number; text: string } {
  const [code, enhanced, text] = SESSION[name];
  return { code, text: `${enhanced} ${text}` };
}

/** The reply codes RFC 5321 §4.3.2 allows after the end of DATA. */
const AFTER_DATA = new Set([450, 451, 452, 550, 552, 554]);

/**
 * `phase: "data"` is the answer to a whole message: a code the RFC does not list there
 * (the registry's 501/504 for a bad field) becomes 554 (or 451), keeping the enhanced code.
 */
export function toSmtpError(err: unknown, phase: "command" | "data" = "command"): SmtpError {
  if (isSealpostError(err)) {
    const [registered, enhanced] = ERRORS[err.code].smtp;
    const code =
      phase === "data" && !AFTER_DATA.has(registered) ? (registered >= 500 ? 554 : 451) : registered;
    const field = err.field === undefined ? "" : ` (${err.field})`;
    return smtpError(code, enhanced, `${ERRORS[err.code].title}${field}`);
  }
  return sessionError("temporary");
}

/** The text of the 250 reply to DATA, sent only after the durable commit. */
export function queuedReply(messageId: string): string {
  return `2.0.0 queued as ${messageId}`;
}
