/**
 * Argument errors shaped like node:fs's (`code` ERR_INVALID_ARG_TYPE, ERR_INVALID_ARG_VALUE,
 * ERR_OUT_OF_RANGE), and the error for a call this OS or filesystem does not offer. System
 * errors (EIO, EBADF, ...) are made in native/errors.cc, shaped exactly like node:fs's.
 * @module
 */
import { inspect } from 'node:util';

/** A Node-style error: `code` always, the system error fields when it came from a syscall. */
export interface HardsyncError extends Error {
  code: string;
  /** Negative libuv error number, as node:fs reports it (system errors only). */
  errno?: number;
  /** The syscall that failed: "fdatasync", "fcntl", "sync_file_range", "open", ... */
  syscall?: string;
  /** The path the call was about, where there is one. */
  path?: string;
  /** The destination of a rename, where there is one. */
  dest?: string;
  /** writeDurable: how many bytes were written before the failure. */
  bytesWritten?: number;
}

function withCode<E extends Error>(error: E, code: string): E & { code: string } {
  Object.defineProperty(error, 'code', { value: code, enumerable: true, writable: true, configurable: true });
  return error as E & { code: string };
}

/**
 * A value as text for an error message, as node shows it, without running any of its code:
 * String() would call toString / Symbol.toPrimitive (which may throw, or be missing as on
 * Object.create(null)); inspect() with these options reads no getter and no Proxy trap.
 */
function show(value: unknown): string {
  return inspect(value, { depth: -1, getters: false, showProxy: false, customInspect: false, colors: false });
}

/** How node describes a received value in an argument error. */
function describeReceived(value: unknown): string {
  if (value == null) return ` Received ${value}`;
  if (typeof value === 'function') return ` Received function ${value.name}`;
  if (typeof value === 'object') {
    // A Proxy's get trap may throw here: that error is the caller's own and propagates.
    const name = (value as object).constructor?.name;
    return name ? ` Received an instance of ${name}` : ` Received ${show(value)}`;
  }
  let shown = show(value);
  if (shown.length > 28) shown = `${shown.slice(0, 25)}...`;
  return ` Received type ${typeof value} (${shown})`;
}

/** TypeError ERR_INVALID_ARG_TYPE: `The "fd" argument must be of type number. Received ...` */
export function invalidArgType(name: string, expected: string, actual: unknown): TypeError & { code: string } {
  return withCode(new TypeError(`The "${name}" argument must be ${expected}.${describeReceived(actual)}`), 'ERR_INVALID_ARG_TYPE');
}

/** TypeError ERR_INVALID_ARG_VALUE: `The argument 'flush' must be one of ... Received ...` */
export function invalidArgValue(name: string, reason: string, actual: unknown): TypeError & { code: string } {
  let shown = show(actual);
  if (shown.length > 128) shown = `${shown.slice(0, 128)}...`;
  return withCode(new TypeError(`The argument '${name}' ${reason}. Received ${shown}`), 'ERR_INVALID_ARG_VALUE');
}

/** RangeError ERR_OUT_OF_RANGE: `The value of "fd" is out of range. It must be ... Received -1` */
export function outOfRange(name: string, range: string, actual: unknown): RangeError & { code: string } {
  const shown = show(actual);
  return withCode(new RangeError(`The value of "${name}" is out of range. It must be ${range}. Received ${shown}`), 'ERR_OUT_OF_RANGE');
}

/** Error ERR_HARDSYNC_UNSUPPORTED: the call does not exist on this OS or filesystem. */
export function unsupported(call: string, why: string): HardsyncError {
  return withCode(new Error(`${call} is not supported: ${why}`), 'ERR_HARDSYNC_UNSUPPORTED') as HardsyncError;
}
