import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { auditPublicKeyPem, writeCheckpoint } from "../audit/checkpoint.ts";
import { CLI_ACTOR } from "../audit/entries.ts";
import { byChain, ExportFormatError, exportLine, parseExport } from "../audit/export.ts";
import { type AuditLog, INSTANCE_CHAIN, type VerifyReport } from "../audit/types.ts";
import { verifyChain } from "../audit/verify.ts";
import { verifyStoredChain } from "../audit/verify-store.ts";
import type { Config } from "../config/schema.ts";
import { systemClock } from "../core/clock.ts";
import type { KeyWrapper } from "../crypto/key-provider.ts";
import { MasterKeyError } from "../crypto/master-key.ts";
import { type AuditFilter, listChains, streamEntries } from "../store/audit.ts";
import type { Db } from "../store/db.ts";
import { findOrgByName, listOrgs } from "../store/orgs.ts";
import { print, printError, printJson } from "./output.ts";
import { withStore } from "./store.ts";

/**
 * `sealpost audit verify | export | checkpoint | public-key` (ADR 0009 §1, §3), as the
 * operator, on the store directly. `verify --file` needs no store: an auditor runs it on an
 * export. Exit status: 0 ok, 1 a chain does not verify (or no such org), 2 bad usage.
 */
export const AUDIT_USAGE = `usage: sealpost audit verify [--org NAME | --all] [--file export.jsonl] [--json]
       sealpost audit export [--org default | --all] [--from ISO] [--to ISO] > export.jsonl
       sealpost audit checkpoint [--org NAME] [--json]
       sealpost audit public-key
  --org instance names the instance chain; verify and checkpoint default to every chain.`;

interface AuditArgs {
  action: string | undefined;
  org: string | undefined;
  all: boolean;
  file: string | undefined;
  from: string | undefined;
  to: string | undefined;
  json: boolean;
}

function parse(argv: string[]): AuditArgs | null {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        org: { type: "string" },
        all: { type: "boolean" },
        file: { type: "string" },
        from: { type: "string" },
        to: { type: "string" },
        json: { type: "boolean" },
      },
    });
    if (positionals.length > 1) return null;
    return {
      action: positionals[0],
      org: values.org,
      all: values.all === true,
      file: values.file,
      from: values.from,
      to: values.to,
      json: values.json === true,
    };
  } catch {
    return null;
  }
}

/** A report, and for a slice of an export the seq it starts at (entries before it were not checked). */
type Checked = VerifyReport & { fromSeq?: number };

function reportJson(r: Checked) {
  return {
    ok: r.ok,
    chain: r.chain,
    checked: r.checked,
    first_bad: r.firstBad,
    ...(r.fromSeq === undefined ? {} : { from_seq: r.fromSeq }),
  };
}

function printReports(reports: readonly Checked[], names: ReadonlyMap<string, string>, json: boolean): void {
  if (json) {
    printJson({ ok: reports.every((r) => r.ok), chains: reports.map(reportJson) });
    return;
  }
  for (const r of reports) {
    const name = names.get(r.chain) ?? r.chain;
    const named = name === r.chain ? r.chain : `${r.chain} (${name})`;
    const label = r.fromSeq === undefined ? named : `${named}, a slice from seq ${r.fromSeq}`;
    if (r.firstBad === null) print(`ok   ${label}: ${r.checked} entries`);
    else
      print(
        `BAD  ${label}: seq ${r.firstBad.seq}${r.firstBad.id === null ? "" : ` (${r.firstBad.id})`} ${r.firstBad.problem}; ${r.checked} entries verified before it`,
      );
  }
  if (reports.length === 0) print("No audit entries yet.");
}

/** The chains named by --org / --all; null after printing why when an org does not exist. */
async function chainsOf(db: Db, org: string | undefined, all: boolean): Promise<string[] | null> {
  if (all || org === undefined) return listChains(db);
  if (org === INSTANCE_CHAIN) return [INSTANCE_CHAIN];
  const found = await findOrgByName(db, org);
  if (found === undefined) {
    printError("No such org.");
    return null;
  }
  return [found.id];
}

async function orgNames(db: Db): Promise<Map<string, string>> {
  return new Map((await listOrgs(db)).map((o) => [o.id, o.name]));
}

function verifyFile(path: string, json: boolean): number {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    printError("Cannot read the export file.");
    return 2;
  }
  let rows: ReturnType<typeof parseExport>;
  try {
    rows = parseExport(text);
  } catch (err) {
    if (!(err instanceof ExportFormatError)) throw err;
    printError(`The export is not JSON Lines of audit entries (${err.message}).`);
    return 1;
  }
  // A chain that does not start at seq 1 is a slice (--from): verified from its first entry,
  // and reported as a slice, so an export whose first lines were cut does not pass for a whole chain.
  const reports = [...byChain(rows)].map(([chain, entries]): Checked => {
    const first = entries[0]?.seq ?? 1;
    if (first === 1) return verifyChain(entries, undefined, { chain });
    return { ...verifyChain(entries, undefined, { chain, start: "first" }), fromSeq: first };
  });
  printReports(reports, new Map(), json);
  return reports.every((r) => r.ok) ? 0 : 1;
}

async function verifyStore(db: Db, audit: AuditLog, args: AuditArgs): Promise<number> {
  const chains = await chainsOf(db, args.org, args.all);
  if (chains === null) return 1;
  const reports: VerifyReport[] = [];
  for (const chain of chains) reports.push(await verifyStoredChain(db, chain));
  for (const r of reports)
    await audit.recordNow({
      chain: r.chain,
      ...CLI_ACTOR,
      action: "audit.verify",
      outcome: "ok",
      details: { result: r.ok ? "ok" : (r.firstBad?.problem ?? "bad"), entries: r.checked },
    });
  printReports(reports, await orgNames(db), args.json);
  return reports.every((r) => r.ok) ? 0 : 1;
}

function period(raw: string | undefined, name: string): number | undefined | string {
  if (raw === undefined) return undefined;
  const ms = Date.parse(raw);
  return Number.isFinite(ms) ? ms : `--${name} must be an ISO 8601 time`;
}

/** Writes a line to stdout, waiting when the pipe is full. */
async function writeOut(line: string): Promise<void> {
  if (!process.stdout.write(line))
    await new Promise<void>((resolve) => process.stdout.once("drain", resolve));
}

async function exportStore(db: Db, audit: AuditLog, args: AuditArgs): Promise<number> {
  const from = period(args.from, "from");
  const to = period(args.to, "to");
  for (const p of [from, to])
    if (typeof p === "string") {
      printError(p);
      return 2;
    }
  const chains = await chainsOf(db, args.all ? undefined : (args.org ?? "default"), args.all);
  if (chains === null) return 1;
  const filter: AuditFilter = {
    ...(typeof from === "number" ? { from } : {}),
    ...(typeof to === "number" ? { to } : {}),
  };
  for (const chain of chains) {
    // Recorded before the entries are read: the export holds its own record.
    await audit.recordNow({
      chain,
      ...CLI_ACTOR,
      action: "audit.export",
      outcome: "ok",
      details: {
        ...(filter.from === undefined ? {} : { from: new Date(filter.from).toISOString() }),
        ...(filter.to === undefined ? {} : { to: new Date(filter.to).toISOString() }),
      },
    });
    for await (const row of streamEntries(db, chain, filter)) await writeOut(`${exportLine(row)}\n`);
  }
  return 0;
}

async function checkpoint(db: Db, wrapper: KeyWrapper, args: AuditArgs): Promise<number> {
  const chains = await chainsOf(db, args.org, args.all);
  if (chains === null) return 1;
  const rows = [];
  for (const chain of chains) {
    const row = await writeCheckpoint({ db, wrapper, clock: systemClock }, chain);
    if (row !== null) rows.push(row);
  }
  if (args.json)
    printJson(rows.map(({ chain, seq, hash, at, key_id }) => ({ chain, seq, hash, at, key_id })));
  else for (const r of rows) print(`${r.chain}  seq ${r.seq}  ${r.hash}  signed by ${r.key_id}`);
  return 0;
}

export async function auditCommand(argv: string[], config: () => Config | number): Promise<number> {
  const args = parse(argv);
  if (args === null || !["verify", "export", "checkpoint", "public-key"].includes(args.action ?? "")) {
    printError(AUDIT_USAGE);
    return 2;
  }
  if (args.action === "verify" && args.file !== undefined) return verifyFile(args.file, args.json);
  const loaded = config();
  if (typeof loaded === "number") return loaded;
  try {
    return await runOnStore(loaded, args);
  } catch (err) {
    if (!(err instanceof MasterKeyError)) throw err;
    printError(err.message);
    return 78;
  }
}

function runOnStore(config: Config, args: AuditArgs): Promise<number> {
  return withStore(config, async (db, _keyring, wrapper, audit) => {
    switch (args.action) {
      case "verify":
        return verifyStore(db, audit, args);
      case "export":
        return exportStore(db, audit, args);
      case "checkpoint":
        return checkpoint(db, wrapper, args);
      default:
        print((await auditPublicKeyPem({ db, wrapper, clock: systemClock })).trimEnd());
        return 0;
    }
  });
}
