import type { Config } from "../config/schema.ts";
import { ALL_ROLES, createSealpost, type Role } from "../main.ts";
import { print, printError } from "./output.ts";

function parseRoles(value: string | undefined): Role[] | null {
  if (value === undefined) return [...ALL_ROLES];
  const roles = value.split(",").map((r) => r.trim());
  return roles.every((r) => (ALL_ROLES as readonly string[]).includes(r)) ? (roles as Role[]) : null;
}

function firstMessageCurl(base: string, haveBootstrap: boolean): string {
  const key = haveBootstrap ? "$SEALPOST_BOOTSTRAP_KEY" : "<your API key>";
  return [
    `curl -sS ${base}/v1/messages \\`,
    `  -H "Authorization: Bearer ${key}" -H "Content-Type: application/json" \\`,
    `  -d '{"from":"clinic@example.com","to":"patient@example.org","subject":"Your appointment","text":"See you Tuesday at 10.","sandbox":true}'`,
  ].join("\n");
}

export async function startCommand(
  config: Config,
  opts: { roles?: string | undefined; json: boolean },
): Promise<number> {
  const roles = parseRoles(opts.roles);
  if (roles === null) {
    printError(`--roles must be a comma-separated list of: ${ALL_ROLES.join(", ")}`);
    return 2;
  }
  // A node that accepts and delivers delivers on a thread of its own (SEALPOST_WORKER_THREAD).
  const ownThread =
    config.workerThread && roles.includes("worker") && (roles.includes("api") || roles.includes("smtp"));
  let workerFailed = false;
  let onFatal = (): void => {
    workerFailed = true;
  };
  const app = await createSealpost(config, {
    ...(ownThread ? { workerThread: { env: process.env } } : {}),
    onWorkerFatal: () => onFatal(),
  });
  const lines = [`sealpost started: roles ${roles.join(",")}; store ${app.db.description}`];
  if (app.masterKeySource === "generated")
    lines.push(
      `A new master key was generated in ${config.dataDir}/master.key (mode 0600). Back it up: without it the stored messages cannot be read.`,
    );
  if (roles.includes("worker")) app.startWorker();
  if (roles.includes("smtp")) {
    try {
      const ports = await app.listenSmtp();
      lines.push(
        `SMTP submission on ${config.smtpHost}:${ports.smtp} (STARTTLS) and ${config.smtpHost}:${ports.smtps} (TLS); password = API key`,
        `Bounce receiver (DSNs for VERP return paths) on ${config.inboundHost}:${ports.inbound}`,
      );
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (code !== "EACCES" && code !== "EADDRINUSE") throw err;
      lines.push(
        `SMTP not started: ports ${config.smtpPort}/${config.smtpsPort}/${config.inboundPort} are ${code === "EACCES" ? "privileged" : "in use"}. Set SEALPOST_SMTP_PORT, SEALPOST_SMTPS_PORT, SEALPOST_INBOUND_PORT (e.g. 2587, 2465, 2525).`,
      );
    }
  }
  if (roles.includes("api")) {
    const address = await app.listen();
    lines.push(`HTTP API listening on ${address}  (docs: ${address}/docs, OpenAPI: ${address}/openapi.json)`);
    lines.push(
      "",
      "Send a first (sandbox) message:",
      firstMessageCurl(address, config.bootstrapKey !== undefined),
    );
    if (config.bootstrapKey === undefined)
      lines.push("", "Create a key with: npx sealpost keys create --org default --mode test --json");
  }
  // The signal handlers go in before the banner: a supervisor (or a test) may signal as
  // soon as it reads "listening on".
  const stopped = new Promise<number>((resolve) => {
    const stop = (signal: string) => {
      app.logger.info({ signal }, "shutting down");
      resolve(0);
    };
    process.once("SIGINT", () => stop("SIGINT"));
    process.once("SIGTERM", () => stop("SIGTERM"));
    // Without its worker the node would accept mail it never delivers: stop, so the
    // supervisor restarts it (accepted mail is safe in the store).
    onFatal = () => resolve(1);
    if (workerFailed) resolve(1);
  });
  if (!opts.json) print(lines.join("\n"));
  app.logger.info({ roles, store: app.db.dialect }, "started");
  const code = await stopped;
  await app.close();
  return code;
}
