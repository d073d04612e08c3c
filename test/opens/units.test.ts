/**
 * The pieces of opens tracking (ADR 0011 §6) on their own: which messages get a pixel, where
 * it goes in the HTML, and that tokens are bound to their org key, org and message.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { pixelUrl, tracksOpens, withPixel } from "../../src/opens/pixel.ts";
import { openToken, openTokenValid, parseOpenToken } from "../../src/opens/token.ts";

const ORG = "org_01jabcdefghjkmnpqrstvwxyz0";
const MSG = "msg_01jabcdefghjkmnpqrstvwxyz1";

test("a pixel only with track_opens, no PHI, HTML, and plain TLS (auto or tls, not forced otherwise)", () => {
  const on = { track_opens: true, force_mode: null };
  const facts = { policy: on, phi: null, encryption: "auto" as const, hasHtml: true };
  assert.equal(tracksOpens(facts), true);
  assert.equal(tracksOpens({ ...facts, encryption: "tls" }), true);
  assert.equal(tracksOpens({ ...facts, policy: { ...on, force_mode: "tls" } }), true);
  assert.equal(tracksOpens({ ...facts, policy: { ...on, track_opens: false } }), false);
  assert.equal(tracksOpens({ ...facts, phi: '{"total":1}' }), false);
  assert.equal(tracksOpens({ ...facts, hasHtml: false }), false);
  for (const encryption of ["portal", "smime", "pgp"] as const)
    assert.equal(tracksOpens({ ...facts, encryption }), false, encryption);
  for (const force_mode of ["portal", "smime", "pgp"] as const)
    assert.equal(tracksOpens({ ...facts, policy: { ...on, force_mode } }), false, force_mode);
});

test("the pixel goes before the last </body>, or at the end; its URL is attribute-escaped", () => {
  const url = pixelUrl("https://mail.example/", "tok");
  assert.equal(url, "https://mail.example/t/o/tok.gif");
  const html = withPixel("<html><BODY><p>x</p></BODY></html>", url);
  assert.match(
    html,
    /<p>x<\/p><img src="https:\/\/mail\.example\/t\/o\/tok\.gif" width="1" height="1" alt=""[^>]*\/><\/BODY><\/html>$/,
  );
  assert.match(withPixel("<p>x</p>", url), /^<p>x<\/p><img /);
  assert.match(
    withPixel("", 'https://a.example/?a=1&b="2"'),
    /src="https:\/\/a\.example\/\?a=1&amp;b=&quot;2&quot;"/,
  );
});

test("tokens verify only with their org key, org and message", () => {
  const key = randomBytes(32);
  const token = openToken(key, ORG, MSG);
  const parsed = parseOpenToken(token);
  assert.ok(parsed !== null);
  assert.deepEqual({ orgId: parsed.orgId, messageId: parsed.messageId }, { orgId: ORG, messageId: MSG });
  assert.equal(openTokenValid(key, parsed), true);
  assert.equal(openTokenValid(randomBytes(32), parsed), false);
  const moved = parseOpenToken(token.replace(MSG, "msg_01jabcdefghjkmnpqrstvwxyz2"));
  assert.ok(moved !== null);
  assert.equal(openTokenValid(key, moved), false);
  assert.equal(parseOpenToken(`${token}x`), null);
  assert.equal(parseOpenToken("../../etc"), null);
});
