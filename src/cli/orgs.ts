import { CLI_ACTOR, keyEntry, orgEntries, recordAllNow } from "../audit/entries.ts";
import type { AuditLog } from "../audit/types.ts";
import { loadPepper } from "../auth/instance-keys.ts";
import { createKey, operatorGrantor } from "../auth/keys.ts";
import type { Config } from "../config/schema.ts";
import { systemClock } from "../core/clock.ts";
import { SealpostError } from "../core/errors.ts";
import type { Keyring } from "../core/keyring.ts";
import { createOrg, listOrgs, orgView } from "../core/orgs.ts";
import type { KeyWrapper } from "../crypto/key-provider.ts";
import type { Db } from "../store/db.ts";
import type { OrgsTable } from "../store/schema.ts";
import { systemScope } from "../store/scope.ts";
import { orgsRetentionCommand } from "./orgs-retention.ts";
import { print, printError, printJson } from "./output.ts";
import { withStore } from "./store.ts";

/**
 * `sealpost orgs create NAME [--admin-key] [--json]` and `sealpost orgs list [--json]`:
 * instance administration from the host (ADR 0008 §1). Host access is operator access.
 */

/** The new org's first admin key; its token is shown once. */
async function issueAdminKey(
  store: { db: Db; keyring: Keyring; wrapper: KeyWrapper; audit: AuditLog },
  org: OrgsTable,
): Promise<{ id: string; token: string }> {
  const { db, keyring, wrapper } = store;
  const pepper = await loadPepper({ db, wrapper, clock: systemClock });
  const { key, token } = await createKey(
    { db, keyring, clock: systemClock, pepper },
    systemScope(db, org.id, "cli"),
    operatorGrantor("cli"),
    { name: "admin", mode: "live", scopes: ["admin"] },
  );
  await store.audit.recordNow(keyEntry(CLI_ACTOR, org.id, "key.create", key));
  return { id: key.id, token };
}

export interface OrgsArgs {
  action: string | undefined;
  name: string | undefined;
  adminKey: boolean;
  rateLimit: string | undefined;
  json: boolean;
  /** `orgs retention`: the new periods (30d, 6y). */
  content?: string | undefined;
  metadata?: string | undefined;
}

const USAGE =
  "usage: sealpost orgs create NAME [--admin-key] [--rate-limit 100/s|off] [--json] | list [--json] | retention NAME [--content 30d] [--metadata 6y] [--json]";

export async function orgsCommand(config: Config, args: OrgsArgs): Promise<number> {
  if (args.action === "retention") return orgsRetentionCommand(config, args);
  if (args.action === "list")
    return withStore(config, async (db) => {
      const orgs = (await listOrgs(db)).map(orgView);
      if (args.json) printJson(orgs);
      else
        for (const o of orgs) print(`${o.id}  ${o.name}${o.rate_limit === null ? "" : `  ${o.rate_limit}`}`);
      return 0;
    });
  if (args.action !== "create" || args.name === undefined) {
    printError(USAGE);
    return 2;
  }
  const name = args.name;
  return withStore(config, async (db, keyring, wrapper, audit) => {
    const org = await createOrg({ db, keyring, clock: systemClock }, { name, rateLimit: args.rateLimit });
    await recordAllNow(audit, orgEntries(CLI_ACTOR, org));
    const key = args.adminKey ? await issueAdminKey({ db, keyring, wrapper, audit }, org) : null;
    if (args.json)
      printJson({ ...orgView(org), ...(key === null ? {} : { admin_key: { id: key.id, key: key.token } }) });
    else if (key === null) print(org.id);
    else print(`${org.id}\n\nAdmin key ${key.id}. It is shown once:\n\n  ${key.token}\n`);
    return 0;
  }).catch((err: unknown) => {
    if (!(err instanceof SealpostError)) throw err;
    printError(err.detail ?? err.message);
    return err.code === "invalid_state" ? 1 : 2;
  });
}
