import type { MessageBody } from "../core/body.ts";
import type { RecipientKey } from "./types.ts";

/**
 * The encrypted form of a rendered, unsigned message for one recipient (ADR 0010 §5): the
 * outer headers (From, To, Cc, Reply-To, Subject, Date, Message-ID, MIME-Version) are kept,
 * the content entity (Content-* headers and body) becomes S/MIME EnvelopedData or PGP/MIME.
 * The result is to be DKIM-signed afterwards.
 *
 * Contract stub (ADR 0010 step 0): package C replaces the body.
 */
export async function encryptMessage(_raw: MessageBody, _key: RecipientKey): Promise<Buffer> {
  throw new Error("encryptMessage: not implemented yet");
}
