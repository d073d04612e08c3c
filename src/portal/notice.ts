import type { Keyring } from "../core/keyring.ts";
import type { OrgPolicy } from "../policy/types.ts";
import type { Db } from "../store/db.ts";
import type { PortalNotice, PortalNoticeRequest } from "./types.ts";

/**
 * Creates (or renews: a fresh token, so only the newest notice's link works) the portal
 * link of one delivery and composes its notice (ADR 0010 §6).
 *
 * Contract stub (ADR 0010 step 0): package E replaces the body.
 */
export async function portalNotice(
  _deps: { db: Db; keyring: Keyring; publicUrl: string },
  _policy: OrgPolicy,
  _req: PortalNoticeRequest,
): Promise<PortalNotice> {
  throw new Error("portalNotice: not implemented yet");
}
