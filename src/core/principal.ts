/** Who is calling: resolved from an API key by the auth layer of each entry point. */
export type Scope =
  | "messages:send"
  | "messages:read"
  | "messages:read_content"
  | "keys:manage"
  | "domains:manage"
  | "suppressions:manage"
  | "admin";

export const ALL_SCOPES: readonly Scope[] = [
  "messages:send",
  "messages:read",
  "messages:read_content",
  "keys:manage",
  "domains:manage",
  "suppressions:manage",
  "admin",
];

export interface Principal {
  orgId: string;
  keyId: string;
  mode: "live" | "test";
  scopes: readonly Scope[];
}

export function hasScope(p: Principal, scope: Scope): boolean {
  return p.scopes.includes("admin") || p.scopes.includes(scope);
}
