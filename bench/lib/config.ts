/**
 * Bench options, from the environment or `npm run bench -- --flag value`. Every figure the
 * run produces is bounded by these counts and by `maxMinutes` for the whole run.
 */
import { SETTINGS } from "../../src/config/schema.ts";

export const SCENARIOS = [
  "rest-sqlite",
  "postfix",
  "latency",
  "backlog-sqlite",
  "memory",
  "rest-postgres",
  "backlog-postgres",
  "smtp-sqlite",
  "smtp-postgres",
  "profile",
] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export interface BenchConfig {
  quick: boolean;
  /** Messages per end-to-end run. */
  messages: number;
  /** Concurrent HTTP clients (keep-alive connections) of the closed-loop driver. */
  httpClients: number;
  /** Concurrent SMTP submission sessions. */
  smtpClients: number;
  /** Concurrent smtp-source sessions feeding Postfix. */
  postfixSessions: number;
  /** Postfix smtp_destination_concurrency_limit (connections to the receiving server). */
  postfixConcurrency: number;
  /** Postfix in_flow_delay (inbound flow control; "1s" as shipped, "0s" turns it off). */
  postfixInFlowDelay: string;
  /** Extra main.cf settings for the Postfix anchor (BENCH_POSTFIX_SET="k=v,k=v"), applied last. */
  postfixOverrides: Array<[string, string]>;
  /** Offered loads for the latency test, messages/s. */
  latencyRates: number[];
  latencySeconds: number;
  /** Deliveries seeded (due later) for the backlog runs. */
  backlogRows: number;
  /** Attachment bytes and recipients of the memory run. */
  attachmentBytes: number;
  attachmentRecipients: number;
  /** Messages of the profiled run. */
  profileMessages: number;
  scenarios: ScenarioName[];
  maxMinutes: number;
  /** Admin URL of PostgreSQL (a fresh database is created per run). */
  postgresUrl: string;
  /** SEALPOST_* settings passed through to every sealpost process (tuning experiments). */
  sealpostEnv: Record<string, string>;
}

const DEFAULT_POSTGRES = "postgres://postgres@127.0.0.1:5432/postgres";

/** Settings the bench sets itself for each instance, and secrets (never copied into results). */
const CONTROLLED = new Set([
  "SEALPOST_CONFIG_FILE",
  "SEALPOST_DATA_DIR",
  "SEALPOST_DATABASE_URL",
  "SEALPOST_BOOTSTRAP_KEY",
  "SEALPOST_MASTER_KEY",
  "SEALPOST_MASTER_KEY_FILE",
  "SEALPOST_HTTP_HOST",
  "SEALPOST_HTTP_PORT",
  "SEALPOST_SMTP_HOST",
  "SEALPOST_SMTP_PORT",
  "SEALPOST_SMTPS_PORT",
  "SEALPOST_INBOUND_HOST",
  "SEALPOST_INBOUND_PORT",
  "SEALPOST_RELAY",
  "SEALPOST_TRANSPORT_MAP",
  "SEALPOST_HOSTNAME",
  "SEALPOST_TLS_CERT",
  "SEALPOST_TLS_KEY",
]);
const SECRET = new Set(
  Object.values(SETTINGS).flatMap((s) => ("secret" in s && s.secret === true ? [s.env] : [])),
);

function passesThrough(name: string): boolean {
  return (
    name.startsWith("SEALPOST_") &&
    !name.startsWith("SEALPOST_TEST_") &&
    !CONTROLLED.has(name) &&
    !SECRET.has(name)
  );
}

function argValue(argv: readonly string[], name: string): string | undefined {
  const i = argv.indexOf(`--${name}`);
  if (i >= 0) return argv[i + 1];
  const prefixed = argv.find((a) => a.startsWith(`--${name}=`));
  return prefixed?.slice(name.length + 3);
}

function intOf(raw: string | undefined, fallback: number, name: string): number {
  if (raw === undefined || raw === "") return fallback;
  if (!/^\d+$/.test(raw))
    throw new Error(`bench: ${name} must be a whole number, got ${JSON.stringify(raw)}`);
  return Number(raw);
}

function durationOf(raw: string | undefined, fallback: string): string {
  if (raw === undefined || raw === "") return fallback;
  if (!/^\d{1,3}(ms|s)$/.test(raw))
    throw new Error(`bench: expected a Postfix time like 1s or 0s, got ${JSON.stringify(raw)}`);
  return raw;
}

function overridesOf(raw: string | undefined): Array<[string, string]> {
  if (raw === undefined || raw.trim() === "") return [];
  return raw.split(",").map((part): [string, string] => {
    const m = /^\s*([a-z_0-9]+)\s*=\s*([^\n]*?)\s*$/.exec(part);
    if (m === null)
      throw new Error(`bench: BENCH_POSTFIX_SET wants name=value pairs, got ${JSON.stringify(part)}`);
    return [m[1] ?? "", m[2] ?? ""];
  });
}

function scenariosOf(raw: string | undefined, profile: boolean): ScenarioName[] {
  const all = SCENARIOS.filter((s) => s !== "profile" || profile);
  if (raw === undefined || raw === "") return all;
  const asked = raw.split(",").map((s) => s.trim());
  for (const s of asked)
    if (!(SCENARIOS as readonly string[]).includes(s))
      throw new Error(`bench: unknown scenario ${JSON.stringify(s)}; known: ${SCENARIOS.join(", ")}`);
  return SCENARIOS.filter((s) => asked.includes(s));
}

export function loadBenchConfig(
  env: NodeJS.ProcessEnv = process.env,
  argv: readonly string[] = process.argv.slice(2),
): BenchConfig {
  const get = (flag: string, variable: string): string | undefined => argValue(argv, flag) ?? env[variable];
  const quick = argv.includes("--quick") || env.BENCH_QUICK === "1" || env.BENCH_QUICK === "true";
  const profile = argv.includes("--profile") || env.BENCH_PROFILE === "1" || env.BENCH_PROFILE === "true";
  const messages = intOf(get("n", "BENCH_N"), quick ? 2000 : 20_000, "BENCH_N");
  if (messages < 1) throw new Error("bench: BENCH_N must be at least 1");
  const rates = (get("rates", "BENCH_LATENCY_RATES") ?? "100,500,1000").split(",").map((r) => {
    const n = intOf(r.trim(), 0, "BENCH_LATENCY_RATES");
    if (n < 1 || n > 20_000) throw new Error("bench: latency rates must be 1-20000 msg/s");
    return n;
  });
  const sealpostEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && passesThrough(k)) sealpostEnv[k] = v;
  return {
    quick,
    messages,
    httpClients: intOf(get("clients", "BENCH_CLIENTS"), 32, "BENCH_CLIENTS"),
    smtpClients: intOf(get("smtp-clients", "BENCH_SMTP_CLIENTS"), 16, "BENCH_SMTP_CLIENTS"),
    postfixSessions: intOf(get("postfix-sessions", "BENCH_POSTFIX_SESSIONS"), 20, "BENCH_POSTFIX_SESSIONS"),
    postfixConcurrency: intOf(
      get("postfix-concurrency", "BENCH_POSTFIX_CONCURRENCY"),
      20,
      "BENCH_POSTFIX_CONCURRENCY",
    ),
    postfixInFlowDelay: durationOf(get("postfix-in-flow-delay", "BENCH_POSTFIX_IN_FLOW_DELAY"), "1s"),
    postfixOverrides: overridesOf(get("postfix-set", "BENCH_POSTFIX_SET")),
    latencyRates: rates,
    latencySeconds: intOf(
      get("latency-seconds", "BENCH_LATENCY_SECONDS"),
      quick ? 3 : 10,
      "BENCH_LATENCY_SECONDS",
    ),
    backlogRows: intOf(get("backlog", "BENCH_BACKLOG"), quick ? 100_000 : 1_000_000, "BENCH_BACKLOG"),
    attachmentBytes: intOf(
      get("attachment-bytes", "BENCH_ATTACHMENT_BYTES"),
      25 * 1024 * 1024,
      "BENCH_ATTACHMENT_BYTES",
    ),
    attachmentRecipients: intOf(
      get("attachment-recipients", "BENCH_ATTACHMENT_RECIPIENTS"),
      50,
      "BENCH_ATTACHMENT_RECIPIENTS",
    ),
    profileMessages: intOf(get("profile-n", "BENCH_PROFILE_N"), Math.min(messages, 5000), "BENCH_PROFILE_N"),
    scenarios: scenariosOf(get("only", "BENCH_ONLY"), profile),
    maxMinutes: intOf(get("max-minutes", "BENCH_MAX_MINUTES"), 20, "BENCH_MAX_MINUTES"),
    postgresUrl: env.BENCH_DATABASE_URL ?? env.SEALPOST_TEST_DATABASE_URL ?? DEFAULT_POSTGRES,
    sealpostEnv,
  };
}
