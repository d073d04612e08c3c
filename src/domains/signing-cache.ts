import type { Clock } from "../core/clock.ts";
import type { SigningKey } from "./dkim.ts";
import { type DomainDeps, signingKeysFor } from "./service.ts";

/**
 * The worker's view of DKIM keys: decrypted once per org and domain, refreshed after a
 * minute so a rotation takes effect without a restart. Messages are signed when they are
 * sent, so a message queued before a rotation is signed with the key current at sending.
 */
export class SigningKeyCache {
  readonly #deps: DomainDeps;
  readonly #clock: Clock;
  readonly #ttlMs: number;
  readonly #entries = new Map<string, { at: number; keys: Promise<SigningKey[]> }>();

  constructor(deps: DomainDeps, ttlMs = 60_000) {
    this.#deps = deps;
    this.#clock = deps.clock;
    this.#ttlMs = ttlMs;
  }

  get(orgId: string, domain: string): Promise<SigningKey[]> {
    const key = `${orgId}\0${domain}`;
    const now = this.#clock.now();
    const hit = this.#entries.get(key);
    if (hit !== undefined && now - hit.at < this.#ttlMs && now >= hit.at) return hit.keys;
    const keys = signingKeysFor(this.#deps, orgId, domain);
    keys.catch(() => this.#entries.delete(key));
    this.#entries.set(key, { at: now, keys });
    return keys;
  }
}
