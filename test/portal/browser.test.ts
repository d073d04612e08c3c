/**
 * The portal end to end in headless Chromium (issue 8 acceptance): a test-mode message sent
 * with `encryption: "portal"` → the notice (nothing of the message in it) → the link → a code
 * read from the sandbox inbox → the message → the attachment's bytes → a reply that arrives,
 * addressed to the original sender. Wrong codes lock a link; a revoked and an expired link
 * show the clear page and no content. axe-core checks every page state: no serious or
 * critical violation. The pages run under their own CSP throughout (no bypass).
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { test } from "node:test";
import type { Browser, Page } from "playwright-core";
import { ManualClock } from "../../src/core/clock.ts";
import { auth, type TestApp } from "../helpers/app.ts";
import { launchBrowser, seriousViolations } from "../helpers/browser.ts";
import {
  linkOf,
  noticeFor,
  ORIGINAL,
  readCode,
  readReply,
  sendPortalMessage,
  startPortalApp,
} from "./fixture.ts";

const SECRETS = ["XYZZY", "Canary", "clinic@example.com", "results.pdf"];

async function assertAccessible(browser: Browser, page: Page, state: string): Promise<void> {
  const bad = await seriousViolations(browser, page);
  assert.deepEqual(bad, [], `axe: serious or critical violations on ${state}`);
}

async function assertNoContent(page: Page): Promise<void> {
  const html = await page.content();
  for (const s of SECRETS) assert.ok(!html.includes(s), `the page shows ${s}`);
}

async function newLink(ctx: TestApp, testKey: string, base: string) {
  const { messageId, deliveryId } = await sendPortalMessage(ctx, testKey);
  const notice = await noticeFor(ctx, testKey, messageId, deliveryId);
  for (const s of SECRETS) assert.ok(!notice.includes(s), `the notice holds ${s}`);
  return { messageId, url: `${base}${(await linkOf(notice)).path}` };
}

test("portal in Chromium: notice, code, message, attachment, reply; lockout, revoked and expired links", async (t) => {
  const browser = await launchBrowser(t);
  if (browser === null) return;
  const clock = new ManualClock(Date.now());
  const { ctx, testKey } = await startPortalApp(t, { clock });
  const base = (await ctx.app.listen()).replace("localhost", "127.0.0.1");
  const api = ctx.app.api;

  const first = await newLink(ctx, testKey, base);
  const context = await browser.newContext({ viewport: { width: 390, height: 844 }, acceptDownloads: true });
  const page = await context.newPage();
  const violations: string[] = [];
  page.on("console", (m) => {
    // Status pages (400, 410, the favicon's 404) log too; only a refused load counts here.
    if (m.type() === "error" && /Content Security Policy|Refused/i.test(m.text())) violations.push(m.text());
  });

  const landing = await page.goto(first.url);
  assert.equal(landing?.status(), 200);
  assert.equal(await page.locator("h1").textContent(), "You have a secure message");
  await assertNoContent(page);
  await assertAccessible(browser, page, "the landing page");

  await page.getByRole("button", { name: "Email me a code" }).click();
  await page.getByLabel("Code").waitFor();
  await assertAccessible(browser, page, "the code form");
  const { code } = await readCode(ctx, testKey);

  await page.getByLabel("Code").fill(code === "000000" ? "111111" : "000000");
  await page.getByRole("button", { name: "Continue" }).click();
  await page.getByRole("alert").waitFor();
  assert.match((await page.getByRole("alert").textContent()) ?? "", /not right/);
  await assertAccessible(browser, page, "the code form with an error");

  await page.getByLabel("Code").fill(code);
  await page.getByRole("button", { name: "Continue" }).click();
  await page.getByRole("heading", { name: "Your secure message" }).waitFor();
  assert.ok(page.url().endsWith("/message"));
  const text = (await page.locator("main").textContent()) ?? "";
  assert.match(text, /XYZZY-BODY/);
  assert.match(text, /Canary subject XYZZY-SUBJ/);
  assert.equal(await page.locator("script").count(), 0);
  assert.equal(await page.locator("img").count(), 0, "the remote image is gone");
  await assertAccessible(browser, page, "the message page");

  const [download] = await Promise.all([
    page.waitForEvent("download"),
    page.getByRole("link", { name: "results.pdf" }).click(),
  ]);
  assert.equal(download.suggestedFilename(), "results.pdf");
  assert.deepEqual(await readFile(await download.path()), ORIGINAL.attachment);

  await page.getByLabel("Your reply").fill("Thanks, see you Tuesday. REPLY-TEXT");
  await page.getByRole("button", { name: "Send reply" }).click();
  await page.getByRole("status").waitFor();
  assert.match((await page.getByRole("status").textContent()) ?? "", /reply was sent/);
  await assertAccessible(browser, page, "the message page after a reply");
  const reply = await readReply(ctx, testKey);
  assert.equal(reply.envelope_to, "clinic@example.com");
  assert.match(reply.text, /REPLY-TEXT/);

  // Revoked: the same browser, with its session, sees the clear page only.
  const revoke = await api.inject({
    method: "POST",
    url: `/v1/messages/${first.messageId}/revoke`,
    headers: auth(testKey),
  });
  assert.deepEqual(revoke.json(), { revoked: 1 });
  const revoked = await page.goto(`${first.url}/message`);
  assert.equal(revoked?.status(), 410);
  assert.equal(await page.locator("h1").textContent(), "This link does not work");
  await assertNoContent(page);
  await assertAccessible(browser, page, "the link-does-not-work page");

  // Wrong codes lock a link.
  const second = await newLink(ctx, testKey, base);
  const other = await (await browser.newContext()).newPage();
  await other.goto(second.url);
  await other.getByRole("button", { name: "Email me a code" }).click();
  for (let i = 0; i < 5; i++) {
    await other.getByLabel("Code").fill("12345x");
    await other.getByRole("button", { name: "Continue" }).click();
    await other.locator("h1").waitFor();
  }
  assert.equal(await other.locator("h1").textContent(), "This link is locked for now");
  await assertNoContent(other);
  await assertAccessible(browser, other, "the locked page");

  // Expired: past the org's 14 days.
  const third = await newLink(ctx, testKey, base);
  clock.advance(15 * 86_400_000);
  const expired = await other.goto(third.url);
  assert.equal(expired?.status(), 410);
  assert.equal(await other.locator("h1").textContent(), "This link does not work");
  await assertNoContent(other);

  assert.deepEqual(
    violations,
    [],
    "nothing refused by the CSP: no script, no remote load, the stylesheet allowed",
  );
});
