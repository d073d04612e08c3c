/**
 * Reads an RFC 3464 delivery status notification: the per-recipient fields of its
 * message/delivery-status part. Only codes are kept (Action, Status), never the
 * diagnostic text, which usually quotes the address.
 */
export interface DsnRecipient {
  action: "failed" | "delayed" | "delivered" | "relayed" | "expanded" | "unknown";
  status: string | null;
}

function fieldsOf(block: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of block.replace(/\r?\n[ \t]+/g, " ").split(/\r?\n/)) {
    const i = line.indexOf(":");
    if (i > 0) out.set(line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim());
  }
  return out;
}

export function parseDeliveryStatus(text: string): DsnRecipient[] {
  const blocks = text.split(/\r?\n\s*\r?\n/).filter((b) => b.trim() !== "");
  // The first block is per-message; the others are per-recipient.
  return blocks.slice(1).flatMap((block) => {
    const f = fieldsOf(block);
    const action = (f.get("action") ?? "").toLowerCase();
    if (action === "") return [];
    const status = /^([245]\.\d{1,3}\.\d{1,3})/.exec(f.get("status") ?? "")?.[1] ?? null;
    const known = ["failed", "delayed", "delivered", "relayed", "expanded"];
    return [{ action: (known.includes(action) ? action : "unknown") as DsnRecipient["action"], status }];
  });
}

const STATUS_PART = /^content-type:[ \t]*message\/(?:global-)?delivery-status\b.*$/im;

/**
 * The per-recipient reports of a DSN, or null when the message is not one. The
 * message/delivery-status part is located in the raw MIME (parsers tend to flatten it
 * into the text body): its headers end at the first blank line, its body at the next
 * boundary line.
 */
export function deliveryStatusOf(raw: string): DsnRecipient[] | null {
  const m = STATUS_PART.exec(raw);
  if (m === null) return null;
  const rest = raw.slice(m.index);
  const headerEnd = /\r?\n\r?\n/.exec(rest);
  if (headerEnd === null) return null;
  const body = rest.slice(headerEnd.index + headerEnd[0].length);
  const end = /^--/m.exec(body);
  return parseDeliveryStatus(end === null ? body : body.slice(0, end.index));
}
