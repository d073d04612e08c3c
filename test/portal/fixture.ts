/**
 * A real sealpost with a portal delivery, for the portal's tests: a test-mode key, a message
 * sent with `encryption: "portal"` (with an attachment), and its notice. When the worker's
 * step "protect" calls portalNotice (helper F's part), the notice is read from the sandbox
 * inbox as the recipient would get it; until then the test calls portalNotice itself for
 * the delivery, as the worker will.
 */
import { readdirSync, readFileSync } from "node:fs";
import { simpleParser } from "mailparser";
import type { Clock } from "../../src/core/clock.ts";
import { DEFAULT_POLICY } from "../../src/policy/types.ts";
import { portalNotice } from "../../src/portal/notice.ts";
import { auth, eventually, startTestApp, type TestApp } from "../helpers/app.ts";

export const ORIGINAL = {
  from: "Dr Canary <clinic@example.com>",
  to: "patient@example.org",
  subject: "Canary subject XYZZY-SUBJ",
  text: "Canary body XYZZY-BODY: your results are attached.",
  html: '<p>Canary body <b>XYZZY-BODY</b></p><script>alert(1)</script><img src="https://tracker.example/x.png" alt="t"><a href="javascript:alert(1)">bad</a> <a href="https://example.org/info">info</a>',
  attachment: Buffer.from("%PDF-1.4 canary attachment bytes \u0000\u0001\u0002 XYZZY-ATT", "latin1"),
};

export interface PortalWorld {
  ctx: TestApp;
  testKey: string;
  messageId: string;
  deliveryId: string;
  /** The notice as delivered (RFC 5322). */
  notice: string;
  /** `/portal/<token>` */
  path: string;
  token: string;
}

/** Whether the worker already turns portal deliveries into notices (helper F). */
export function pipelineSendsNotices(): boolean {
  const dir = new URL("../../src/worker/", import.meta.url);
  return readdirSync(dir).some(
    (f) => f.endsWith(".ts") && readFileSync(new URL(f, dir), "utf8").includes("portalNotice("),
  );
}

export async function startPortalApp(
  t: Parameters<typeof startTestApp>[0],
  opts: { clock?: Clock; worker?: boolean } = {},
): Promise<{ ctx: TestApp; testKey: string }> {
  const ctx = await startTestApp(t, {
    ...(opts.clock === undefined ? {} : { clock: opts.clock }),
    worker: opts.worker ?? true,
  });
  const testKey = await ctx.key(["messages:send", "messages:read", "messages:read_content"], "test");
  return { ctx, testKey };
}

export async function sendPortalMessage(
  ctx: TestApp,
  testKey: string,
): Promise<{ messageId: string; deliveryId: string }> {
  const res = await ctx.app.api.inject({
    method: "POST",
    url: "/v1/messages",
    headers: auth(testKey),
    payload: {
      from: ORIGINAL.from,
      to: ORIGINAL.to,
      subject: ORIGINAL.subject,
      text: ORIGINAL.text,
      html: ORIGINAL.html,
      encryption: "portal",
      attachments: [
        {
          filename: "results.pdf",
          content_type: "application/pdf",
          content: ORIGINAL.attachment.toString("base64"),
        },
      ],
    },
  });
  if (res.statusCode !== 202) throw new Error(`send failed: ${res.statusCode} ${res.body}`);
  const body = res.json() as { id: string; deliveries: { id: string }[] };
  const delivery = body.deliveries[0];
  if (delivery === undefined) throw new Error("no delivery");
  return { messageId: body.id, deliveryId: delivery.id };
}

/** The link in the notice's decoded text part (the raw message is quoted-printable). */
export async function linkOf(notice: string): Promise<{ path: string; token: string }> {
  const text = (await simpleParser(notice)).text ?? "";
  const m = /https?:\/\/[^\s"<]+\/portal\/([A-Za-z0-9_-]{43})/.exec(text);
  if (m?.[1] === undefined) throw new Error("no portal link in the notice");
  return { path: `/portal/${m[1]}`, token: m[1] };
}

/** The notice for the delivery: from the sandbox (full pipeline) or by calling portalNotice. */
export async function noticeFor(
  ctx: TestApp,
  testKey: string,
  messageId: string,
  deliveryId: string,
  direct = false,
): Promise<string> {
  if (!direct && pipelineSendsNotices()) {
    const captured = await eventually(async () => {
      const r = await ctx.app.api.inject({
        url: `/v1/sandbox/messages/${deliveryId}`,
        headers: auth(testKey),
      });
      return r.statusCode === 200 ? (r.json() as { raw: string }) : undefined;
    });
    return Buffer.from(captured.raw, "base64").toString("utf8");
  }
  const notice = await portalNotice(
    { db: ctx.app.db, keyring: ctx.app.keyring, publicUrl: ctx.app.issuer },
    DEFAULT_POLICY,
    {
      orgId: ctx.app.defaultOrgId,
      messageId,
      deliveryId,
      recipient: ORIGINAL.to,
      fromDomain: "example.com",
      now: ctx.app.clock.now(),
    },
  );
  return notice.raw.toString("utf8");
}

export async function portalWorld(
  t: Parameters<typeof startTestApp>[0],
  opts: { clock?: Clock; worker?: boolean } = {},
): Promise<PortalWorld> {
  const { ctx, testKey } = await startPortalApp(t, opts);
  const { messageId, deliveryId } = await sendPortalMessage(ctx, testKey);
  // Without a worker nothing delivers: the test makes the notice itself.
  const notice = await noticeFor(ctx, testKey, messageId, deliveryId, opts.worker === false);
  return { ctx, testKey, messageId, deliveryId, notice, ...(await linkOf(notice)) };
}

interface SandboxItem {
  id: string;
  subject: string;
  envelope_to: string;
}

/** The newest code in the sandbox inbox, waiting for it to arrive (a code is a message like any other). */
export async function readCode(
  ctx: TestApp,
  testKey: string,
  seen: ReadonlySet<string> = new Set(),
): Promise<{ code: string; id: string }> {
  return eventually(async () => {
    const list = (
      await ctx.app.api.inject({ url: "/v1/sandbox/messages", headers: auth(testKey) })
    ).json() as {
      data: SandboxItem[];
    };
    const item = list.data.find((m) => m.subject === "Your code" && !seen.has(m.id));
    if (item === undefined) return undefined;
    const full = (
      await ctx.app.api.inject({ url: `/v1/sandbox/messages/${item.id}`, headers: auth(testKey) })
    ).json() as {
      text: string;
    };
    const code = /\b([0-9]{6})\b/.exec(full.text)?.[1];
    return code === undefined ? undefined : { code, id: item.id };
  });
}

export interface CapturedMessage {
  envelope_to: string;
  from: string;
  subject: string;
  text: string;
  headers: Record<string, string>;
}

/** The reply to the original message, once it arrived in the sandbox inbox. */
export async function readReply(ctx: TestApp, testKey: string): Promise<CapturedMessage> {
  return eventually(async () => {
    const list = (
      await ctx.app.api.inject({ url: "/v1/sandbox/messages", headers: auth(testKey) })
    ).json() as {
      data: SandboxItem[];
    };
    const item = list.data.find((m) => m.subject === `Re: ${ORIGINAL.subject}`);
    if (item === undefined) return undefined;
    const full = await ctx.app.api.inject({ url: `/v1/sandbox/messages/${item.id}`, headers: auth(testKey) });
    return full.json() as CapturedMessage;
  });
}
