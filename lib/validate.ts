/**
 * Argument validation, run before any I/O. Every public function validates through these, so
 * a wrong argument always fails the same way: TypeError / RangeError with node's codes.
 * @module
 */
import { fileURLToPath } from 'node:url';
import { types } from 'node:util';
import { fdOutOfRange, invalidArgType, invalidArgValue, invalidFdType, outOfRange } from './errors';
import { native } from './native';
import type { FlushMode } from './types';

/**
 * The flush names writeDurable takes and their codes, read from the addon (native/platform.h
 * FlushKind): every kind but `syncfs`, which flushes a filesystem, not the file written.
 * test/vocabulary.test.ts checks that these are exactly {@link FlushMode}'s names.
 */
export const FLUSH_CODES: Readonly<Record<FlushMode, number>> = Object.freeze(
  Object.fromEntries(Object.entries(native.flushKinds).filter(([name]) => name !== 'syncfs')) as Record<FlushMode, number>,
);

// Here for the modules that validate through this one; it lives in errors.ts so that the
// crashtest entry point, which loads no addon, shares it.
export { validateArgumentCount } from './errors';

const INT32_MAX = 2147483647;

/**
 * A file descriptor: an integer in [0, 2^31-1], refused in the words (and the order of checks)
 * of node:fs's own fd check for fs.fsyncSync: a finite number outside the range is a range
 * error even when it is not an integer (-1.5), an infinite one is "an integer" error.
 */
export function validateFd(fd: unknown): asserts fd is number {
  if (typeof fd !== 'number') throw invalidFdType(fd);
  const outside = fd < 0 || fd > INT32_MAX;
  if (outside && Number.isFinite(fd)) throw fdOutOfRange(`>= 0 && <= ${INT32_MAX}`, fd);
  if (!Number.isInteger(fd)) throw fdOutOfRange('an integer', fd);
}

/** A non-negative safe integer (offsets, lengths, sizes), optionally bounded above. */
export function validateUint(value: unknown, name: string, max: number = Number.MAX_SAFE_INTEGER): asserts value is number {
  if (typeof value !== 'number') throw invalidArgType(name, 'of type number', value);
  if (!Number.isInteger(value)) throw outOfRange(name, 'an integer', value);
  if (value < 0 || value > max) throw outOfRange(name, `>= 0 && <= ${max}`, value);
}

/** An integer in [min, max]: bit flags and the like. */
export function validateIntRange(value: unknown, name: string, min: number, max: number): asserts value is number {
  if (typeof value !== 'number') throw invalidArgType(name, 'of type number', value);
  if (!Number.isInteger(value)) throw outOfRange(name, 'an integer', value);
  if (value < min || value > max) throw outOfRange(name, `>= ${min} && <= ${max}`, value);
}

/** A power of two in [1, max]. */
export function validateAlignment(value: unknown, name: string, max: number): asserts value is number {
  validateIntRange(value, name, 1, max);
  if ((value & (value - 1)) !== 0) throw outOfRange(name, 'a power of two', value);
}

/** `undefined` or a boolean. */
export function validateOptionalBoolean(value: unknown, name: string): asserts value is boolean | undefined {
  if (value !== undefined && typeof value !== 'boolean') throw invalidArgType(name, 'of type boolean', value);
}

/** `undefined` or a plain options object. */
export function validateOptions(value: unknown, name = 'options'): asserts value is Record<string, unknown> | undefined {
  if (value !== undefined && (value === null || typeof value !== 'object')) {
    throw invalidArgType(name, 'of type object', value);
  }
}

/**
 * A string option that must be one of `allowed` (default `fallback` when undefined); anything
 * else is ERR_INVALID_ARG_VALUE: `The argument 'NAME' must be one of 'a', 'b'. Received ...`.
 */
export function validateOneOf<T extends string>(value: unknown, name: string, allowed: readonly T[], fallback: T): T {
  const chosen = value === undefined ? fallback : value;
  if (typeof chosen !== 'string' || !allowed.includes(chosen as T)) {
    throw invalidArgValue(name, `must be one of ${allowed.map((m) => `'${m}'`).join(', ')}`, chosen);
  }
  return chosen as T;
}

/** Returns the flush code for a FlushMode name (default `fallback`). */
export function flushCode(value: unknown, fallback: FlushMode, allowed: readonly FlushMode[] = ALL_FLUSH_MODES): number {
  return FLUSH_CODES[validateOneOf(value, 'flush', allowed, fallback)];
}

const ALL_FLUSH_MODES: readonly FlushMode[] = Object.freeze(Object.keys(FLUSH_CODES) as FlushMode[]);

/** The bytes of a Buffer, TypedArray or DataView; anything else is a TypeError. */
export function validateBytes(value: unknown, name = 'data'): asserts value is ArrayBufferView {
  if (!ArrayBuffer.isView(value)) throw invalidArgType(name, 'an instance of Buffer, TypedArray, or DataView', value);
}

/** A path as node:fs takes it (string, Buffer/Uint8Array as UTF-8, or file: URL), as a string. */
export function toPath(value: unknown, name = 'path'): string {
  let path: string;
  if (typeof value === 'string') path = value;
  else if (types.isUint8Array(value)) {
    // isUint8Array, not instanceof: a Proxy of a Buffer passes instanceof, then its getters
    // throw. A detached or out-of-bounds view has byteLength 0 (and Buffer.from would throw):
    // it is the empty path.
    path = value.byteLength === 0 ? '' : Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('utf8');
  } else if (value instanceof URL && !types.isProxy(value)) {
    // (A Proxy of a URL passes instanceof, then URL's getters throw on it.)
    if (value.protocol !== 'file:') throw invalidArgType(name, 'of type string or an instance of Buffer or URL', value);
    path = fileURLToPath(value);
  } else {
    throw invalidArgType(name, 'of type string or an instance of Buffer or URL', value);
  }
  if (path.length === 0) throw invalidArgValue(name, 'must be a non-empty path', path);
  if (path.includes('\0')) throw invalidArgValue(name, 'must be a string, Uint8Array, or URL without null bytes', path);
  return path;
}

/** A file position: a non-negative safe integer, or null/undefined for "the current position" (-1). */
export function toPosition(value: unknown, name = 'position'): number {
  if (value === null || value === undefined) return -1;
  validateUint(value, name);
  return value;
}
