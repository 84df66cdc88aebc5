/**
 * Argument errors shaped like node:fs's (`code` ERR_INVALID_ARG_TYPE, ERR_INVALID_ARG_VALUE,
 * ERR_OUT_OF_RANGE): what every caller sees for a bad argument, since lib/ validates before
 * any native call. System errors (EIO, EBADF, ...) and ERR_HARDSYNC_UNSUPPORTED are made in
 * native/errors.cc, shaped exactly like node:fs's; so are the addon's own second-line argument
 * checks (reached only by a call that bypasses lib/).
 * @module
 */
import nodePath from 'node:path';
import { inspect, types, type InspectOptions } from 'node:util';

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
 * util.inspect(value, options), as node's errors call it, except that a value inspect cannot
 * format (a detached DataView, a Proxy of a Buffer: their getters throw inside inspect, where
 * node's own error would fail with that bare TypeError) is shown the way that runs none of its
 * code: no getters, no custom inspect, no Proxy traps, no depth.
 */
function show(value: unknown, options?: InspectOptions): string {
  try {
    return inspect(value, options);
  } catch {
    return inspect(value, { depth: -1, getters: false, showProxy: false, customInspect: false, colors: false });
  }
}

/** node's word for the thing named: "argument", or "property" for a dotted name (`options.flush`). */
function kindOf(name: string): string {
  return name.includes('.') ? 'property' : 'argument';
}

/** An own data property's value, read without running a getter or a Proxy trap. */
function ownData(target: object, key: PropertyKey): unknown {
  if (types.isProxy(target)) return undefined;
  return Object.getOwnPropertyDescriptor(target, key)?.value;
}

/**
 * How node's JavaScript validators describe a received value (internal/errors.js
 * determineSpecificType, Node 20): what node:fs says for a bad path, buffer, length or option.
 * Like node, it reads `value.constructor.name` (a getter or Proxy trap there runs, and what it
 * throws propagates) and inspects objects without a constructor. One deliberate difference:
 * a `constructor` that is a primitive makes node throw a bare TypeError from its `in` test;
 * here it is inspected, so the caller still gets ERR_INVALID_ARG_TYPE.
 */
function describeReceived(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  switch (typeof value) {
    case 'bigint':
      return `type bigint (${value}n)`;
    case 'number':
    case 'boolean':
      return `type ${typeof value} (${show(value)})`;
    case 'symbol':
      return `type symbol (${String(value)})`;
    case 'function':
      return `function ${(value as { name?: unknown }).name}`;
    case 'object': {
      const constructor = (value as { constructor?: unknown }).constructor;
      if (constructor && (typeof constructor === 'object' || typeof constructor === 'function') && 'name' in constructor) {
        return `an instance of ${(constructor as { name: unknown }).name}`;
      }
      return show(value, { depth: -1 });
    }
    default: {
      let text = value as string;
      if (text.length > 28) text = `${text.slice(0, 25)}...`;
      return text.includes("'") ? `type string (${JSON.stringify(text)})` : `type string ('${text}')`;
    }
  }
}

/** A function's own name, as V8 keeps it (the `name` data property; '' when there is none). */
function functionName(fn: unknown): string {
  if (typeof fn !== 'function' || types.isProxy(fn)) return '';
  const name = ownData(fn, 'name');
  return typeof name === 'string' ? name : '';
}

/**
 * The class name V8's Object::GetConstructorName gives an object, reading no getter and no
 * Proxy trap: the constructor that made it (unless that is `Object`, or a derived class, whose
 * instances V8 does not mark with it); else, up the prototype chain, the first string
 * Symbol.toStringTag or (on a prototype) `constructor` with a name other than `Object`; else
 * V8's class name (`Arguments` for an arguments object, `Object` otherwise, Proxies included).
 */
function constructorName(value: object): string {
  if (types.isProxy(value)) return 'Object';
  const proto = Object.getPrototypeOf(value) as object | null;
  if (proto !== null && !types.isProxy(proto)) {
    const maker = ownData(proto, 'constructor');
    const name = functionName(maker);
    if (name !== '' && name !== 'Object' && Object.getPrototypeOf(maker) === Function.prototype) return name;
  }
  for (let current: object | null = value; current !== null && !types.isProxy(current); current = Object.getPrototypeOf(current) as object | null) {
    const tag = ownData(current, Symbol.toStringTag);
    if (typeof tag === 'string') return tag;
    if (current !== value) {
      const name = functionName(ownData(current, 'constructor'));
      if (name !== '' && name !== 'Object') return name;
    }
  }
  return types.isArgumentsObject(value) ? 'Arguments' : 'Object';
}

/**
 * How node's C++ fd check describes a received value (node::DetermineSpecificErrorType, used
 * by fs.fsyncSync, fs.fdatasyncSync, fs.fstatSync, fs.closeSync... in Node 20): functions are
 * just "function", objects are named by V8's constructor name, a BigInt has no `n`, and a string
 * is cut at 28 UTF-8 bytes and quoted with ' (or written as JSON, uncut, when it holds a ').
 * A Symbol aborts node there; it is described as the JavaScript validators do.
 */
function describeReceivedByBinding(value: unknown): string {
  if (value === null || value === undefined || typeof value === 'symbol' || typeof value === 'number') return describeReceived(value);
  if (typeof value === 'function') return 'function';
  if (typeof value === 'object') return `an instance of ${constructorName(value)}`;
  if (typeof value === 'string') {
    const bytes = Buffer.from(value, 'utf8');
    const text = bytes.length > 28 ? `${bytes.subarray(0, 25).toString('utf8')}...` : bytes.toString('utf8');
    return text.includes("'") ? `type string (${JSON.stringify(value)})` : `type string ('${text}')`;
  }
  return `type ${typeof value} (${String(value)})`;
}

/** TypeError ERR_INVALID_ARG_TYPE: `The "fd" argument must be of type number. Received ...` */
export function invalidArgType(name: string, expected: string, actual: unknown): TypeError & { code: string } {
  return withCode(new TypeError(`The "${name}" ${kindOf(name)} must be ${expected}. Received ${describeReceived(actual)}`), 'ERR_INVALID_ARG_TYPE');
}

/**
 * The ERR_INVALID_ARG_TYPE for a file descriptor that is not a number, worded as node:fs's
 * flushes word it (their fd check is in C++ and describes values its own way).
 */
export function invalidFdType(actual: unknown): TypeError & { code: string } {
  return withCode(new TypeError(`The "fd" argument must be of type number. Received ${describeReceivedByBinding(actual)}`), 'ERR_INVALID_ARG_TYPE');
}

/** TypeError ERR_INVALID_ARG_VALUE: `The argument 'flush' must be one of ... Received ...` */
export function invalidArgValue(name: string, reason: string, actual: unknown): TypeError & { code: string } {
  let shown = show(actual);
  if (shown.length > 128) shown = `${shown.slice(0, 128)}...`;
  return withCode(new TypeError(`The ${kindOf(name)} '${name}' ${reason}. Received ${shown}`), 'ERR_INVALID_ARG_VALUE');
}

/** 1234567890123 -> 1_234_567_890_123, as node writes large numbers in range errors. */
function withSeparators(digits: string): string {
  let grouped = '';
  let end = digits.length;
  const start = digits.startsWith('-') ? 1 : 0;
  for (; end >= start + 4; end -= 3) grouped = `_${digits.slice(end - 3, end)}${grouped}`;
  return `${digits.slice(0, end)}${grouped}`;
}

/** How node's ERR_OUT_OF_RANGE writes the received value. */
function describeOutOfRange(value: unknown): string {
  if (Number.isInteger(value) && Math.abs(value as number) > 2 ** 32) return withSeparators(String(value));
  if (typeof value === 'bigint') {
    const digits = String(value);
    return `${value > 2n ** 32n || value < -(2n ** 32n) ? withSeparators(digits) : digits}n`;
  }
  return show(value);
}

/** RangeError ERR_OUT_OF_RANGE: `The value of "fd" is out of range. It must be ... Received -1` */
export function outOfRange(name: string, range: string, actual: unknown): RangeError & { code: string } {
  return withCode(new RangeError(`The value of "${name}" is out of range. It must be ${range}. Received ${describeOutOfRange(actual)}`), 'ERR_OUT_OF_RANGE');
}

/**
 * The ERR_OUT_OF_RANGE for a numeric fd outside [0, 2^31-1] or not an integer, worded as
 * node:fs's C++ fd check words it (it prints the number as String() does, with no separators).
 */
export function fdOutOfRange(range: string, actual: number): RangeError & { code: string } {
  return withCode(new RangeError(`The value of "fd" is out of range. It must be ${range}. Received ${String(actual)}`), 'ERR_OUT_OF_RANGE');
}

/**
 * How to call `call` instead: its Promise and Sync forms where it has a pair (`paired` true),
 * `paired` itself when it is a string (a method's own hint), else that it returns its result.
 */
function formsHint(call: string, paired: boolean | string): string {
  if (typeof paired === 'string') return paired;
  if (!paired) return `${call}() returns its result`;
  const base = call.endsWith('Sync') ? call.slice(0, -4) : call;
  return `await ${base}(...) or ${base}Sync(...)`;
}

/**
 * TypeError ERR_INVALID_ARG_TYPE for a function passed to a call that takes none (as a node:fs
 * callback would be): it would otherwise be ignored, never called.
 */
export function callbackRefused(call: string, actual: unknown, paired: boolean | string = true): TypeError & { code: string } {
  return withCode(
    new TypeError(
      `The "callback" argument is not supported: ${call}() takes no callback; hardsync has Promise and Sync forms only (${formsHint(call, paired)}). Received ${describeReceived(actual)}`,
    ),
    'ERR_INVALID_ARG_TYPE',
  );
}

/** TypeError ERR_INVALID_ARG_TYPE for an argument past the ones `call` declares. */
export function extraArgument(call: string, declared: number, index: number, actual: unknown, paired: boolean | string = true): TypeError & { code: string } {
  const takes = `${declared} argument${declared === 1 ? '' : 's'}`;
  return withCode(
    new TypeError(
      `The argument #${index + 1} of ${call}() must be undefined: ${call}() takes ${takes}; hardsync has Promise and Sync forms only (${formsHint(call, paired)}). Received ${describeReceived(actual)}`,
    ),
    'ERR_INVALID_ARG_TYPE',
  );
}

/**
 * Refuses what no hardsync call takes, so that nothing passed is silently ignored: a function
 * after the first argument (a callback, where node:fs's callback API would take one; a function
 * as the first argument is refused by that argument's own check, in node:fs's words) and any
 * argument past the `declared` ones that is not undefined. Both are ERR_INVALID_ARG_TYPE
 * saying that hardsync has Promise and Sync forms only.
 * @param args The call's `arguments`.
 * @param declared How many parameters the call declares (optional ones included).
 * @param call The exported name, for the message.
 * @param paired Whether `call` has a Promise and a Sync form (for the hint in the message), or
 *   the hint itself for a call without that pair (a method: `'await log.append(data)'`).
 */
export function validateArgumentCount(args: IArguments, declared: number, call: string, paired: boolean | string = true): void {
  // (A call that declares no parameter has no first argument's own check to refuse a function.)
  for (let i = declared === 0 ? 0 : 1; i < args.length; i++) {
    const value: unknown = args[i];
    if (typeof value === 'function') throw callbackRefused(call, value, paired);
    if (i >= declared && value !== undefined) throw extraArgument(call, declared, i, value, paired);
  }
}

/**
 * The rejection handler of hardsync's Promise forms (`promise.then(undefined,
 * rethrowWithCallerStack)`): a system error made when a native call completes has no
 * JavaScript frames (its stack is its message line alone). Capturing the stack here, in a
 * reaction of the promise the caller awaits, gives it V8's async frames: `at async
 * <caller>` for every async function awaiting it, as node:fs's promises show. It costs
 * nothing on success. An error that has frames already (thrown from JavaScript) keeps them,
 * and the awaiting callers' frames are added below them. Rethrows `error`.
 */
export function rethrowWithCallerStack(error: unknown): never {
  if (error instanceof Error) addCallerFrames(error);
  throw error;
}

/**
 * hardsync's own files: frames there are not a caller's. dist/lib, and lib/ beside it, where
 * a source-mapped stack (a test runner's) points.
 */
const LIBRARY_DIRS = [nodePath.resolve(__dirname), nodePath.resolve(__dirname, '..', '..', 'lib')].map((dir) => `${dir}${nodePath.sep}`);

/**
 * Whether a stack names code outside hardsync and node already: then it has its caller (an
 * error object that rejects several promises, as a failed group of appends does, keeps the
 * frames of the first caller instead of collecting every caller's in one confusing stack).
 */
function namesACaller(stack: string): boolean {
  return stack.split('\n').some((line) => {
    const at = /^ {4}at (?:.*? \()?((?:[A-Za-z]:)?[\\/][^():]*|file:[^():]*)/.exec(line);
    return at !== null && !LIBRARY_DIRS.some((dir) => at[1].startsWith(dir) || at[1].startsWith(`file://${dir}`));
  });
}

function addCallerFrames(error: Error): void {
  try {
    const stack = error.stack;
    if (typeof stack !== 'string' || !stack.includes('\n    at ')) {
      Error.captureStackTrace(error, rethrowWithCallerStack);
      return;
    }
    if (namesACaller(stack)) return;
    const caller: { stack?: string } = {};
    Error.captureStackTrace(caller, rethrowWithCallerStack);
    const frames = (caller.stack ?? '').split('\n').slice(1).filter((line) => !stack.includes(line));
    if (frames.length > 0) error.stack = `${stack}\n${frames.join('\n')}`;
  } catch {
    // A frozen error, or a stack getter that throws: the error is still worth rethrowing as is.
  }
}
