import { pipeline, Transform } from "node:stream";
import type {
  FastifyReply,
  FastifyRequest,
  HookHandlerDoneFunction,
  onRequestHookHandler,
  preParsingHookHandler,
} from "fastify";
import { RetryAfterError } from "../auth/authenticate.ts";
import { credentialMethod, parseCredentials } from "../auth/credentials.ts";
import { contentDigestMatches, createDigestHasher } from "../auth/hmac.ts";
import { clientAddress } from "../auth/source.ts";
import type { AuthContext, Authenticator } from "../auth/types.ts";
import { isSealpostError, SealpostError } from "../core/errors.ts";
import { hasScope, type Principal, type Scope } from "../core/principal.ts";
import type { AuthHooks, ProtectedAccess } from "./access.ts";
import { setRateLimitHeaders } from "./rate-headers.ts";

/**
 * Authentication of every protected route (ADR 0008 §4), attached by api/access.ts.
 * `onRequest`, so the caller is known before a byte of the body is read: parse the
 * credentials, authenticate them (lockout, key, key state, nonce, rate limits), send the
 * RateLimit headers, then check the route's scope. For an HMAC-signed request, a
 * `preParsing` tap hashes the body as it streams past (no copy) and `preValidation`
 * compares it with the signed Content-Digest.
 *
 * Refusals are thrown as coded errors, so each route scope's error handler gives them its
 * shape (RFC 9457, or Paubox's on the Paubox routes).
 */
declare module "fastify" {
  interface FastifyRequest {
    principal: Principal | null;
  }
}

export function principalOf(request: FastifyRequest): Principal {
  if (request.principal === null) throw new SealpostError("unauthorized");
  return request.principal;
}

export interface AuthnDeps {
  readonly authenticator: Authenticator;
}

type Scheme = "sealpost" | "paubox";

/** The 401 challenge: every method we accept; Paubox clients look for `Token` first. */
export function challenge(scheme: Scheme, code: string): string {
  const bearer =
    code === "token_expired" ? 'Bearer realm="sealpost", error="invalid_token"' : 'Bearer realm="sealpost"';
  const all = [bearer, 'Basic realm="sealpost"', 'SP1-HMAC-SHA256 realm="sealpost"'];
  return (scheme === "paubox" ? ['Token realm="sealpost"', ...all] : all).join(", ");
}

function oneHeader(value: string | string[] | undefined): string | null {
  return typeof value === "string" ? value : null;
}

/** Whether Fastify will read a body for this request (mirrors its handle-request rule). */
function bodyIsRead(request: FastifyRequest): boolean {
  const h = request.headers;
  const hasBody =
    h["transfer-encoding"] !== undefined ||
    (h["content-length"] !== undefined && h["content-length"] !== "0");
  if (request.method === "GET" || request.method === "HEAD") return false;
  if (request.method === "OPTIONS" || request.method === "DELETE")
    return h["content-type"] !== undefined && hasBody;
  return h["content-type"] !== undefined || hasBody;
}

type DigestHasher = ReturnType<typeof createDigestHasher>;

/** Adapts an async step to a callback hook (Fastify refuses async hooks that take `done`). */
function hook(
  run: (request: FastifyRequest, reply: FastifyReply) => Promise<void>,
): (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => void {
  return (request, reply, done) => {
    run(request, reply).then(
      () => done(),
      (err: unknown) => done(err as Error),
    );
  };
}

/**
 * Builds the hooks for each protected route. One instance per app: `signed` holds, per
 * HMAC request, its scheme and the hash of its body (null until the body streams).
 */
export function createAuthn(deps: AuthnDeps): (declared: ProtectedAccess) => AuthHooks {
  const signed = new WeakMap<FastifyRequest, { scheme: Scheme; hasher: DigestHasher | null }>();

  function refused(reply: FastifyReply, err: unknown, scheme: Scheme): void {
    if (!isSealpostError(err)) return;
    if (err.status === 401) reply.header("WWW-Authenticate", challenge(scheme, err.code));
    if (err.status === 429)
      reply.header("Retry-After", String(err instanceof RetryAfterError ? err.retryAfterSeconds : 1));
  }

  async function authenticate(request: FastifyRequest, reply: FastifyReply, declared: ProtectedAccess) {
    const scheme: Scheme = declared.kind === "scope" ? declared.scheme : "sealpost";
    const creds = parseCredentials(request.headers.authorization, scheme);
    const ctx: AuthContext = {
      address: clientAddress(request.ip),
      method: credentialMethod(creds),
      ...(creds.kind === "hmac"
        ? {
            request: {
              method: request.method,
              url: request.raw.url ?? request.url,
              contentDigest: oneHeader(request.headers["content-digest"]),
            },
          }
        : {}),
    };
    let authenticated: Awaited<ReturnType<Authenticator["authenticate"]>>;
    try {
      authenticated = await deps.authenticator.authenticate(creds, ctx);
    } catch (err) {
      refused(reply, err, scheme);
      throw err;
    }
    const { principal, charge } = authenticated;
    request.principal = principal;
    setRateLimitHeaders(reply, charge);
    if (!charge.allowed) throw new SealpostError("rate_limited");
    const needed: Scope = declared.kind === "instance" ? "instance:admin" : declared.scope;
    if (!hasScope(principal, needed))
      throw new SealpostError("forbidden", { detail: `This route needs the ${needed} scope.` });
    if (creds.kind === "hmac") signed.set(request, { scheme, hasher: null });
  }

  const preParsing: preParsingHookHandler = (request, _reply, payload, done) => {
    const state = signed.get(request);
    if (state === undefined || !bodyIsRead(request)) return done(null, payload);
    const hasher = createDigestHasher();
    state.hasher = hasher;
    const tap = new Transform({
      transform(chunk: Buffer, _encoding, next) {
        hasher.update(chunk);
        next(null, chunk);
      },
    });
    // Errors (a client that goes away) reach the body parser through the tap.
    done(
      null,
      pipeline(payload, tap, () => {}),
    );
  };

  const preValidation = hook(async (request, reply) => {
    const state = signed.get(request);
    if (state === undefined) return;
    // No body read: the digest of the empty body.
    const computed = (state.hasher ?? createDigestHasher()).digest();
    if (!contentDigestMatches(oneHeader(request.headers["content-digest"]), computed)) {
      reply.header("WWW-Authenticate", challenge(state.scheme, "content_digest_mismatch"));
      throw new SealpostError("content_digest_mismatch");
    }
  });

  return (declared) => ({
    onRequest: hook((request, reply) => authenticate(request, reply, declared)) as onRequestHookHandler,
    preParsing,
    preValidation: preValidation as onRequestHookHandler,
  });
}
