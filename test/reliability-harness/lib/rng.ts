/**
 * Seeds and a small seeded PRNG for the reliability harness.
 *
 * One run seed (SEALPOST_RELIABILITY_SEED, else random) is printed by every part; each part
 * derives its own seed from it by name, so `SEALPOST_RELIABILITY_SEED=<n> npm run
 * test:reliability` replays the same kill schedule, fault choices and fuzz inputs.
 */
import { createHash, randomInt } from "node:crypto";

export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Integer in [min, max]. */
  int(min: number, max: number): number;
  chance(p: number): boolean;
  pick<T>(items: readonly T[]): T;
}

/** mulberry32: tiny, fast and good enough to choose faults and moments. */
export function createRng(seed: number): Rng {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
  return {
    next,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    chance: (p) => next() < p,
    pick<T>(items: readonly T[]): T {
      const item = items[Math.floor(next() * items.length)];
      if (item === undefined) throw new RangeError("pick from an empty list");
      return item;
    },
  };
}

let runSeed: number | undefined;

/** The run seed: SEALPOST_RELIABILITY_SEED (an integer) or a random one, fixed per process. */
export function harnessSeed(): number {
  if (runSeed !== undefined) return runSeed;
  const raw = process.env.SEALPOST_RELIABILITY_SEED;
  if (raw !== undefined && raw !== "") {
    if (!/^\d{1,10}$/.test(raw) || Number(raw) > 0xffffffff)
      throw new RangeError("SEALPOST_RELIABILITY_SEED must be an integer 0-4294967295");
    runSeed = Number(raw);
  } else {
    runSeed = randomInt(0, 0x7fffffff);
  }
  return runSeed;
}

/** A part's own seed, derived from the run seed and the part's name. */
export function partSeed(part: string): number {
  return createHash("sha256").update(`${harnessSeed()}:${part}`).digest().readUInt32BE(0) & 0x7fffffff;
}

/** The line every part prints first, so a failing run can be replayed. */
export function seedLine(part: string): string {
  return `# reliability ${part}: seed ${harnessSeed()} (replay: SEALPOST_RELIABILITY_SEED=${harnessSeed()} npm run test:reliability)`;
}
