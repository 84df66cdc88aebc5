/**
 * Pieces the durable patterns share: byte conversion of the accepted data types, the flush
 * option, abort errors, per-path serialization, and step-naming of system errors.
 * @module
 */
import { capabilitiesSync } from '../capabilities';
import { invalidArgType, invalidArgValue } from '../errors';
import type { HardsyncError } from '../errors';
import { validateIntRange, validateOneOf } from '../validate';

/** The two flushes the patterns offer; see {@link FlushMode} for what each runs per OS. */
export type PatternFlush = 'data' | 'full';

/** Reads a `'data' | 'full'` option (default `'full'`), throwing ERR_INVALID_ARG_VALUE otherwise. */
export function patternFlush(value: unknown, name = 'options.flush'): PatternFlush {
  return validateOneOf(value, name, PATTERN_FLUSHES, 'full');
}

const PATTERN_FLUSHES: readonly PatternFlush[] = ['data', 'full'];

/**
 * A Buffer over the same memory as any ArrayBufferView (no copy). A detached view is empty
 * (its getters throw, and Buffer.from refuses a detached buffer).
 */
export function viewBytes(view: ArrayBufferView): Buffer {
  if (Buffer.isBuffer(view)) return view;
  let length = 0;
  try {
    length = view.byteLength;
  } catch {
    length = 0;
  }
  return length === 0 ? Buffer.alloc(0) : Buffer.from(view.buffer, view.byteOffset, length);
}

/** Validates a BufferEncoding option (default utf8). */
export function validateEncoding(value: unknown, name = 'options.encoding'): BufferEncoding {
  if (value === undefined) return 'utf8';
  if (typeof value !== 'string' || !Buffer.isEncoding(value)) throw invalidArgValue(name, 'is invalid encoding', value);
  return value;
}

/** One chunk of data (string or bytes) as bytes; anything else is ERR_INVALID_ARG_TYPE. */
export function chunkBytes(chunk: unknown, encoding: BufferEncoding, name: string): Buffer {
  if (typeof chunk === 'string') return Buffer.from(chunk, encoding);
  if (ArrayBuffer.isView(chunk)) return viewBytes(chunk);
  throw invalidArgType(name, 'of type string or an instance of Buffer, TypedArray, or DataView', chunk);
}

/** Validates an optional AbortSignal. */
export function validateSignal(value: unknown, name = 'options.signal'): AbortSignal | undefined {
  if (value === undefined) return undefined;
  if (value === null || typeof value !== 'object' || !('aborted' in value) || typeof (value as AbortSignal).addEventListener !== 'function') {
    throw invalidArgType(name, 'an instance of AbortSignal', value);
  }
  return value as AbortSignal;
}

/** The error node:fs rejects with when an AbortSignal fires: name AbortError, code ABORT_ERR. */
export function abortError(signal: AbortSignal): Error & { code: string } {
  const error = new Error('The operation was aborted', { cause: signal.reason }) as Error & { code: string };
  error.name = 'AbortError';
  error.code = 'ABORT_ERR';
  return error;
}

/** Throws the AbortError if `signal` has fired. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortError(signal);
}

/**
 * Makes a system error name the file it was about: fd-based calls (write, fdatasync, fchmod)
 * come back without a path, and the caller of a pattern needs to know which step on which file
 * failed. Adds `path` and the node-style ` 'path'` suffix to the message when missing.
 */
export function withPath<E>(error: E, path: string): E {
  const e = error as HardsyncError;
  if (e instanceof Error && typeof e.syscall === 'string' && e.path === undefined) {
    e.path = path;
    if (!e.message.includes(`'${path}'`)) {
      const header = `${e.name}: ${e.message}`;
      e.message += ` '${path}'`;
      // The stack's first line was written when the error was made: keep it saying the same.
      if (typeof e.stack === 'string' && e.stack.startsWith(header)) e.stack = `${e.name}: ${e.message}${e.stack.slice(header.length)}`;
    }
  }
  return error;
}

let dirFsyncSupported: boolean | undefined;

/**
 * Whether directories can be fsynced here. Where they cannot (Windows), replaceFile's
 * MoveFileEx WRITE_THROUGH is what makes a rename durable, and a new file's directory entry is
 * only as durable as the filesystem makes it on its own.
 */
export function canFsyncDir(): boolean {
  dirFsyncSupported ??= capabilitiesSync().calls.fsyncDir.supported;
  return dirFsyncSupported;
}

/**
 * Runs async jobs one after another per key (an absolute path): concurrent writeFileAtomic
 * calls on one file in this process must not interleave their renames out of call order.
 */
export class KeyedQueue {
  readonly #tails = new Map<string, Promise<unknown>>();

  /** Runs `job` after every job queued earlier under `key` has settled. */
  run<T>(key: string, job: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    const result = previous.then(job, job);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.#tails.set(key, tail);
    void tail.then(() => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    });
    return result;
  }
}

/** Validates `{ uid, gid }` for chown (-1 leaves that id unchanged, as fchown(2) does). */
export function validateChown(value: unknown, name = 'options.chown'): { uid: number; gid: number } | undefined {
  if (value === undefined) return undefined;
  if (value === null || typeof value !== 'object') throw invalidArgType(name, 'of type object', value);
  const { uid, gid } = value as { uid?: unknown; gid?: unknown };
  validateIntRange(uid, `${name}.uid`, -1, 0xffffffff);
  validateIntRange(gid, `${name}.gid`, -1, 0xffffffff);
  return { uid, gid };
}
