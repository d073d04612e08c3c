import type { Config } from "../config/schema.ts";
import { createApiKey, parseScopes } from "../core/api-keys.ts";
import { ensureOrg } from "../core/bootstrap.ts";
import { systemClock } from "../core/clock.ts";
import { findOrgByName, listApiKeys, revokeApiKey } from "../store/orgs.ts";
import { print, printError, printJson } from "./output.ts";
import { withStore } from "./store.ts";

export interface KeysArgs {
  action: string | undefined;
  org: string;
  mode: string;
  scopes: string | undefined;
  name: string;
  id: string | undefined;
  json: boolean;
}

export async function keysCommand(config: Config, args: KeysArgs): Promise<number> {
  if (args.action === "create") {
    if (args.mode !== "live" && args.mode !== "test") {
      printError("--mode must be live or test");
      return 2;
    }
    const mode = args.mode;
    const scopes = parseScopes(args.scopes ?? "messages:send,messages:read,messages:read_content");
    if (scopes === null) {
      printError(
        "--scopes must be a comma-separated list of: messages:send, messages:read, messages:read_content, keys:manage, admin",
      );
      return 2;
    }
    return withStore(config, async (db, keyring) => {
      const org =
        args.org === "default"
          ? await ensureOrg(db, keyring, systemClock, "default")
          : await findOrgByName(db, args.org);
      if (org === undefined) {
        printError("No such org.");
        return 1;
      }
      const key = await createApiKey(db, systemClock, { orgId: org.id, name: args.name, mode, scopes });
      if (args.json) printJson({ id: key.id, key: key.token, org: args.org, mode, scopes });
      else
        print(
          `Created ${mode} key ${key.id} (scopes: ${scopes.join(",")}). It is shown once:\n\n  ${key.token}\n`,
        );
      return 0;
    });
  }
  if (args.action === "list" || args.action === "revoke") {
    return withStore(config, async (db) => {
      const org = await findOrgByName(db, args.org);
      if (org === undefined) {
        printError("No such org.");
        return 1;
      }
      if (args.action === "revoke") {
        if (args.id === undefined) {
          printError("keys revoke needs --id KEY_ID");
          return 2;
        }
        const done = await revokeApiKey(db, org.id, args.id, systemClock.now());
        if (args.json) printJson({ id: args.id, revoked: done });
        else print(done ? `Revoked ${args.id}.` : "No such active key.");
        return done ? 0 : 1;
      }
      const keys = (await listApiKeys(db, org.id)).map((k) => ({
        id: k.id,
        name: k.name,
        mode: k.mode,
        scopes: JSON.parse(k.scopes) as string[],
        created_at: new Date(k.created_at).toISOString(),
        revoked_at: k.revoked_at === null ? null : new Date(k.revoked_at).toISOString(),
      }));
      if (args.json) printJson(keys);
      else
        for (const k of keys)
          print(`${k.id}  ${k.mode}  ${k.name}  ${k.scopes.join(",")}${k.revoked_at ? "  (revoked)" : ""}`);
      return 0;
    });
  }
  printError(
    "usage: sealpost keys create|list|revoke [--org NAME] [--mode live|test] [--scopes a,b] [--id KEY_ID] [--json]",
  );
  return 2;
}
