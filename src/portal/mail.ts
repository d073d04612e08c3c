import { messageIdHeader } from "../core/mime.ts";
import type { Principal } from "../core/principal.ts";
import { submitMessage } from "../core/submit.ts";
import { contentOf, type OpenLink, recipientOf } from "./state.ts";
import type { PortalDeps } from "./types.ts";

/**
 * The two messages the portal sends, both through the one submit path as a system
 * principal of the message's org and mode (a test-mode message's code lands in the sandbox):
 * the one-time code (TLS only, no PHI) and the recipient's reply to the original sender.
 */
export const PORTAL_KEY_ID = "portal";
const MAX_SUBJECT = 998;

function systemPrincipal(open: OpenLink): Principal {
  return {
    orgId: open.link.org_id,
    keyId: PORTAL_KEY_ID,
    mode: open.message.mode,
    scopes: ["messages:send"],
    senderDomains: null,
    method: "bearer",
  };
}

function noReply(open: OpenLink): string {
  return `no-reply@${open.message.from_domain}`;
}

export async function sendCode(deps: PortalDeps, open: OpenLink, code: string): Promise<void> {
  await submitMessage(deps.submit, systemPrincipal(open), {
    from: noReply(open),
    to: recipientOf(open),
    subject: "Your code",
    text:
      `Your code is ${code}\n\nEnter it on the page where you asked for it. It works for 10 minutes.\n` +
      "If you did not ask for a code, you can ignore this email.\n",
    encryption: "tls",
  });
}

/** The reply's subject: `Re: ` once, within the subject limit. */
export function replySubject(subject: string): string {
  const s = /^re:\s*/i.test(subject) ? subject : `Re: ${subject}`;
  return s.slice(0, MAX_SUBJECT);
}

/** Submits the reply; the new message's id. */
export async function sendReply(deps: PortalDeps, open: OpenLink, text: string): Promise<string> {
  const content = contentOf(open);
  const original = messageIdHeader(open.message.id, content.from.address);
  const result = await submitMessage(deps.submit, systemPrincipal(open), {
    from: noReply(open),
    to: content.from.address,
    reply_to: recipientOf(open),
    subject: replySubject(content.subject),
    text,
    headers: { "In-Reply-To": original, References: original },
    encryption: "auto",
  });
  return result.id;
}
