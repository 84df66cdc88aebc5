/**
 * hardsync: every low-level durability call behind one typed API.
 *
 * Each operation is a pair: `name()` returns a Promise (run on the libuv threadpool) and
 * `nameSync()` runs on the calling thread; both call the same native function. Errors are
 * shaped like node:fs's. See README.md for what each call guarantees on each OS.
 * @packageDocumentation
 */
export * from './primitives';
export * from './aligned';
export * from './capabilities';
export type { HardsyncError } from './errors';
export * from './types';
export * from './patterns';
