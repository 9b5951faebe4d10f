/**
 * Seeded randomness for randomised tests: a run prints its seed, and the same
 * seed replays the same choices (mulberry32: small, fast, not cryptographic).
 */

/** A generator of numbers in [0, 1) from a 32-bit seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** The seed in `env[name]` (an integer), else a fresh one from the clock. */
export function seedFromEnv(name: string, env: NodeJS.ProcessEnv = process.env): number {
  const text = env[name];
  if (text === undefined || text === '') return Date.now() % 2_147_483_647;
  const seed = Number(text);
  if (!Number.isSafeInteger(seed)) throw new Error(`${name} must be an integer, got ${JSON.stringify(text)}`);
  return seed;
}
