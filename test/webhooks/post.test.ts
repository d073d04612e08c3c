/**
 * One webhook POST (src/webhooks/post.ts) against real HTTP servers on loopback: it
 * connects to the address the SSRF check resolved while sending the URL's own host name
 * (no second resolution), follows no redirect, and gives up after its time limit.
 */
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import { postWebhook } from "../../src/webhooks/post.ts";
import { startReceiver } from "./receiver.ts";

const LOOPBACK = { address: "127.0.0.1", family: 4 } as const;

test("the request goes to the checked address with the URL's host name, and its body and headers", async (t) => {
  const receiver = await startReceiver(t);
  // The name does not resolve anywhere: only the given address can be reached.
  const url = new URL(`http://hooks.invalid:${receiver.port}/in?x=1`);
  const out = await postWebhook({
    url,
    address: LOOPBACK,
    headers: { "webhook-id": "whd_x" },
    body: '{"a":1}',
  });
  assert.deepEqual(out, { kind: "status", status: 204 });
  const [got] = receiver.received;
  assert.equal(got?.headers.host, `hooks.invalid:${receiver.port}`);
  assert.equal(got?.headers["webhook-id"], "whd_x");
  assert.equal(got?.body, '{"a":1}');
});

test("a redirect is not followed, and a silent receiver times out", async (t) => {
  const target = await startReceiver(t);
  let hits = 0;
  const server = createServer((req, res) => {
    hits++;
    if (req.url === "/redirect") {
      res.writeHead(302, { location: target.url }).end();
      return;
    }
    // /silent: never answers.
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  const port = (server.address() as AddressInfo).port;
  const redirected = await postWebhook({
    url: new URL(`http://127.0.0.1:${port}/redirect`),
    address: LOOPBACK,
    headers: {},
    body: "{}",
  });
  assert.deepEqual(redirected, { kind: "status", status: 302 });
  assert.equal(target.received.length, 0);
  const silent = await postWebhook({
    url: new URL(`http://127.0.0.1:${port}/silent`),
    address: LOOPBACK,
    headers: {},
    body: "{}",
    timeoutMs: 200,
  });
  assert.deepEqual(silent, { kind: "error", code: "timeout" });
  assert.equal(hits, 2);
  const refused = await postWebhook({
    url: new URL("http://127.0.0.1:1/x"),
    address: LOOPBACK,
    headers: {},
    body: "{}",
  });
  assert.deepEqual(refused, { kind: "error", code: "connection_failed" });
});
