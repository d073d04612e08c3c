import assert from "node:assert/strict";
import { createServer, type Socket } from "node:net";
import { before, describe, test } from "node:test";
import { SMTPServer } from "smtp-server";
import type { AttemptOutcome } from "../../src/delivery/outcome.ts";
import { SessionPool, type SessionPoolOptions } from "../../src/delivery/pool.ts";
import type { DeliveryTarget } from "../../src/delivery/smtp-client.ts";
import { testCertificate } from "../helpers/certs.ts";
import { type SmtpSink, type SmtpSinkOptions, startSmtpSink } from "../helpers/smtp-sink.ts";
import { BASE_OPTS, ENVELOPE, RAW, startProxy, type TcpProxy } from "./fixtures.ts";

const LEGACY_TLS = { minVersion: "TLSv1", maxVersion: "TLSv1.1", ciphers: "DEFAULT@SECLEVEL=0" };

function envelope(i: number): { from: string; to: string } {
  return { from: ENVELOPE.from, to: `patient${i}@hospital.example` };
}

function reason(o: AttemptOutcome): string {
  return o.kind === "sent" ? "sent" : o.reason;
}

/** A sink (and optionally a proxy in front of it) and a pool, all closed after `fn`. */
async function withPool(
  sinkOpts: SmtpSinkOptions,
  poolOpts: SessionPoolOptions,
  fn: (ctx: { sink: SmtpSink; pool: SessionPool; target: DeliveryTarget; proxy: TcpProxy }) => Promise<void>,
): Promise<void> {
  const sink = await startSmtpSink(sinkOpts);
  const proxy = await startProxy(sink.port);
  const pool = new SessionPool(poolOpts);
  try {
    await fn({ sink, pool, proxy, target: { host: "127.0.0.1", port: proxy.port } });
  } finally {
    await pool.close();
    await proxy.close();
    await sink.close();
  }
}

async function until(check: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("SessionPool", () => {
  let cert = "";
  before(async () => {
    cert = (await testCertificate()).cert;
  });

  test("reuses one session for messages sent one after another, evidence on each", async () => {
    await withPool({}, {}, async ({ sink, pool, target }) => {
      const outcomes: AttemptOutcome[] = [];
      for (let i = 0; i < 30; i++) outcomes.push(await pool.send(target, envelope(i), RAW, BASE_OPTS));
      assert.deepEqual(new Set(outcomes.map(reason)), new Set(["sent"]));
      assert.equal(sink.connections(), 1);
      assert.equal(sink.messages.length, 30);
      assert.equal(sink.plaintextDataCount(), 0);
      assert.deepEqual(sink.messages[29]?.to, ["patient29@hospital.example"]);
      for (const o of outcomes) {
        assert.match(o.evidence?.tlsVersion ?? "", /^TLSv1\.[23]$/);
        assert.equal(o.reply?.code, 250);
      }
      // Each outcome has its own copy of the session's evidence.
      assert.notEqual(outcomes[0]?.evidence, outcomes[1]?.evidence);
      assert.deepEqual(outcomes[0]?.evidence, outcomes[1]?.evidence);
      assert.equal(pool.stats().opened, 1);
    });
  });

  test("PIPELINING when offered: MAIL FROM, RCPT TO and DATA go out in one write", async () => {
    await withPool({}, {}, async ({ pool, target, proxy }) => {
      assert.equal((await pool.send(target, envelope(0), RAW, BASE_OPTS)).kind, "sent");
      const before = proxy.clientChunks();
      for (let i = 1; i <= 20; i++) await pool.send(target, envelope(i), RAW, BASE_OPTS);
      // Pipelined: the envelope batch and the message data. One command per write would be 4+.
      const perMessage = (proxy.clientChunks() - before) / 20;
      assert.ok(perMessage <= 3, `${perMessage} client writes per message`);
    });
  });

  test("concurrent sends: never more connections than maxPerDestination, all delivered", async () => {
    await withPool({}, { maxPerDestination: 3 }, async ({ sink, pool, target, proxy }) => {
      const outcomes = await Promise.all(
        Array.from({ length: 120 }, (_, i) => pool.send(target, envelope(i), RAW, BASE_OPTS)),
      );
      assert.deepEqual(new Set(outcomes.map(reason)), new Set(["sent"]));
      assert.equal(sink.messages.length, 120);
      assert.ok(proxy.peak() <= 3, `peak ${proxy.peak()}`);
      assert.ok(pool.stats().peakPerDestination <= 3);
      assert.ok(sink.connections() <= 3, `connections ${sink.connections()}`);
      assert.equal(pool.stats().waiting, 0);
    });
  });

  test("a session is closed after maxMessagesPerSession messages", async () => {
    await withPool({}, { maxMessagesPerSession: 4 }, async ({ sink, pool, target }) => {
      for (let i = 0; i < 10; i++)
        assert.equal((await pool.send(target, envelope(i), RAW, BASE_OPTS)).kind, "sent");
      assert.equal(sink.connections(), 3);
    });
  });

  test("an idle session is closed (QUIT) after idleMs", async () => {
    await withPool({}, { idleMs: 100 }, async ({ pool, target, proxy }) => {
      assert.equal((await pool.send(target, ENVELOPE, RAW, BASE_OPTS)).kind, "sent");
      assert.equal(pool.stats().idle, 1);
      await until(() => pool.stats().open === 0 && proxy.open() === 0);
      assert.equal((await pool.send(target, ENVELOPE, RAW, BASE_OPTS)).kind, "sent");
      assert.equal(proxy.connections(), 2);
    });
  });

  test("a 550 on RCPT fails that message only; the same session carries the next", async () => {
    const rejectRcpt = (a: string): number | null =>
      a.startsWith("gone") ? 550 : a.startsWith("busy") ? 451 : null;
    await withPool({ rejectRcpt }, {}, async ({ sink, pool, target }) => {
      const gone = await pool.send(
        target,
        { from: ENVELOPE.from, to: "gone@hospital.example" },
        RAW,
        BASE_OPTS,
      );
      assert.equal(gone.kind, "hard_fail");
      assert.equal(reason(gone), "rejected_permanent");
      assert.equal(gone.reply?.code, 550);
      assert.ok(!JSON.stringify(gone).includes("@"), JSON.stringify(gone));
      assert.ok(gone.evidence?.tlsVersion !== null);
      const busy = await pool.send(
        target,
        { from: ENVELOPE.from, to: "busy@hospital.example" },
        RAW,
        BASE_OPTS,
      );
      assert.equal(busy.kind === "soft_fail" && busy.reason, "rejected_temporary");
      const ok = await pool.send(target, envelope(1), RAW, BASE_OPTS);
      assert.equal(ok.kind, "sent");
      assert.equal(sink.connections(), 1);
      assert.deepEqual(
        sink.messages.map((m) => m.to),
        [["patient1@hospital.example"]],
      );
    });
  });

  test("a connection cut during message data is dropped, not resent; the next send works", async () => {
    const big = Buffer.concat([RAW, Buffer.alloc(64 * 1024, "x\r\n")]);
    await withPool({}, {}, async ({ sink, pool, target, proxy }) => {
      assert.equal((await pool.send(target, envelope(0), RAW, BASE_OPTS)).kind, "sent");
      proxy.cutAfterClientBytes(1000);
      const cut = await pool.send(target, envelope(1), big, BASE_OPTS);
      assert.equal(cut.kind, "soft_fail");
      assert.equal(reason(cut), "connection_failed");
      await until(() => sink.dataCount() === 2);
      assert.equal(pool.stats().opened, 1, "no second connection: the message is not resent");
      assert.equal((await pool.send(target, envelope(2), RAW, BASE_OPTS)).kind, "sent");
      assert.equal(pool.stats().opened, 2);
      assert.deepEqual(
        sink.messages.map((m) => m.to[0]),
        ["patient0@hospital.example", "patient2@hospital.example"],
      );
      assert.equal(sink.dataCount(), 3);
    });
  });

  test("a reused session the server dropped unnoticed: sent once more on a fresh one", async () => {
    await withPool({}, {}, async ({ sink, pool, target, proxy }) => {
      assert.equal((await pool.send(target, envelope(0), RAW, BASE_OPTS)).kind, "sent");
      proxy.dropOnNextClientData();
      const outcome = await pool.send(target, envelope(1), RAW, BASE_OPTS);
      assert.equal(outcome.kind, "sent");
      assert.equal(pool.stats().opened, 2);
      assert.equal(sink.dataCount(), 2, "the dropped attempt never reached DATA");
      assert.equal(sink.messages.length, 2);
    });
  });

  test("421 to MAIL FROM on a reused session (a per-connection limit): sent again on a fresh one", async () => {
    const { cert: serverCert, key } = await testCertificate();
    let received = 0;
    const server = new SMTPServer({
      key,
      cert: serverCert,
      authOptional: true,
      disableReverseLookup: true,
      logger: false,
      onMailFrom(_address, session, callback) {
        // Two transactions per connection, then "closing".
        const refuse = session.transaction > 2;
        callback(refuse ? Object.assign(new Error("4.7.0 Too many messages"), { responseCode: 421 }) : null);
      },
      onData(stream, _session, callback) {
        stream.resume();
        stream.on("end", () => {
          received++;
          callback(null);
        });
      },
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.server.address();
    if (address === null || typeof address === "string") throw new Error("no port");
    const pool = new SessionPool();
    try {
      const target = { host: "127.0.0.1", port: address.port };
      const outcomes: AttemptOutcome[] = [];
      for (let i = 0; i < 5; i++) outcomes.push(await pool.send(target, envelope(i), RAW, BASE_OPTS));
      assert.deepEqual(outcomes.map(reason), ["sent", "sent", "sent", "sent", "sent"]);
      assert.equal(received, 5, "each message exactly once");
      assert.equal(pool.stats().opened, 3);
    } finally {
      await pool.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  test("a session the server closed while idle is not used again", async () => {
    await withPool({}, {}, async ({ pool, target, proxy }) => {
      assert.equal((await pool.send(target, envelope(0), RAW, BASE_OPTS)).kind, "sent");
      proxy.dropAll();
      await until(() => pool.stats().open === 0);
      assert.equal((await pool.send(target, envelope(1), RAW, BASE_OPTS)).kind, "sent");
      assert.equal(proxy.connections(), 2);
    });
  });

  for (const variant of [
    { name: "without STARTTLS", opts: { starttls: false } },
    { name: "offering only TLS 1.0/1.1", opts: { tls: LEGACY_TLS } },
  ]) {
    test(`TLS gate via the pool: a server ${variant.name} never gets DATA`, async () => {
      await withPool(variant.opts, {}, async ({ sink, pool, target }) => {
        const outcomes = await Promise.all(
          Array.from({ length: 20 }, (_, i) => pool.send(target, envelope(i), RAW, BASE_OPTS)),
        );
        assert.deepEqual(new Set(outcomes.map(reason)), new Set(["tls_unavailable"]));
        assert.equal(sink.dataCount(), 0);
        assert.equal(sink.messages.length, 0);
        assert.equal(pool.stats().open, 0);
      });
    });
  }

  test("certificates: verified with the CA, cert_invalid without it (no DATA)", async () => {
    await withPool({}, {}, async ({ sink, pool, proxy }) => {
      const target = { host: "localhost", ip: "127.0.0.1", port: proxy.port };
      const strict = { ...BASE_OPTS, requireVerifiedCert: true };
      const refused = await pool.send(target, ENVELOPE, RAW, strict);
      assert.equal(reason(refused), "cert_invalid");
      assert.equal(refused.evidence?.certError, "DEPTH_ZERO_SELF_SIGNED_CERT");
      assert.equal(sink.dataCount(), 0);
      const ok = await pool.send(target, ENVELOPE, RAW, { ...strict, ca: cert });
      assert.equal(ok.kind, "sent");
      assert.equal(ok.evidence?.certVerified, true);
      // Unverified sessions are not shared with sends that require verification.
      await pool.send(target, ENVELOPE, RAW, BASE_OPTS);
      assert.equal(pool.stats().opened, 3);
    });
  });

  test("a destination that never answers: the callers in line fail with it, not one by one", async () => {
    const sockets = new Set<Socket>();
    const silent = createServer((s) => {
      sockets.add(s);
      s.on("error", () => {});
    });
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const address = silent.address();
    if (address === null || typeof address === "string") throw new Error("no port");
    const pool = new SessionPool({ maxPerDestination: 2 });
    try {
      const started = Date.now();
      const target = { host: "127.0.0.1", port: address.port };
      const outcomes = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          pool.send(target, envelope(i), RAW, { ...BASE_OPTS, timeoutMs: 300 }),
        ),
      );
      assert.deepEqual(new Set(outcomes.map(reason)), new Set(["timeout"]));
      assert.ok(Date.now() - started < 1500, `took ${Date.now() - started} ms`);
      assert.equal(pool.stats().opened, 2);
    } finally {
      await pool.close();
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  test("close() ends every session; sends after it fail softly", async () => {
    await withPool({}, {}, async ({ pool, target, proxy }) => {
      await Promise.all(Array.from({ length: 20 }, (_, i) => pool.send(target, envelope(i), RAW, BASE_OPTS)));
      assert.ok(pool.stats().open > 0);
      await pool.close();
      assert.equal(pool.stats().open, 0);
      await until(() => proxy.open() === 0);
      assert.equal(reason(await pool.send(target, ENVELOPE, RAW, BASE_OPTS)), "connection_failed");
    });
  });

  test("an invalid envelope is refused before any connection", async () => {
    await withPool({}, {}, async ({ pool, target }) => {
      const outcome = await pool.send(
        target,
        { from: "a@b.example", to: "x@y.example>\r\nRCPT TO:<z@w.example" },
        RAW,
        BASE_OPTS,
      );
      assert.equal(outcome.kind === "hard_fail" && outcome.reason, "protocol_error");
      assert.equal(pool.stats().opened, 0);
    });
  });
});
