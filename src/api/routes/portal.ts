import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { clientAddress } from "../../auth/source.ts";
import { isSealpostError } from "../../core/errors.ts";
import { requestCode, verifyCode } from "../../portal/code-flow.ts";
import { downloadAttachment, reply as sendReply, viewMessage } from "../../portal/content.ts";
import { attachmentDisposition, formOf, installPortalHttp, sendPage } from "../../portal/http.ts";
import { codePage, errorPage, gonePage, landingPage, lockedPage } from "../../portal/pages/access.ts";
import { messagePage } from "../../portal/pages/message.ts";
import { PORTAL_CSS } from "../../portal/pages/stylesheet.ts";
import { csrfToken, csrfValid, sessionCookie, sessionFromCookies } from "../../portal/session.ts";
import { type OpenLink, resolveLink, sessionValid } from "../../portal/state.ts";
import type { PortalActor, PortalDeps } from "../../portal/types.ts";
import { access } from "../access.ts";
import type { ApiDeps } from "../context.ts";

/**
 * The secure portal's pages (ADR 0010 §6), public: the token in the path is the credential,
 * then the one-time code, then the session cookie. Server-rendered HTML, no JavaScript, the
 * portal's headers on every answer (portal/http.ts). Expired, revoked, unknown and shredded
 * links get one page (410, 404 unknown) that shows nothing of the message.
 */
const PUBLIC = access({
  public: "the secure portal: the link token, a one-time code and a session authenticate",
});
const HIDDEN = { hide: true } as const;

function actorOf(request: FastifyRequest): PortalActor {
  return { sourceIp: clientAddress(request.ip), requestId: request.id };
}

function tokenOf(request: FastifyRequest): string {
  return (request.params as { token: string }).token;
}

function sessionOf(request: FastifyRequest): string | null {
  return sessionFromCookies(request.headers.cookie);
}

/** The open link of the request, or null after answering with the one "does not work" page. */
async function openOrGone(
  deps: PortalDeps,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<OpenLink | null> {
  const state = await resolveLink(deps, tokenOf(request));
  if (state.kind === "open") return state;
  sendPage(reply, state.kind === "unknown" ? 404 : 410, gonePage());
  return null;
}

/** An open link with a live session, or null after sending the visitor back to the start. */
async function withSession(
  deps: PortalDeps,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<{ open: OpenLink; session: string } | null> {
  const open = await openOrGone(deps, request, reply);
  if (open === null) return null;
  const session = sessionOf(request);
  if (session === null || !sessionValid(open.link, session, deps.clock.now())) {
    reply.redirect(`/portal/${open.token}`, 303);
    return null;
  }
  return { open, session };
}

export function registerPortalRoutes(app: FastifyInstance, api: ApiDeps): void {
  const deps: PortalDeps = {
    db: api.db,
    keyring: api.keyring,
    clock: api.clock,
    submit: api.submit,
    audit: api.audit,
    webhookOutbox: api.webhooks.outbox,
  };
  app.register(async (portal) => {
    installPortalHttp(portal);
    portal.setErrorHandler((err, _request, reply) => {
      const status = isSealpostError(err) ? err.status : ((err as { statusCode?: number }).statusCode ?? 500);
      if (status >= 500) api.logger.error({ err }, "portal page failed");
      const code = status >= 400 && status < 500 ? status : 500;
      return sendPage(
        reply,
        code,
        errorPage("Something went wrong", "The page could not be shown. Please try again later."),
      );
    });

    portal.get("/portal/assets/portal.css", { config: PUBLIC, schema: HIDDEN }, async (_request, reply) =>
      reply.type("text/css; charset=utf-8").send(PORTAL_CSS),
    );

    portal.get("/portal/:token", { config: PUBLIC, schema: HIDDEN }, async (request, reply) => {
      const open = await openOrGone(deps, request, reply);
      if (open === null) return reply;
      return sendPage(reply, 200, landingPage(open.token));
    });

    portal.post("/portal/:token/code", { config: PUBLIC, schema: HIDDEN }, async (request, reply) => {
      const open = await openOrGone(deps, request, reply);
      if (open === null) return reply;
      const result = await requestCode(deps, open, actorOf(request));
      if (result.kind === "locked") return sendPage(reply, 423, lockedPage(result.minutes));
      return sendPage(reply, 200, codePage(open.token));
    });

    portal.post("/portal/:token/verify", { config: PUBLIC, schema: HIDDEN }, async (request, reply) => {
      const open = await openOrGone(deps, request, reply);
      if (open === null) return reply;
      const typed = formOf(request.body).code ?? "";
      const result = await verifyCode(deps, open, typed, actorOf(request));
      switch (result.kind) {
        case "locked":
          return sendPage(reply, 423, lockedPage(result.minutes));
        case "no_code":
          return sendPage(
            reply,
            400,
            codePage(open.token, { error: "This code has expired. Ask for a new code." }),
          );
        case "wrong": {
          const left = result.left === 1 ? "1 try" : `${result.left} tries`;
          return sendPage(
            reply,
            400,
            codePage(open.token, { error: `That code is not right. ${left} left.` }),
          );
        }
        case "verified":
          reply.header("set-cookie", sessionCookie(result.session, open.token, request.protocol === "https"));
          return reply.redirect(`/portal/${open.token}/message`, 303);
      }
    });

    portal.get("/portal/:token/message", { config: PUBLIC, schema: HIDDEN }, async (request, reply) => {
      const s = await withSession(deps, request, reply);
      if (s === null) return reply;
      const view = await viewMessage(deps, s.open, actorOf(request));
      const sent = (request.query as { sent?: string }).sent === "1";
      return sendPage(reply, 200, messagePage(s.open.token, view, csrfToken(s.session), { sent }));
    });

    portal.get(
      "/portal/:token/attachments/:n",
      { config: PUBLIC, schema: HIDDEN },
      async (request, reply) => {
        const s = await withSession(deps, request, reply);
        if (s === null) return reply;
        const raw = (request.params as { n: string }).n;
        const n = /^[0-9]{1,3}$/.test(raw) ? Number(raw) : -1;
        const file = await downloadAttachment(deps, s.open, n, actorOf(request));
        if (file === null)
          return sendPage(
            reply,
            404,
            errorPage("No such attachment", "This message has no such attachment."),
          );
        return reply
          .header("content-disposition", attachmentDisposition(file.filename))
          .header("content-length", String(file.size))
          .type("application/octet-stream")
          .send(file.body);
      },
    );

    portal.post("/portal/:token/reply", { config: PUBLIC, schema: HIDDEN }, async (request, reply) => {
      const s = await withSession(deps, request, reply);
      if (s === null) return reply;
      const form = formOf(request.body);
      if (!csrfValid(s.session, form.csrf ?? ""))
        return sendPage(
          reply,
          403,
          errorPage("The form expired", "Open the message again and resend your reply."),
        );
      const text = form.text ?? "";
      const result = await sendReply(deps, s.open, text, actorOf(request));
      if (result.kind === "sent") return reply.redirect(`/portal/${s.open.token}/message?sent=1`, 303);
      const view = await viewMessage(deps, s.open, actorOf(request));
      return sendPage(
        reply,
        400,
        messagePage(s.open.token, view, csrfToken(s.session), {
          error: result.error,
          text: text.slice(0, 10_000),
        }),
      );
    });
  });
}
