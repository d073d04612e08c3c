import { isIP } from "node:net";
import { hostname } from "node:os";
import { type Cidr, parseCidr } from "../core/cidr.ts";
import { parseRateLimit, type RateLimit } from "../core/rate-limit.ts";

/**
 * Every setting sealpost reads, with its description and default. This is the single
 * source for validation (load.ts) and for docs/configuration.md (docs.ts).
 */
export interface Setting<T> {
  readonly env: string;
  readonly description: string;
  /** Shown in docs; undefined means "unset". */
  readonly defaultText?: string;
  readonly secret?: boolean;
  /** Parses the raw value (undefined when unset). Throws SettingError with a reason. */
  readonly parse: (raw: string | undefined) => T;
}

export class SettingError extends Error {}

function port(env: string, description: string, fallback: number): Setting<number> {
  return {
    env,
    description,
    defaultText: String(fallback),
    parse: (raw) => {
      if (raw === undefined || raw === "") return fallback;
      if (!/^\d{1,5}$/.test(raw) || Number(raw) > 65535)
        throw new SettingError("must be a port number 0-65535");
      return Number(raw);
    },
  };
}

function host(env: string, description: string): Setting<string> {
  return {
    env,
    description,
    defaultText: "127.0.0.1",
    parse: (raw) => {
      const v = raw === undefined || raw === "" ? "127.0.0.1" : raw;
      if (v !== "localhost" && isIP(v) === 0) throw new SettingError("must be an IP address or localhost");
      return v;
    },
  };
}

function optionalString(env: string, description: string, secret = false): Setting<string | undefined> {
  return { env, description, secret, parse: (raw) => (raw === undefined || raw === "" ? undefined : raw) };
}

function int(env: string, description: string, fallback: number, min: number, max: number): Setting<number> {
  return {
    env,
    description,
    defaultText: String(fallback),
    parse: (raw) => {
      if (raw === undefined || raw === "") return fallback;
      if (!/^\d+$/.test(raw)) throw new SettingError(`must be an integer ${min}-${max}`);
      const n = Number(raw);
      if (n < min || n > max) throw new SettingError(`must be an integer ${min}-${max}`);
      return n;
    },
  };
}

function bool(env: string, description: string, fallback = false): Setting<boolean> {
  return {
    env,
    description,
    defaultText: String(fallback),
    parse: (raw) => {
      if (raw === undefined || raw === "") return fallback;
      if (raw === "false" || raw === "0") return false;
      if (raw === "true" || raw === "1") return true;
      throw new SettingError("must be true or false");
    },
  };
}

function rateLimit(env: string, description: string, fallback: string): Setting<RateLimit> {
  return {
    env,
    description,
    defaultText: fallback,
    parse: (raw) => {
      const limit = parseRateLimit(raw === undefined || raw === "" ? fallback : raw.trim());
      if (limit === null) throw new SettingError("must be <n>/<s|m|h> (for example 100/s) or off");
      return limit;
    },
  };
}

function cidrList(env: string, description: string): Setting<readonly Cidr[]> {
  return {
    env,
    description,
    defaultText: "none",
    parse: (raw) => {
      if (raw === undefined || raw.trim() === "") return [];
      return raw.split(",").map((part) => {
        const cidr = parseCidr(part);
        if (cidr === null) throw new SettingError("must be a comma-separated list of CIDRs or IP addresses");
        return cidr;
      });
    },
  };
}

export type DatabaseTarget = { kind: "sqlite"; path: string | null } | { kind: "postgres"; url: string };

export interface DnsServer {
  host: string;
  port: number;
}

export const SETTINGS = {
  configFile: optionalString(
    "SEALPOST_CONFIG_FILE",
    "Optional JSON file of settings (keys are these variable names). Environment variables override it.",
  ),
  dataDir: {
    env: "SEALPOST_DATA_DIR",
    description:
      "Directory for the SQLite database, the generated master key and development TLS certificate.",
    defaultText: "./data",
    parse: (raw: string | undefined) => (raw === undefined || raw === "" ? "./data" : raw),
  },
  database: {
    env: "SEALPOST_DATABASE_URL",
    description:
      "Where state lives. Unset: SQLite at <data dir>/sealpost.db. `postgres://user@host:port/db` for PostgreSQL, `sqlite:/path/file.db` for another SQLite file.",
    defaultText: "SQLite in the data dir",
    secret: true,
    parse: (raw: string | undefined): DatabaseTarget => {
      if (raw === undefined || raw === "") return { kind: "sqlite", path: null };
      if (/^postgres(ql)?:\/\//.test(raw)) {
        try {
          new URL(raw);
        } catch {
          throw new SettingError("is not a valid postgres:// URL");
        }
        return { kind: "postgres", url: raw };
      }
      if (raw.startsWith("sqlite:")) {
        const path = raw.slice("sqlite:".length).replace(/^\/\/(?=\/)/, "");
        if (path === "") throw new SettingError("sqlite: needs a file path");
        return { kind: "sqlite", path };
      }
      throw new SettingError("must start with postgres://, postgresql:// or sqlite:");
    },
  },
  masterKey: optionalString(
    "SEALPOST_MASTER_KEY",
    "The master key (32 bytes as 64 hex characters or base64) that wraps every org key. Unset with no file: generated into <data dir>/master.key (mode 0600) on first start.",
    true,
  ),
  masterKeyFile: optionalString("SEALPOST_MASTER_KEY_FILE", "Path of a file holding the master key instead."),
  httpHost: host(
    "SEALPOST_HTTP_HOST",
    "Interface the HTTP API listens on. Plain HTTP is only allowed on loopback unless TLS or SEALPOST_BEHIND_PROXY is set.",
  ),
  httpPort: port("SEALPOST_HTTP_PORT", "Port of the HTTP API.", 8080),
  smtpHost: host(
    "SEALPOST_SMTP_HOST",
    "Interface SMTP submission listens on (TLS is always required before AUTH).",
  ),
  inboundHost: host(
    "SEALPOST_INBOUND_HOST",
    "Interface of the bounce receiver (the MX for bounce.<sending domain>, which takes DSNs for VERP return paths).",
  ),
  inboundPort: port("SEALPOST_INBOUND_PORT", "Port of the bounce receiver.", 25),
  smtpPort: port("SEALPOST_SMTP_PORT", "SMTP submission port (STARTTLS required before AUTH).", 587),
  smtpsPort: port("SEALPOST_SMTPS_PORT", "SMTP submission port with implicit TLS.", 465),
  smtpMaxClients: int(
    "SEALPOST_SMTP_MAX_CLIENTS",
    "SMTP submission sessions open at once, per port; a client over the limit is answered 421 and disconnected.",
    200,
    1,
    100_000,
  ),
  smtpTimeoutSeconds: int(
    "SEALPOST_SMTP_TIMEOUT_SECONDS",
    "Idle time after which an SMTP submission session is answered 421 and closed (RFC 5321 asks for at least 300).",
    300,
    1,
    3600,
  ),
  apiKey: optionalString(
    "SEALPOST_API_KEY",
    "API key that `sealpost send` uses when --key is not given (read by the CLI client only, never by the server).",
    true,
  ),
  tlsCert: optionalString(
    "SEALPOST_TLS_CERT",
    "PEM certificate file for the HTTP API and SMTP submission. Unset: a self-signed pair is generated in the data dir for development.",
  ),
  tlsKey: optionalString("SEALPOST_TLS_KEY", "PEM private key file matching SEALPOST_TLS_CERT."),
  behindProxy: bool(
    "SEALPOST_BEHIND_PROXY",
    "Set when a TLS-terminating proxy fronts the API, to allow plain HTTP on a non-loopback interface.",
  ),
  publicUrl: {
    env: "SEALPOST_PUBLIC_URL",
    description:
      "The URL clients reach the API at: the OAuth issuer and audience, the base of the JWKS URL and of secure-portal links. Must be the same on every node. Unset: http(s)://<SEALPOST_HTTP_HOST>:<SEALPOST_HTTP_PORT>.",
    defaultText: "from host and port",
    parse: (raw: string | undefined): string | undefined => {
      if (raw === undefined || raw === "") return undefined;
      let url: URL;
      try {
        url = new URL(raw);
      } catch {
        throw new SettingError("must be an http(s) URL");
      }
      if ((url.protocol !== "https:" && url.protocol !== "http:") || url.search !== "" || url.hash !== "")
        throw new SettingError("must be an http(s) URL without query or fragment");
      return raw.replace(/\/+$/, "");
    },
  },
  trustedProxies: cidrList(
    "SEALPOST_TRUSTED_PROXIES",
    "Comma-separated CIDRs of reverse proxies whose X-Forwarded-For is believed for the client address (IP allowlists, lockout, rate limits). Unset: the peer address is the client.",
  ),
  rateLimitKey: rateLimit(
    "SEALPOST_RATE_LIMIT_KEY",
    "Default request rate limit per API key, `<n>/<s|m|h>` or `off`; a key's or org's own limit overrides it.",
    "100/s",
  ),
  rateLimitOrg: rateLimit(
    "SEALPOST_RATE_LIMIT_ORG",
    "Default request rate limit per organization, `<n>/<s|m|h>` or `off`; an org's own limit overrides it.",
    "500/s",
  ),
  authMaxFailures: int(
    "SEALPOST_AUTH_MAX_FAILURES",
    "Failed authentications from one address (IPv6: one /64) within the failure window after which it is locked out.",
    10,
    1,
    10_000,
  ),
  authFailureWindowSeconds: int(
    "SEALPOST_AUTH_FAILURE_WINDOW_SECONDS",
    "Window in which failed authentications from one address are counted.",
    600,
    1,
    86_400,
  ),
  authLockoutSeconds: int(
    "SEALPOST_AUTH_LOCKOUT_SECONDS",
    "How long a locked-out address is refused (429 auth_locked), even with a correct key.",
    900,
    1,
    86_400,
  ),
  authLockoutExempt: cidrList(
    "SEALPOST_AUTH_LOCKOUT_EXEMPT",
    "Comma-separated CIDRs never locked out (for example a hospital NAT shared by many applications).",
  ),
  oauthTokenSeconds: int(
    "SEALPOST_OAUTH_TOKEN_SECONDS",
    "Lifetime of OAuth 2.0 access tokens (JWTs) issued by POST /oauth/token.",
    900,
    60,
    3600,
  ),
  dnsServers: {
    env: "SEALPOST_DNS_SERVERS",
    description:
      "Comma-separated `host:port` list of DNS resolvers for MX/TXT lookups. Unset: the system resolver.",
    defaultText: "system resolver",
    parse: (raw: string | undefined): readonly DnsServer[] => {
      if (raw === undefined || raw.trim() === "") return [];
      return raw.split(",").map((part) => {
        const m = /^\s*(?:\[([^\]]+)\]|([^:\s]+))(?::(\d{1,5}))?\s*$/.exec(part);
        const host = m?.[1] ?? m?.[2];
        const p = m?.[3] === undefined ? 53 : Number(m[3]);
        if (host === undefined || isIP(host) === 0 || p < 1 || p > 65535)
          throw new SettingError("must be a comma-separated list of ip:port");
        return { host, port: p };
      });
    },
  },
  deliveryPort: port("SEALPOST_DELIVERY_PORT", "Port used on MX hosts for delivery.", 25),
  mtaSts: {
    env: "SEALPOST_MTA_STS",
    description: "Apply recipients' MTA-STS policies (RFC 8461) on direct-to-MX delivery.",
    defaultText: "true",
    parse: (raw: string | undefined) => {
      if (raw === undefined || raw === "" || raw === "true" || raw === "1") return true;
      if (raw === "false" || raw === "0") return false;
      throw new SettingError("must be true or false");
    },
  },
  mtaStsPort: port(
    "SEALPOST_MTA_STS_PORT",
    "Port of MTA-STS policy hosts (HTTPS); only tests change it.",
    443,
  ),
  extraCaFile: optionalString(
    "SEALPOST_EXTRA_CA_FILE",
    "PEM file of extra trust anchors, added to the system store, for verifying MX, relay and MTA-STS policy-host certificates (private PKI).",
  ),
  retrySchedule: {
    env: "SEALPOST_RETRY_SCHEDULE",
    description:
      "Delays between attempts after a temporary failure, e.g. `1m,5m,15m,30m,1h,2h,4h`; the last repeats until SEALPOST_MAX_DELIVERY_HOURS. Each delay gets ±10% jitter.",
    defaultText: "1m,5m,15m,30m,1h,2h,4h",
    parse: (raw: string | undefined): readonly number[] => {
      const text = raw === undefined || raw === "" ? "1m,5m,15m,30m,1h,2h,4h" : raw;
      const units: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000 };
      const out = text.split(",").map((part) => {
        const m = /^\s*(\d{1,6})([smh])\s*$/.exec(part);
        const ms = m === null ? Number.NaN : Number(m[1]) * (units[m[2] ?? ""] ?? Number.NaN);
        if (!Number.isFinite(ms) || ms < 1000)
          throw new SettingError("must be a comma-separated list like 1m,5m,1h (each at least 1s)");
        return ms;
      });
      if (out.length > 50) throw new SettingError("must have at most 50 steps");
      return out;
    },
  },
  transportMap: {
    env: "SEALPOST_TRANSPORT_MAP",
    description:
      "Per-domain next hops, like Postfix's transport_maps: `clinic.example=smtp://10.0.0.5:25,lab.example=smtp://relay.lab:587`. TLS is still required.",
    defaultText: "none",
    parse: (raw: string | undefined): ReadonlyMap<string, URL> => {
      const out = new Map<string, URL>();
      if (raw === undefined || raw.trim() === "") return out;
      for (const entry of raw.split(",")) {
        const m = /^\s*([a-z0-9.-]+)\s*=\s*(\S+)\s*$/i.exec(entry);
        let url: URL | null = null;
        try {
          url = m?.[2] === undefined ? null : new URL(m[2]);
        } catch {
          url = null;
        }
        if (m?.[1] === undefined || url === null || url.protocol !== "smtp:" || url.hostname === "")
          throw new SettingError("must be a comma-separated list of domain=smtp://host:port");
        out.set(m[1].toLowerCase(), url);
      }
      return out;
    },
  },
  requireVerifiedCerts: bool(
    "SEALPOST_REQUIRE_VERIFIED_CERTS",
    "Require a certificate that verifies for the MX name on every delivery (otherwise only where MTA-STS enforces; TLS itself is always required).",
  ),
  webhookAllowPrivate: bool(
    "SEALPOST_WEBHOOK_ALLOW_PRIVATE",
    "Allow webhook URLs whose host resolves to a private, loopback, link-local, CGNAT or unique-local address (an internal receiver); off, only public addresses are called (SSRF protection).",
  ),
  webhookAllowHttpLoopback: bool(
    "SEALPOST_WEBHOOK_ALLOW_HTTP_LOOPBACK",
    "Development and tests: allow webhook URLs to loopback addresses, over plain http too; off, webhooks are https to public addresses only.",
  ),
  maxConnectionsPerDestination: int(
    "SEALPOST_MAX_CONNECTIONS_PER_DESTINATION",
    "SMTP sessions open at once to one destination (MX or relay address); sessions carry up to 100 messages each.",
    8,
    1,
    100,
  ),
  ratePerDomain: int(
    "SEALPOST_RATE_PER_DOMAIN",
    "Messages per second to one recipient domain; 0 means no limit.",
    0,
    0,
    10_000,
  ),
  relay: {
    env: "SEALPOST_RELAY",
    description:
      "Optional smarthost, `smtp://host:port`: every delivery goes there (still over enforced TLS).",
    parse: (raw: string | undefined): URL | null => {
      if (raw === undefined || raw === "") return null;
      let url: URL;
      try {
        url = new URL(raw);
      } catch {
        throw new SettingError("must be a URL like smtp://host:port");
      }
      if (url.protocol !== "smtp:" || url.hostname === "")
        throw new SettingError("must be a URL like smtp://host:port");
      return url;
    },
  },
  bootstrapKey: {
    env: "SEALPOST_BOOTSTRAP_KEY",
    description:
      "On first start, creates the `default` org's admin API key so that exactly this string (at least 32 characters) authenticates as a Bearer token.",
    secret: true,
    parse: (raw: string | undefined) => {
      if (raw === undefined || raw === "") return undefined;
      if (raw.length < 32 || raw.length > 256 || !/^[\x21-\x7e]+$/.test(raw))
        throw new SettingError("must be 32-256 printable ASCII characters without spaces");
      return raw;
    },
  },
  hostname: {
    env: "SEALPOST_HOSTNAME",
    description: "Name this node uses in SMTP greetings (EHLO) and as the Message-ID fallback domain.",
    defaultText: "the machine's hostname",
    parse: (raw: string | undefined) => {
      const v = raw === undefined || raw === "" ? hostname() : raw;
      if (!/^[A-Za-z0-9.-]{1,253}$/.test(v)) throw new SettingError("must be a DNS name");
      return v;
    },
  },
  logLevel: {
    env: "SEALPOST_LOG_LEVEL",
    description: "Log level: fatal, error, warn, info, debug, trace or silent.",
    defaultText: "info",
    parse: (raw: string | undefined) => {
      const v = raw === undefined || raw === "" ? "info" : raw;
      if (!["fatal", "error", "warn", "info", "debug", "trace", "silent"].includes(v))
        throw new SettingError("must be one of fatal, error, warn, info, debug, trace, silent");
      return v;
    },
  },
  workerConcurrency: int(
    "SEALPOST_WORKER_CONCURRENCY",
    "Deliveries a worker process attempts at once.",
    64,
    1,
    2048,
  ),
  workerThread: bool(
    "SEALPOST_WORKER_THREAD",
    "When one process runs the worker role beside the api or smtp role, deliver on a thread of its own, so accepting mail never waits behind delivering (uses the second core).",
    true,
  ),
  workerThreads: int(
    "SEALPOST_WORKER_THREADS",
    "How many delivery worker threads a node that also accepts mail runs (with SEALPOST_WORKER_THREAD); each claims from the queue like a worker process, with SEALPOST_WORKER_CONCURRENCY deliveries at once.",
    1,
    1,
    16,
  ),
  workerNice: int(
    "SEALPOST_WORKER_NICE",
    "Scheduling priority (nice, 0-19) of the delivery worker thread: when the CPU is short, accepting mail goes first and delivery catches up after; 0 treats both alike.",
    10,
    0,
    19,
  ),
  leaseSeconds: int(
    "SEALPOST_LEASE_SECONDS",
    "How long a worker's claim on a delivery lasts without renewal; after a node dies, its work is taken over this long later.",
    60,
    3,
    3600,
  ),
  maxDeliveryHours: int(
    "SEALPOST_MAX_DELIVERY_HOURS",
    "How long temporary failures are retried before a delivery fails.",
    72,
    1,
    720,
  ),
  deliveryTimeoutSeconds: int(
    "SEALPOST_DELIVERY_TIMEOUT_SECONDS",
    "Timeout for one SMTP delivery attempt.",
    60,
    1,
    600,
  ),
  maxMessageBytes: int(
    "SEALPOST_MAX_MESSAGE_BYTES",
    "Largest accepted request body / message, in bytes.",
    40 * 1024 * 1024,
    1024,
    200 * 1024 * 1024,
  ),
} as const;

export type Settings = typeof SETTINGS;
export type Config = { readonly [K in keyof Settings]: ReturnType<Settings[K]["parse"]> };
