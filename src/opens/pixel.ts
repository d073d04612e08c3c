import type { EncryptionMode } from "../core/message.ts";
import type { OrgPolicy } from "../policy/types.ts";

/**
 * The open-tracking pixel (ADR 0011 §6): when a message gets one, and putting it into the
 * HTML. Only with the org's `track_opens` on, only without a PHI finding, and only for what
 * goes out as the plain signed message (TLS): a message that asks for, or is forced to,
 * S/MIME, PGP or the portal never gets one. In `auto`, the worker keeps a copy without the
 * pixel for the recipients it encrypts for (worker/prepare.ts).
 */
export interface PixelFacts {
  policy: Pick<OrgPolicy, "track_opens" | "force_mode">;
  /** `messages.phi`: null when the detector found nothing. */
  phi: string | null;
  encryption: EncryptionMode;
  hasHtml: boolean;
}

export function tracksOpens(f: PixelFacts): boolean {
  if (!f.policy.track_opens || f.phi !== null || !f.hasHtml) return false;
  if (f.policy.force_mode !== null && f.policy.force_mode !== "tls") return false;
  return f.encryption === "auto" || f.encryption === "tls";
}

export function pixelUrl(publicUrl: string, token: string): string {
  return `${publicUrl.replace(/\/+$/, "")}/t/o/${token}.gif`;
}

function attribute(value: string): string {
  return value
    .replaceAll("&", "&amp;")
    .replaceAll('"', "&quot;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;");
}

/** The HTML with a 1×1 image before its last `</body>` (or at its end when it has none). */
export function withPixel(html: string, url: string): string {
  const img = `<img src="${attribute(url)}" width="1" height="1" alt="" style="display:block;width:1px;height:1px;border:0" />`;
  const at = html.toLowerCase().lastIndexOf("</body>");
  return at < 0 ? `${html}${img}` : `${html.slice(0, at)}${img}${html.slice(at)}`;
}

/** A transparent 1×1 GIF (43 bytes). */
export const PIXEL_GIF: Buffer = Buffer.from(
  "R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7",
  "base64",
);
