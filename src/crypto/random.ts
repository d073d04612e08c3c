import { randomFillSync } from "node:crypto";

/**
 * Cryptographically secure random bytes, drawn from the OS in 4 KB blocks: IVs and ids
 * need a few bytes each, and one system call per value showed in the profile. Every
 * returned buffer is a fresh copy; no byte is handed out twice.
 */
const BLOCK = 4096;
let pool = Buffer.alloc(0);
let offset = 0;

export function pooledRandomBytes(size: number): Buffer {
  if (size > BLOCK / 4) return randomFillSync(Buffer.alloc(size));
  if (offset + size > pool.length) {
    pool = randomFillSync(Buffer.allocUnsafe(BLOCK));
    offset = 0;
  }
  const out = Buffer.from(pool.subarray(offset, offset + size));
  pool.fill(0, offset, offset + size);
  offset += size;
  return out;
}
