/** Shared pieces of the delivery tests (not a test file itself). */
import { createServer } from "node:net";
import type { DeliverOptions } from "../../src/delivery/smtp-client.ts";
import { type SmtpSink, type SmtpSinkOptions, startSmtpSink } from "../helpers/smtp-sink.ts";

export const SENDER = "sender@clinic.example";
export const RECIPIENT = "patient.jones@hospital.example";
export const ENVELOPE = { from: SENDER, to: RECIPIENT };
export const RAW = Buffer.from(
  `From: <${SENDER}>\r\nTo: <${RECIPIENT}>\r\nSubject: Appointment\r\nMessage-ID: <t1@clinic.example>\r\n\r\nSee you at 10.\r\n`,
);

export const BASE_OPTS: DeliverOptions = {
  heloName: "sealpost.test",
  requireVerifiedCert: false,
  timeoutMs: 2000,
};

/** A port on 127.0.0.1 with nothing listening (bound, then closed). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

/**
 * Two sinks on the same port, `first` on 127.0.0.1 and `second` on ::1, standing in for two MX
 * hosts behind one delivery port. Retries a few times when ::1 has the port taken.
 */
export async function sinkPair(
  first: SmtpSinkOptions,
  second: SmtpSinkOptions,
): Promise<[SmtpSink, SmtpSink]> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const a = await startSmtpSink({ ...first, host: "127.0.0.1" });
    try {
      const b = await startSmtpSink({ ...second, host: "::1", port: a.port });
      return [a, b];
    } catch {
      await a.close();
    }
  }
  throw new Error("no free port pair for two sinks");
}
