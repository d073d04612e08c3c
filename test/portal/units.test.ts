/**
 * The portal's parts with a fake clock (ADR 0010 §6): tokens, codes, sessions and the HTML
 * cleaner on their own; then, on a real store, link renewal, code expiry, the lockout and
 * its end, session expiry and link expiry.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ManualClock } from "../../src/core/clock.ts";
import { DEFAULT_POLICY } from "../../src/policy/types.ts";
import { requestCode, verifyCode } from "../../src/portal/code-flow.ts";
import { codeHash, newCode, normalizeCode } from "../../src/portal/codes.ts";
import { isTokenShape, newToken, portalUrl, tokenHash } from "../../src/portal/links.ts";
import { portalNotice } from "../../src/portal/notice.ts";
import { sanitizeMessageHtml } from "../../src/portal/sanitize.ts";
import { csrfToken, csrfValid, sessionCookie, sessionFromCookies } from "../../src/portal/session.ts";
import { type OpenLink, resolveLink, sessionValid } from "../../src/portal/state.ts";
import type { PortalDeps } from "../../src/portal/types.ts";
import { updateLink } from "../../src/store/portal.ts";
import { linkOf, ORIGINAL, sendPortalMessage, startPortalApp } from "./fixture.ts";

const MINUTE = 60_000;
const DAY = 86_400_000;
const ACTOR = { sourceIp: "127.0.0.1", requestId: "req_test" };

test("tokens: 32 random bytes in base64url, stored as SHA-256 hex", () => {
  const a = newToken();
  assert.equal(a.length, 43);
  assert.ok(isTokenShape(a));
  assert.notEqual(a, newToken());
  assert.match(tokenHash(a), /^[0-9a-f]{64}$/);
  assert.equal(
    newToken(() => Buffer.alloc(32, 0xff)),
    `${"_".repeat(42)}8`,
  );
  assert.ok(!isTokenShape(`${a}=`));
  assert.ok(!isTokenShape("../etc"));
  assert.equal(portalUrl("https://mail.example/", a), `https://mail.example/portal/${a}`);
});

test("codes: six digits, keyed and bound to the link", () => {
  assert.equal(
    newCode(() => 42),
    "000042",
  );
  assert.match(newCode(), /^[0-9]{6}$/);
  const key = Buffer.alloc(32, 1);
  assert.equal(codeHash(key, "pl_a", "123456"), codeHash(key, "pl_a", "123456"));
  assert.notEqual(codeHash(key, "pl_a", "123456"), codeHash(key, "pl_b", "123456"));
  assert.notEqual(codeHash(key, "pl_a", "123456"), codeHash(Buffer.alloc(32, 2), "pl_a", "123456"));
  assert.equal(normalizeCode(" 123 456 "), "123456");
  assert.equal(normalizeCode("123-456"), "123456");
  assert.equal(normalizeCode("12345"), null);
  assert.equal(normalizeCode("12345x"), null);
});

test("sessions: the cookie's attributes and a CSRF token derived from the session", () => {
  const session = newToken();
  const cookie = sessionCookie(session, "TOKEN", false);
  assert.equal(cookie, `sp_portal=${session}; Path=/portal/TOKEN; Max-Age=1800; HttpOnly; SameSite=Strict`);
  assert.match(sessionCookie(session, "TOKEN", true), /; Secure$/);
  assert.equal(sessionFromCookies(`a=b; sp_portal=${session}`), session);
  assert.equal(sessionFromCookies("sp_portal=short"), null);
  assert.equal(sessionFromCookies(undefined), null);
  assert.ok(csrfValid(session, csrfToken(session)));
  assert.ok(!csrfValid(session, csrfToken(newToken())));
  assert.ok(!csrfValid(session, ""));
});

test("the message HTML: an allow-list, no script, style, frame or remote load", () => {
  const out = sanitizeMessageHtml(
    [
      "<p>Hello <b>there</b></p>",
      "<script>alert(1)</script><style>p{background:url(https://x.example/a)}</style>",
      '<iframe src="https://x.example"></iframe><object data="x"></object><form><input></form>',
      '<img src="https://tracker.example/p.png" alt="t"><img src="data:image/png;base64,AAAA" alt="inline">',
      '<a href="javascript:alert(1)">js</a><a href="http://plain.example">plain</a>',
      '<a href="https://ok.example/x" onclick="x()">ok</a><a href="mailto:a@b.example">mail</a>',
      '<p style="color:red" class="x" onmouseover="y()">styled</p>',
    ].join(""),
  );
  assert.match(out, /<p>Hello <b>there<\/b><\/p>/);
  for (const bad of [
    "<script",
    "alert(1)",
    "<style",
    "x.example",
    "<iframe",
    "<object",
    "<form",
    "<input",
    "tracker",
    "javascript:",
    "http://plain",
    "onclick",
    "style=",
    "onmouseover",
  ])
    assert.ok(!out.includes(bad), `${bad} survived: ${out}`);
  assert.match(out, /<img src="data:image\/png;base64,AAAA" alt="inline" \/>/);
  assert.match(out, /<a href="https:\/\/ok\.example\/x" rel="noopener noreferrer" target="_blank">ok<\/a>/);
  assert.match(out, /<a href="mailto:a@b\.example" rel="noopener noreferrer" target="_blank">mail<\/a>/);
});

test("links with a fake clock: renewal, code expiry, lockout and its end, session and link expiry", async (t) => {
  const clock = new ManualClock(Date.UTC(2026, 10, 26, 9));
  const { ctx, testKey } = await startPortalApp(t, { clock, worker: false });
  const { messageId, deliveryId } = await sendPortalMessage(ctx, testKey);
  const app = ctx.app;
  const deps: PortalDeps = { db: app.db, keyring: app.keyring, clock, submit: app.submit, audit: app.audit };
  const notice = (policy = DEFAULT_POLICY) =>
    portalNotice({ db: app.db, keyring: app.keyring, publicUrl: "https://portal.example" }, policy, {
      orgId: app.defaultOrgId,
      messageId,
      deliveryId,
      recipient: ORIGINAL.to,
      fromDomain: "example.com",
      now: clock.now(),
    });
  const open = async (token: string): Promise<OpenLink> => {
    const state = await resolveLink(deps, token);
    assert.equal(state.kind, "open");
    return state as OpenLink;
  };

  const first = await notice();
  assert.equal(first.expiresAt, clock.now() + 14 * DAY);
  const firstToken = (await linkOf(first.raw.toString("utf8"))).token;
  assert.match(first.raw.toString("utf8"), /https:\/\/portal\.example\/portal\//);
  await open(firstToken);
  // A renewed notice: the same link row, a new token; the old one is unknown.
  clock.advance(MINUTE);
  const second = await notice();
  assert.equal(second.linkId, first.linkId);
  const token = (await linkOf(second.raw.toString("utf8"))).token;
  assert.equal((await resolveLink(deps, firstToken)).kind, "unknown");
  assert.equal((await resolveLink(deps, "A".repeat(43))).kind, "unknown");
  const link = await open(token);

  // A code works for 10 minutes.
  const { indexKey } = await app.keyring.orgKeys(app.defaultOrgId);
  const setCode = (code: string) =>
    updateLink(link.scope, link.link.id, {
      code_hash: codeHash(indexKey, link.link.id, code),
      code_expires_at: clock.now() + 10 * MINUTE,
    });
  assert.equal((await verifyCode(deps, await open(token), "123456", ACTOR)).kind, "no_code");
  await setCode("123456");
  clock.advance(10 * MINUTE);
  assert.equal((await verifyCode(deps, await open(token), "123456", ACTOR)).kind, "no_code");

  // Five wrong codes lock the link for 15 minutes; then the count starts again.
  await setCode("123456");
  for (let left = 4; left >= 1; left--)
    assert.deepEqual(await verifyCode(deps, await open(token), "654321", ACTOR), { kind: "wrong", left });
  assert.deepEqual(await verifyCode(deps, await open(token), "654321", ACTOR), {
    kind: "locked",
    minutes: 15,
  });
  assert.deepEqual(await verifyCode(deps, await open(token), "123456", ACTOR), {
    kind: "locked",
    minutes: 15,
  });
  assert.deepEqual(await requestCode(deps, await open(token), ACTOR), { kind: "locked", minutes: 15 });
  clock.advance(14 * MINUTE);
  assert.deepEqual(await requestCode(deps, await open(token), ACTOR), { kind: "locked", minutes: 1 });
  clock.advance(MINUTE);
  assert.deepEqual(await requestCode(deps, await open(token), ACTOR), { kind: "sent" });
  // Asked again within the minute: no new code is mailed, the one just sent stays good.
  const sent = (await open(token)).link.code_hash;
  clock.advance(MINUTE / 2);
  assert.deepEqual(await requestCode(deps, await open(token), ACTOR), { kind: "sent" });
  assert.equal((await open(token)).link.code_hash, sent);
  await setCode("123456");
  assert.deepEqual(await verifyCode(deps, await open(token), "111111", ACTOR), { kind: "wrong", left: 4 });

  // The right code: a session for 30 minutes.
  const verified = await verifyCode(deps, await open(token), "123 456", ACTOR);
  assert.equal(verified.kind, "verified");
  const session = verified.kind === "verified" ? verified.session : "";
  assert.ok(sessionValid((await open(token)).link, session, clock.now()));
  assert.ok(!sessionValid((await open(token)).link, newToken(), clock.now()));
  assert.ok(!sessionValid((await open(token)).link, session, clock.now() + 30 * MINUTE));

  // The org's lock length and attempt count apply.
  const strict = { ...DEFAULT_POLICY, portal_code_attempts: 1, portal_lock_minutes: 2 };
  await app.db.kysely
    .updateTable("orgs")
    .set({ policy: JSON.stringify(strict) })
    .where("id", "=", app.defaultOrgId)
    .execute();
  app.submit.policies.forget(app.defaultOrgId);
  await setCode("123456");
  assert.deepEqual(await verifyCode(deps, await open(token), "000000", ACTOR), {
    kind: "locked",
    minutes: 2,
  });

  // The link expires after the org's days.
  clock.set(second.expiresAt - 1);
  await open(token);
  clock.set(second.expiresAt);
  assert.equal((await resolveLink(deps, token)).kind, "gone");

  // A message whose content retention destroyed: its link opens nothing either.
  const purged = await sendPortalMessage(ctx, testKey);
  const purgedNotice = await portalNotice(
    { db: app.db, keyring: app.keyring, publicUrl: "https://portal.example" },
    DEFAULT_POLICY,
    {
      orgId: app.defaultOrgId,
      messageId: purged.messageId,
      deliveryId: purged.deliveryId,
      recipient: ORIGINAL.to,
      fromDomain: "example.com",
      now: clock.now(),
    },
  );
  const purgedToken = (await linkOf(purgedNotice.raw.toString("utf8"))).token;
  await open(purgedToken);
  await app.db.kysely
    .updateTable("messages")
    .set({ data_key: null, content: null, content_purged_at: clock.now() })
    .where("id", "=", purged.messageId)
    .execute();
  assert.equal((await resolveLink(deps, purgedToken)).kind, "gone");
});
