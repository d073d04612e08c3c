import type { Readable } from "node:stream";
import MailComposer from "nodemailer/lib/mail-composer";
import type { StoredContent } from "./message.ts";

/**
 * Builds the RFC 5322 message with nodemailer's composer. The message is the same for
 * every recipient (Bcc is never written), so the worker builds it once per message.
 */
export interface RenderInput {
  messageId: string;
  createdAt: number;
  content: StoredContent;
  /** Each attachment as a stream of its bytes (read part by part from the store, ADR 0006). */
  attachments: readonly Readable[];
}

export function messageIdHeader(messageId: string, fromAddress: string): string {
  const domain = fromAddress.slice(fromAddress.lastIndexOf("@") + 1);
  return `<${messageId}@${domain}>`;
}

/** The message as the composer streams it out, unjoined (see body.ts). */
export async function renderMime(input: RenderInput): Promise<Buffer[]> {
  const c = input.content;
  const composer = new MailComposer({
    from: c.from.name === null ? c.from.address : { name: c.from.name, address: c.from.address },
    to: c.to,
    cc: c.cc,
    replyTo: c.replyTo,
    subject: c.subject,
    ...(c.text === null ? {} : { text: c.text }),
    ...(c.html === null ? {} : { html: c.html }),
    headers: c.headers,
    messageId: messageIdHeader(input.messageId, c.from.address),
    date: new Date(input.createdAt),
    attachments: c.attachments.map((a, i) => ({
      filename: a.filename,
      contentType: a.contentType,
      content: input.attachments[i] ?? Buffer.alloc(0),
      ...(a.contentId === null ? {} : { cid: a.contentId }),
    })),
    disableFileAccess: true,
    disableUrlAccess: true,
  });
  const parts: Buffer[] = [];
  for await (const chunk of composer.compile().createReadStream())
    parts.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return parts;
}
