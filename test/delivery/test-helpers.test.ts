/**
 * Checks on the test helpers themselves, so the delivery tests prove what they claim: the
 * legacy sink really speaks TLS 1.0/1.1 (a client that allows it gets through, so our client's
 * refusal is about the version), and `starttls: false` really offers no STARTTLS.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { connect } from "node:net";
import { describe, test } from "node:test";
import type { TLSSocket } from "node:tls";
import SMTPConnection from "nodemailer/lib/smtp-connection";
import { startSmtpSink } from "../helpers/smtp-sink.ts";

const LEGACY_TLS = { minVersion: "TLSv1", maxVersion: "TLSv1.1", ciphers: "DEFAULT@SECLEVEL=0" };

function openssl(args: string[]): Promise<string | null> {
  return new Promise((resolve) => {
    const child = execFile("openssl", args, { timeout: 10_000 }, (err, stdout, stderr) => {
      const missing = err !== null && (err as { code?: unknown }).code === "ENOENT";
      resolve(missing ? null : `${stdout}${stderr}`);
    });
    child.stdin?.end("QUIT\r\n");
  });
}

/** Sends each command after the previous reply; returns the replies, greeting first. */
function converse(port: number, commands: string[]): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    const replies: string[] = [];
    let buffer = "";
    let current = "";
    socket.setTimeout(3000, () => socket.destroy(new Error("timeout")));
    socket.on("error", reject);
    socket.on("close", () => resolve(replies));
    socket.on("data", (chunk) => {
      buffer += chunk.toString("latin1");
      let newline = buffer.indexOf("\n");
      while (newline >= 0) {
        const line = buffer.slice(0, newline).replace(/\r$/, "");
        buffer = buffer.slice(newline + 1);
        current += `${line}\n`;
        if (/^\d{3} /.test(line)) {
          replies.push(current);
          current = "";
          const next = commands[replies.length - 1];
          if (next === undefined) socket.end();
          else socket.write(`${next}\r\n`);
        }
        newline = buffer.indexOf("\n");
      }
    });
  });
}

describe("smtp sink", () => {
  test("legacy variant negotiates TLS 1.1 with a client that allows it, and delivers", async () => {
    const sink = await startSmtpSink({ tls: LEGACY_TLS });
    try {
      const conn = new SMTPConnection({
        host: "127.0.0.1",
        port: sink.port,
        requireTLS: true,
        connectionTimeout: 3000,
        socketTimeout: 3000,
        tls: { minVersion: "TLSv1", ciphers: "DEFAULT@SECLEVEL=0", rejectUnauthorized: false },
        logger: false,
      });
      const protocol = await new Promise<string | null>((resolve, reject) => {
        conn.once("error", reject);
        conn.connect((err) => {
          if (err) return reject(err);
          const socket = conn._socket as TLSSocket;
          const negotiated = socket.getProtocol();
          conn.send(
            { from: "a@x.test", to: ["b@y.test"] },
            Buffer.from("Subject: t\r\n\r\nx\r\n"),
            (sendErr) => {
              conn.quit();
              if (sendErr) reject(sendErr);
              else resolve(negotiated);
            },
          );
        });
      });
      assert.equal(protocol, "TLSv1.1");
      await sink.waitFor(1);
      assert.equal(sink.messages[0]?.tlsProtocol, "TLSv1.1");
      assert.equal(sink.dataCount(), 1);
    } finally {
      await sink.close();
    }
  });

  test("legacy variant: openssl s_client gets TLS 1.1 and is refused TLS 1.2", async (t) => {
    const sink = await startSmtpSink({ tls: LEGACY_TLS });
    try {
      const base = ["s_client", "-connect", `127.0.0.1:${sink.port}`, "-starttls", "smtp"];
      const v11 = await openssl([...base, "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"]);
      if (v11 === null) return t.skip("openssl not installed");
      assert.match(v11, /Protocol\s*:\s*TLSv1\.1/);
      assert.match(v11, /Cipher is (?!\(NONE\))/);
      const v12 = await openssl([...base, "-tls1_2"]);
      assert.match(v12 ?? "", /Cipher is \(NONE\)/);
    } finally {
      await sink.close();
    }
  });

  test("starttls: false advertises no STARTTLS and refuses the command", async () => {
    const sink = await startSmtpSink({ starttls: false });
    try {
      const replies = await converse(sink.port, ["EHLO client.test", "STARTTLS", "QUIT"]);
      assert.match(replies[0] ?? "", /^220 /);
      assert.match(replies[1] ?? "", /^250/);
      assert.doesNotMatch(replies[1] ?? "", /STARTTLS/i);
      assert.match(replies[2] ?? "", /^5\d\d /);
    } finally {
      await sink.close();
    }
  });
});
