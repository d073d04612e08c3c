import { randomBytes } from "node:crypto";
import { open, seal } from "../crypto/aead.ts";
import { blindIndex } from "../crypto/blind-index.ts";
import type { KeyWrapper } from "../crypto/key-provider.ts";
import { generateDataKey, unwrapKey, wrapKey } from "../crypto/keys.ts";
import type { Db } from "../store/db.ts";
import { toBuffer } from "../store/db.ts";
import { activeOrgKeys, findOrgKey } from "../store/orgs.ts";
import type { OrgKeysTable } from "../store/schema.ts";
import type { Clock } from "./clock.ts";
import { newId } from "./ids.ts";

/**
 * The key hierarchy (docs/adr/0003-key-hierarchy.md):
 *   master key (env/file/KMS, behind KeyWrapper)
 *     └ org keys: `data` (wraps message data keys) and `index` (blind-index HMAC key)
 *         └ one data key per message (AES-256-GCM over content, attachments, recipients)
 * Every wrapped key is stored with the id of the key that wrapped it, so keys can rotate.
 * Unwrapped org keys are cached in process memory.
 */
export interface OrgKeySet {
  dataKeyId: string;
  dataKey: Buffer;
  indexKey: Buffer;
}

export interface MessageKey {
  key: Buffer;
  wrapped: Buffer;
  keyId: string;
}

function orgKeyAad(orgId: string, keyId: string, purpose: string): string {
  return `orgkey:${orgId}:${keyId}:${purpose}`;
}

export class Keyring {
  readonly #db: Db;
  readonly #wrapper: KeyWrapper;
  readonly #clock: Clock;
  readonly #active = new Map<string, Promise<OrgKeySet>>();
  readonly #byId = new Map<string, Buffer>();

  constructor(deps: { db: Db; wrapper: KeyWrapper; clock: Clock }) {
    this.#db = deps.db;
    this.#wrapper = deps.wrapper;
    this.#clock = deps.clock;
  }

  /** Fresh wrapped keys for a new org, to insert together with it. */
  async newOrgKeys(orgId: string): Promise<OrgKeysTable[]> {
    const now = this.#clock.now();
    const rows: OrgKeysTable[] = [];
    for (const purpose of ["data", "index"] as const) {
      const id = newId("okey", now);
      const wrapped = await this.#wrapper.wrap(generateDataKey(), orgKeyAad(orgId, id, purpose));
      rows.push({
        id,
        org_id: orgId,
        purpose,
        wrapped,
        master_key_id: this.#wrapper.keyId,
        active: 1,
        created_at: now,
      });
    }
    return rows;
  }

  orgKeys(orgId: string): Promise<OrgKeySet> {
    let set = this.#active.get(orgId);
    if (set === undefined) {
      set = this.#loadOrgKeys(orgId);
      this.#active.set(orgId, set);
      set.catch(() => this.#active.delete(orgId));
    }
    return set;
  }

  async #unwrapRow(row: OrgKeysTable): Promise<Buffer> {
    const cached = this.#byId.get(row.id);
    if (cached !== undefined) return cached;
    const key = await this.#wrapper.unwrap(toBuffer(row.wrapped), orgKeyAad(row.org_id, row.id, row.purpose));
    this.#byId.set(row.id, key);
    return key;
  }

  async #loadOrgKeys(orgId: string): Promise<OrgKeySet> {
    const rows = await activeOrgKeys(this.#db, orgId);
    const data = rows.filter((r) => r.purpose === "data").sort((a, b) => b.created_at - a.created_at)[0];
    const index = rows.find((r) => r.purpose === "index");
    if (data === undefined || index === undefined) throw new Error("org keys missing");
    return {
      dataKeyId: data.id,
      dataKey: await this.#unwrapRow(data),
      indexKey: await this.#unwrapRow(index),
    };
  }

  async #dataKeyById(orgId: string, keyId: string): Promise<Buffer> {
    const cached = this.#byId.get(keyId);
    if (cached !== undefined) return cached;
    const row = await findOrgKey(this.#db, orgId, keyId);
    if (row === undefined) throw new Error("org key not found");
    return this.#unwrapRow(row);
  }

  /** A new per-message data key, wrapped by the org's active data key. */
  async newMessageKey(orgId: string, messageId: string): Promise<MessageKey> {
    const org = await this.orgKeys(orgId);
    const key = generateDataKey(randomBytes);
    return { key, wrapped: wrapKey(org.dataKey, key, `dek:${messageId}`), keyId: org.dataKeyId };
  }

  async openMessageKey(
    orgId: string,
    messageId: string,
    wrapped: Uint8Array,
    keyId: string,
  ): Promise<Buffer> {
    const kek = await this.#dataKeyById(orgId, keyId);
    return unwrapKey(kek, toBuffer(wrapped), `dek:${messageId}`);
  }

  /** Seals org-level secrets (DKIM private keys, suppressed addresses) with the org data key. */
  async sealForOrg(
    orgId: string,
    plaintext: Buffer,
    aad: string,
  ): Promise<{ sealed: Buffer; keyId: string }> {
    const org = await this.orgKeys(orgId);
    return { sealed: seal(org.dataKey, plaintext, aad), keyId: org.dataKeyId };
  }

  async openForOrg(orgId: string, keyId: string, sealed: Uint8Array, aad: string): Promise<Buffer> {
    return open(await this.#dataKeyById(orgId, keyId), toBuffer(sealed), aad);
  }

  /**
   * Seals an org-level value for a row without a column for the sealing key's id (recipient
   * keys, template versions, webhook secrets): the id travels in front of the sealed bytes
   * (one length byte, then the id in ASCII), so a rotated org key still opens old rows.
   */
  async sealOrgValue(orgId: string, plaintext: Buffer, aad: string): Promise<Buffer> {
    const { sealed, keyId } = await this.sealForOrg(orgId, plaintext, aad);
    const id = Buffer.from(keyId, "ascii");
    return Buffer.concat([Buffer.from([id.length]), id, sealed]);
  }

  async openOrgValue(orgId: string, stored: Uint8Array, aad: string): Promise<Buffer> {
    const buf = toBuffer(stored);
    const len = buf[0] ?? 0;
    return this.openForOrg(orgId, buf.subarray(1, 1 + len).toString("ascii"), buf.subarray(1 + len), aad);
  }

  async addressIndex(orgId: string, normalizedAddress: string): Promise<string> {
    return blindIndex((await this.orgKeys(orgId)).indexKey, normalizedAddress, "address");
  }

  async domainIndex(orgId: string, normalizedDomain: string): Promise<string> {
    return blindIndex((await this.orgKeys(orgId)).indexKey, normalizedDomain, "domain");
  }
}
