/**
 * Atomic replace (`writeFileAtomic`), durable create (`createDurable`) and ordered secret
 * writes (`writeFileSecret`), built on the primitives.
 *
 * The replace sequence: stale temps of the target removed (their writers are gone, see
 * ./atomic-temps) -> a temp file in the target's directory (O_CREAT|O_EXCL|O_NOFOLLOW|
 * O_CLOEXEC, 0o600, a name with the writer's identity and crypto-random bytes) -> fchown if
 * asked -> fchmod to the final mode -> every byte written -> flush -> close -> rename over the
 * target -> fsync of the directory. Until the rename, the target is untouched; the rename
 * swaps old for new in one step; the directory fsync makes the swap survive a power cut. Where
 * a directory cannot be fsynced (capabilities(): fsyncDir unsupported, i.e. Windows),
 * replaceFile is MoveFileEx(REPLACE_EXISTING | WRITE_THROUGH), which returns only once the
 * move is flushed.
 * @module
 */
import fs from 'node:fs';
import nodePath from 'node:path';
import { promisify, types } from 'node:util';
import { invalidArgType, rethrowWithCallerStack } from '../errors';
import {
  fdatasync,
  fdatasyncSync,
  fsync,
  fsyncDir,
  fsyncDirSync,
  fsyncSync,
  fullFsync,
  fullFsyncSync,
  open,
  openSync,
  replaceFile,
  replaceFileSync,
  writeDurable,
  writeDurableSync,
} from '../primitives';
import type { PathLike } from '../types';
import { toPath, validateArgumentCount, validateIntRange, validateOptionalBoolean, validateOptions } from '../validate';
import {
  KeyedQueue,
  canFsyncDir,
  chunkBytes,
  patternFlush,
  throwIfAborted,
  validateChown,
  validateEncoding,
  validateSignal,
  viewBytes,
  withPath,
  type PatternFlush,
} from './common';
import { newTempPath, removeStaleTemps, removeStaleTempsSync } from './atomic-temps';

/** What {@link writeFileAtomic} accepts: bytes, a string, or chunks of either (sync or async). */
export type AtomicData =
  | string
  | ArrayBufferView
  | Iterable<string | ArrayBufferView>
  | AsyncIterable<string | ArrayBufferView>;

/** Options of {@link writeFileAtomic}. */
export interface AtomicOptions {
  /** Encoding of string data (and string chunks); default `'utf8'`. */
  encoding?: BufferEncoding | undefined;
  /**
   * Permission bits of the new file, applied exactly with fchmod (the umask does not apply).
   * Default: the existing file's mode, else `0o666 & ~umask`.
   */
  mode?: number | undefined;
  /** Owner of the new file (fchown before any byte is written); default: the process's. */
  chown?: { uid: number; gid: number } | undefined;
  /** Flush of the new file before the rename: `'full'` (default, fullFsync) or `'data'` (fdatasync). */
  flush?: PatternFlush | undefined;
  /** Aborting leaves the old file in place and removes the temp file (until the rename starts). */
  signal?: AbortSignal | undefined;
}

/** Options of {@link createDurable}. */
export interface CreateDurableOptions {
  /** Permission bits given to open(2) (the umask applies, as with node:fs); default 0o666. */
  mode?: number | undefined;
  /** Fail with EEXIST when the file exists (default true). */
  exclusive?: boolean | undefined;
  /** Flush of the new file: `'full'` (default) or `'data'`. */
  flush?: PatternFlush | undefined;
}

/** Options of {@link writeFileSecret}. */
export interface SecretOptions {
  /** Encoding of string data; default `'utf8'`. */
  encoding?: BufferEncoding | undefined;
  /** Flush of the data before the rename: `'full'` (default) or `'data'`. */
  flush?: PatternFlush | undefined;
}

const fchownAsync = promisify(fs.fchown);
const fchmodAsync = promisify(fs.fchmod);
const closeAsync = promisify(fs.close);

/** Streamed chunks are gathered up to this size per write: few threadpool trips, bounded memory. */
const STREAM_BATCH_BYTES = 1 << 20;

/** Concurrent atomic writes to one path in this process run one after another, in call order. */
const pathQueue = new KeyedQueue();

type Source =
  | { kind: 'bytes'; bytes: Buffer }
  | { kind: 'sync'; chunks: Iterable<unknown> }
  | { kind: 'async'; chunks: AsyncIterable<unknown> };

interface Plan {
  target: string;
  directory: string;
  source: Source;
  encoding: BufferEncoding;
  mode: number | undefined;
  chown: { uid: number; gid: number } | undefined;
  flush: PatternFlush;
  signal: AbortSignal | undefined;
  /** writeFileSecret: mode 0o600, made durable with fsync before any data is written. */
  secret: boolean;
}

function toSource(data: unknown, encoding: BufferEncoding, allowAsync: boolean, allowIterable: boolean): Source {
  if (typeof data === 'string') return { kind: 'bytes', bytes: Buffer.from(data, encoding) };
  if (ArrayBuffer.isView(data)) return { kind: 'bytes', bytes: viewBytes(data) };
  // A Proxy is refused rather than iterated: its traps could make any step throw anything.
  if (allowIterable && data !== null && typeof data === 'object' && !types.isProxy(data)) {
    if (allowAsync && typeof (data as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function') {
      return { kind: 'async', chunks: data as AsyncIterable<unknown> };
    }
    if (typeof (data as Iterable<unknown>)[Symbol.iterator] === 'function') return { kind: 'sync', chunks: data as Iterable<unknown> };
  }
  const expected = !allowIterable
    ? 'of type string or an instance of Buffer, TypedArray, or DataView'
    : allowAsync
      ? 'of type string or an instance of Buffer, TypedArray, DataView, Iterable, or AsyncIterable'
      : 'of type string or an instance of Buffer, TypedArray, DataView, or Iterable';
  throw invalidArgType('data', expected, data);
}

function atomicPlan(path: unknown, data: unknown, options: unknown, allowAsync: boolean): Plan {
  const target = toPath(path);
  validateOptions(options);
  const given = (options ?? {}) as Record<string, unknown>;
  const encoding = validateEncoding(given.encoding);
  if (given.mode !== undefined) validateIntRange(given.mode, 'options.mode', 0, 0o7777);
  const chown = validateChown(given.chown);
  const flush = patternFlush(given.flush);
  const signal = allowAsync ? validateSignal(given.signal) : undefined;
  const source = toSource(data, encoding, allowAsync, true);
  return {
    target,
    directory: nodePath.dirname(target),
    source,
    encoding,
    mode: given.mode as number | undefined,
    chown,
    flush,
    signal,
    secret: false,
  };
}

function secretPlan(path: unknown, data: unknown, options: unknown): Plan {
  const target = toPath(path);
  validateOptions(options);
  const given = (options ?? {}) as Record<string, unknown>;
  const encoding = validateEncoding(given.encoding);
  const flush = patternFlush(given.flush);
  const source = toSource(data, encoding, false, false);
  return { target, directory: nodePath.dirname(target), source, encoding, mode: 0o600, chown: undefined, flush, signal: undefined, secret: true };
}

/**
 * A temp name next to the target: same directory (so rename stays on one filesystem and is
 * atomic), unpredictable (so nobody can pre-create or symlink it), short enough for NAME_MAX
 * even when the target's own name is long, and naming its writer (see ./atomic-temps), so a
 * later write can tell a dead writer's temp from a live one's.
 */
function tempPath(plan: Plan): string {
  return newTempPath(plan.target);
}

/** 0o666 & ~umask, what a plain open(O_CREAT, 0o666) would have produced. */
function defaultMode(): number {
  return 0o666 & ~process.umask();
}

function isNotFound(error: unknown): boolean {
  return (error as { code?: string }).code === 'ENOENT';
}

async function finalMode(plan: Plan): Promise<number> {
  if (plan.mode !== undefined) return plan.mode;
  try {
    return (await fs.promises.stat(plan.target)).mode & 0o7777;
  } catch (error) {
    if (isNotFound(error)) return defaultMode();
    throw error;
  }
}

function finalModeSync(plan: Plan): number {
  if (plan.mode !== undefined) return plan.mode;
  try {
    return fs.statSync(plan.target).mode & 0o7777;
  } catch (error) {
    if (isNotFound(error)) return defaultMode();
    throw error;
  }
}

// The temp file starts at 0o600 whatever the final mode: permission is checked only at open(2),
// so a file that was ever world-readable could be opened then and read after the data arrives.
const TEMP_OPEN = { write: true, create: true, exclusive: true, nofollow: true, mode: 0o600 } as const;

async function flushAsync(fd: number, flush: PatternFlush): Promise<void> {
  await (flush === 'full' ? fullFsync(fd) : fdatasync(fd));
}

async function writeSourceAsync(fd: number, plan: Plan): Promise<void> {
  const { source, flush, signal } = plan;
  if (source.kind === 'bytes') {
    await writeDurable(fd, source.bytes, 0, { flush });
    return;
  }
  let position = 0;
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const writePending = async (): Promise<void> => {
    const batch = pending.length === 1 ? pending[0] : Buffer.concat(pending, pendingBytes);
    pending = [];
    pendingBytes = 0;
    await writeDurable(fd, batch, position, { flush: 'none' });
    position += batch.length;
    throwIfAborted(signal);
  };
  for await (const chunk of source.chunks as AsyncIterable<unknown>) {
    throwIfAborted(signal);
    const bytes = chunkBytes(chunk, plan.encoding, 'data chunk');
    if (bytes.length === 0) continue;
    // Streamed chunks may be reused by their producer once the next one is asked for.
    pending.push(Buffer.from(bytes));
    pendingBytes += bytes.length;
    if (pendingBytes >= STREAM_BATCH_BYTES) await writePending();
  }
  throwIfAborted(signal);
  if (pendingBytes > 0) {
    const last = pending.length === 1 ? pending[0] : Buffer.concat(pending, pendingBytes);
    await writeDurable(fd, last, position, { flush });
  } else {
    await flushAsync(fd, flush);
  }
}

function writeSourceSync(fd: number, plan: Plan): void {
  const { source, flush } = plan;
  if (source.kind === 'bytes') {
    writeDurableSync(fd, source.bytes, 0, { flush });
    return;
  }
  let position = 0;
  for (const chunk of source.chunks as Iterable<unknown>) {
    const bytes = chunkBytes(chunk, plan.encoding, 'data chunk');
    if (bytes.length === 0) continue;
    writeDurableSync(fd, bytes, position, { flush: 'none' });
    position += bytes.length;
  }
  if (flush === 'full') fullFsyncSync(fd);
  else fdatasyncSync(fd);
}

/** The replace sequence (see the module comment). Runs inside the path's queue. */
async function replaceAsync(plan: Plan): Promise<void> {
  const { signal } = plan;
  throwIfAborted(signal);
  const mode = await finalMode(plan);
  // Temps of this target left by writers killed mid-write go first (best effort: a failure
  // here must not fail the write, whose own error is the one that matters).
  await removeStaleTemps(plan.target).catch(() => undefined);
  const temp = tempPath(plan);
  let fd = -1;
  let tempExists = false;
  try {
    fd = await open(temp, TEMP_OPEN);
    tempExists = true;
    throwIfAborted(signal);
    // Owner before mode: chown(2) clears set-user-ID / set-group-ID bits that chmod has set.
    if (plan.chown) await fchownAsync(fd, plan.chown.uid, plan.chown.gid);
    await fchmodAsync(fd, mode);
    // The seeds' "lock the box before the secret goes in": the restrictive mode must be on disk
    // before any byte of data. fdatasync would not do: the mode is not needed to read the data.
    if (plan.secret) await (plan.flush === 'full' ? fullFsync(fd) : fsync(fd));
    throwIfAborted(signal);
    await writeSourceAsync(fd, plan);
    // The fd stays open until its flush has returned: writeback errors are reported to open fds.
    const closing = fd;
    fd = -1;
    await closeAsync(closing);
    throwIfAborted(signal);
    await replaceFile(temp, plan.target);
    tempExists = false;
    if (canFsyncDir()) await fsyncDir(plan.directory);
  } catch (error) {
    if (fd >= 0) fs.close(fd, () => undefined);
    if (tempExists) await fs.promises.unlink(temp).catch(() => undefined);
    throw withPath(error, temp);
  }
}

function replaceSync(plan: Plan): void {
  const mode = finalModeSync(plan);
  try {
    removeStaleTempsSync(plan.target);
  } catch {
    // best effort, as in replaceAsync
  }
  const temp = tempPath(plan);
  let fd = -1;
  let tempExists = false;
  try {
    fd = openSync(temp, TEMP_OPEN);
    tempExists = true;
    if (plan.chown) fs.fchownSync(fd, plan.chown.uid, plan.chown.gid);
    fs.fchmodSync(fd, mode);
    if (plan.secret) {
      if (plan.flush === 'full') fullFsyncSync(fd);
      else fsyncSync(fd);
    }
    writeSourceSync(fd, plan);
    const closing = fd;
    fd = -1;
    fs.closeSync(closing);
    replaceFileSync(temp, plan.target);
    tempExists = false;
    if (canFsyncDir()) fsyncDirSync(plan.directory);
  } catch (error) {
    if (fd >= 0) {
      try {
        fs.closeSync(fd);
      } catch {
        // the original error is the one worth reporting
      }
    }
    if (tempExists) fs.rmSync(temp, { force: true });
    throw withPath(error, temp);
  }
}

/**
 * Replaces the file at `path` with `data` atomically and durably: once the promise resolves, a
 * power cut leaves the new content; before that, the old content or the new, never a mix, an
 * empty file or a missing file. See the module comment for the exact sequence.
 *
 * On failure the temp file is removed and the target untouched (unless the failing step was the
 * directory fsync after the rename: then the new content is in place but may not survive a power
 * cut); the error is node:fs-shaped and names the step (`syscall`) and the file (`path`).
 * Concurrent calls on the same path in this process run one after another, in call order.
 *
 * A symbolic link at `path` is replaced by the new file, not followed (rename semantics); pass
 * a resolved path (fs.realpath) to write through a link. Bytes given as a Buffer or TypedArray
 * are read when the write runs: do not change them until the promise settles.
 * @param path The file to replace (created if missing).
 * @param data A string (see `options.encoding`), bytes, or an (async) iterable of chunks, which
 *   is streamed without being held in memory.
 * @param options See {@link AtomicOptions}.
 */
export function writeFileAtomic(path: PathLike, data: AtomicData, options?: AtomicOptions): Promise<void> {
  let plan: Plan;
  try {
    validateArgumentCount(arguments, 3, 'writeFileAtomic');
    plan = atomicPlan(path, data, options, true);
  } catch (error) {
    return Promise.reject(error);
  }
  return pathQueue.run(nodePath.resolve(plan.target), () => replaceAsync(plan)).then(undefined, rethrowWithCallerStack);
}

/**
 * Synchronous {@link writeFileAtomic} (no AbortSignal, no async iterables). It runs at once,
 * so it is not ordered behind Promise-form calls still in flight on the same path.
 */
export function writeFileAtomicSync(
  path: PathLike,
  data: string | ArrayBufferView | Iterable<string | ArrayBufferView>,
  options?: Omit<AtomicOptions, 'signal'>,
): void {
  validateArgumentCount(arguments, 3, 'writeFileAtomicSync');
  replaceSync(atomicPlan(path, data, options, false));
}

/**
 * Writes a secret (a key, a token) so that no other user can ever read it, even after a
 * power cut at any moment: the temp file is created 0o600, the mode is made durable with fsync
 * (fullFsync with `flush: 'full'`) before a single byte of data is written, then the data is
 * written, flushed and renamed over `path` as {@link writeFileAtomic} does. The resulting file
 * is 0o600 whatever the old file's mode was.
 * @param path The file to write (created or replaced).
 * @param data The secret.
 * @param options `encoding` of string data; `flush` of the data (default `'full'`).
 */
export function writeFileSecret(path: PathLike, data: string | ArrayBufferView, options?: SecretOptions): Promise<void> {
  let plan: Plan;
  try {
    validateArgumentCount(arguments, 3, 'writeFileSecret');
    plan = secretPlan(path, data, options);
  } catch (error) {
    return Promise.reject(error);
  }
  return pathQueue.run(nodePath.resolve(plan.target), () => replaceAsync(plan)).then(undefined, rethrowWithCallerStack);
}

/** Synchronous {@link writeFileSecret}. */
export function writeFileSecretSync(path: PathLike, data: string | ArrayBufferView, options?: SecretOptions): void {
  validateArgumentCount(arguments, 3, 'writeFileSecretSync');
  replaceSync(secretPlan(path, data, options));
}

function createArguments(path: unknown, options: unknown): { file: string; mode: number; exclusive: boolean; flush: PatternFlush } {
  const file = toPath(path);
  validateOptions(options);
  const given = (options ?? {}) as Record<string, unknown>;
  const mode = given.mode === undefined ? 0o666 : given.mode;
  validateIntRange(mode, 'options.mode', 0, 0o7777);
  validateOptionalBoolean(given.exclusive, 'options.exclusive');
  return { file, mode, exclusive: given.exclusive !== false, flush: patternFlush(given.flush) };
}

/**
 * Creates a file whose existence survives a crash before this resolves: open(O_CREAT, and
 * O_EXCL unless `exclusive: false`), a flush of the new file, then an fsync of its directory.
 * Returns an fd open for reading and writing (close it with fs.close).
 *
 * On failure after the open, the fd is closed, and with `exclusive` (where this call surely
 * created the file) the file is removed again.
 * @param path The file to create.
 * @param options `mode` (umask applies), `exclusive` (default true), `flush` (default `'full'`).
 */
export async function createDurable(path: PathLike, options?: CreateDurableOptions): Promise<number> {
  validateArgumentCount(arguments, 2, 'createDurable');
  const { file, mode, exclusive, flush } = createArguments(path, options);
  const fd = await open(file, { read: true, write: true, create: true, exclusive, mode });
  try {
    await flushAsync(fd, flush);
    if (canFsyncDir()) await fsyncDir(nodePath.dirname(file));
    return fd;
  } catch (error) {
    fs.close(fd, () => undefined);
    if (exclusive) await fs.promises.unlink(file).catch(() => undefined);
    throw withPath(error, file);
  }
}

/** Synchronous {@link createDurable}. */
export function createDurableSync(path: PathLike, options?: CreateDurableOptions): number {
  validateArgumentCount(arguments, 2, 'createDurableSync');
  const { file, mode, exclusive, flush } = createArguments(path, options);
  const fd = openSync(file, { read: true, write: true, create: true, exclusive, mode });
  try {
    if (flush === 'full') fullFsyncSync(fd);
    else fdatasyncSync(fd);
    if (canFsyncDir()) fsyncDirSync(nodePath.dirname(file));
    return fd;
  } catch (error) {
    try {
      fs.closeSync(fd);
    } catch {
      // the original error is the one worth reporting
    }
    if (exclusive) fs.rmSync(file, { force: true });
    throw withPath(error, file);
  }
}

/**
 * Removes the temp files that writeFileAtomic / writeFileSecret calls on `path` left behind
 * when their process died mid-write (kill -9, a crash, a power cut), and only those: a temp is
 * removed only when the process that wrote it is gone (or its boot has ended), never one a live
 * writer may still rename, and never a temp of another file. Every write of `path` does this
 * first on its own; call this to clean up without writing. The temp name pattern and how a
 * writer is judged gone are in README.md ("Temp files").
 * @param path The target file whose temps to clean up (it need not exist).
 * @returns The paths of the temps removed.
 */
export async function cleanupAtomicTemps(path: PathLike): Promise<string[]> {
  validateArgumentCount(arguments, 1, 'cleanupAtomicTemps');
  return removeStaleTemps(toPath(path));
}

/** Synchronous {@link cleanupAtomicTemps}. */
export function cleanupAtomicTempsSync(path: PathLike): string[] {
  validateArgumentCount(arguments, 1, 'cleanupAtomicTempsSync');
  return removeStaleTempsSync(toPath(path));
}
