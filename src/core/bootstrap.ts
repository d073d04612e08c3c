import { secretColumns } from "../auth/key-secrets.ts";
import type { KeyDeps } from "../auth/keys.ts";
import { BOOTSTRAP_MIN, TOKEN_MAX } from "../auth/tokens.ts";
import { bootstrapKeyExists, insertApiKey } from "../store/api-keys.ts";
import { systemScope } from "../store/scope.ts";
import { newId } from "./ids.ts";

/**
 * With SEALPOST_BOOTSTRAP_KEY set, makes exactly that string (32–256 characters) an admin key
 * of the org, once: only while no key was ever made by the bootstrap, so a bootstrap key that
 * was rotated (or revoked) is not made again at the next start. Returns whether it was
 * created now. Two nodes starting together settle on one key through the unique hash.
 */
export async function ensureBootstrapKey(deps: KeyDeps, orgId: string, token: string): Promise<boolean> {
  if (token.length < BOOTSTRAP_MIN || token.length > TOKEN_MAX)
    throw new Error(`the bootstrap key must be ${BOOTSTRAP_MIN} to ${TOKEN_MAX} characters`);
  if (await bootstrapKeyExists(deps.db)) return false;
  const now = deps.clock.now();
  const id = newId("key", now);
  const org = await deps.keyring.orgKeys(orgId);
  try {
    await insertApiKey(systemScope(deps.db, orgId, "bootstrap"), {
      id,
      org_id: orgId,
      name: "bootstrap",
      ...secretColumns(deps.pepper, org, id, token),
      scopes: JSON.stringify(["admin"]),
      mode: "live",
      created_at: now,
      expires_at: null,
      revoked_at: null,
      prev_secret_hash: null,
      prev_expires_at: null,
      prev_signing_key: null,
      sender_domains: null,
      allowed_ips: null,
      auth_methods: null,
      rate_limit: null,
      created_by: "bootstrap",
    });
    return true;
  } catch (err) {
    if (await bootstrapKeyExists(deps.db)) return false;
    throw err;
  }
}
