import type { OrgPolicy } from "../../policy/types.ts";
import { esc, formatDate, paragraphs } from "./html.ts";

/**
 * The text and HTML bodies of the portal notice: the org's wording and the link, and
 * nothing of the message itself. The HTML is simple and accessible: a language, a heading,
 * a link whose text says what it does, and the link again as text for clients without HTML.
 */
export function noticeText(policy: OrgPolicy, link: string, expiresAt: number): string {
  return [
    policy.notice_text,
    "",
    `Open the secure message: ${link}`,
    "",
    `The link works until ${formatDate(expiresAt)}.`,
    "If you did not expect this message, you can ignore it.",
    "",
  ].join("\n");
}

export function noticeHtml(policy: OrgPolicy, link: string, expiresAt: number): string {
  const href = esc(link);
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${esc(policy.notice_subject)}</title></head>
<body style="font-family: system-ui, sans-serif; color: #1a1a1a; background: #ffffff; line-height: 1.5; margin: 0; padding: 16px;">
<main style="max-width: 36rem; margin: 0 auto;">
<h1 style="font-size: 1.4rem;">${esc(policy.notice_subject)}</h1>
${paragraphs(policy.notice_text)}
<p><a href="${href}" style="display: inline-block; padding: 12px 20px; background: #0b5394; color: #ffffff; text-decoration: none; border-radius: 4px;">Open the secure message</a></p>
<p>If the button does not work, copy this address into your browser:<br><span style="word-break: break-all;">${href}</span></p>
<p>The link works until ${esc(formatDate(expiresAt))}. If you did not expect this message, you can ignore it.</p>
</main>
</body>
</html>
`;
}
