import type { MessageBody } from "../core/body.ts";
import { bodyBuffer } from "../core/body.ts";
import { splitMessage } from "./entity.ts";
import { ENCRYPTION_ERRORS } from "./errors.ts";
import type { RecipientKey } from "./types.ts";

/**
 * The encrypted form of a rendered, unsigned message for one recipient (ADR 0010 §5): the
 * outer headers (From, To, Cc, Reply-To, Subject, Date, Message-ID, threading and
 * List-Unsubscribe; see entity.ts) are kept, MIME-Version is written once, and the content
 * entity (Content-* and custom headers with the body) becomes S/MIME EnvelopedData
 * (smime.ts) or PGP/MIME (pgp.ts). The result has CRLF line ends and is to be DKIM-signed
 * afterwards.
 *
 * Fails with a plain Error whose message is one of ENCRYPTION_ERRORS (errors.ts): fixed
 * text, no address or key material; the worker records `encryption_failed`.
 */
export async function encryptMessage(raw: MessageBody, key: RecipientKey): Promise<Buffer> {
  const { outer, entity } = splitMessage(raw);
  const plaintext = bodyBuffer(entity);
  // pkijs and openpgp are loaded on first use (about 20 MB each per thread).
  switch (key.kind) {
    case "smime": {
      const { envelope, smimeMessage } = await import("./smime.ts");
      return smimeMessage(outer, await envelope(plaintext, key.material));
    }
    case "pgp": {
      const { encryptArmored, pgpMimeMessage } = await import("./pgp.ts");
      return pgpMimeMessage(outer, await encryptArmored(plaintext, key.material));
    }
    default:
      throw new Error(ENCRYPTION_ERRORS.unknownKind);
  }
}
