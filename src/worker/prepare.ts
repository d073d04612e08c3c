import { Readable } from "node:stream";
import { openAttachmentStream } from "../core/attachment-parts.ts";
import { bodyLength, type MessageBody } from "../core/body.ts";
import type { Keyring } from "../core/keyring.ts";
import type { EncryptionMode, StoredContent } from "../core/message.ts";
import { renderMime } from "../core/mime.ts";
import { openContent, recipientAad } from "../core/submit.ts";
import { open } from "../crypto/aead.ts";
import { signMessage } from "../domains/dkim.ts";
import type { Signer } from "../domains/sign-pool.ts";
import type { SigningKeyCache } from "../domains/signing-cache.ts";
import { pixelUrl, tracksOpens, withPixel } from "../opens/pixel.ts";
import { openToken } from "../opens/token.ts";
import type { PolicyCache } from "../policy/org-policy.ts";
import { type Db, toBuffer } from "../store/db.ts";
import { attachmentPartsOf, findMessagesByIds } from "../store/messages.ts";
import type { DeliveriesTable, MessagesTable } from "../store/schema.ts";
import { systemScope } from "../store/scope.ts";

/**
 * Worker step "prepare": decrypts a message and renders its MIME once, shared by all of
 * its recipients through a small cache (messages are claimed together with their
 * siblings most of the time). Messages are read in the org of the delivery that names them.
 *
 * Opens tracking (ADR 0011 §6): when the org tracks opens and the message may carry the
 * pixel (opens/pixel.ts), `raw` (what TLS deliveries send) has it and `unsigned` (what is
 * encrypted per recipient) does not. The pixel names the message, not a recipient.
 */
export interface PreparedMessage {
  id: string;
  orgId: string;
  fromDomain: string;
  mode: "live" | "test";
  createdAt: number;
  dek: Buffer;
  content: StoredContent | null;
  /** The signed message as parts (see core/body.ts), with the opens pixel when there is one; null when the content was shredded. */
  raw: MessageBody | null;
  /**
   * The same rendered message before DKIM (the parts `raw` shares, nothing copied): what is
   * encrypted for a recipient with a key on file, then signed per recipient (ADR 0010 §4).
   */
  unsigned: MessageBody | null;
  /** The message's requested protection (`auto`, `tls`, `portal`, `smime`, `pgp`). */
  encryption: EncryptionMode;
  /** `messages.allow_non_tls`: requested, allowed by the org, no PHI, no attachment. */
  allowNonTls: boolean;
}

/** A delivery's pointer to its message: the message is read in the delivery's org. */
export type MessageRef = Pick<DeliveriesTable, "org_id" | "message_id">;

export class MessageCache {
  readonly #db: Db;
  readonly #keyring: Keyring;
  readonly #limit: number;
  readonly #maxBytes: number;
  readonly #cache = new Map<string, Promise<PreparedMessage>>();
  readonly #sizes = new Map<string, number>();
  #bytes = 0;

  readonly #signing: SigningKeyCache | null;
  readonly #signer: Signer | null;
  readonly #now: () => number;
  readonly #policies: PolicyCache | null;
  readonly #publicUrl: string | null;

  constructor(deps: {
    db: Db;
    keyring: Keyring;
    signing?: SigningKeyCache | null;
    signer?: Signer | null;
    now?: () => number;
    /** With publicUrl: orgs' `track_opens`; without them no message gets a pixel. */
    policies?: PolicyCache | null;
    publicUrl?: string | null;
    limit?: number;
    maxBytes?: number;
  }) {
    this.#db = deps.db;
    this.#keyring = deps.keyring;
    this.#signing = deps.signing ?? null;
    this.#signer = deps.signer ?? null;
    this.#now = deps.now ?? Date.now;
    this.#policies = deps.policies ?? null;
    this.#publicUrl = deps.publicUrl ?? null;
    this.#limit = deps.limit ?? 512;
    this.#maxBytes = deps.maxBytes ?? 64 * 1024 * 1024;
  }

  /** Loads many messages, one query per org, before their deliveries are processed. */
  async preload(deliveries: readonly MessageRef[]): Promise<void> {
    const missing = deliveries.filter((d) => !this.#cache.has(d.message_id));
    for (const [orgId, refs] of Map.groupBy(missing, (d) => d.org_id)) {
      const ids = [...new Set(refs.map((d) => d.message_id))];
      const rows = await findMessagesByIds(systemScope(this.#db, orgId, "worker"), ids);
      for (const row of rows) if (!this.#cache.has(row.id)) this.#remember(row.id, this.#prepare(row));
    }
  }

  get(delivery: MessageRef): Promise<PreparedMessage> {
    const messageId = delivery.message_id;
    const hit = this.#cache.get(messageId);
    if (hit !== undefined) return hit;
    const scope = systemScope(this.#db, delivery.org_id, "worker");
    const p = findMessagesByIds(scope, [messageId]).then((rows) => {
      const row = rows[0];
      if (row === undefined) throw new Error("message row missing");
      return this.#prepare(row);
    });
    this.#remember(messageId, p);
    return p;
  }

  #remember(id: string, p: Promise<PreparedMessage>): void {
    this.#cache.set(id, p);
    p.then(
      (m) => {
        if (this.#cache.get(id) !== p) return;
        const size = m.raw === null ? 0 : bodyLength(m.raw);
        this.#sizes.set(id, size);
        this.#bytes += size;
        this.#evict();
      },
      () => this.#forget(id),
    );
    this.#evict();
  }

  #forget(id: string): void {
    this.#cache.delete(id);
    this.#bytes -= this.#sizes.get(id) ?? 0;
    this.#sizes.delete(id);
  }

  /** Bounded by entries and by bytes, oldest first: a 25 MB message does not pin memory. */
  #evict(): void {
    while (this.#cache.size > this.#limit || (this.#bytes > this.#maxBytes && this.#cache.size > 1)) {
      const first = this.#cache.keys().next();
      if (first.done) break;
      this.#forget(first.value);
    }
  }

  async #prepare(row: MessagesTable): Promise<PreparedMessage> {
    const base = {
      id: row.id,
      orgId: row.org_id,
      fromDomain: row.from_domain,
      mode: row.mode,
      createdAt: row.created_at,
      encryption: row.encryption as EncryptionMode,
      allowNonTls: row.allow_non_tls === 1,
    };
    // Content shredded: nothing to send.
    if (row.data_key === null || row.content === null)
      return { ...base, dek: Buffer.alloc(0), content: null, raw: null, unsigned: null };
    const dek = await this.#keyring.openMessageKey(row.org_id, row.id, row.data_key, row.data_key_id);
    const content = openContent(dek, row.id, row.content);
    // Each attachment streams into the composer part by part, read and opened as it is
    // encoded (ADR 0006): a 25 MB attachment is never whole in memory, sealed or open.
    // A render consumes the streams: each render gets its own.
    const attachments = () =>
      content.attachments.map((a, idx) =>
        Readable.from(
          openAttachmentStream(
            dek,
            row.id,
            idx,
            a.size,
            attachmentPartsOf(systemScope(this.#db, row.org_id, "worker"), row.id, idx),
          ),
          {
            objectMode: false,
          },
        ),
      );
    // A scheduled message is dated when it goes out (its send_at), so inboxes sort it right.
    const date = row.send_at ?? row.created_at;
    const mime = await renderMime({
      messageId: row.id,
      createdAt: date,
      content,
      attachments: attachments(),
    });
    const pixel = await this.#pixelOf(row, content);
    const tracked =
      pixel === null || content.html === null
        ? mime
        : await renderMime({
            messageId: row.id,
            createdAt: date,
            content: { ...content, html: withPixel(content.html, pixel) },
            attachments: attachments(),
          });
    const raw = await this.sign(row.org_id, row.from_domain, tracked);
    return {
      ...base,
      dek,
      content,
      raw,
      unsigned: mime,
    };
  }

  /** The pixel's URL when this message gets one (opens/pixel.ts), else null. */
  async #pixelOf(row: MessagesTable, content: StoredContent): Promise<string | null> {
    if (this.#policies === null || this.#publicUrl === null || content.html === null) return null;
    const policy = await this.#policies.get(row.org_id);
    const facts = { policy, phi: row.phi, encryption: row.encryption as EncryptionMode, hasHtml: true };
    if (!tracksOpens(facts)) return null;
    const { indexKey } = await this.#keyring.orgKeys(row.org_id);
    return pixelUrl(this.#publicUrl, openToken(indexKey, row.org_id, row.id));
  }

  /**
   * Step "sign": DKIM with the From domain's current keys (RSA and Ed25519). Once per message
   * for TLS deliveries; per recipient for what step "protect" composes (an encrypted message,
   * a portal notice), signed after it is composed so DKIM covers what is sent.
   */
  async sign(orgId: string, fromDomain: string, raw: MessageBody): Promise<Buffer[]> {
    const keys = this.#signing === null ? [] : await this.#signing.get(orgId, fromDomain);
    return this.#signer === null
      ? signMessage(raw, fromDomain, keys, this.#now())
      : this.#signer.sign(raw, fromDomain, keys, this.#now());
  }
}

export function openRecipient(dek: Buffer, delivery: DeliveriesTable): string {
  return open(dek, toBuffer(delivery.recipient), recipientAad(delivery.id)).toString("utf8");
}
