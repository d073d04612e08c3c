import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { bodyLength, bodyParts, type MessageBody } from "../core/body.ts";
import { siblingModule } from "../core/module-url.ts";
import { type SigningKey, signMessage, withSignatures } from "./dkim.ts";

/**
 * DKIM signing on worker threads, so RSA signatures use the other cores instead of the
 * event loop. Size 0 signs on the calling thread (tests, one-core machines, and the
 * delivery worker's own thread). The message goes to the thread (a copy) and only the
 * signature headers come back; the signed message is those headers in front of the
 * original parts.
 */
export interface Signer {
  sign(raw: MessageBody, domain: string, keys: readonly SigningKey[], now: number): Promise<Buffer[]>;
  close(): Promise<void>;
}

interface Pending {
  resolve: (signatures: string) => void;
  reject: (e: Error) => void;
}

export function defaultSignerThreads(): number {
  return Math.max(1, Math.min(4, availableParallelism() - 1));
}

/**
 * Messages larger than this are signed on the calling thread: posting one to a signer
 * thread copies it, and for a 25 MB attachment the copy costs more (memory) than the
 * RSA signature it would move (CPU).
 */
export const SIGN_INLINE_ABOVE_BYTES = 1 << 20;

/** Signer threads start on first use, so a node that never signs a small message never pays for them. */
export function createSigner(threads: number = defaultSignerThreads()): Signer {
  if (threads <= 0)
    return { sign: (raw, domain, keys, now) => signMessage(raw, domain, keys, now), close: async () => {} };
  const workers: Worker[] = [];
  const pending = new Map<number, Pending>();
  let nextId = 1;
  let turn = 0;
  const spawn = (): Worker => {
    const w = new Worker(siblingModule(import.meta.url, "sign-worker"));
    w.unref();
    w.on("message", (msg: { id: number; signatures?: string; error?: string }) => {
      const p = pending.get(msg.id);
      pending.delete(msg.id);
      if (msg.signatures !== undefined) p?.resolve(msg.signatures);
      else p?.reject(new Error("dkim signing failed"));
    });
    w.on("error", () => {
      // A crashed thread fails what it held; the worker step leaves those leases to expire.
      for (const [id, p] of pending) {
        pending.delete(id);
        p.reject(new Error("dkim signer stopped"));
      }
      const i = workers.indexOf(w);
      if (i >= 0) workers[i] = spawn();
    });
    return w;
  };
  return {
    sign(raw, domain, keys, now) {
      if (keys.length === 0) return Promise.resolve([...bodyParts(raw)]);
      if (bodyLength(raw) > SIGN_INLINE_ABOVE_BYTES) return signMessage(raw, domain, keys, now);
      if (workers.length < threads) workers.push(spawn());
      const id = nextId++;
      const worker = workers[turn++ % workers.length];
      if (worker === undefined) return signMessage(raw, domain, keys, now);
      return new Promise<string>((resolve, reject) => {
        pending.set(id, { resolve, reject });
        worker.ref();
        worker.postMessage({ id, parts: bodyParts(raw), domain, keys, now });
      })
        .then((signatures) => withSignatures(signatures, raw))
        .finally(() => {
          if (pending.size === 0) for (const w of workers) w.unref();
        });
    },
    async close() {
      await Promise.all(workers.map((w) => w.terminate()));
    },
  };
}
