/**
 * The parts of API-key authentication on a fresh database of the suite's store: two orgs,
 * the pepper, a real Admission, real JWT keys and the authenticator, on a manual clock.
 * Nothing is mocked; only the clock is fake.
 */
import { randomBytes } from "node:crypto";
import type { TestContext } from "node:test";
import { createAdmission } from "../../src/auth/admission.ts";
import { createAuthenticator, type KeyAuthenticator } from "../../src/auth/authenticate.ts";
import { loadPepper } from "../../src/auth/instance-keys.ts";
import { JwtKeys } from "../../src/auth/jwt.ts";
import type { NewKeyInput } from "../../src/auth/key-input.ts";
import { createKey, type IssuedKey, type KeyDeps, operatorGrantor } from "../../src/auth/keys.ts";
import { OAuthService } from "../../src/auth/oauth.ts";
import type { Admission, AuthContext, Authenticated, Credentials } from "../../src/auth/types.ts";
import { ManualClock } from "../../src/core/clock.ts";
import { Keyring } from "../../src/core/keyring.ts";
import { ensureOrg } from "../../src/core/orgs.ts";
import type { RateLimit } from "../../src/core/rate-limit.ts";
import { localKeyWrapper } from "../../src/crypto/key-provider.ts";
import { masterKeyId } from "../../src/crypto/master-key.ts";
import type { Db } from "../../src/store/db.ts";
import { type OrgScope, systemScope } from "../../src/store/scope.ts";
import { freshDatabase } from "./db.ts";

export const ISSUER = "https://sealpost.test";

export interface KeyFixture {
  db: Db;
  /** A second handle on the same database: another node. */
  openHandle: () => Db;
  clock: ManualClock;
  keyring: Keyring;
  keys: KeyDeps;
  admission: Admission;
  jwt: JwtKeys;
  authenticator: KeyAuthenticator;
  oauth: OAuthService;
  orgA: OrgScope;
  orgB: OrgScope;
  /** A key made by the operator in org A (default: live, every org scope but admin). */
  make(input?: Partial<NewKeyInput>, scope?: OrgScope): Promise<IssuedKey>;
  /**
   * Authenticates by the method the credentials imply, from `ctx.address`, by default a new
   * address of 198.51.100.0/24 each call, so that refusals in a test do not add up to a lockout.
   */
  auth(creds: Credentials, ctx?: Partial<AuthContext>): Promise<Authenticated>;
}

export async function keyFixture(
  t: TestContext,
  opts: { limits?: { key: RateLimit; org: RateLimit }; maxFailures?: number } = {},
): Promise<KeyFixture> {
  const openHandle = await freshDatabase(t);
  const db = openHandle();
  const clock = new ManualClock();
  const master = randomBytes(32);
  const wrapper = localKeyWrapper({ key: master, keyId: masterKeyId(master) });
  const keyring = new Keyring({ db, wrapper, clock });
  const keys: KeyDeps = { db, keyring, clock, pepper: await loadPepper({ db, wrapper, clock }) };
  const admission = createAdmission({
    db,
    maxFailures: opts.maxFailures ?? 10,
    failureWindowMs: 600_000,
    lockoutMs: 900_000,
    exempt: [],
  });
  const jwt = new JwtKeys({ db, wrapper, clock, issuer: ISSUER, ttlSeconds: 900 });
  t.after(() => jwt.close());
  const authenticator = createAuthenticator({
    db,
    keyring,
    clock,
    admission,
    jwt,
    pepper: keys.pepper,
    limits: opts.limits ?? {
      key: { quota: 100_000, windowMs: 1000 },
      org: { quota: 100_000, windowMs: 1000 },
    },
  });
  const orgA = systemScope(db, (await ensureOrg(db, keyring, clock, "org-a")).id, "admin");
  const orgB = systemScope(db, (await ensureOrg(db, keyring, clock, "org-b")).id, "admin");
  let calls = 0;
  return {
    db,
    openHandle,
    clock,
    keyring,
    keys,
    admission,
    jwt,
    authenticator,
    oauth: new OAuthService({ authenticator, jwt }),
    orgA,
    orgB,
    make: (input = {}, scope = orgA) =>
      createKey(keys, scope, operatorGrantor("cli"), {
        mode: "live",
        scopes: ["messages:send", "messages:read", "keys:manage"],
        ...input,
      }),
    auth: (creds, ctx = {}) =>
      authenticator.authenticate(creds, {
        address: `198.51.100.${(calls++ % 254) + 1}`,
        method: "bearer",
        ...ctx,
      }),
  };
}

/** The code of a rejected promise (a SealpostError or OAuthError), for assert.equal. */
export async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    return (err as { code?: string }).code ?? String(err);
  }
  return "no error";
}
