/**
 * hardsync: every low-level durability call behind one typed API.
 *
 * Each operation is a pair: `name()` returns a Promise and `nameSync()` runs on the calling
 * thread; both call the same native function. The Promise forms of the flushes and
 * writeDurable run on hardsync's engine (io_uring on Linux, else its own flush threads; see
 * {@link engine}), never on libuv's threadpool. Errors are shaped like node:fs's. See
 * README.md for what each call guarantees on each OS.
 * @packageDocumentation
 */
export * from './primitives';
export * from './aligned';
export * from './mapped';
export * from './capabilities';
export type { HardsyncError } from './errors';
export * from './types';
export * from './patterns';
