import { CLI_ACTOR, type KeyAction, keyEntry } from "../audit/entries.ts";
import type { AuditLog } from "../audit/types.ts";
import { loadPepper } from "../auth/instance-keys.ts";
import { parseDuration } from "../auth/key-input.ts";
import {
  createKey,
  type KeyDeps,
  type KeyView,
  listKeys,
  operatorGrantor,
  revokeKey,
  rotateKey,
} from "../auth/keys.ts";
import type { Config } from "../config/schema.ts";
import { systemClock } from "../core/clock.ts";
import { isSealpostError } from "../core/errors.ts";
import { ensureOrg } from "../core/orgs.ts";
import { findOrgByName } from "../store/orgs.ts";
import { type OrgScope, systemScope } from "../store/scope.ts";
import { print, printError, printJson } from "./output.ts";
import { withStore } from "./store.ts";

/**
 * `sealpost keys create|list|revoke|rotate` (ADR 0008 §2): the same key service as
 * /v1/api-keys, acting as the operator, who may grant every scope, `instance:admin`
 * included (host access is operator access). A token is printed once, by create and
 * rotate; nothing else secret is ever printed.
 */
export interface KeysArgs {
  action: string | undefined;
  org: string;
  mode: string;
  scopes: string | undefined;
  name: string;
  id: string | undefined;
  senderDomains: string | undefined;
  allowedIps: string | undefined;
  expiresIn: string | undefined;
  authMethods: string | undefined;
  rateLimit: string | undefined;
  overlap: string | undefined;
  json: boolean;
}

export const KEYS_USAGE = `usage:
  sealpost keys create [--org NAME] [--mode live|test] [--scopes a,b] [--name NAME]
                       [--sender-domains a.example,b.example] [--allowed-ips 192.0.2.0/24,…]
                       [--expires-in 30d|12h|SECONDS] [--auth-methods bearer,basic,hmac,oauth,smtp]
                       [--rate-limit 100/s|off] [--json]
  sealpost keys list [--org NAME] [--json]
  sealpost keys revoke --id KEY_ID [--org NAME] [--json]
  sealpost keys rotate --id KEY_ID [--overlap 24h|SECONDS] [--org NAME] [--json]`;

const DEFAULT_SCOPES = "messages:send,messages:read,messages:read_content";

function list(raw: string | undefined): string[] | undefined {
  return raw === undefined
    ? undefined
    : raw
        .split(",")
        .map((s) => s.trim())
        .filter((s) => s !== "");
}

function describe(k: KeyView): string {
  const overlap = k.prev_expires_at !== null && Date.parse(k.prev_expires_at) > Date.now();
  const state = k.revoked_at !== null ? "  (revoked)" : overlap ? "  (previous token still valid)" : "";
  return `${k.id}  ${k.mode}  ${k.name}  ${k.scopes.join(",")}${state}`;
}

/** A refusal of the key service, as the operator reads it; exit 2 for bad input, 1 otherwise. */
function refused(err: unknown): number {
  if (!isSealpostError(err)) throw err;
  const lines = err.issues.length > 1 ? err.issues.map((i) => `${i.field} ${i.detail}`) : [err.message];
  printError(lines.join("\n"));
  return err.status === 422 ? 2 : 1;
}

/** What a command needs: the key service, and the audit log its changes are recorded in. */
type CommandDeps = KeyDeps & { audit: AuditLog };

function audited(deps: CommandDeps, scope: OrgScope, action: KeyAction, key: KeyView): Promise<void> {
  return deps.audit.recordNow(keyEntry(CLI_ACTOR, scope.orgId, action, key));
}

async function createCommand(deps: CommandDeps, scope: OrgScope, args: KeysArgs): Promise<number> {
  let expiresAt: number | undefined;
  if (args.expiresIn !== undefined) {
    const ms = parseDuration(args.expiresIn);
    if (ms === null) {
      printError("--expires-in must be a duration such as 30d, 12h, 45m or a number of seconds");
      return 2;
    }
    expiresAt = deps.clock.now() + ms;
  }
  const { key, token } = await createKey(deps, scope, operatorGrantor("cli"), {
    name: args.name,
    mode: args.mode,
    scopes: list(args.scopes ?? DEFAULT_SCOPES) ?? [],
    senderDomains: list(args.senderDomains) ?? null,
    allowedIps: list(args.allowedIps) ?? null,
    expiresAt: expiresAt ?? null,
    authMethods: list(args.authMethods) ?? null,
    rateLimit: args.rateLimit ?? null,
  });
  await audited(deps, scope, "key.create", key);
  if (args.json) printJson({ ...key, key: token, org: args.org });
  else
    print(
      `Created ${key.mode} key ${key.id} (scopes: ${key.scopes.join(",")}). It is shown once:\n\n  ${token}\n`,
    );
  return 0;
}

async function listCommand(scope: OrgScope, json: boolean): Promise<number> {
  const all: KeyView[] = [];
  let before: string | undefined;
  for (;;) {
    const page = await listKeys(scope, { before, limit: 100 });
    all.push(...page.data);
    if (page.next === null) break;
    before = page.next;
  }
  if (json) printJson(all);
  else for (const k of all) print(describe(k));
  return 0;
}

async function rotateCommand(
  deps: CommandDeps,
  scope: OrgScope,
  id: string,
  args: KeysArgs,
): Promise<number> {
  let overlapSeconds: number | undefined;
  if (args.overlap !== undefined) {
    const ms = args.overlap === "0" ? 0 : parseDuration(args.overlap);
    if (ms === null) {
      printError("--overlap must be a duration such as 24h, 30m or a number of seconds (0 for none)");
      return 2;
    }
    overlapSeconds = ms / 1000;
  }
  const { key, token } = await rotateKey(deps, scope, operatorGrantor("cli"), id, { overlapSeconds });
  await audited(deps, scope, "key.rotate", key);
  if (args.json) printJson({ ...key, key: token });
  else
    print(
      `Rotated ${key.id}. The new token is shown once:\n\n  ${token}\n\n` +
        (key.prev_expires_at === null
          ? "The previous token no longer works."
          : `The previous token works until ${key.prev_expires_at}.`),
    );
  return 0;
}

export async function keysCommand(config: Config, args: KeysArgs): Promise<number> {
  const action = args.action ?? "";
  if (!["create", "list", "revoke", "rotate"].includes(action)) {
    printError(KEYS_USAGE);
    return 2;
  }
  if ((action === "revoke" || action === "rotate") && args.id === undefined) {
    printError(`keys ${action} needs --id KEY_ID`);
    return 2;
  }
  return withStore(config, async (db, keyring, wrapper, audit) => {
    const clock = systemClock;
    const org =
      action === "create" && args.org === "default"
        ? await ensureOrg(db, keyring, clock, "default")
        : await findOrgByName(db, args.org);
    if (org === undefined) {
      printError("No such org.");
      return 1;
    }
    const scope = systemScope(db, org.id, "cli");
    const deps: CommandDeps = { db, keyring, clock, pepper: await loadPepper({ db, wrapper, clock }), audit };
    const id = args.id ?? "";
    try {
      if (action === "create") return await createCommand(deps, scope, args);
      if (action === "list") return await listCommand(scope, args.json);
      if (action === "rotate") return await rotateCommand(deps, scope, id, args);
      const { key, revoked } = await revokeKey(deps, scope, operatorGrantor("cli"), id);
      if (revoked) await audited(deps, scope, "key.revoke", key);
      if (args.json) printJson({ ...key, revoked });
      else print(revoked ? `Revoked ${key.id}.` : `${key.id} was already revoked.`);
      return 0;
    } catch (err) {
      return refused(err);
    }
  });
}
