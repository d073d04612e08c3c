import type { FastifyInstance, onRequestHookHandler, preParsingHookHandler, RouteOptions } from "fastify";
import { ORG_SCOPES, type Scope } from "../core/principal.ts";

/**
 * What a route lets in (ADR 0008 §8). Every route declares one in its `config`:
 * `config: access({ scope: "messages:send" })`, `access({ instance: true })` or
 * `access({ public: "why it is public" })`. Paubox routes add `scheme: "paubox"`.
 *
 * `enforceAccess` makes the declaration the only way in: a global `onRoute` hook refuses
 * (at startup) a route that declares nothing, attaches the authentication hooks to every
 * route that is not public, writes the route's OpenAPI `security`, and records the route
 * for `app.routeAccess()`, which the route-security test checks against its cases.
 */
export type RouteAccess =
  | { readonly kind: "scope"; readonly scope: Scope; readonly scheme: "sealpost" | "paubox" }
  | { readonly kind: "instance" }
  | { readonly kind: "public"; readonly reason: string };

export type ProtectedAccess = Exclude<RouteAccess, { kind: "public" }>;

export interface RouteAccessEntry {
  readonly method: string;
  readonly url: string;
  readonly access: RouteAccess;
}

declare module "fastify" {
  interface FastifyContextConfig {
    access?: RouteAccess;
  }
  interface FastifyInstance {
    /** Every route with its declared access, in registration order (HEAD routes included). */
    routeAccess(): readonly RouteAccessEntry[];
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

/** The hooks that authenticate one protected route (api/authn-hook.ts). */
export interface AuthHooks {
  readonly onRequest: onRequestHookHandler;
  readonly preParsing: preParsingHookHandler;
  readonly preValidation: onRequestHookHandler;
}

/** swagger-ui registers its own routes under /docs; they are the one undeclared exception. */
const SWAGGER_UI: RouteAccess = { kind: "public", reason: "swagger-ui: the API documentation" };

function isSwaggerUi(url: string): boolean {
  return url === "/docs" || url.startsWith("/docs/");
}

/** The OpenAPI security requirement of a route: any one of the four methods, with its scope. */
export function openApiSecurity(declared: RouteAccess): Record<string, string[]>[] {
  if (declared.kind === "public") return [];
  const scope: Scope = declared.kind === "instance" ? "instance:admin" : declared.scope;
  const methods: Record<string, string[]>[] = [
    { bearer: [] },
    { basic: [] },
    { hmac: [] },
    { oauth2: [scope] },
  ];
  return declared.kind === "scope" && declared.scheme === "paubox" ? [{ paubox: [] }, ...methods] : methods;
}

/** The `components.securitySchemes` the route security refers to. */
export function securitySchemes(tokenUrl: string) {
  return {
    bearer: {
      type: "http",
      scheme: "bearer",
      description: "An API key (`sp_live_…`, `sp_test_…`) or an OAuth access token from POST /oauth/token.",
    },
    basic: {
      type: "http",
      scheme: "basic",
      description: "The key id as username, the whole key as password.",
    },
    hmac: {
      type: "apiKey",
      in: "header",
      name: "Authorization",
      description:
        "`SP1-HMAC-SHA256 KeyId=…, Timestamp=…, Nonce=…, Signature=…` with a `Content-Digest` header; see docs/authentication.md.",
    },
    oauth2: {
      type: "oauth2",
      description: "Client credentials: client_id is the key id, client_secret the key.",
      flows: {
        clientCredentials: {
          tokenUrl,
          scopes: Object.fromEntries(
            [...ORG_SCOPES, "instance:admin"].map((s) => [s, s === "admin" ? "every org scope" : s]),
          ),
        },
      },
    },
    paubox: {
      type: "apiKey",
      in: "header",
      name: "Authorization",
      description: "Paubox's `Token token=<key>`.",
    },
  } as const;
}

function asArray<T>(value: T | T[] | undefined): T[] {
  return value === undefined ? [] : Array.isArray(value) ? [...value] : [value];
}

/**
 * Installs the `onRoute` hook on `app`; call it before any route is registered. Routes in
 * plugins registered later inherit it.
 */
export function enforceAccess(
  app: FastifyInstance,
  hooksFor: (declared: ProtectedAccess) => AuthHooks,
): void {
  const entries: RouteAccessEntry[] = [];
  app.decorate("routeAccess", () => entries);
  app.addHook("onRoute", (route: RouteOptions) => {
    const declared = route.config?.access ?? (isSwaggerUi(route.url) ? SWAGGER_UI : undefined);
    const methods = asArray(route.method);
    if (declared === undefined)
      throw new Error(
        `Route ${methods.join(",")} ${route.url} declares no access: add config: access({ scope | instance | public }).`,
      );
    for (const method of methods) entries.push({ method, url: route.url, access: declared });
    route.schema = { ...route.schema, security: openApiSecurity(declared) };
    if (declared.kind === "public") return;
    const hooks = hooksFor(declared);
    // Authentication runs first, before the route's own onRequest hooks and before the body is read.
    route.onRequest = [hooks.onRequest, ...asArray(route.onRequest)];
    route.preParsing = [hooks.preParsing, ...asArray(route.preParsing)];
    route.preValidation = [hooks.preValidation, ...asArray(route.preValidation)];
  });
}
