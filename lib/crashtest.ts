/**
 * `hardsync/crashtest`: what a program tested by `hardsync crashtest` uses to say what it
 * promised, and what a checker uses to read those promises back.
 *
 * A workload calls {@link acknowledge} right before it makes a promise to its own caller (a
 * resolved write, an "OK" sent to a client): the acknowledgement is recorded by the power-cut
 * simulator before the call returns, so every promise the program makes comes after the
 * record of it, and once the power is cut no acknowledgement can be recorded any more (the
 * call fails with EIO, as a dead machine acknowledges nothing). Outside `hardsync crashtest`
 * both calls do nothing, so a program can keep them.
 *
 * The record is a text file, one JSON object a line (see {@link Acknowledgement}); a workload in
 * another language writes the same lines to the file descriptor in `HARDSYNC_CRASHTEST_ACK_FD`
 * (or appends them to the file `HARDSYNC_CRASHTEST_ACK_PATH`), one line per write.
 *
 * This module loads no native code.
 * @module
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { invalidArgType, invalidArgValue, outOfRange, validateArgumentCount } from './errors';

/** The environment variables `hardsync crashtest` sets for the workload, its setup and its checker. */
export const CRASHTEST_ENV = Object.freeze({
  /** The directory the workload works in and the checker inspects (on the simulator). */
  dir: 'HARDSYNC_CRASHTEST_DIR',
  /** Workload: a file descriptor open on the acknowledgements file. */
  ackFd: 'HARDSYNC_CRASHTEST_ACK_FD',
  /** Workload: the acknowledgements file's path, for processes that did not inherit the descriptor. */
  ackPath: 'HARDSYNC_CRASHTEST_ACK_PATH',
  /** Checker: the file holding the run's acknowledgements (outside the simulator). */
  acks: 'HARDSYNC_CRASHTEST_ACKS',
  /** The run's seed (a workload may draw its own random choices from it, so a replay is exact). */
  seed: 'HARDSYNC_CRASHTEST_SEED',
  /** The run's number from 0, or `calibration` for the run without a cut that comes first. */
  run: 'HARDSYNC_CRASHTEST_RUN',
  /** Checker: where the power was cut, e.g. `op 17`, `flush 3`, `write 5`, `time 120ms`, `exit`. */
  cut: 'HARDSYNC_CRASHTEST_CUT',
});

/** A value up to this size is recorded whole in its line; a larger one by its size and SHA-256 only. */
export const ACK_INLINE_BYTES = 64 * 1024;
const MAX_KEY_LENGTH = 4096;
/** The simulator's inode number for its acknowledgements file (powercut-fs.c ACKS_INO). */
const ACKS_INO = 3;

/**
 * One line of the acknowledgements file, parsed. On disk each is one JSON object a line:
 * `{"op":"ack","key":K}` (K exists), `{"op":"ack","key":K,"deleted":true}` (K does not exist),
 * or `{"op":"ack","key":K,"size":N,"sha256":H,"value":TEXT}` (K holds those bytes; `base64`
 * instead of `value` for bytes that are not text, neither for more than
 * {@link ACK_INLINE_BYTES}). `op` is `intend` for {@link intend}. A last line without its
 * newline was cut short by the power failure and is not an acknowledgement.
 */
export interface Acknowledgement {
  /** `ack`: promised; `intend`: announced before the work, may or may not be there after a cut. */
  op: 'ack' | 'intend';
  key: string;
  /** Its line in the file, from 1. */
  line: number;
  /** The key was promised to be gone. */
  deleted?: true;
  /** The value's size in bytes, when one was given. */
  size?: number;
  /** The value's SHA-256 (hex), when one was given. */
  sha256?: string;
  /** The value itself, when it was recorded whole. */
  value?: Buffer;
}

type AckValue = string | ArrayBufferView | null | undefined;

function validateKey(key: unknown): asserts key is string {
  if (typeof key !== 'string') throw invalidArgType('key', 'of type string', key);
  if (key.length === 0) throw invalidArgValue('key', 'must be a non-empty string', key);
  if (key.length > MAX_KEY_LENGTH) throw outOfRange('key.length', `<= ${MAX_KEY_LENGTH}`, key.length);
}

function valueBytes(value: unknown): Buffer | null | undefined {
  if (value === undefined || value === null) return value;
  if (typeof value === 'string') return Buffer.from(value, 'utf8');
  if (ArrayBuffer.isView(value)) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  throw invalidArgType('value', 'of type string or an instance of Buffer, TypedArray, or DataView, or null', value);
}

/** The line {@link acknowledge} / {@link intend} write for `key` and `value`. */
function lineOf(op: 'ack' | 'intend', key: string, value: AckValue): Buffer {
  const bytes = valueBytes(value);
  const record: Record<string, unknown> = { op, key };
  if (bytes === null) record.deleted = true;
  else if (bytes !== undefined) {
    record.size = bytes.length;
    record.sha256 = createHash('sha256').update(bytes).digest('hex');
    if (bytes.length <= ACK_INLINE_BYTES) {
      if (typeof value === 'string') record.value = value;
      else record.base64 = bytes.toString('base64');
    }
  }
  return Buffer.from(`${JSON.stringify(record)}\n`);
}

let target: number | null | undefined;

/** Whether `fd` is open on the simulator's acknowledgements file (and not whatever else a child inherited as that number). */
function isAckFile(fd: number): boolean {
  try {
    const st = fs.fstatSync(fd);
    return st.isFile() && st.ino === ACKS_INO && st.size === 0 && (st.mode & 0o777) === 0o600;
  } catch {
    return false;
  }
}

/** The descriptor acknowledgements go to, or null outside `hardsync crashtest`. */
function ackTarget(): number | null {
  if (target !== undefined) return target;
  const fdText = process.env[CRASHTEST_ENV.ackFd];
  const file = process.env[CRASHTEST_ENV.ackPath];
  if (!fdText && !file) return null;
  const fd = Number(fdText);
  if (fdText && Number.isInteger(fd) && fd >= 0 && isAckFile(fd)) target = fd;
  else if (file) target = fs.openSync(file, 'a');
  else throw Object.assign(new Error(`${CRASHTEST_ENV.ackFd}=${fdText} is not open on the crashtest acknowledgements file, and ${CRASHTEST_ENV.ackPath} is not set`), { code: 'EBADF' });
  return target;
}

function writeAllSync(fd: number, bytes: Buffer): void {
  for (let done = 0; done < bytes.length; ) done += fs.writeSync(fd, bytes, done, bytes.length - done);
}

function writeAsync(fd: number, bytes: Buffer, offset: number): Promise<number> {
  return new Promise((resolve, reject) => {
    fs.write(fd, bytes, offset, bytes.length - offset, null, (error, written) => (error ? reject(error) : resolve(written)));
  });
}

async function writeAll(fd: number, bytes: Buffer): Promise<void> {
  for (let done = 0; done < bytes.length; ) done += await writeAsync(fd, bytes, done);
}

/** Validates the arguments; the line to write, or null outside crashtest (where no hashing is paid). */
function record(op: 'ack' | 'intend', key: unknown, value: unknown): Buffer | null {
  validateKey(key);
  valueBytes(value);
  return ackTarget() === null ? null : lineOf(op, key, value as AckValue);
}

/**
 * Records that the program is about to promise `key` (resolves once the simulator has recorded it;
 * call it, then make the promise). With `value` (a string or bytes) `key` must then hold exactly
 * that value after any later power cut, unless the program announced a newer value for it with
 * {@link intend}; `null` promises that `key` is gone; no value, that it exists. What a key means
 * is the checker's business: a file name under the run's directory for `--expect files`, an LSN
 * for `--expect durable-log`, anything for a checker of your own.
 * Does nothing outside `hardsync crashtest`. Rejects with EIO once the power is cut.
 */
export async function acknowledge(key: string, value?: string | ArrayBufferView | null): Promise<void> {
  validateArgumentCount(arguments, 2, 'acknowledge');
  const line = record('ack', key, value);
  if (line) await writeAll(target!, line);
}

/** The Sync form of {@link acknowledge}: returns once recorded. */
export function acknowledgeSync(key: string, value?: string | ArrayBufferView | null): void {
  validateArgumentCount(arguments, 2, 'acknowledgeSync');
  const line = record('ack', key, value);
  if (line) writeAllSync(target!, line);
}

/**
 * Announces, before the program starts writing it, a value `key` may hold after a power cut
 * although it was never acknowledged (the new version of a file being replaced atomically: after
 * a cut it may be the old or the new one). Without it, a value that was written but not yet
 * acknowledged when the power failed would count as one nobody wrote. Same arguments as
 * {@link acknowledge}; does nothing outside `hardsync crashtest`.
 */
export async function intend(key: string, value?: string | ArrayBufferView | null): Promise<void> {
  validateArgumentCount(arguments, 2, 'intend');
  const line = record('intend', key, value);
  if (line) await writeAll(target!, line);
}

/** The Sync form of {@link intend}. */
export function intendSync(key: string, value?: string | ArrayBufferView | null): void {
  validateArgumentCount(arguments, 2, 'intendSync');
  const line = record('intend', key, value);
  if (line) writeAllSync(target!, line);
}

function badLine(file: string, line: number, why: string): Error {
  return Object.assign(new Error(`${file}:${line}: not an acknowledgement (${why})`), { code: 'ERR_HARDSYNC_CRASHTEST_ACK', path: file, line });
}

function parseAcknowledgements(text: string, file: string): Acknowledgement[] {
  const lines = text.split('\n');
  lines.pop(); // what follows the last newline: nothing, or a line the power cut short
  return lines.map((raw, i) => {
    const line = i + 1;
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(raw);
    } catch {
      throw badLine(file, line, 'not JSON');
    }
    if (o === null || typeof o !== 'object' || Array.isArray(o)) throw badLine(file, line, 'not a JSON object');
    if (o.op !== 'ack' && o.op !== 'intend') throw badLine(file, line, 'op must be "ack" or "intend"');
    if (typeof o.key !== 'string' || o.key === '') throw badLine(file, line, 'key must be a non-empty string');
    const ack: Acknowledgement = { op: o.op, key: o.key, line };
    if (o.deleted === true) {
      ack.deleted = true;
      return ack;
    }
    if (o.value !== undefined || o.base64 !== undefined) {
      if (o.value !== undefined && typeof o.value !== 'string') throw badLine(file, line, 'value must be a string');
      if (o.base64 !== undefined && typeof o.base64 !== 'string') throw badLine(file, line, 'base64 must be a string');
      ack.value = o.value !== undefined ? Buffer.from(o.value as string, 'utf8') : Buffer.from(o.base64 as string, 'base64');
      ack.size = ack.value.length;
      ack.sha256 = createHash('sha256').update(ack.value).digest('hex');
    }
    if (o.sha256 !== undefined || o.size !== undefined) {
      if (typeof o.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(o.sha256)) throw badLine(file, line, 'sha256 must be 64 hex digits');
      if (!Number.isSafeInteger(o.size) || (o.size as number) < 0) throw badLine(file, line, 'size must be a byte count');
      if (ack.sha256 !== undefined && (ack.sha256 !== o.sha256 || ack.size !== o.size)) throw badLine(file, line, 'the value does not match its size and sha256');
      ack.size = o.size as number;
      ack.sha256 = o.sha256;
    }
    return ack;
  });
}

/**
 * Reads an acknowledgements file (a checker's `HARDSYNC_CRASHTEST_ACKS`), in the order they were
 * recorded. A malformed line rejects with code ERR_HARDSYNC_CRASHTEST_ACK, naming the line.
 */
export async function readAcknowledgements(file: string): Promise<Acknowledgement[]> {
  validateArgumentCount(arguments, 1, 'readAcknowledgements');
  if (typeof file !== 'string') throw invalidArgType('file', 'of type string', file);
  return parseAcknowledgements(await fs.promises.readFile(file, 'utf8'), file);
}

/** The Sync form of {@link readAcknowledgements}. */
export function readAcknowledgementsSync(file: string): Acknowledgement[] {
  validateArgumentCount(arguments, 1, 'readAcknowledgementsSync');
  if (typeof file !== 'string') throw invalidArgType('file', 'of type string', file);
  return parseAcknowledgements(fs.readFileSync(file, 'utf8'), file);
}

/**
 * Whether `content` (a file's bytes, or null when it does not exist) is what `ack` promised:
 * gone for a deletion, any bytes for a bare key, else exactly the value (by size and SHA-256).
 */
export function matchesAcknowledgement(ack: Acknowledgement, content: Buffer | null): boolean {
  if (ack.deleted) return content === null;
  if (content === null) return false;
  if (ack.sha256 === undefined) return true;
  return content.length === ack.size && createHash('sha256').update(content).digest('hex') === ack.sha256;
}
