import http from "node:http";
import https from "node:https";
import type { LookupFunction } from "node:net";
import type { ResolvedAddress } from "./ssrf.ts";

/**
 * One webhook POST (ADR 0011 §3): to the address the SSRF check resolved (the name is
 * not resolved again: the socket's lookup answers that address), with the URL's host in
 * Host and as the TLS server name, a 10-second limit on the whole exchange, and no
 * redirect followed (a 3xx is a failed attempt). The answer's body is read up to a small
 * limit and dropped. The outcome is a status or an error code, never a message text.
 */
export const POST_TIMEOUT_MS = 10_000;
const MAX_RESPONSE_BYTES = 64 * 1024;

export type PostOutcome =
  | { kind: "status"; status: number }
  | { kind: "error"; code: "timeout" | "connection_failed" };

export interface PostRequest {
  readonly url: URL;
  readonly address: ResolvedAddress;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  /** Extra trust anchors (SEALPOST_EXTRA_CA_FILE), for receivers on a private PKI. */
  readonly ca?: string | undefined;
  readonly timeoutMs?: number;
}

export function postWebhook(req: PostRequest): Promise<PostOutcome> {
  const { address } = req;
  const lookup: LookupFunction = (_host, opts, cb) => {
    if (opts.all === true) cb(null, [{ address: address.address, family: address.family }]);
    else cb(null, address.address, address.family);
  };
  const body = Buffer.from(req.body, "utf8");
  const options: https.RequestOptions = {
    method: "POST",
    lookup,
    headers: {
      ...req.headers,
      "content-type": "application/json",
      "content-length": String(body.length),
      "user-agent": "sealpost-webhooks/1",
    },
    agent: false,
    ...(req.ca === undefined ? {} : { ca: req.ca }),
  };
  return new Promise<PostOutcome>((resolve) => {
    let settled = false;
    const finish = (outcome: PostOutcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      request.destroy();
      resolve(outcome);
    };
    const request = (req.url.protocol === "https:" ? https : http).request(req.url, options, (res) => {
      let seen = 0;
      res.on("data", (chunk: Buffer) => {
        seen += chunk.length;
        if (seen > MAX_RESPONSE_BYTES) finish({ kind: "status", status: res.statusCode ?? 0 });
      });
      res.on("end", () => finish({ kind: "status", status: res.statusCode ?? 0 }));
      res.on("error", () => finish({ kind: "status", status: res.statusCode ?? 0 }));
    });
    const timer = setTimeout(
      () => finish({ kind: "error", code: "timeout" }),
      req.timeoutMs ?? POST_TIMEOUT_MS,
    );
    request.on("error", () => finish({ kind: "error", code: "connection_failed" }));
    request.end(body);
  });
}
