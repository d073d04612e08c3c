import type { AddressObject, ParsedMail } from "mailparser";
import type { SMTPServerEnvelope } from "smtp-server";

/**
 * Translates a submitted MIME message into the submit input that the REST API takes, so
 * SMTP enters the one submit path. `X-Sealpost-*` headers carry options and are not
 * passed on; other headers are kept only when they are safe to forward (an allow-list).
 */
const FORWARDED =
  /^(x-(?!sealpost-).+|list-unsubscribe|list-unsubscribe-post|in-reply-to|references|auto-submitted|precedence)$/i;

function addresses(value: AddressObject | AddressObject[] | undefined): string[] {
  const list = value === undefined ? [] : Array.isArray(value) ? value : [value];
  return list.flatMap((a) =>
    a.value.flatMap((v) =>
      v.address === undefined || v.address === "" ? [] : [v.name ? `${v.name} <${v.address}>` : v.address],
    ),
  );
}

function bare(addr: string): string {
  const m = /<([^>]+)>$/.exec(addr);
  return (m?.[1] ?? addr).toLowerCase();
}

function headerText(mail: ParsedMail, name: string): string | undefined {
  const line = mail.headerLines.find((h) => h.key === name);
  return line === undefined ? undefined : line.line.slice(line.line.indexOf(":") + 1).trim();
}

/** Every value of a header, unfolded (RFC 5322 §2.2.3). */
function headerValues(mail: ParsedMail, name: string): string[] {
  return mail.headerLines
    .filter((h) => h.key === name)
    .map((h) =>
      h.line
        .slice(h.line.indexOf(":") + 1)
        .replace(/\r?\n(?=[ \t])/g, "")
        .trim(),
    );
}

export interface Translated {
  input: Record<string, unknown>;
  idempotencyKey: string | undefined;
}

export function translateSubmission(mail: ParsedMail, envelope: SMTPServerEnvelope): Translated {
  const to = addresses(mail.to);
  const cc = addresses(mail.cc);
  const inHeaders = new Set([...to, ...cc].map(bare));
  // Envelope recipients that no header names are blind copies.
  const bcc = envelope.rcptTo.map((r) => r.address).filter((a) => !inHeaders.has(a.toLowerCase()));
  const envelopeSet = new Set(envelope.rcptTo.map((r) => r.address.toLowerCase()));
  const from = addresses(mail.from)[0] ?? (envelope.mailFrom === false ? "" : envelope.mailFrom.address);
  const headers: Record<string, string> = {};
  for (const h of mail.headerLines) {
    if (!FORWARDED.test(h.key)) continue;
    headers[h.line.slice(0, h.line.indexOf(":")).trim()] = h.line.slice(h.line.indexOf(":") + 1).trim();
  }
  const input: Record<string, unknown> = {
    from,
    // Only envelope recipients receive the message; header-only names stay in the headers.
    to: to.filter((a) => envelopeSet.has(bare(a))),
    cc: cc.filter((a) => envelopeSet.has(bare(a))),
    bcc,
    subject: mail.subject ?? "",
    ...(mail.text === undefined ? {} : { text: mail.text }),
    ...(typeof mail.html === "string" ? { html: mail.html } : {}),
    ...(mail.replyTo === undefined ? {} : { reply_to: addresses(mail.replyTo) }),
    attachments: mail.attachments.map((a) => ({
      filename: a.filename ?? "attachment",
      content_type: a.contentType,
      content: a.content.toString("base64"),
      ...(a.cid === undefined ? {} : { content_id: a.cid }),
    })),
    headers,
  };
  const sandbox = headerText(mail, "x-sealpost-sandbox");
  if (sandbox !== undefined) input.sandbox = sandbox.toLowerCase() === "true";
  const encryption = headerText(mail, "x-sealpost-encryption");
  if (encryption !== undefined) input.encryption = encryption.toLowerCase();
  const tags = headerText(mail, "x-sealpost-tags");
  if (tags !== undefined)
    input.tags = tags
      .split(",")
      .map((t) => t.trim())
      .filter((t) => t !== "");
  if (headerText(mail, "x-sealpost-allow-non-tls")?.toLowerCase() === "true") input.allow_non_tls = true;
  // `send_at` as the REST API takes it; the one validator applies the same rules. Two of
  // these headers are ambiguous: passed on as a list, they are refused as the wrong type.
  const sendAt = headerValues(mail, "x-sealpost-send-at");
  if (sendAt.length > 0) input.send_at = sendAt.length === 1 ? sendAt[0] : sendAt;
  for (const k of ["to", "cc", "bcc"]) if ((input[k] as string[]).length === 0) delete input[k];
  if ((input.attachments as unknown[]).length === 0) delete input.attachments;
  return { input, idempotencyKey: headerText(mail, "x-sealpost-idempotency-key") };
}
