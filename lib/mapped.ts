/**
 * Durable memory maps: a file region mapped shared into a Buffer, made durable with
 * {@link msync}, released with {@link unmapFile} (or when the Buffer is garbage-collected).
 * @module
 */
import { constants as bufferConstants } from 'node:buffer';
import { types } from 'node:util';
import { invalidArgType } from './errors';
import { native } from './native';
import type { MapFileOptions, MsyncOptions } from './types';
import { promise } from './promise-form';
import { validateArgumentCount, validateFd, validateIntRange, validateOptionalBoolean, validateOptions, validateUint } from './validate';

/**
 * The options object of mapFile and msync, or {}. Their `offset` and `length` are also names of
 * Buffer and TypedArray getters, which throw on any other receiver: a view, or a Proxy (of
 * one), given as options is refused, so that reading them cannot throw an error with no code.
 */
function optionsOf<T>(options: unknown): T {
  validateOptions(options);
  if (ArrayBuffer.isView(options) || types.isProxy(options)) {
    throw invalidArgType('options', 'a plain object (not a view or a Proxy)', options);
  }
  return (options ?? {}) as T;
}

function mapArguments(fd: unknown, options: unknown): [number, number, number, boolean] {
  validateFd(fd);
  const { offset = 0, length, sync } = optionsOf<MapFileOptions>(options);
  validateUint(offset, 'options.offset');
  if (length !== undefined) validateIntRange(length, 'options.length', 1, Math.min(bufferConstants.MAX_LENGTH, Number.MAX_SAFE_INTEGER - offset));
  validateOptionalBoolean(sync, 'options.sync');
  return [fd, offset, length ?? -1, sync === true];
}

/**
 * Maps a region of a file into memory, shared with the file, and returns it as a Buffer: a
 * store into the Buffer is a store into the file's pages (other processes mapping or reading
 * the file see it), made durable by {@link msync}. Read and write: there is no read-only
 * mapping (JavaScript cannot make a Buffer read-only, and a store into memory mapped read-only
 * would kill the process), so `fd` must be open for reading and writing (`'r+'`, `'w+'`,
 * `{ read: true, write: true }`); a read-only fd fails with EACCES.
 *
 * - The region must lie inside the file as it is now: a range past its end, or an empty file,
 *   is refused with ERR_OUT_OF_RANGE (no page of the mapping is ever beyond the end of the
 *   file, where touching it would raise SIGBUS). A mapping never grows: to map more, grow
 *   the file first ({@link preallocate}, `fs.ftruncate`) and map again.
 * - `offset` can be any byte: the mapping starts at the page below it (the 64 KiB allocation
 *   granularity on Windows) and the Buffer at `offset` exactly.
 * - Shrinking the file while it is mapped (`fs.ftruncate`, here or in another process) makes
 *   the cut pages raise SIGBUS when touched, which ends the process, as with every mmap:
 *   unmap first.
 * - A Buffer has a maximum length (`buffer.constants.MAX_LENGTH`: 4 GiB on Node 20): a longer
 *   region (the default length of a larger file included) fails with node's
 *   ERR_BUFFER_TOO_LARGE, mapping nothing; map such a file in parts.
 * - The Buffer stays valid after `fd` is closed. It is unmapped by {@link unmapFile}, or when
 *   it (and every view of its ArrayBuffer) has been garbage-collected.
 * - `sync: true` asks for MAP_SYNC (Linux, files on a DAX filesystem only: persistent memory
 *   accessed directly, where the file's metadata is kept synchronous with page faults). Where
 *   the file or OS cannot have it the call fails with ERR_HARDSYNC_UNSUPPORTED; it is never
 *   silently ignored. `capabilities(path)` says whether a filesystem can.
 *
 * Linux, macOS, FreeBSD: fstat(2) + mmap(2) MAP_SHARED, PROT_READ|PROT_WRITE. Windows:
 * CreateFileMappingW + MapViewOfFile. The Promise form runs on libuv's threadpool.
 * @param fd A descriptor open for reading and writing.
 * @param options `offset` (default 0), `length` (default: up to the end of the file), `sync`.
 * @returns A Buffer of `length` bytes backed by the mapping.
 */
export function mapFile(fd: number, options?: MapFileOptions): Promise<Buffer> {
  return promise(arguments, 2, 'mapFile', () => native.mapFile(...mapArguments(fd, options)));
}

/** Synchronous {@link mapFile}. */
export function mapFileSync(fd: number, options?: MapFileOptions): Buffer {
  validateArgumentCount(arguments, 2, 'mapFileSync');
  return native.mapFileSync(...mapArguments(fd, options));
}

function validateView(view: unknown): asserts view is ArrayBufferView {
  if (!ArrayBuffer.isView(view)) throw invalidArgType('view', 'an instance of Buffer, TypedArray, or DataView', view);
}

/** A view's length in bytes: 0 once unmapped (a DataView's getter throws then, a TypedArray's says 0). */
function byteLengthOf(view: ArrayBufferView): number {
  try {
    return view.byteLength;
  } catch {
    return 0;
  }
}

function msyncArguments(view: unknown, options: unknown): [ArrayBufferView, number, number] {
  validateView(view);
  const { offset = 0, length } = optionsOf<MsyncOptions>(options);
  const size = byteLengthOf(view);
  validateUint(offset, 'options.offset', size);
  const rest = size - offset;
  if (length !== undefined) validateUint(length, 'options.length', rest);
  return [view, offset, length ?? rest];
}

/**
 * Makes stores into a mapping durable: returns once the bytes `[offset, offset + length)` of
 * `view` (a Buffer from {@link mapFile}, or any view of its ArrayBuffer: `subarray`, a
 * DataView...) are on stable storage, as {@link fdatasync} does for written bytes. The whole
 * view by default. The pages around the range go with it.
 * - Linux: msync(2) MS_SYNC (which runs the file's fdatasync for the range).
 * - FreeBSD: msync(2) MS_SYNC, then fsync(2) of the file (FreeBSD's msync flushes the device
 *   cache only when it covers the whole file).
 * - macOS: msync(2) MS_SYNC, then fcntl(F_FULLFSYNC) of the file (msync, like fsync, leaves
 *   the drive's cache unflushed).
 * - Windows: FlushViewOfFile, then FlushFileBuffers of the file.
 * `capabilities().calls.msync` says which. The Promise form runs on a flush thread (io_uring
 * has no msync), never on the event loop; the mapping stays mapped until it has returned, even
 * if {@link unmapFile} is called meanwhile. A failure is final, as for every flush: never
 * retry it; treat the stores since the last good msync as lost.
 * @param view A view of a mapping made by {@link mapFile}, not unmapped.
 * @param options `offset` and `length` within the view (default: all of it).
 */
export function msync(view: ArrayBufferView, options?: MsyncOptions): Promise<void> {
  return promise(arguments, 2, 'msync', () => native.msync(...msyncArguments(view, options)));
}

/** Synchronous {@link msync}. */
export function msyncSync(view: ArrayBufferView, options?: MsyncOptions): void {
  validateArgumentCount(arguments, 2, 'msyncSync');
  native.msyncSync(...msyncArguments(view, options));
}

/**
 * Unmaps a mapping made by {@link mapFile}, given any view of it. Its ArrayBuffer is detached
 * at once, so the Buffer and every view sharing that ArrayBuffer (`subarray`, `Buffer.from(
 * buf.buffer)`, a DataView) read as empty: `buf[0]` is undefined and `buf.readUInt8(0)` throws,
 * instead of touching unmapped memory. The memory is unmapped now, or, when an {@link msync}
 * of it is in flight, as soon as that returns. Not a flush: stores not yet msynced reach the
 * file some time later, but are not durable.
 *
 * Like a transferred ArrayBuffer, the view must not be in use by a pending asynchronous call
 * that reads its memory from another thread (an `fs.write` not yet completed, a worker):
 * hardsync's own calls copy (`writeDurable`) or hold the mapping (`msync`), node:fs's do not.
 * @param view A view of the mapping (a copy of one, or a view of another buffer, is refused).
 */
export function unmapFile(view: ArrayBufferView): void {
  validateArgumentCount(arguments, 1, 'unmapFile', 'unmapFile(view) unmaps at once');
  validateView(view);
  native.unmapFile(view);
}
