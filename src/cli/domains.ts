import { CLI_ACTOR, domainEntry } from "../audit/entries.ts";
import type { Config } from "../config/schema.ts";
import { systemClock } from "../core/clock.ts";
import { SealpostError } from "../core/errors.ts";
import { addDomain, type DomainDeps, listDomainViews, verifyDomain } from "../domains/service.ts";
import { createDnsResolver } from "../main.ts";
import { findOrgByName } from "../store/orgs.ts";
import { systemScope } from "../store/scope.ts";
import { print, printError, printJson } from "./output.ts";
import { withStore } from "./store.ts";

interface Record {
  purpose: string;
  type: string;
  name: string;
  value: string;
}

function printRecords(records: readonly Record[]): void {
  for (const r of records)
    print(
      `  ${r.purpose.padEnd(14)} ${r.type.padEnd(5)} ${r.name}\n${" ".repeat(17)}${r.value.replaceAll("\n", `\n${" ".repeat(17)}`)}`,
    );
}

/** `sealpost domains add|verify|list`: the same service the /v1/domains routes use. */
export async function domainsCommand(
  config: Config,
  args: { action: string | undefined; name: string | undefined; org: string; json: boolean },
): Promise<number> {
  if (!["add", "verify", "list"].includes(args.action ?? "")) {
    printError("usage: sealpost domains add NAME | verify NAME | list [--org default] [--json]");
    return 2;
  }
  return withStore(config, async (db, keyring, _wrapper, audit) => {
    const org = await findOrgByName(db, args.org);
    if (org === undefined) {
      printError("No such org (start sealpost once to create `default`).");
      return 1;
    }
    const deps: DomainDeps = {
      db,
      keyring,
      clock: systemClock,
      resolver: createDnsResolver(config),
      hostname: config.hostname,
    };
    const scope = systemScope(db, org.id, "cli");
    if (args.action === "list") {
      const list = await listDomainViews(deps, scope);
      if (args.json) printJson(list);
      else for (const d of list) print(`${d.id}  ${d.name}  ${d.status}`);
      return 0;
    }
    if (args.name === undefined) {
      printError(`usage: sealpost domains ${args.action} NAME`);
      return 2;
    }
    if (args.action === "add") {
      const d = await addDomain(deps, scope, args.name);
      await audit.recordNow(domainEntry(CLI_ACTOR, org.id, "domain.add", d));
      if (args.json) printJson(d);
      else {
        print(
          `Added ${d.name} (${d.id}). Publish these records, then run: sealpost domains verify ${d.name}\n`,
        );
        printRecords(d.records);
      }
      return 0;
    }
    const d = await verifyDomain(deps, scope, args.name);
    await audit.recordNow(domainEntry(CLI_ACTOR, org.id, "domain.verify", d));
    if (args.json) printJson(d);
    else {
      print(`${d.name}: ${d.status}`);
      for (const c of d.last_check.checks)
        print(`  ${c.status.padEnd(9)} ${c.purpose.padEnd(11)} ${c.name}${c.required ? " (required)" : ""}`);
    }
    return d.status === "verified" ? 0 : 1;
  }).catch((err: unknown) => {
    if (!(err instanceof SealpostError)) throw err;
    printError(err.detail ?? err.message);
    return 1;
  });
}
