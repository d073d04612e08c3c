import type { Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import { SMTPServer } from "smtp-server";
import { SMTPConnection, type SMTPConnectionOptions } from "smtp-server/lib/smtp-connection.js";

/**
 * smtp-server picks a reply's enhanced status code (RFC 3463) from the reply code alone:
 * every 550 becomes 5.1.1 ("no such mailbox") and every accepted message 2.6.0. sealpost's
 * error registry names the exact code (a sender domain that is not verified is 550 5.7.1,
 * an accepted message 250 2.0.0), so the replies built in replies.ts start with it. This
 * connection sends such a reply as written instead of adding a second code; the library's
 * own replies (SIZE, STARTTLS, syntax, timeouts) keep the codes it gives them.
 *
 * The server is subclassed through its public API (SMTPServer#connect and
 * SMTPConnection#send, both typed), not patched.
 */
const LEADING_ENHANCED = /^([245])\.\d{1,3}\.\d{1,3} /;

class ReplyConnection extends SMTPConnection {
  override send(code: number, data?: string | string[] | null, context?: string | false): void {
    const lead = typeof data === "string" && context !== false ? LEADING_ENHANCED.exec(data) : null;
    if (typeof data !== "string" || lead === null || lead[1] !== String(code)[0]) {
      super.send(code, data, context);
      return;
    }
    // The registry's code replaces the one the library would add (none when hidden).
    super.send(code, this._server.options.hideENHANCEDSTATUSCODES ? data.slice(lead[0].length) : data, false);
  }
}

export class ReplyServer extends SMTPServer {
  /** As SMTPServer#connect (smtp-server 3.21), with ReplyConnection for SMTPConnection. */
  override connect(socket: Socket | TLSSocket, socketOptions?: SMTPConnectionOptions | null): void {
    const connection = new ReplyConnection(this, socket, socketOptions);
    this.connections.add(connection);
    connection.on("error", (err: Error) => this._onError(err));
    connection.on("connect", (data) => this._onClientConnect(data));
    connection.init();
  }
}
