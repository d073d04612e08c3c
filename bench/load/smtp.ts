/**
 * Closed-loop SMTP submission load: `clients` sessions to port 587, each STARTTLS + AUTH
 * PLAIN (the API key as password), then one message after another on the same session.
 * Messages are pre-built MIME, so the client spends no time composing.
 */
import SMTPConnection from "nodemailer/lib/smtp-connection";
import type { LoadResult } from "./http.ts";

export interface SmtpLoadOptions {
  port: number;
  token: string;
  total: number;
  clients: number;
  envelopeFrom: string;
  recipient: (i: number) => string;
  message: (i: number) => Buffer;
  deadline: number;
}

function connect(opts: SmtpLoadOptions): Promise<SMTPConnection> {
  const conn = new SMTPConnection({
    host: "127.0.0.1",
    port: opts.port,
    secure: false,
    requireTLS: true,
    name: "client.bench",
    tls: { rejectUnauthorized: false },
    connectionTimeout: 10_000,
    socketTimeout: 60_000,
  });
  conn.on("error", () => {});
  return new Promise((resolve, reject) => {
    conn.connect((err) => {
      if (err) return reject(err);
      conn.login({ credentials: { user: "api", pass: opts.token } }, (loginErr) => {
        if (loginErr) {
          conn.close();
          return reject(loginErr);
        }
        resolve(conn);
      });
    });
  });
}

function sendOne(conn: SMTPConnection, from: string, to: string, raw: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    conn.send({ from, to: [to] }, raw, (err, info) => {
      if (err) return reject(err);
      if (info.accepted.length !== 1) return reject(new Error("recipient refused"));
      resolve();
    });
  });
}

export async function runSmtpLoad(opts: SmtpLoadOptions): Promise<LoadResult> {
  const result: LoadResult = {
    sent: 0,
    accepted: 0,
    errors: 0,
    failures: {},
    startAt: Date.now(),
    firstAcceptAt: 0,
    lastAcceptAt: 0,
  };
  let next = 0;
  const fail = (err: unknown): void => {
    const e = err as { responseCode?: number; code?: string };
    const key = String(e.responseCode ?? e.code ?? "error");
    result.errors++;
    result.failures[key] = (result.failures[key] ?? 0) + 1;
  };
  const client = async (): Promise<void> => {
    let conn: SMTPConnection | null = null;
    let connectFailures = 0;
    try {
      while (next < opts.total && Date.now() < opts.deadline) {
        if (conn === null) {
          try {
            conn = await connect(opts);
          } catch (err) {
            fail(err);
            if (++connectFailures >= 10) return;
            await new Promise((r) => setTimeout(r, 200));
            continue;
          }
        }
        const i = next++;
        result.sent++;
        try {
          await sendOne(conn, opts.envelopeFrom, opts.recipient(i), opts.message(i));
          const now = Date.now();
          if (result.firstAcceptAt === 0) result.firstAcceptAt = now;
          result.lastAcceptAt = now;
          result.accepted++;
        } catch (err) {
          fail(err);
          conn.close();
          conn = null;
        }
      }
    } finally {
      conn?.quit();
    }
  };
  await Promise.all(Array.from({ length: opts.clients }, client));
  return result;
}
