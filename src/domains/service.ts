import { randomBytes } from "node:crypto";
import type { Resolver } from "node:dns/promises";
import { domainToASCII } from "node:url";
import type { Clock } from "../core/clock.ts";
import { SealpostError } from "../core/errors.ts";
import { newId } from "../core/ids.ts";
import type { Keyring } from "../core/keyring.ts";
import type { Db } from "../store/db.ts";
import {
  dkimKeysOf,
  findDomain,
  findDomainByName,
  insertDkimKeys,
  insertDomain,
  listDomains,
  promoteDkimKeys,
  updateDomainCheck,
} from "../store/domains.ts";
import type { DkimKeysTable, DomainsTable } from "../store/schema.ts";
import { type OrgScope, systemScope } from "../store/scope.ts";
import { type DkimAlgorithm, generateDkimKey, type SigningKey } from "./dkim.ts";
import { recordsFor } from "./records.ts";
import { checkRecords } from "./verify.ts";

/**
 * Sending domains: add (generate DKIM keys, list the DNS records), verify (check them in
 * DNS), rotate DKIM keys, and hand the worker the current signing keys.
 */
export interface DomainDeps {
  db: Db;
  keyring: Keyring;
  clock: Clock;
  resolver: Resolver;
  hostname: string;
}

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

export function normalizeDomainName(raw: unknown): string {
  const ascii = typeof raw === "string" ? domainToASCII(raw.trim().replace(/\.$/, "")) : "";
  const labels = ascii.split(".");
  if (ascii === "" || ascii.length > 253 || labels.length < 2 || !labels.every((l) => LABEL.test(l)))
    throw new SealpostError("invalid_value", {
      field: "name",
      detail: "name must be a domain name such as clinic.example.",
    });
  return ascii;
}

function keyAad(id: string): string {
  return `dkim:${id}`;
}

async function newKeys(
  deps: DomainDeps,
  scope: OrgScope,
  domainId: string,
  active: 0 | 1,
): Promise<DkimKeysTable[]> {
  const now = deps.clock.now();
  const rows: DkimKeysTable[] = [];
  for (const algorithm of ["rsa", "ed25519"] as DkimAlgorithm[]) {
    const key = generateDkimKey(algorithm, now);
    const id = newId("key", now);
    const sealed = await deps.keyring.sealForOrg(scope.orgId, Buffer.from(key.privateKeyPem), keyAad(id));
    rows.push({
      id,
      org_id: scope.orgId,
      domain_id: domainId,
      selector: key.selector,
      algorithm,
      public_key: key.publicKey,
      private_key: sealed.sealed,
      wrapped_by: sealed.keyId,
      active,
      created_at: now,
      retired_at: null,
    });
  }
  return rows;
}

async function mxHostsOf(resolver: Resolver, domain: string): Promise<string[]> {
  try {
    const mx = await resolver.resolveMx(domain);
    return mx
      .sort((a, b) => a.priority - b.priority)
      .map((m) => m.exchange)
      .filter((h) => h !== "" && h !== ".");
  } catch {
    return [];
  }
}

export async function domainView(
  deps: DomainDeps,
  scope: OrgScope,
  domain: DomainsTable,
  mxHosts?: string[],
) {
  const keys = await dkimKeysOf(scope, domain.id);
  const current = keys.filter((k) => k.active === 1);
  const next = keys.filter((k) => k.active === 0);
  const hosts = mxHosts ?? (await mxHostsOf(deps.resolver, domain.name));
  return {
    id: domain.id,
    object: "domain",
    name: domain.name,
    status: domain.status,
    created_at: new Date(domain.created_at).toISOString(),
    verified_at: domain.verified_at === null ? null : new Date(domain.verified_at).toISOString(),
    dkim: current.map((k) => ({ selector: k.selector, algorithm: k.algorithm })),
    records: recordsFor(domain, [...current, ...next], { hostname: deps.hostname, mxHosts: hosts }),
    last_check: domain.last_check === null ? null : (JSON.parse(domain.last_check) as unknown),
  };
}

export async function addDomain(deps: DomainDeps, scope: OrgScope, rawName: unknown) {
  const name = normalizeDomainName(rawName);
  if ((await findDomainByName(scope, name)) !== undefined)
    throw new SealpostError("invalid_state", { field: "name", detail: "This domain was already added." });
  const now = deps.clock.now();
  const domain: DomainsTable = {
    id: newId("dom", now),
    org_id: scope.orgId,
    name,
    status: "pending",
    created_at: now,
    verified_at: null,
    last_check: null,
    mta_sts_id: `${new Date(now).toISOString().slice(0, 10).replaceAll("-", "")}${randomBytes(4).toString("hex")}`,
  };
  const keys = await newKeys(deps, scope, domain.id, 1);
  try {
    await insertDomain(scope, domain, keys);
  } catch (err) {
    if ((await findDomainByName(scope, name)) !== undefined)
      throw new SealpostError("invalid_state", { field: "name", detail: "This domain was already added." });
    throw err;
  }
  return domainView(deps, scope, domain);
}

export async function getDomainOrThrow(scope: OrgScope, idOrName: string): Promise<DomainsTable> {
  const byId = await findDomain(scope, idOrName);
  if (byId !== undefined) return byId;
  const byName = /^[^\s]{1,253}$/.test(idOrName)
    ? await findDomainByName(scope, idOrName.toLowerCase())
    : undefined;
  if (byName === undefined) throw new SealpostError("not_found");
  return byName;
}

export async function listDomainViews(deps: DomainDeps, scope: OrgScope) {
  const rows = await listDomains(scope);
  return Promise.all(rows.map((d) => domainView(deps, scope, d, [])));
}

/**
 * Checks every record in DNS. The domain is verified while both current DKIM keys are
 * published. Waiting keys from a rotation take over once both of them are published.
 */
export async function verifyDomain(deps: DomainDeps, scope: OrgScope, idOrName: string) {
  const domain = await getDomainOrThrow(scope, idOrName);
  const keys = await dkimKeysOf(scope, domain.id);
  const mxHosts = await mxHostsOf(deps.resolver, domain.name);
  const checks = await checkRecords(
    deps.resolver,
    recordsFor(domain, keys, { hostname: deps.hostname, mxHosts }),
  );
  const dkimOk = (active: number) =>
    keys
      .filter((k) => k.active === active)
      .every((k) =>
        checks.some((c) => c.purpose === "dkim" && c.selector === k.selector && c.status === "ok"),
      );
  const now = deps.clock.now();
  const waiting = keys.some((k) => k.active === 0);
  if (waiting && dkimOk(0)) await promoteDkimKeys(scope, domain.id, now);
  const verified = dkimOk(1) || (waiting && dkimOk(0));
  const report = { checked_at: new Date(now).toISOString(), verified, checks };
  await updateDomainCheck(scope, domain.id, {
    status: verified ? "verified" : "pending",
    verified_at: verified ? (domain.verified_at ?? now) : null,
    last_check: JSON.stringify(report),
  });
  const updated = (await findDomain(scope, domain.id)) ?? domain;
  return { ...(await domainView(deps, scope, updated, mxHosts)), last_check: report };
}

/** New keys under new selectors; they sign only after verify finds them in DNS. */
export async function rotateDkim(deps: DomainDeps, scope: OrgScope, idOrName: string) {
  const domain = await getDomainOrThrow(scope, idOrName);
  const keys = await dkimKeysOf(scope, domain.id);
  if (keys.some((k) => k.active === 0))
    throw new SealpostError("invalid_state", {
      detail: "A rotation is already waiting for its DNS records.",
    });
  await insertDkimKeys(scope, await newKeys(deps, scope, domain.id, 0));
  return domainView(deps, scope, domain);
}

/** Whether the org may send live mail From this (ASCII) domain: a verified sending domain. */
export async function senderDomainVerified(scope: OrgScope, domain: string): Promise<boolean> {
  return (await findDomainByName(scope, domain))?.status === "verified";
}

/** The current signing keys of an org's domain, decrypted, for the worker; empty when there are none. */
export async function signingKeysFor(
  deps: DomainDeps,
  orgId: string,
  domainName: string,
): Promise<SigningKey[]> {
  const scope = systemScope(deps.db, orgId, "worker");
  const domain = await findDomainByName(scope, domainName);
  if (domain === undefined) return [];
  const keys = (await dkimKeysOf(scope, domain.id)).filter((k) => k.active === 1);
  const out: SigningKey[] = [];
  for (const k of keys.sort((a, b) => (a.algorithm === "rsa" ? -1 : b.algorithm === "rsa" ? 1 : 0))) {
    const pem = await deps.keyring.openForOrg(orgId, k.wrapped_by, k.private_key, keyAad(k.id));
    out.push({ selector: k.selector, algorithm: k.algorithm, privateKeyPem: pem.toString() });
  }
  return out;
}
