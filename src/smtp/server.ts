import type { AddressInfo } from "node:net";
import { simpleParser } from "mailparser";
import type { SMTPServerDataStream, SMTPServerOptions, SMTPServerSession } from "smtp-server";
import type { AuditLog } from "../audit/types.ts";
import { clientAddress } from "../auth/source.ts";
import type { Authenticator, Credentials } from "../auth/types.ts";
import { parseAddress, parseBareAddress } from "../core/address.ts";
import type { Clock } from "../core/clock.ts";
import { isSealpostError, SealpostError } from "../core/errors.ts";
import { isId } from "../core/ids.ts";
import { hasScope, type Principal, senderPermitted } from "../core/principal.ts";
import { type SubmitDeps, submitMessage } from "../core/submit.ts";
import type { Logger } from "../logging/logger.ts";
import type { Db } from "../store/db.ts";
import { scopeOf } from "../store/scope.ts";
import type { WebhookOutbox } from "../webhooks/outbox.ts";
import {
  auditAccepted,
  auditAuth,
  auditClosed,
  auditRefused,
  newSessionRecord,
  noteTls,
  outcomeOf,
  type SessionRecord,
} from "./audit.ts";
import { inboundOptions } from "./inbound.ts";
import { queuedReply, type SmtpError, sessionError, sessionReply, toSmtpError } from "./replies.ts";
import { ReplyServer } from "./reply-server.ts";
import { translateSubmission } from "./translate.ts";

/**
 * SMTP submission: a thin adapter from smtp-server's hooks into the one submit path.
 * Port 587 requires STARTTLS before AUTH; port 465 is TLS from the first byte. The
 * password is an API key. `250 2.0.0 queued as <id>` is sent only after the durable commit.
 *
 * AUTH PLAIN/LOGIN goes through the same authenticator as HTTP (method `smtp`, the
 * session's address; ADR 0008 §4). Each MAIL FROM authenticates the session's credentials
 * again, so a revocation takes effect at the next message, and charges the rate limits once
 * per message.
 */
export interface SmtpDeps {
  db: Db;
  clock: Clock;
  logger: Logger;
  submit: SubmitDeps;
  authenticator: Authenticator;
  hostname: string;
  tls: { cert: string | Buffer; key: string | Buffer };
  maxMessageBytes: number;
  maxRecipients: number;
  /** Sessions open at once per port (SEALPOST_SMTP_MAX_CLIENTS). */
  maxClients: number;
  /** Idle time before a session is answered 421 and closed (SEALPOST_SMTP_TIMEOUT_SECONDS). */
  idleTimeoutMs: number;
  /** The audit trail: sessions, AUTH results and messages (ADR 0009 §2). */
  audit: AuditLog;
  /** The webhook outbox, for the events of DSNs (ADR 0011 §3). */
  webhooks?: WebhookOutbox;
}

const MAX_AUTH_FAILURES = 3;
/** How long a message still being received may take to finish once shutdown begins. */
const SHUTDOWN_GRACE_MS = 10_000;

interface SessionState {
  principal: Principal | null;
  /** The AUTH credentials, checked again at each MAIL FROM. */
  creds: Credentials | null;
  authFailures: number;
  /** A message is being received or submitted: shutdown lets it finish. */
  busy: boolean;
  /** Set by shutdown on a busy session: ends it once the reply to its message is out. */
  hangUp: (() => void) | null;
  /** TLS and message counts for the session's audit entry at close. */
  record: SessionRecord;
}

type StateOf = (session: SMTPServerSession) => SessionState;

/**
 * A username that is a key id makes Basic-like credentials (the token must belong to that
 * key); any other username is ignored and the password is taken as a token.
 */
export function smtpCredentials(
  username: string | null | undefined,
  password: string | null | undefined,
): Credentials {
  if (password === undefined || password === null || password === "") return { kind: "none" };
  if (typeof username === "string" && isId(username, "key"))
    return { kind: "basic", keyId: username, token: password };
  return { kind: "token", token: password };
}

/** Authenticates the credentials for submission: the scope messages:send, and the charge's verdict. */
async function authenticateSession(
  deps: SmtpDeps,
  creds: Credentials,
  session: SMTPServerSession,
  charge: boolean,
): Promise<{ principal: Principal; allowed: boolean }> {
  const { principal, charge: result } = await deps.authenticator.authenticate(creds, {
    address: clientAddress(session.remoteAddress),
    method: "smtp",
    charge,
  });
  if (!hasScope(principal, "messages:send")) throw new SealpostError("forbidden");
  return { principal, allowed: result.allowed };
}

/** A refusal of credentials: a locked source and internal errors keep their own reply. */
function isCredentialRefusal(err: unknown): boolean {
  return isSealpostError(err) && err.code !== "auth_locked" && err.status < 500;
}

/** MAIL FROM: the key again (revoked, expired, …), the rate limits, then the sender rules. */
async function checkMailFrom(deps: SmtpDeps, s: SessionState, session: SMTPServerSession, address: string) {
  if (s.creds === null) throw new SealpostError("unauthorized");
  const { principal, allowed } = await authenticateSession(deps, s.creds, session, true);
  s.principal = principal;
  if (!allowed) throw new SealpostError("rate_limited");
  const parsed = parseBareAddress(address);
  if (parsed !== null && !senderPermitted(principal, parsed.asciiDomain))
    throw new SealpostError("sender_not_allowed", { field: "MAIL FROM" });
  if (!(await senderAllowed(deps, principal, address)))
    throw new SealpostError("domain_not_verified", { field: "MAIL FROM" });
}

/** The rule of the REST path (submit.ts): live keys send from the org's verified domains, test keys from any. */
async function senderAllowed(deps: SmtpDeps, principal: Principal, address: string): Promise<boolean> {
  if (principal.mode === "test") return true;
  const parsed = parseBareAddress(address);
  return (
    parsed !== null &&
    (await deps.submit.senderVerified(scopeOf(deps.submit.db, principal), parsed.asciiDomain))
  );
}

/** The message, or null when it went over the SIZE limit (the rest is then drained, not kept). */
function readMessage(stream: SMTPServerDataStream): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    let chunks: Buffer[] | null = [];
    stream.on("data", (chunk: Buffer) => {
      if (stream.sizeExceeded) chunks = null;
      else chunks?.push(chunk);
    });
    stream.once("end", () => resolve(chunks === null || stream.sizeExceeded ? null : Buffer.concat(chunks)));
    stream.once("error", reject);
  });
}

async function submitData(
  deps: SmtpDeps,
  principal: Principal,
  stream: SMTPServerDataStream,
  session: SMTPServerSession,
): Promise<string> {
  const raw = await readMessage(stream);
  if (raw === null) throw new SealpostError("payload_too_large");
  const { input, idempotencyKey } = translateSubmission(await simpleParser(raw), session.envelope);
  const result = await submitMessage(deps.submit, principal, input, { idempotencyKey });
  deps.logger.info(
    { messageId: result.id, keyId: principal.keyId, count: result.deliveries.length },
    "smtp message accepted",
  );
  return result.id;
}

function options(deps: SmtpDeps, secure: boolean, state: StateOf): SMTPServerOptions {
  return {
    secure,
    name: deps.hostname,
    banner: "sealpost ESMTP",
    key: deps.tls.key,
    cert: deps.tls.cert,
    minVersion: "TLSv1.2",
    authMethods: ["PLAIN", "LOGIN"],
    allowInsecureAuth: false,
    authOptional: false,
    // SIZE is advertised; MAIL FROM with a larger SIZE= and a longer DATA get 552 5.3.4.
    size: deps.maxMessageBytes,
    rejectOversized: true,
    maxRecipients: deps.maxRecipients,
    // PIPELINING, 8BITMIME, SMTPUTF8 and ENHANCEDSTATUSCODES stay advertised. DSN and
    // REQUIRETLS are hidden: their parameters would be accepted and then ignored.
    hideENHANCEDSTATUSCODES: false,
    hideDSN: true,
    hideREQUIRETLS: true,
    hideSTARTTLS: secure,
    maxClients: deps.maxClients,
    socketTimeout: deps.idleTimeoutMs,
    closeTimeout: SHUTDOWN_GRACE_MS,
    logger: false,
    // No PTR lookup per connection (it would bypass SEALPOST_DNS_SERVERS and cost a query).
    disableReverseLookup: true,
    disabledCommands: secure ? ["STARTTLS"] : [],
    onAuth(auth, session, callback) {
      const s = state(session);
      const creds = smtpCredentials(auth.username, auth.password);
      const attempt = { method: auth.method, creds };
      // The rate limits are charged per message, at MAIL FROM; AUTH's own charge is not refused.
      authenticateSession(deps, creds, session, false).then(
        ({ principal }) => {
          s.principal = principal;
          s.creds = creds;
          auditAuth(deps.audit, s, session, attempt, "ok", { responseCode: 235 });
          callback(null, { user: principal.keyId });
        },
        (err: unknown) => {
          if (!isCredentialRefusal(err)) {
            if (!isSealpostError(err)) deps.logger.error({ err }, "smtp auth failed");
            const reply = toSmtpError(err);
            auditAuth(deps.audit, s, session, attempt, outcomeOf(err), reply);
            return callback(reply);
          }
          s.authFailures++;
          deps.logger.info({ code: (err as SealpostError).code }, "smtp auth refused");
          const reply = sessionError(s.authFailures >= MAX_AUTH_FAILURES ? "authLimit" : "authInvalid");
          auditAuth(deps.audit, s, session, attempt, outcomeOf(err), reply);
          callback(reply);
        },
      );
    },
    onSecure(socket, session, callback) {
      noteTls(state(session), socket);
      callback();
    },
    onClose(session) {
      auditClosed(deps.audit, state(session), session);
    },
    onRcptTo(address, _session, callback) {
      // An address the submit path would refuse is refused here, at RCPT where RFC 5321 puts
      // it (553 5.1.3), not after the client has sent the whole message.
      callback(
        parseAddress(address.address) === null
          ? toSmtpError(new SealpostError("invalid_address", { field: "RCPT TO" }))
          : null,
      );
    },
    onMailFrom(address, session, callback) {
      const s = state(session);
      if (s.principal === null) {
        const reply = sessionError("authRequired");
        auditRefused(deps.audit, s, session, { outcome: "unauthorized", reply, phase: "mail" });
        return callback(reply);
      }
      checkMailFrom(deps, s, session, address.address).then(
        () => callback(null),
        (err: unknown) => {
          if (!isSealpostError(err)) deps.logger.error({ err }, "smtp MAIL FROM check failed");
          else deps.logger.info({ code: err.code }, "smtp MAIL FROM refused");
          const reply = toSmtpError(err);
          auditRefused(deps.audit, s, session, { outcome: outcomeOf(err), reply, phase: "mail" });
          callback(reply);
        },
      );
    },
    onData(stream, session, callback) {
      const s = state(session);
      const principal = s.principal;
      if (principal === null) {
        stream.resume();
        return callback(sessionError("authRequired"));
      }
      s.busy = true;
      const reply = (err: SmtpError | null, message?: string): void => {
        s.busy = false;
        callback(err, message);
        const hangUp = s.hangUp;
        s.hangUp = null;
        if (hangUp !== null) setImmediate(hangUp);
      };
      submitData(deps, principal, stream, session).then(
        (id) => {
          auditAccepted(deps.audit, s, session, id);
          reply(null, queuedReply(id));
        },
        (err: unknown) => {
          const left = (err as { code?: unknown }).code === "ECONNECTION";
          if (left) deps.logger.info({ code: "ECONNECTION" }, "smtp client left during DATA");
          else if (!isSealpostError(err)) deps.logger.error({ err }, "smtp submission failed");
          const smtpErr = toSmtpError(err, "data");
          // A client that left got no reply: nothing was refused.
          if (!left)
            auditRefused(deps.audit, s, session, { outcome: outcomeOf(err), reply: smtpErr, phase: "data" });
          reply(smtpErr);
        },
      );
    },
  };
}

export interface SubmissionServers {
  listen(ports: {
    smtp: number;
    smtps: number;
    host: string;
    inbound: number;
    inboundHost: string;
  }): Promise<{ smtp: number; smtps: number; inbound: number }>;
  /**
   * Graceful shutdown: stop accepting; idle submission sessions get 421 at once; a session
   * whose message is being received or submitted gets its reply, then 421. What is still
   * open after SHUTDOWN_GRACE_MS gets 421 from smtp-server.
   */
  close(): Promise<void>;
}

export function createSubmissionServers(deps: SmtpDeps): SubmissionServers {
  const sessions = new WeakMap<SMTPServerSession, SessionState>();
  const state: StateOf = (session) => {
    let s = sessions.get(session);
    if (s === undefined) {
      s = {
        principal: null,
        creds: null,
        authFailures: 0,
        busy: false,
        hangUp: null,
        record: newSessionRecord(),
      };
      sessions.set(session, s);
    }
    return s;
  };
  const starttls = new ReplyServer(options(deps, false, state));
  const implicit = new ReplyServer(options(deps, true, state));
  const base = options(deps, false, state);
  const inbound = new ReplyServer(
    inboundOptions(
      {
        db: deps.db,
        keyring: deps.submit.keyring,
        clock: deps.clock,
        logger: deps.logger,
        audit: deps.audit,
        ...(deps.webhooks === undefined ? {} : { webhooks: deps.webhooks }),
      },
      {
        name: base.name,
        banner: base.banner,
        key: base.key,
        cert: base.cert,
        minVersion: base.minVersion,
        hideENHANCEDSTATUSCODES: false,
        maxClients: 100,
        socketTimeout: 60_000,
        closeTimeout: SHUTDOWN_GRACE_MS,
        logger: false,
        disableReverseLookup: true,
      },
    ),
  );
  for (const server of [starttls, implicit, inbound])
    server.on("error", (err: unknown) => deps.logger.warn({ err }, "smtp connection error"));
  const listening = new Set<ReplyServer>();
  const listenOne = (server: ReplyServer, port: number, host: string) =>
    new Promise<number>((resolve, reject) => {
      server.server.once("error", reject);
      server.listen(port, host, () => {
        listening.add(server);
        resolve((server.server.address() as AddressInfo).port);
      });
    });
  const shuttingDown = sessionReply("shuttingDown");
  return {
    async listen(p) {
      return {
        smtp: await listenOne(starttls, p.smtp, p.host),
        smtps: await listenOne(implicit, p.smtps, p.host),
        inbound: await listenOne(inbound, p.inbound, p.inboundHost),
      };
    },
    async close() {
      const closing = [...listening].map(
        (server) => new Promise<void>((resolve) => server.close(() => resolve())),
      );
      for (const server of [starttls, implicit])
        for (const connection of [...server.connections]) {
          const s = state(connection.session);
          const hangUp = () => connection.send(shuttingDown.code, shuttingDown.text);
          if (s.busy) s.hangUp = hangUp;
          else hangUp();
        }
      await Promise.all(closing);
      listening.clear();
    },
  };
}
