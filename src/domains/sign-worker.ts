import { parentPort } from "node:worker_threads";
import { type SigningKey, signMessage } from "./dkim.ts";

/** Runs DKIM signing (RSA is the costliest step per message) off the main thread. */
interface Job {
  id: number;
  raw: Uint8Array;
  domain: string;
  keys: SigningKey[];
  now: number;
}

parentPort?.on("message", (job: Job) => {
  const raw = Buffer.from(job.raw.buffer, job.raw.byteOffset, job.raw.byteLength);
  signMessage(raw, job.domain, job.keys, job.now).then(
    (out) => {
      const bytes = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
      parentPort?.postMessage({ id: job.id, out: bytes });
    },
    () => parentPort?.postMessage({ id: job.id, error: "dkim_sign_failed" }),
  );
});
