import MailComposer from "nodemailer/lib/mail-composer";
import { newId } from "../core/ids.ts";
import type { Keyring } from "../core/keyring.ts";
import type { OrgPolicy } from "../policy/types.ts";
import type { Db } from "../store/db.ts";
import { findLinkOfDelivery, insertLink, renewLink } from "../store/portal.ts";
import { systemScope } from "../store/scope.ts";
import { linkExpiry, newToken, portalUrl, tokenHash } from "./links.ts";
import { noticeHtml, noticeText } from "./pages/notice-body.ts";
import type { PortalNotice, PortalNoticeRequest } from "./types.ts";

/**
 * Creates (or renews: a fresh token, so only the newest notice's link works) the portal
 * link of one delivery and composes its notice (ADR 0010 §6): from the org's notice name at
 * no-reply@ the original From domain, the org's subject and text, and the link. Nothing of
 * the original message (subject, sender, content) is in it; the worker DKIM-signs it.
 */
export async function portalNotice(
  deps: { db: Db; keyring: Keyring; publicUrl: string },
  policy: OrgPolicy,
  req: PortalNoticeRequest,
): Promise<PortalNotice> {
  const scope = systemScope(deps.db, req.orgId, "worker");
  const token = newToken();
  const expiresAt = linkExpiry(req.now, policy.portal_link_days);
  const existing = await findLinkOfDelivery(scope, req.deliveryId);
  let linkId: string;
  if (existing === undefined) {
    linkId = newId("pl", req.now);
    await insertLink(scope, {
      id: linkId,
      org_id: req.orgId,
      message_id: req.messageId,
      delivery_id: req.deliveryId,
      token_hash: tokenHash(token),
      created_at: req.now,
      expires_at: expiresAt,
      revoked_at: null,
      failed_codes: 0,
      locked_until: null,
      code_hash: null,
      code_expires_at: null,
      session_hash: null,
      session_expires_at: null,
      verified_at: null,
      views: 0,
    });
  } else {
    linkId = existing.id;
    await renewLink(scope, linkId, {
      token_hash: tokenHash(token),
      created_at: req.now,
      expires_at: expiresAt,
    });
  }
  const link = portalUrl(deps.publicUrl, token);
  const from = `no-reply@${req.fromDomain}`;
  const composer = new MailComposer({
    from: { name: policy.notice_from_name, address: from },
    to: req.recipient,
    subject: policy.notice_subject,
    text: noticeText(policy, link, expiresAt),
    html: noticeHtml(policy, link, expiresAt),
    messageId: `<${newId("pl", req.now)}.notice@${req.fromDomain}>`,
    date: new Date(req.now),
    disableFileAccess: true,
    disableUrlAccess: true,
  });
  const raw = await composer.compile().build();
  return { raw, linkId, expiresAt };
}
