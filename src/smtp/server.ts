import type { AddressInfo } from "node:net";
import { simpleParser } from "mailparser";
import { SMTPServer, type SMTPServerOptions, type SMTPServerSession } from "smtp-server";
import { authenticate } from "../core/api-keys.ts";
import type { Clock } from "../core/clock.ts";
import { hasScope, type Principal } from "../core/principal.ts";
import { type SubmitDeps, submitMessage } from "../core/submit.ts";
import type { Logger } from "../logging/logger.ts";
import type { Db } from "../store/db.ts";
import { inboundOptions } from "./inbound.ts";
import { smtpError, toSmtpError } from "./replies.ts";
import { translateSubmission } from "./translate.ts";

/**
 * SMTP submission: a thin adapter from smtp-server's hooks into the one submit path.
 * Port 587 requires STARTTLS before AUTH; port 465 is TLS from the first byte. The
 * password is an API key. `250 2.0.0 queued as <id>` is sent only after the durable commit.
 */
export interface SmtpDeps {
  db: Db;
  clock: Clock;
  logger: Logger;
  submit: SubmitDeps;
  hostname: string;
  tls: { cert: string | Buffer; key: string | Buffer };
  maxMessageBytes: number;
  maxRecipients: number;
}

const MAX_AUTH_FAILURES = 3;

interface SessionState {
  principal: Principal | null;
  authFailures: number;
}

const sessions = new WeakMap<SMTPServerSession, SessionState>();

function state(session: SMTPServerSession): SessionState {
  let s = sessions.get(session);
  if (s === undefined) {
    s = { principal: null, authFailures: 0 };
    sessions.set(session, s);
  }
  return s;
}

function options(deps: SmtpDeps, secure: boolean): SMTPServerOptions {
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
    size: deps.maxMessageBytes,
    hideENHANCEDSTATUSCODES: false,
    hideSTARTTLS: secure,
    maxClients: 200,
    socketTimeout: 60_000,
    closeTimeout: 10_000,
    logger: false,
    // No PTR lookup per connection (it would bypass SEALPOST_DNS_SERVERS and cost a query).
    disableReverseLookup: true,
    disabledCommands: secure ? ["STARTTLS"] : [],
    onAuth(auth, session, callback) {
      const s = state(session);
      const token = auth.password ?? "";
      authenticate(deps.db, deps.clock, token).then(
        (principal) => {
          if (principal === null || !hasScope(principal, "messages:send")) {
            s.authFailures++;
            deps.logger.info({ code: "unauthorized" }, "smtp auth refused");
            const err = smtpError(535, "Authentication credentials invalid");
            if (s.authFailures >= MAX_AUTH_FAILURES) Object.assign(err, { responseCode: 421 });
            return callback(err);
          }
          s.principal = principal;
          callback(null, { user: principal.keyId });
        },
        (err: unknown) => callback(toSmtpError(err)),
      );
    },
    onRcptTo(_address, session, callback) {
      if (session.envelope.rcptTo.length >= deps.maxRecipients)
        return callback(smtpError(452, "Too many recipients"));
      callback();
    },
    onData(stream, session, callback) {
      const principal = state(session).principal;
      if (principal === null) {
        stream.resume();
        return callback(smtpError(530, "Authentication required"));
      }
      simpleParser(stream)
        .then(async (mail) => {
          if ((stream as { sizeExceeded?: boolean }).sizeExceeded)
            throw smtpError(552, "Message exceeds the size limit");
          const { input, idempotencyKey } = translateSubmission(mail, session.envelope);
          const result = await submitMessage(deps.submit, principal, input, { idempotencyKey });
          deps.logger.info(
            { messageId: result.id, keyId: principal.keyId, count: result.deliveries.length },
            "smtp message accepted",
          );
          callback(null, `queued as ${result.id}`);
        })
        .catch((err: unknown) => {
          if (err instanceof Error && "responseCode" in err) return callback(err);
          const reply = toSmtpError(err);
          if ((err as { code?: unknown }).code === "ECONNECTION")
            deps.logger.info({ code: "ECONNECTION" }, "smtp client left during DATA");
          else if (reply.responseCode >= 451 && reply.responseCode < 500)
            deps.logger.error({ err }, "smtp submission failed");
          callback(reply);
        });
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
  close(): Promise<void>;
}

export function createSubmissionServers(deps: SmtpDeps): SubmissionServers {
  const starttls = new SMTPServer(options(deps, false));
  const implicit = new SMTPServer(options(deps, true));
  const base = options(deps, false);
  const inbound = new SMTPServer(
    inboundOptions(
      { db: deps.db, keyring: deps.submit.keyring, clock: deps.clock, logger: deps.logger },
      {
        name: base.name,
        banner: base.banner,
        key: base.key,
        cert: base.cert,
        minVersion: base.minVersion,
        hideENHANCEDSTATUSCODES: false,
        maxClients: 100,
        socketTimeout: 60_000,
        closeTimeout: 10_000,
        logger: false,
        disableReverseLookup: true,
      },
    ),
  );
  for (const server of [starttls, implicit, inbound])
    server.on("error", (err: unknown) => deps.logger.warn({ err }, "smtp connection error"));
  const listening = new Set<SMTPServer>();
  const listenOne = (server: SMTPServer, port: number, host: string) =>
    new Promise<number>((resolve, reject) => {
      server.server.once("error", reject);
      server.listen(port, host, () => {
        listening.add(server);
        resolve((server.server.address() as AddressInfo).port);
      });
    });
  return {
    async listen(p) {
      return {
        smtp: await listenOne(starttls, p.smtp, p.host),
        smtps: await listenOne(implicit, p.smtps, p.host),
        inbound: await listenOne(inbound, p.inbound, p.inboundHost),
      };
    },
    async close() {
      await Promise.all([...listening].map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
      listening.clear();
    },
  };
}
