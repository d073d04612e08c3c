import { parseArgs } from "node:util";
import { ConfigError, loadConfig } from "../config/load.ts";
import type { Config } from "../config/schema.ts";
import { MasterKeyError } from "../crypto/master-key.ts";
import { openDb } from "../store/db.ts";
import { migrate } from "../store/migrations.ts";
import { analyzeHeadersCommand, headerInput } from "./analyze-headers.ts";
import { auditCommand } from "./audit.ts";
import { domainsCommand } from "./domains.ts";
import { jwksCommand } from "./jwks.ts";
import { keysCommand } from "./keys.ts";
import { orgsCommand } from "./orgs.ts";
import { print, printError, printJson } from "./output.ts";
import { reportCommand } from "./report.ts";
import { sendCommand } from "./send.ts";
import { startCommand } from "./start.ts";
import { tlsCheckCommand } from "./tls-check.ts";

const USAGE = `usage: sealpost <command> [options]

commands:
  start [--roles api,worker]      run sealpost (all roles by default)
  migrate                         apply database migrations and exit
  keys create [--org default] [--mode live|test] [--scopes a,b] [--name NAME] [--json]
              [--sender-domains a,b] [--allowed-ips CIDR,…] [--expires-in 30d|12h|SECONDS]
              [--auth-methods bearer,basic,hmac,oauth,smtp] [--rate-limit 100/s|off]
  keys list [--org default] [--json]
  keys revoke --id KEY_ID [--org default] [--json]
  keys rotate --id KEY_ID [--overlap 24h|SECONDS] [--org default] [--json]
  analyze-headers [FILE] [--json]  report, hop by hop, whether the Received lines record TLS (stdin without FILE)
  domains add NAME | verify NAME | list [--org default] [--json]
  orgs create NAME [--admin-key] [--rate-limit 100/s|off] [--json]   create an org; prints its id
  orgs list [--json]
  orgs retention NAME [--content 30d] [--metadata 6y] [--json]   show or set retention periods
  jwks rotate [--json]            new OAuth token signing key; the old one is retired
  audit verify [--org NAME|--all] [--file export.jsonl] [--json]   recompute the audit hash chains
  audit export [--org default|--all] [--from ISO] [--to ISO]       JSON Lines of the audit log
  audit checkpoint [--org NAME] [--json] | audit public-key        signed checkpoints (Ed25519)
  tls-check DOMAIN [--json]       MX hosts, STARTTLS, TLS version, certificate, MTA-STS, TLS-RPT
  send --from A --to B --subject S --text T|--html H|--file F [--attach F]... [--csv FILE] [--json]
                                  send through the HTTP API (sealpost send --help)
  report --from ISO --to ISO [--org default] [--format json|csv]
                                  the compliance report of an org for a period (docs/compliance.md)

Configuration comes from SEALPOST_* environment variables: see docs/configuration.md.`;

async function migrateCommand(config: Config, json: boolean): Promise<number> {
  const db = openDb(config.database, config.dataDir, { poolSize: 1 });
  try {
    const { applied } = await migrate(db);
    if (json) printJson({ applied, store: db.description });
    else print(applied.length === 0 ? "Database is up to date." : `Applied: ${applied.join(", ")}`);
    return 0;
  } finally {
    await db.close();
  }
}

/** The validated configuration, or the exit code (78) after printing what is wrong. */
function configOrExit(): Config | number {
  try {
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      printError(err.message);
      return 78;
    }
    throw err;
  }
}

export async function main(argv: string[]): Promise<number> {
  // send is an API client with options of its own (src/cli/send.ts).
  if (argv[0] === "send") {
    const config = configOrExit();
    return typeof config === "number" ? config : sendCommand(config, argv.slice(1));
  }
  // report parses its own options (src/cli/report.ts).
  if (argv[0] === "report") {
    const config = configOrExit();
    return typeof config === "number" ? config : reportCommand(config, argv.slice(1));
  }
  // audit parses its own options; `verify --file` needs no configuration (src/cli/audit.ts).
  if (argv[0] === "audit") return auditCommand(argv.slice(1), configOrExit);
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch {
    printError(USAGE);
    return 2;
  }
  const { values, positionals } = parsed;
  const [command, action] = positionals;
  if (command === undefined || values.help === true) {
    print(USAGE);
    return command === undefined && values.help !== true ? 2 : 0;
  }
  if (command === "analyze-headers")
    return analyzeHeadersCommand({ json: values.json === true, input: headerInput(action) });
  const config = configOrExit();
  if (typeof config === "number") return config;
  const json = values.json === true;
  try {
    switch (command) {
      case "start":
        return await startCommand(config, { roles: values.roles, json });
      case "migrate":
        return await migrateCommand(config, json);
      case "domains":
        return await domainsCommand(config, {
          action,
          name: positionals[2],
          org: values.org ?? "default",
          json,
        });
      case "orgs":
        return await orgsCommand(config, {
          action,
          name: positionals[2],
          adminKey: values["admin-key"] === true,
          rateLimit: values["rate-limit"],
          json,
          content: values.content,
          metadata: values.metadata,
        });
      case "jwks":
        return await jwksCommand(config, { action, json });
      case "tls-check":
        return await tlsCheckCommand(config, action, json);
      case "keys":
        return await keysCommand(config, {
          action,
          org: values.org ?? "default",
          mode: values.mode ?? "live",
          scopes: values.scopes,
          name: values.name ?? "cli",
          id: values.id,
          senderDomains: values["sender-domains"],
          allowedIps: values["allowed-ips"],
          expiresIn: values["expires-in"],
          authMethods: values["auth-methods"],
          rateLimit: values["rate-limit"],
          overlap: values.overlap,
          json,
        });
      default:
        printError(`unknown command: ${command.length <= 32 ? command : "?"}\n\n${USAGE}`);
        return 2;
    }
  } catch (err) {
    if (err instanceof MasterKeyError) {
      printError(err.message);
      return 78;
    }
    throw err;
  }
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      help: { type: "boolean", short: "h" },
      json: { type: "boolean" },
      "admin-key": { type: "boolean" },
      roles: { type: "string" },
      org: { type: "string" },
      mode: { type: "string" },
      scopes: { type: "string" },
      name: { type: "string" },
      id: { type: "string" },
      "sender-domains": { type: "string" },
      "allowed-ips": { type: "string" },
      "expires-in": { type: "string" },
      "auth-methods": { type: "string" },
      "rate-limit": { type: "string" },
      overlap: { type: "string" },
      content: { type: "string" },
      metadata: { type: "string" },
    },
  });
}
