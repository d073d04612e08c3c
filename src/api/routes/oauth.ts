import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { RetryAfterError } from "../../auth/authenticate.ts";
import { parseCredentials } from "../../auth/credentials.ts";
import { OAuthError } from "../../auth/oauth.ts";
import { clientAddress } from "../../auth/source.ts";
import { isSealpostError } from "../../core/errors.ts";
import type { Logger } from "../../logging/logger.ts";
import { access } from "../access.ts";
import type { ApiDeps } from "../context.ts";
import { classify } from "../problem.ts";

/**
 * OAuth 2.0 client credentials (RFC 6749 §4.4, ADR 0008 §4): `POST /oauth/token` with a
 * form body. The client id is the key id and the secret the whole key, by Basic
 * (`client_secret_basic`) or in the body (`client_secret_post`), never both. Answers and
 * errors take RFC 6749's shapes (§5.1, §5.2), not RFC 9457, and are never cached.
 */
const FORM = "application/x-www-form-urlencoded";
/** A token request is a few short parameters. */
const FORM_LIMIT = 8 * 1024;

type ErrorCode =
  | "invalid_request"
  | "invalid_client"
  | "unauthorized_client"
  | "unsupported_grant_type"
  | "invalid_scope"
  | "temporarily_unavailable"
  | "server_error";

interface TokenError {
  status: number;
  error: ErrorCode;
  description: string;
}

/** A form body as name → value; `duplicate` when a parameter came twice (RFC 6749 §3.2 forbids it). */
interface Form {
  readonly values: ReadonlyMap<string, string>;
  readonly duplicate: boolean;
}

function parseForm(body: string): Form {
  const values = new Map<string, string>();
  let duplicate = false;
  for (const [name, value] of new URLSearchParams(body)) {
    // A parameter without a value counts as omitted (§3.1).
    if (value === "") continue;
    if (values.has(name)) duplicate = true;
    values.set(name, value);
  }
  return { values, duplicate };
}

function isForm(body: unknown): body is Form {
  return typeof body === "object" && body !== null && "values" in body && body.values instanceof Map;
}

function invalidRequest(description: string): TokenError {
  return { status: 400, error: "invalid_request", description };
}

/** The client authentication of a request, as OAuthService.issue takes it. */
function clientAuthOf(request: FastifyRequest, form: Form) {
  const header = request.headers.authorization;
  const creds = header === undefined ? null : parseCredentials(header, "sealpost");
  const basic = creds?.kind === "basic" ? { clientId: creds.keyId, clientSecret: creds.token } : null;
  const postSecret = form.values.get("client_secret");
  const postId = form.values.get("client_id");
  if (header !== undefined && postSecret !== undefined) return { clientAuth: "both" as const };
  // An Authorization header that is not Basic is a failed client authentication.
  if (header !== undefined)
    return {
      clientAuth: "basic" as const,
      ...(basic === null ? {} : { clientId: basic.clientId, clientSecret: basic.clientSecret }),
    };
  if (postSecret !== undefined || postId !== undefined)
    return {
      clientAuth: "post" as const,
      ...(postId === undefined ? {} : { clientId: postId }),
      ...(postSecret === undefined ? {} : { clientSecret: postSecret }),
    };
  return { clientAuth: "none" as const };
}

function sendTokenError(reply: FastifyReply, e: TokenError): FastifyReply {
  if (e.error === "invalid_client") reply.header("WWW-Authenticate", 'Basic realm="sealpost"');
  return reply
    .code(e.status)
    .header("Cache-Control", "no-store")
    .header("Pragma", "no-cache")
    .type("application/json")
    .send({ error: e.error, error_description: e.description });
}

function tokenErrorOf(err: unknown): TokenError {
  if (err instanceof OAuthError)
    return { status: err.status, error: err.code as ErrorCode, description: err.message };
  if (isSealpostError(err) && (err.code === "auth_locked" || err.code === "rate_limited"))
    return { status: 429, error: "temporarily_unavailable", description: classify(err).title };
  const problem = classify(err);
  if (problem.status < 500) return invalidRequest(problem.title);
  return { status: 500, error: "server_error", description: problem.title };
}

function oauthErrorHandler(logger: Logger) {
  return (err: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const e = tokenErrorOf(err);
    if (e.status >= 500) logger.error({ err, reqId: request.id, route: "/oauth/token" }, "request failed");
    if (e.status === 429)
      reply.header("Retry-After", String(err instanceof RetryAfterError ? err.retryAfterSeconds : 1));
    return sendTokenError(reply, e);
  };
}

const tokenBody = {
  type: "object",
  required: ["grant_type"],
  properties: {
    grant_type: { type: "string", enum: ["client_credentials"] },
    scope: {
      type: "string",
      description: "Space-separated scopes, a subset of the key's; default all of them.",
    },
    client_id: { type: "string", description: "client_secret_post: the key id." },
    client_secret: { type: "string", description: "client_secret_post: the whole key." },
  },
} as const;

export function registerOAuthRoutes(app: FastifyInstance, deps: ApiDeps): void {
  app.register(async (scope) => {
    // Form bodies are accepted here only; every other route speaks JSON.
    scope.addContentTypeParser(FORM, { parseAs: "string", bodyLimit: FORM_LIMIT }, (_request, body, done) =>
      done(null, parseForm(body as string)),
    );
    scope.setErrorHandler(oauthErrorHandler(deps.logger));
    scope.post(
      "/oauth/token",
      {
        config: access({ public: "OAuth token endpoint: the client authenticates with its own credentials" }),
        schema: {
          summary: "OAuth 2.0 client credentials: exchange an API key for a short-lived access token",
          description:
            "client_id is the key id, client_secret the whole key, by HTTP Basic or in the form body (not both). " +
            "The access token is an RFC 9068 JWT (ES256) used as `Authorization: Bearer`.",
          tags: ["oauth"],
          consumes: [FORM],
          body: tokenBody,
          response: {
            200: {
              type: "object",
              properties: {
                access_token: { type: "string" },
                token_type: { type: "string", enum: ["Bearer"] },
                expires_in: { type: "integer" },
                scope: { type: "string" },
              },
            },
          },
        },
      },
      async (request, reply) => {
        const form = request.body;
        if (!isForm(form)) return sendTokenError(reply, invalidRequest(`The body must be ${FORM}.`));
        if (form.duplicate)
          return sendTokenError(reply, invalidRequest("A parameter was sent more than once."));
        const scopeParam = form.values.get("scope");
        const grantType = form.values.get("grant_type");
        const token = await deps.oauth.issue({
          ...clientAuthOf(request, form),
          ...(grantType === undefined ? {} : { grantType }),
          ...(scopeParam === undefined ? {} : { scope: scopeParam }),
          address: clientAddress(request.ip),
        });
        return reply.header("Cache-Control", "no-store").header("Pragma", "no-cache").send(token);
      },
    );
  });
}
