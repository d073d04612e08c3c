import { parentPort } from "node:worker_threads";
import { dkimSignatures, type SigningKey } from "./dkim.ts";

/** Runs DKIM signing (RSA is the costliest step per message) off the main thread. */
interface Job {
  id: number;
  parts: Uint8Array[];
  domain: string;
  keys: SigningKey[];
  now: number;
}

parentPort?.on("message", (job: Job) => {
  const parts = job.parts.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength));
  dkimSignatures(parts, job.domain, job.keys, job.now).then(
    (signatures) => parentPort?.postMessage({ id: job.id, signatures }),
    () => parentPort?.postMessage({ id: job.id, error: "dkim_sign_failed" }),
  );
});
