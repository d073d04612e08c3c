import { ERRORS, isSealpostError } from "../core/errors.ts";

/**
 * The one place where errors become SMTP replies. smtp-server adds the enhanced status
 * code (RFC 3463) that belongs to the reply code; the text is the registry's fixed title,
 * never a value from the message.
 */
export type SmtpError = Error & { responseCode: number };

export function smtpError(code: number, text: string): SmtpError {
  return Object.assign(new Error(text), { responseCode: code });
}

export function toSmtpError(err: unknown): SmtpError {
  if (isSealpostError(err)) {
    const [code] = ERRORS[err.code].smtp;
    const field = err.field === undefined ? "" : ` (${err.field})`;
    return smtpError(code, `${ERRORS[err.code].title}${field}`);
  }
  return smtpError(451, "Temporary local error, try again later.");
}
