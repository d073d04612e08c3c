/**
 * Where a message for a domain goes, and delivering it there.
 *
 * `resolveRoute` turns a recipient domain into an ordered list of targets: the configured
 * relay (DNS bypassed), or the domain's MX hosts by priority (implicit MX when it has none),
 * one target per address, IPv4 before IPv6. `deliverToDomain` tries the targets in order
 * until one attempt is final: each over a connection of its own (`deliverOnce`), or, given a
 * `SessionPool`, over a pooled session (paced by the pool's per-domain rate limit first).
 */
import type { Resolver } from "node:dns/promises";
import { isIP } from "node:net";
import type { MessageBody } from "../core/body.ts";
import { SealpostError } from "../core/errors.ts";
import type { Logger } from "../logging/logger.ts";
import { type AddressResult, resolveAddresses, resolveMx } from "./dns.ts";
import {
  applyPolicy,
  effectivePolicy,
  getMtaStsPolicy,
  type MtaStsEvidence,
  type MtaStsOptions,
} from "./mta-sts.ts";
import { type AttemptOutcome, type FailedOutcome, hardFail, softFail } from "./outcome.ts";
import type { SessionPool } from "./pool.ts";
import {
  type DeliverOptions,
  type DeliveryEnvelope,
  type DeliveryTarget,
  deliverOnce,
} from "./smtp-client.ts";

/** Port of a relay URL without one: 25, like an MX (use `smtp://host:587` for submission). */
export const DEFAULT_RELAY_PORT = 25;
/** Default cap on targets (host × address) tried for one domain. */
export const DEFAULT_MAX_TARGETS = 10;

export interface RouteOptions {
  /** `smtp://host[:port]` to send everything through; null for direct MX delivery. */
  relay: URL | null;
  resolver: Resolver;
  /** Port for MX hosts; 25 in production, a test server's port in tests. */
  deliveryPort: number;
  /** Shuffles MX hosts of equal priority; injectable for tests. */
  random?: () => number;
  /** At most this many targets; default 10. */
  maxTargets?: number;
  /** Per-domain next hops (like Postfix's transport_maps): domain → smtp://host:port. */
  transportMap?: ReadonlyMap<string, URL>;
}

export type Route =
  | { kind: "targets"; targets: DeliveryTarget[] }
  | { kind: "error"; outcome: FailedOutcome };

/**
 * Host and port of a relay URL. Only `smtp://host[:port]` is accepted (port defaults to 25;
 * STARTTLS is still required); credentials, paths and other schemes are refused.
 */
export function parseRelayUrl(url: URL): { host: string; port: number } {
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  const path = url.pathname === "" || url.pathname === "/";
  if (url.protocol !== "smtp:" || host === "" || url.username !== "" || url.password !== "" || !path) {
    throw new SealpostError("validation_failed", {
      field: "relay",
      detail: "The relay must be an smtp://host[:port] URL without credentials or path.",
    });
  }
  return { host, port: url.port === "" ? DEFAULT_RELAY_PORT : Number(url.port) };
}

function targetsFor(host: string, port: number, result: AddressResult): DeliveryTarget[] {
  if (result.kind !== "addresses") return [];
  return result.addresses.map((ip) => ({ host, port, ip }));
}

/** The transport-map entry for the domain, else the relay, else null (direct to MX). */
export function fixedHop(domain: string, opts: Pick<RouteOptions, "relay" | "transportMap">): URL | null {
  return opts.transportMap?.get(domain.toLowerCase()) ?? opts.relay;
}

/** The ordered targets for `domain`, or the outcome that ends delivery before connecting. */
export async function resolveRoute(domain: string, opts: RouteOptions): Promise<Route> {
  const maxTargets = opts.maxTargets ?? DEFAULT_MAX_TARGETS;
  const hop = fixedHop(domain, opts);
  if (hop !== null) {
    // A relay host name is resolved by the SMTP client through the system resolver
    // (getaddrinfo: /etc/hosts, container DNS), not the MX resolver.
    const { host, port } = parseRelayUrl(hop);
    return { kind: "targets", targets: [isIP(host) === 0 ? { host, port } : { host, port, ip: host }] };
  }

  const mx = await resolveMx(opts.resolver, domain, opts.random);
  if (mx.kind === "null_mx") return { kind: "error", outcome: hardFail("null_mx") };
  if (mx.kind === "failed") {
    return { kind: "error", outcome: mx.permanent ? hardFail("dns_failed") : softFail("dns_failed") };
  }

  const hosts = mx.hosts.slice(0, maxTargets);
  const lookups = await Promise.all(
    hosts.map(
      (h): Promise<AddressResult> =>
        isIP(h.host) !== 0
          ? Promise.resolve({ kind: "addresses", addresses: [h.host] })
          : resolveAddresses(opts.resolver, h.host),
    ),
  );
  const targets = hosts
    .flatMap((h, i) => {
      const result = lookups[i];
      return result === undefined ? [] : targetsFor(h.host, opts.deliveryPort, result);
    })
    .slice(0, maxTargets);
  if (targets.length > 0) return { kind: "targets", targets };

  if (lookups.some((r) => r.kind === "failed" && !r.permanent)) {
    return { kind: "error", outcome: softFail("dns_failed") };
  }
  // RFC 5321 5.1: a domain with neither MX nor address records cannot receive mail. MX hosts
  // without addresses are a (maybe passing) misconfiguration of the receiver: retried.
  return { kind: "error", outcome: mx.implicit ? hardFail("no_route") : softFail("no_route") };
}

export interface DomainDeliveryOptions extends DeliverOptions, RouteOptions {
  /** Receives one line per attempt: host, TLS version, cipher, reply code, outcome. */
  logger?: Logger;
  /**
   * Sends through reused sessions (see pool.ts) instead of one connection per message, after
   * waiting for the pool's rate limit of `domain` (at most `timeoutMs`, else a soft `timeout`).
   */
  pool?: SessionPool;
  /** Applies recipients' MTA-STS policies to direct-to-MX routes; absent: off. */
  mtaSts?: MtaStsOptions;
}

export interface DomainDelivery {
  /** The final outcome: the first `sent` or `hard_fail`, else the last attempt's. */
  outcome: AttemptOutcome;
  /** Every attempt in order, each with its own evidence. Empty when the route failed. */
  attempts: Array<{ target: DeliveryTarget; outcome: AttemptOutcome }>;
  /** What MTA-STS decided, for the evidence; null on relayed or transport-mapped routes or when off. */
  mtaSts: (MtaStsEvidence & { error: string | null }) | null;
}

/**
 * Delivers to one recipient of `domain`. Targets are tried in order; any soft failure
 * (connection refused, timeout, no acceptable TLS, a bad certificate, a 4xx) moves on to the
 * next target, a `sent` or a `hard_fail` (a 5xx from any MX is final) ends the loop.
 */
export async function deliverToDomain(
  domain: string,
  envelope: DeliveryEnvelope,
  raw: MessageBody,
  opts: DomainDeliveryOptions,
): Promise<DomainDelivery> {
  const direct = fixedHop(domain, opts) === null;
  const [route, sts] = await Promise.all([
    resolveRoute(domain, opts),
    direct && opts.mtaSts !== undefined ? getMtaStsPolicy(domain, opts.mtaSts) : Promise.resolve(null),
  ]);
  if (route.kind === "error") {
    opts.logger?.info({ outcome: route.outcome.kind, code: route.outcome.reason }, "delivery route failed");
    return { outcome: route.outcome, attempts: [], mtaSts: null };
  }
  // Step "MTA-STS": enforce drops MX hosts the policy does not name and requires verified
  // certificates; testing only records; a fetch failure uses the cached policy, if any.
  const applied = applyPolicy(route.targets, sts === null ? null : effectivePolicy(sts));
  const mtaSts =
    sts === null
      ? null
      : { ...applied.evidence, error: sts.kind === "error" ? `${sts.reason}:${sts.detail}` : null };
  if (sts?.kind === "error")
    opts.logger?.warn({ code: sts.reason, outcome: sts.detail }, "mta-sts policy unavailable");
  if (applied.targets.length === 0) return { outcome: softFail("mta_sts_no_valid_mx"), attempts: [], mtaSts };
  // An MTA-STS `enforce` domain never gets a message without verified TLS, not even one
  // that may otherwise go in plaintext (ADR 0010 §7).
  const sendOpts = applied.requireVerifiedCert
    ? { ...opts, requireVerifiedCert: true, plaintextPermitted: false }
    : opts;
  const pool = opts.pool;
  if (pool !== undefined && !(await pool.pace(domain, opts.timeoutMs))) {
    const outcome = softFail("timeout");
    opts.logger?.info({ outcome: outcome.kind, code: "rate_limited" }, "delivery paced");
    return { outcome, attempts: [], mtaSts };
  }
  const attempts: DomainDelivery["attempts"] = [];
  let outcome: AttemptOutcome = softFail("no_route");
  for (const target of applied.targets) {
    outcome =
      // The pool keeps only sessions that passed the TLS gate; a message that may go in
      // plaintext (rare: notices, honoured allow_non_tls) gets a connection of its own.
      pool === undefined || sendOpts.plaintextPermitted === true
        ? await deliverOnce(target, envelope, raw, sendOpts)
        : await pool.send(target, envelope, raw, sendOpts);
    attempts.push({ target, outcome });
    opts.logger?.info(
      {
        attempt: attempts.length,
        mxHost: target.host,
        tlsVersion: outcome.evidence?.tlsVersion ?? null,
        cipher: outcome.evidence?.cipher ?? null,
        replyCode: outcome.reply?.code ?? null,
        outcome: outcome.kind,
        code: outcome.kind === "sent" ? null : outcome.reason,
      },
      "delivery attempt",
    );
    if (outcome.kind !== "soft_fail") break;
  }
  return { outcome, attempts, mtaSts };
}
