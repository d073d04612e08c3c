import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { type Config, SETTINGS, SettingError } from "./schema.ts";

export class ConfigError extends Error {
  readonly settings: readonly string[];
  constructor(problems: readonly { env: string; reason: string }[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  ${p.env} ${p.reason}`).join("\n")}`);
    this.name = "ConfigError";
    this.settings = problems.map((p) => p.env);
  }
}

type Env = Readonly<Record<string, string | undefined>>;

function readConfigFile(path: string): Record<string, string> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, "utf8"));
  } catch {
    throw new ConfigError([{ env: "SEALPOST_CONFIG_FILE", reason: "must name a readable JSON file" }]);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
    throw new ConfigError([{ env: "SEALPOST_CONFIG_FILE", reason: "must hold a JSON object" }]);
  const out: Record<string, string> = {};
  const known = new Set(Object.values(SETTINGS).map((s) => s.env));
  for (const [k, v] of Object.entries(parsed)) {
    if (!known.has(k))
      throw new ConfigError([{ env: "SEALPOST_CONFIG_FILE", reason: `has an unknown key ${k}` }]);
    out[k] = typeof v === "string" ? v : JSON.stringify(v);
  }
  return out;
}

/**
 * Reads and validates every setting once. Throws ConfigError naming each bad setting
 * (never its value). The result is frozen. Only this module reads the environment.
 */
export function loadConfig(env: Env = process.env): Config {
  const fileName = env.SEALPOST_CONFIG_FILE;
  const merged: Env = fileName ? { ...readConfigFile(fileName), ...env } : env;
  const problems: { env: string; reason: string }[] = [];
  const out: Record<string, unknown> = {};
  for (const [name, setting] of Object.entries(SETTINGS)) {
    try {
      out[name] = setting.parse(merged[setting.env]);
    } catch (err) {
      if (!(err instanceof SettingError)) throw err;
      problems.push({ env: setting.env, reason: err.message });
    }
  }
  const config = out as Config;
  if (problems.length === 0) problems.push(...crossChecks(config));
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze({ ...config, dataDir: resolve(config.dataDir) });
}

function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || host.startsWith("127.");
}

function crossChecks(c: Config): { env: string; reason: string }[] {
  const out: { env: string; reason: string }[] = [];
  if (c.masterKey !== undefined && c.masterKeyFile !== undefined)
    out.push({ env: "SEALPOST_MASTER_KEY_FILE", reason: "cannot be set together with SEALPOST_MASTER_KEY" });
  if ((c.tlsCert === undefined) !== (c.tlsKey === undefined))
    out.push({ env: "SEALPOST_TLS_KEY", reason: "and SEALPOST_TLS_CERT must be set together" });
  if (!isLoopback(c.httpHost) && c.tlsCert === undefined && !c.behindProxy)
    out.push({
      env: "SEALPOST_HTTP_HOST",
      reason: "is not loopback: set SEALPOST_TLS_CERT/SEALPOST_TLS_KEY, or SEALPOST_BEHIND_PROXY=true",
    });
  return out;
}
