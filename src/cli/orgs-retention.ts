import { CLI_ACTOR } from "../audit/entries.ts";
import type { Config } from "../config/schema.ts";
import { isSealpostError } from "../core/errors.ts";
import {
  CONTENT_FIELD,
  checkChange,
  getRetention,
  METADATA_FIELD,
  parsePeriod,
  type RetentionSettings,
  setRetention,
} from "../retention/settings.ts";
import { findOrgByName } from "../store/orgs.ts";
import { print, printError, printJson } from "./output.ts";
import { withStore } from "./store.ts";

/**
 * `sealpost orgs retention NAME [--content 30d] [--metadata 6y] [--json]` (ADR 0009 §4):
 * shows an org's retention periods, or changes them (audited as the operator's `cli`).
 * Exit 0 done, 1 no such org, 2 bad input.
 */
export interface RetentionArgs {
  name: string | undefined;
  content?: string | undefined;
  metadata?: string | undefined;
  json: boolean;
}

export const RETENTION_USAGE = "usage: sealpost orgs retention NAME [--content 30d] [--metadata 6y] [--json]";

function show(s: RetentionSettings, json: boolean): void {
  if (json)
    printJson({
      content_retention_days: s.content_retention_days,
      metadata_retention_days: s.metadata_retention_days,
    });
  else print(`content ${s.content_retention_days}d  metadata ${s.metadata_retention_days}d`);
}

export async function orgsRetentionCommand(config: Config, args: RetentionArgs): Promise<number> {
  if (args.name === undefined) {
    printError(RETENTION_USAGE);
    return 2;
  }
  const name = args.name;
  return withStore(config, async (db, _keyring, _wrapper, audit) => {
    const org = await findOrgByName(db, name);
    if (org === undefined) {
      printError("No such org.");
      return 1;
    }
    try {
      if (args.content === undefined && args.metadata === undefined) {
        show(await getRetention(db, org.id), args.json);
        return 0;
      }
      const change = checkChange({
        [CONTENT_FIELD]: args.content === undefined ? undefined : parsePeriod(args.content, "--content"),
        [METADATA_FIELD]: args.metadata === undefined ? undefined : parsePeriod(args.metadata, "--metadata"),
      });
      show(await setRetention({ db, audit }, org.id, change, CLI_ACTOR), args.json);
      return 0;
    } catch (err) {
      if (!isSealpostError(err)) throw err;
      printError(err.message);
      return err.status === 422 ? 2 : 1;
    }
  });
}
