/** MX pattern matching (RFC 8461 section 4.1) and applying a policy to a route's targets. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { applyPolicy, type MtaStsPolicy, mxMatchesPolicy } from "../../src/delivery/mta-sts.ts";

function policy(mode: MtaStsPolicy["mode"], mx: string[]): MtaStsPolicy {
  return { id: "p1", mode, mx, maxAgeSeconds: 86_400, fetchedAt: 0 };
}

describe("mxMatchesPolicy", () => {
  const p = policy("enforce", ["mx.example.com", "*.pool.example.com"]);

  test("exact names match case-insensitively, a trailing dot ignored", () => {
    assert.equal(mxMatchesPolicy("mx.example.com", p), true);
    assert.equal(mxMatchesPolicy("MX.Example.COM.", p), true);
    assert.equal(mxMatchesPolicy("mx2.example.com", p), false);
    assert.equal(mxMatchesPolicy("example.com", p), false);
    assert.equal(mxMatchesPolicy("mx.example.com.evil.test", p), false);
  });

  test("a wildcard matches exactly one left-most label", () => {
    assert.equal(mxMatchesPolicy("a.pool.example.com", p), true);
    assert.equal(mxMatchesPolicy("A-1.POOL.example.com.", p), true);
    assert.equal(mxMatchesPolicy("pool.example.com", p), false, "the bare parent");
    assert.equal(mxMatchesPolicy("a.b.pool.example.com", p), false, "two labels");
    assert.equal(mxMatchesPolicy("apool.example.com", p), false, "not a label boundary");
    assert.equal(mxMatchesPolicy("*.pool.example.com", p), false, "a host name is never a wildcard");
  });

  test("patterns are matched however they are cased", () => {
    assert.equal(mxMatchesPolicy("mx.example.com", policy("enforce", ["MX.EXAMPLE.COM."])), true);
    assert.equal(mxMatchesPolicy("x.example.com", policy("enforce", ["*.EXAMPLE.com"])), true);
  });

  test("internationalized names compare in A-label form", () => {
    const idn = policy("enforce", ["mx.xn--bcher-kva.example"]);
    assert.equal(mxMatchesPolicy("mx.bücher.example", idn), true);
  });

  test("an empty pattern list or an IP literal matches nothing", () => {
    assert.equal(mxMatchesPolicy("mx.example.com", policy("enforce", [])), false);
    assert.equal(mxMatchesPolicy("192.0.2.1", p), false);
  });
});

describe("applyPolicy", () => {
  const targets = [
    { host: "mx.example.com", port: 25, ip: "192.0.2.1" },
    { host: "mx.example.com", port: 25, ip: "2001:db8::1" },
    { host: "backup.other.net", port: 25, ip: "192.0.2.9" },
    { host: "b.pool.example.com", port: 25 },
  ];
  const patterns = ["mx.example.com", "*.pool.example.com"];

  test("enforce: non-matching MX hosts are dropped (order kept) and certificates must verify", () => {
    const applied = applyPolicy(targets, policy("enforce", patterns));
    assert.deepEqual(applied.targets, [targets[0], targets[1], targets[3]]);
    assert.equal(applied.requireVerifiedCert, true);
    assert.deepEqual(applied.evidence, {
      mode: "enforce",
      policy_id: "p1",
      mx_mismatch: ["backup.other.net"],
    });
  });

  test("enforce with every MX matching: all kept, nothing reported", () => {
    const applied = applyPolicy(
      [targets[0], targets[3]].flatMap((t) => (t ? [t] : [])),
      policy("enforce", patterns),
    );
    assert.equal(applied.targets.length, 2);
    assert.deepEqual(applied.evidence.mx_mismatch, []);
    assert.equal(applied.requireVerifiedCert, true);
  });

  test("enforce with no MX matching: no target left (the caller defers)", () => {
    const applied = applyPolicy(targets, policy("enforce", ["mx.elsewhere.test"]));
    assert.deepEqual(applied.targets, []);
    assert.deepEqual(applied.evidence.mx_mismatch, [
      "mx.example.com",
      "backup.other.net",
      "b.pool.example.com",
    ]);
  });

  test("testing: every target kept, no verification required, mismatches reported", () => {
    const applied = applyPolicy(targets, policy("testing", patterns));
    assert.deepEqual(applied.targets, targets);
    assert.notEqual(applied.targets, targets, "a copy");
    assert.equal(applied.requireVerifiedCert, false);
    assert.deepEqual(applied.evidence, {
      mode: "testing",
      policy_id: "p1",
      mx_mismatch: ["backup.other.net"],
    });
  });

  test("mode none and no policy: unchanged", () => {
    assert.deepEqual(applyPolicy(targets, policy("none", [])), {
      targets,
      requireVerifiedCert: false,
      evidence: { mode: "none", policy_id: "p1", mx_mismatch: [] },
    });
    assert.deepEqual(applyPolicy(targets, null), {
      targets,
      requireVerifiedCert: false,
      evidence: { mode: null, policy_id: null, mx_mismatch: [] },
    });
  });
});
