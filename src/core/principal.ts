/**
 * Who is calling: resolved from an API key (by any authentication method) by the auth
 * layer of each entry point. See docs/adr/0008-access-control-and-tenancy.md.
 */
export type Scope =
  | "messages:send"
  | "messages:read"
  | "messages:read_content"
  | "templates:manage"
  | "domains:manage"
  | "keys:manage"
  | "webhooks:manage"
  | "suppressions:manage"
  | "audit:read"
  | "admin"
  | "instance:admin";

/** The scopes an org key can hold; `instance:admin` is granted only by the CLI or another instance admin. */
export const ORG_SCOPES: readonly Scope[] = [
  "messages:send",
  "messages:read",
  "messages:read_content",
  "templates:manage",
  "domains:manage",
  "keys:manage",
  "webhooks:manage",
  "suppressions:manage",
  "audit:read",
  "admin",
];

export const ALL_SCOPES: readonly Scope[] = [...ORG_SCOPES, "instance:admin"];

/** Test-mode keys hold only these. */
export const TEST_MODE_SCOPES: readonly Scope[] = ["messages:send", "messages:read", "messages:read_content"];

export type AuthMethod = "bearer" | "basic" | "hmac" | "oauth" | "smtp";

export const ALL_AUTH_METHODS: readonly AuthMethod[] = ["bearer", "basic", "hmac", "oauth", "smtp"];

export interface Principal {
  orgId: string;
  keyId: string;
  mode: "live" | "test";
  scopes: readonly Scope[];
  /** Exact ASCII domains the key may send From; null: any verified domain of the org. */
  senderDomains: readonly string[] | null;
  method: AuthMethod;
}

/** `admin` holds every org scope, never `instance:admin`. */
export function hasScope(p: { scopes: readonly Scope[] }, scope: Scope): boolean {
  if (scope === "instance:admin") return p.scopes.includes("instance:admin");
  return p.scopes.includes("admin") || p.scopes.includes(scope);
}

/** Whether `grantor` may hand out (or act on a key with) every scope of `granted`. */
export function scopesContain(grantor: readonly Scope[], granted: readonly Scope[]): boolean {
  return granted.every((s) => hasScope({ scopes: grantor }, s));
}

/** Whether a sender restriction `inner` is no wider than `outer` (null: unrestricted). */
export function senderDomainsContain(
  outer: readonly string[] | null,
  inner: readonly string[] | null,
): boolean {
  if (outer === null) return true;
  if (inner === null) return false;
  return inner.every((d) => outer.includes(d));
}

/** Whether a key restricted to `senderDomains` may send From `domain` (ASCII, lower case). */
export function senderPermitted(p: { senderDomains: readonly string[] | null }, domain: string): boolean {
  return p.senderDomains === null || p.senderDomains.includes(domain.toLowerCase());
}
