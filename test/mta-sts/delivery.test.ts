/**
 * The policy steps in front of real delivery attempts: resolveRoute → getMtaStsPolicy →
 * applyPolicy → deliverOnce with `requireVerifiedCert` from the policy, against a real SMTP
 * sink. This is the sequence route.ts is expected to run for direct MX delivery.
 *
 * The sink's certificate (test/helpers/certs.ts) is valid for `localhost` only: an MX named
 * `localhost` verifies, an MX with any other name does not.
 */
import assert from "node:assert/strict";
import type { Resolver } from "node:dns/promises";
import { after, before, describe, test } from "node:test";
import { createResolver } from "../../src/delivery/dns.ts";
import {
  applyPolicy,
  effectivePolicy,
  getMtaStsPolicy,
  type MtaStsEvidence,
  memoryMtaStsCache,
} from "../../src/delivery/mta-sts.ts";
import type { AttemptOutcome } from "../../src/delivery/outcome.ts";
import { resolveRoute } from "../../src/delivery/route.ts";
import { deliverOnce } from "../../src/delivery/smtp-client.ts";
import { BASE_OPTS, ENVELOPE, RAW } from "../delivery/fixtures.ts";
import { testCertificate } from "../helpers/certs.ts";
import { type DnsTestServer, startDnsServer } from "../helpers/dns-server.ts";
import { type PolicyServer, startPolicyServer } from "../helpers/policy-server.ts";
import { type SmtpSink, startSmtpSink } from "../helpers/smtp-sink.ts";
import { testCa } from "../helpers/test-ca.ts";
import { requireTool } from "../helpers/tools.ts";
import { policyText, stsRecords } from "./fixtures.ts";

// The DNS server is a private Knot DNS (test/helpers/dns-server.ts): skipped, and listed, without it.
const skip = requireTool(undefined, "dns-server")
  ? false
  : "missing tool: dns-server (install with scripts/install-test-tools.sh)";

const DOMAINS = ["enforce.test", "testing.test", "badcert.test"];

describe("MTA-STS in front of delivery", { skip }, () => {
  let dns: DnsTestServer;
  let resolver: Resolver;
  let policyServer: PolicyServer;
  let policyCa: string;
  let sink: SmtpSink;
  let mxCa: string;

  before(async () => {
    sink = await startSmtpSink();
    mxCa = (await testCertificate()).cert;
    const zone = {
      localhost: [{ type: "A" as const, value: "127.0.0.1" }],
      "mx.elsewhere.test": [{ type: "A" as const, value: "127.0.0.1" }],
      "mx.badcert.test": [{ type: "A" as const, value: "127.0.0.1" }],
      "enforce.test": [
        // The non-matching MX has the better priority: enforce must skip it.
        { type: "MX" as const, value: "mx.elsewhere.test", priority: 5 },
        { type: "MX" as const, value: "localhost", priority: 10 },
      ],
      "testing.test": [{ type: "MX" as const, value: "mx.elsewhere.test", priority: 10 }],
      "badcert.test": [{ type: "MX" as const, value: "mx.badcert.test", priority: 10 }],
      ...Object.assign({}, ...DOMAINS.map((d) => stsRecords(d, "1"))),
    };
    dns = await startDnsServer(zone);
    resolver = createResolver([dns.address], 1000);
    const ca = await testCa();
    policyCa = ca.caCert;
    policyServer = await startPolicyServer({
      ...(await ca.issue(DOMAINS.map((d) => `mta-sts.${d}`))),
      policies: {
        "enforce.test": policyText({ version: "STSv1", mode: "enforce", mx: "localhost", max_age: "86400" }),
        "testing.test": policyText({ version: "STSv1", mode: "testing", mx: "localhost", max_age: "86400" }),
        "badcert.test": policyText({
          version: "STSv1",
          mode: "enforce",
          mx: "*.badcert.test",
          max_age: "86400",
        }),
      },
    });
  });
  after(async () => {
    await Promise.all([dns.close(), policyServer.close(), sink.close()]);
  });

  async function deliver(domain: string): Promise<{ outcomes: AttemptOutcome[]; evidence: MtaStsEvidence }> {
    const route = await resolveRoute(domain, { relay: null, resolver, deliveryPort: sink.port });
    assert.equal(route.kind, "targets");
    if (route.kind !== "targets") throw new Error("no route");
    const sts = await getMtaStsPolicy(domain, {
      resolver,
      cache: memoryMtaStsCache(),
      now: () => Date.now(),
      httpsPort: policyServer.port,
      ca: policyCa,
      timeoutMs: 3000,
    });
    const applied = applyPolicy(route.targets, effectivePolicy(sts));
    const outcomes: AttemptOutcome[] = [];
    for (const target of applied.targets) {
      const outcome = await deliverOnce(target, ENVELOPE, RAW, {
        ...BASE_OPTS,
        requireVerifiedCert: applied.requireVerifiedCert,
        ca: mxCa,
      });
      outcomes.push(outcome);
      if (outcome.kind !== "soft_fail") break;
    }
    return { outcomes, evidence: applied.evidence };
  }

  test("enforce: the non-matching MX is skipped, the matching one is used with a verified certificate", async () => {
    const before = sink.messages.length;
    const { outcomes, evidence } = await deliver("enforce.test");
    assert.deepEqual(evidence, { mode: "enforce", policy_id: "1", mx_mismatch: ["mx.elsewhere.test"] });
    assert.equal(outcomes.length, 1);
    const sent = outcomes[0];
    assert.equal(sent?.kind, "sent");
    assert.equal(sent?.evidence?.host, "localhost");
    assert.equal(sent?.evidence?.certVerified, true);
    assert.equal(sink.messages.length, before + 1);
  });

  test("testing: a non-matching MX with an unverifiable certificate still gets the message", async () => {
    const before = sink.messages.length;
    const { outcomes, evidence } = await deliver("testing.test");
    assert.deepEqual(evidence, { mode: "testing", policy_id: "1", mx_mismatch: ["mx.elsewhere.test"] });
    assert.equal(outcomes[0]?.kind, "sent");
    assert.equal(outcomes[0]?.evidence?.certVerified, false);
    assert.equal(sink.messages.length, before + 1);
  });

  test("enforce: a matching MX whose certificate is not valid for its name is a soft cert_invalid", async () => {
    const before = sink.dataCount();
    const { outcomes } = await deliver("badcert.test");
    assert.equal(outcomes.length, 1);
    assert.equal(outcomes[0]?.kind, "soft_fail");
    assert.equal(outcomes[0]?.kind === "soft_fail" && outcomes[0].reason, "cert_invalid");
    assert.equal(sink.dataCount(), before, "nothing was sent");
  });
});
