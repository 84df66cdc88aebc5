/** A PRNG (mulberry32) giving numbers in [0, 1) from a 32-bit seed. */
export function rng(seed: number): () => number;
/** The n-th 32-bit seed derived from `seed`. */
export function mix(seed: number, n: number): number;
