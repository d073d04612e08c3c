import { CLI_ACTOR, signingKeyEntry } from "../audit/entries.ts";
import { rotateSigningKey } from "../auth/jwt.ts";
import type { Config } from "../config/schema.ts";
import { systemClock } from "../core/clock.ts";
import { print, printError, printJson } from "./output.ts";
import { withStore } from "./store.ts";

export interface JwksArgs {
  action: string | undefined;
  json: boolean;
}

/**
 * `sealpost jwks rotate [--json]`: a new JWT signing key, the old one retired in the same
 * transaction (ADR 0008 §4). Running nodes sign with the new key within 60 s; tokens
 * signed by the old key keep verifying until they expire.
 */
export async function jwksCommand(config: Config, args: JwksArgs): Promise<number> {
  if (args.action !== "rotate") {
    printError("usage: sealpost jwks rotate [--json]");
    return 2;
  }
  return withStore(config, async (db, _keyring, wrapper, audit) => {
    const { kid, retired } = await rotateSigningKey({ db, wrapper, clock: systemClock });
    await audit.recordNow(signingKeyEntry(CLI_ACTOR, kid));
    if (args.json) printJson({ kid, retired: retired ?? null });
    else
      print(
        `New JWT signing key ${kid}${retired === undefined ? "" : `; retired ${retired}`}. ` +
          `Nodes switch within 60 s; the JWKS keeps the old key until its tokens have expired.`,
      );
    return 0;
  });
}
