'use strict';
// Seeded randomness for the tests, so that a failure's printed seed reproduces the run. Plain
// CommonJS: the power-cut workloads (test/fixtures/powercut/workloads.cjs) run it in child
// processes without TypeScript, and the test files import it as well.

/**
 * A PRNG (mulberry32) giving numbers in [0, 1) from a 32-bit seed.
 * @param {number} seed
 * @returns {() => number}
 */
function rng(seed) {
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
 * @param {number} seed
 * @param {number} n
 * @returns {number}
 */
function mix(seed, n) {
  let h = (seed ^ Math.imul(n + 0x9e3779b9, 0x85ebca6b)) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

module.exports = { rng, mix };
