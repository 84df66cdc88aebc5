/**
 * Seeded randomness, so that a printed seed replays a run: crashtest's cut schedule, and the
 * project's tests and power-cut workloads (test/helpers/seeded.cjs re-exports this).
 * @module
 */

/** A PRNG (mulberry32) giving numbers in [0, 1) from a 32-bit seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The n-th 32-bit seed derived from `seed` (a murmur3-style finalizer): one per run of a
 * campaign, each independent of the others.
 */
export function mix(seed: number, n: number): number {
  let h = (seed ^ Math.imul(n + 0x9e3779b9, 0x85ebca6b)) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}
