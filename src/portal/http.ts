import type { FastifyInstance, FastifyReply } from "fastify";

/**
 * The HTTP rules of the portal's scope (ADR 0010 §6): the security headers on every answer,
 * bodies as application/x-www-form-urlencoded only (parsed here, scoped to the portal; the
 * API elsewhere stays JSON-only), and pages sent as HTML.
 */
export const PORTAL_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy":
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  "referrer-policy": "no-referrer",
  "cache-control": "no-store",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
};

/** Form fields: the first value of each name. */
export type Form = Readonly<Record<string, string>>;

const FORM_LIMIT = 64 * 1024;

export function installPortalHttp(scope: FastifyInstance): void {
  scope.removeAllContentTypeParsers();
  scope.addContentTypeParser(
    "application/x-www-form-urlencoded",
    { parseAs: "string", bodyLimit: FORM_LIMIT },
    (_request, body, done) => {
      const form: Record<string, string> = {};
      for (const [k, v] of new URLSearchParams(String(body))) if (!(k in form)) form[k] = v;
      done(null, form);
    },
  );
  scope.addHook("onSend", async (_request, reply, payload) => {
    for (const [name, value] of Object.entries(PORTAL_HEADERS)) reply.header(name, value);
    return payload;
  });
}

export function formOf(body: unknown): Form {
  return typeof body === "object" && body !== null ? (body as Form) : {};
}

export function sendPage(reply: FastifyReply, status: number, html: string): FastifyReply {
  return reply.code(status).type("text/html; charset=utf-8").send(html);
}

/** `filename` for a Content-Disposition: an ASCII fallback and the UTF-8 name (RFC 6266). */
export function attachmentDisposition(filename: string): string {
  const ascii = filename.replace(/[^\x20-\x7e]|["\\]/g, "_") || "attachment";
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(filename)}`;
}
