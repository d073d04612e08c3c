import { pooledRandomBytes } from "../crypto/random.ts";

/**
 * Time-ordered, prefixed identifiers: `msg_` + 10 chars of time + 16 chars of randomness,
 * Crockford base32 (ULID layout). Sorting ids sorts by creation time, which makes them
 * usable as pagination cursors.
 */
const ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz";

export type IdPrefix =
  | "msg"
  | "dlv"
  | "evt"
  | "org"
  | "key"
  | "okey"
  | "att"
  | "dom"
  | "sup"
  | "ikey"
  | "aud"
  | "hold"
  | "pl"
  | "rk"
  | "tpl"
  | "whk"
  | "whd";

export type RandomSource = (size: number) => Buffer;

function encodeTime(ms: number): string {
  let out = "";
  let t = ms;
  for (let i = 0; i < 10; i++) {
    out = ALPHABET[t % 32] + out;
    t = Math.floor(t / 32);
  }
  return out;
}

/**
 * Within one millisecond, ids made by this process increase (monotonic ULID): the last
 * random part is incremented instead of drawn again, so events recorded together keep
 * their order.
 */
let lastTime = -1;
let lastRandom: number[] = [];

function increment(digits: number[]): number[] {
  const out = [...digits];
  for (let i = out.length - 1; i >= 0; i--) {
    const d = (out[i] ?? 0) + 1;
    if (d < 32) {
      out[i] = d;
      return out;
    }
    out[i] = 0;
  }
  return out;
}

export function newId(
  prefix: IdPrefix,
  nowMs: number = Date.now(),
  random: RandomSource = pooledRandomBytes,
): string {
  if (nowMs === lastTime) {
    lastRandom = increment(lastRandom);
  } else {
    lastTime = nowMs;
    const bytes = random(16);
    // Top bit clear leaves room to increment without overflow.
    lastRandom = Array.from({ length: 16 }, (_, i) => (bytes[i] ?? 0) & (i === 0 ? 15 : 31));
  }
  return `${prefix}_${encodeTime(nowMs)}${lastRandom.map((d) => ALPHABET[d]).join("")}`;
}

const ID_RE = /^[a-z]{2,4}_[0-9a-hjkmnp-tv-z]{26}$/;

export function isId(value: string, prefix: IdPrefix): boolean {
  return value.startsWith(`${prefix}_`) && ID_RE.test(value);
}
