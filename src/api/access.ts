import type { Scope } from "../core/principal.ts";

/**
 * What a route lets in (ADR 0008 §8). Every route declares one in its `config`:
 * `config: access({ scope: "messages:send" })`, `access({ instance: true })` or
 * `access({ public: "why it is public" })`. Paubox routes add `scheme: "paubox"`.
 */
export type RouteAccess =
  | { readonly kind: "scope"; readonly scope: Scope; readonly scheme: "sealpost" | "paubox" }
  | { readonly kind: "instance" }
  | { readonly kind: "public"; readonly reason: string };

declare module "fastify" {
  interface FastifyContextConfig {
    access?: RouteAccess;
  }
}

export function access(
  declared: { scope: Scope; scheme?: "paubox" } | { instance: true } | { public: string },
): { access: RouteAccess } {
  if ("scope" in declared)
    return { access: { kind: "scope", scope: declared.scope, scheme: declared.scheme ?? "sealpost" } };
  if ("instance" in declared) return { access: { kind: "instance" } };
  return { access: { kind: "public", reason: declared.public } };
}
