/**
 * The durability primitives: each a pair, `name()` returning a Promise (flushes and
 * writeDurable run on hardsync's engine, see `engine`; the rest on libuv's threadpool) and
 * `nameSync()`; both call the same native platform function. Arguments are validated before
 * any I/O: the Sync form throws, the Promise form rejects.
 * @module
 */
import { native, type OpenFlagName } from './native';
import { promise } from './promise-form';
import type { BinaryData, DioAlignment, LockOptions, OpenOptions, PathLike, WriteDurableOptions } from './types';
import {
  flushCode,
  toPath,
  toPosition,
  validateBytes,
  validateFd,
  validateIntRange,
  validateOptionalBoolean,
  validateOptions,
  validateArgumentCount,
  validateUint,
} from './validate';

// ---------------------------------------------------------------------------------------------
// Flushes of one file

/**
 * fsync(2): writes the file's data and all its metadata to the device.
 * - Linux, FreeBSD: fsync(2), which also has the filesystem flush the device's write cache.
 * - macOS: fsync(2), which does NOT flush the drive's write cache: data can still be lost on
 *   power failure. Use {@link fullFsync} there. (node:fs's `fs.fsync` on macOS is stronger:
 *   libuv tries F_FULLFSYNC first.)
 * - Windows: FlushFileBuffers (needs a writable fd).
 * A failure is final: never retry it (after a failed fsync Linux may have dropped the dirty
 * pages; a retry can "succeed" with the data gone). Treat the file's recent writes as lost.
 * @param fd An open file descriptor (from node:fs, FileHandle.fd, or {@link open}).
 */
export function fsync(fd: number): Promise<void> {
  return promise(arguments, 1, 'fsync', () => {
    validateFd(fd);
    return native.fsync(fd);
  });
}

/** Synchronous {@link fsync}. Throws a node:fs-style error (`code`, `errno`, `syscall`). */
export function fsyncSync(fd: number): void {
  validateArgumentCount(arguments, 1, 'fsyncSync');
  validateFd(fd);
  native.fsyncSync(fd);
}

/**
 * fdatasync(2): writes the file's data and the metadata needed to read it back (its size), but
 * not timestamps. Cheaper than fsync when the file does not grow (preallocated / overwrite).
 * - Linux, FreeBSD: fdatasync(2), with a device cache flush.
 * - macOS: fsync(2) (there is no documented fdatasync), so the drive cache is NOT flushed.
 * - Windows: FlushFileBuffers.
 * Never retry a failure (see {@link fsync}).
 * @param fd An open file descriptor.
 */
export function fdatasync(fd: number): Promise<void> {
  return promise(arguments, 1, 'fdatasync', () => {
    validateFd(fd);
    return native.fdatasync(fd);
  });
}

/** Synchronous {@link fdatasync}. */
export function fdatasyncSync(fd: number): void {
  validateArgumentCount(arguments, 1, 'fdatasyncSync');
  validateFd(fd);
  native.fdatasyncSync(fd);
}

/**
 * The strongest flush the OS has: after it returns, the file's data and metadata are on stable
 * media, past any volatile drive cache (to the extent the device honours cache flushes).
 * - Linux, FreeBSD: fsync(2).
 * - macOS: fcntl(F_FULLFSYNC). Fails with ENOTSUP where the filesystem refuses it (SMB, some
 *   FUSE, FAT): there is no silent fallback to a weaker call.
 * - Windows: FlushFileBuffers.
 * @param fd An open file descriptor.
 */
export function fullFsync(fd: number): Promise<void> {
  return promise(arguments, 1, 'fullFsync', () => {
    validateFd(fd);
    return native.fullFsync(fd);
  });
}

/** Synchronous {@link fullFsync}. */
export function fullFsyncSync(fd: number): void {
  validateArgumentCount(arguments, 1, 'fullFsyncSync');
  validateFd(fd);
  native.fullFsyncSync(fd);
}

/**
 * An ordering barrier: writes issued before it reach stable storage before writes issued after.
 * - macOS: fcntl(F_BARRIERFSYNC): orders, flushes no cache; NOT a durability point.
 * - Linux, FreeBSD: fdatasync(2) (no ordering-only call exists; this is stronger: durable).
 * - Windows: FlushFileBuffers (durable).
 * @param fd An open file descriptor.
 */
export function barrierFsync(fd: number): Promise<void> {
  return promise(arguments, 1, 'barrierFsync', () => {
    validateFd(fd);
    return native.barrierFsync(fd);
  });
}

/** Synchronous {@link barrierFsync}. */
export function barrierFsyncSync(fd: number): void {
  validateArgumentCount(arguments, 1, 'barrierFsyncSync');
  validateFd(fd);
  native.barrierFsyncSync(fd);
}

/**
 * sync_file_range(2) (Linux only; elsewhere fails with ERR_HARDSYNC_UNSUPPORTED). A writeback
 * hint: it starts and/or waits for writeback of a byte range, but writes no metadata and
 * flushes no device cache, so it NEVER makes data durable by itself. Useful to spread writeback
 * before a later fdatasync.
 * @param fd An open file descriptor.
 * @param offset First byte of the range.
 * @param nbytes Length of the range; 0 means "to the end of the file".
 * @param flags A mask of `constants.SYNC_FILE_RANGE_WAIT_BEFORE | _WRITE | _WAIT_AFTER`.
 */
export function syncFileRange(fd: number, offset: number, nbytes: number, flags: number): Promise<void> {
  return promise(arguments, 4, 'syncFileRange', () => {
    validateSyncFileRange(fd, offset, nbytes, flags);
    return native.syncFileRange(fd, offset, nbytes, flags);
  });
}

/** Synchronous {@link syncFileRange}. */
export function syncFileRangeSync(fd: number, offset: number, nbytes: number, flags: number): void {
  validateArgumentCount(arguments, 4, 'syncFileRangeSync');
  validateSyncFileRange(fd, offset, nbytes, flags);
  native.syncFileRangeSync(fd, offset, nbytes, flags);
}

function validateSyncFileRange(fd: unknown, offset: unknown, nbytes: unknown, flags: unknown): void {
  validateFd(fd);
  validateUint(offset, 'offset');
  validateUint(nbytes, 'nbytes');
  validateIntRange(flags, 'flags', 0, 7);
}

/**
 * syncfs(2) (Linux only; elsewhere ERR_HARDSYNC_UNSUPPORTED): flushes every dirty file of the
 * filesystem that holds `fd`. Since Linux 5.8 it reports writeback errors of that filesystem.
 * @param fd Any descriptor on the filesystem.
 */
export function syncfs(fd: number): Promise<void> {
  return promise(arguments, 1, 'syncfs', () => {
    validateFd(fd);
    return native.syncfs(fd);
  });
}

/** Synchronous {@link syncfs}. */
export function syncfsSync(fd: number): void {
  validateArgumentCount(arguments, 1, 'syncfsSync');
  validateFd(fd);
  native.syncfsSync(fd);
}

/**
 * Makes a directory's entries durable: after a file is created, renamed, linked or unlinked,
 * the change survives a crash only once its directory is fsynced.
 * - Linux, macOS, FreeBSD: open(O_RDONLY|O_DIRECTORY) + fsync(2) (on macOS, fsync does not
 *   flush the drive cache).
 * - Windows: ERR_HARDSYNC_UNSUPPORTED (FlushFileBuffers needs write access, which a directory
 *   handle cannot have); {@link replaceFile} uses MOVEFILE_WRITE_THROUGH there instead.
 * @param path The directory.
 */
export function fsyncDir(path: PathLike): Promise<void> {
  return promise(arguments, 1, 'fsyncDir', () => native.fsyncDir(toPath(path)));
}

/** Synchronous {@link fsyncDir}. */
export function fsyncDirSync(path: PathLike): void {
  validateArgumentCount(arguments, 1, 'fsyncDirSync');
  native.fsyncDirSync(toPath(path));
}

// ---------------------------------------------------------------------------------------------
// Opening files with synchronous or direct I/O

/** open()'s boolean options and their bits in the packed flags, from the addon (native/platform.h). */
const OPEN_BITS = native.openBits;

function openArguments(path: unknown, options: unknown): [string, number, number] {
  const file = toPath(path);
  validateOptions(options);
  const given = (options ?? {}) as Record<string, unknown>;
  let bits = 0;
  for (const name of Object.keys(OPEN_BITS) as OpenFlagName[]) {
    validateOptionalBoolean(given[name], `options.${name}`);
    if (given[name] === true) bits |= OPEN_BITS[name];
  }
  if (!(bits & OPEN_BITS.write)) bits |= OPEN_BITS.read;
  const mode = given.mode === undefined ? 0o666 : given.mode;
  validateIntRange(mode, 'options.mode', 0, 0o7777);
  return [file, bits, mode];
}

/**
 * Opens a file and returns a plain integer fd that node:fs understands (close it with
 * `fs.close`/`fs.closeSync`). O_CLOEXEC always (handles are not inherited on Windows).
 * - Linux, FreeBSD: open(2) with O_DSYNC / O_SYNC / O_DIRECT as asked.
 * - macOS: open(2) with O_DSYNC / O_SYNC; `direct` is fcntl(F_NOCACHE) after the open.
 * - Windows: libuv's uv_fs_open: `dsync`/`sync` become FILE_FLAG_WRITE_THROUGH, `direct`
 *   FILE_FLAG_NO_BUFFERING.
 * @param path The file.
 * @param options What to open it for; default read-only.
 * @returns The file descriptor.
 */
export function open(path: PathLike, options?: OpenOptions): Promise<number> {
  return promise(arguments, 2, 'open', () => native.open(...openArguments(path, options)));
}

/** Synchronous {@link open}. */
export function openSync(path: PathLike, options?: OpenOptions): number {
  validateArgumentCount(arguments, 2, 'openSync');
  return native.openSync(...openArguments(path, options));
}

// ---------------------------------------------------------------------------------------------
// Space and writes

/**
 * Reserves disk space for [offset, offset + length) and extends the file to at least
 * offset + length, so later writes inside it change no file size (cheaper fdatasync) and
 * cannot fail for lack of space. Not a flush: the new size is durable after {@link fsync}.
 * - Linux: fallocate(2) mode 0; posix_fallocate(3) where the filesystem has no fallocate.
 * - macOS: fcntl(F_PREALLOCATE) + ftruncate(2).  - FreeBSD: posix_fallocate(2).
 * - Windows: SetFileInformationByHandle(FileEndOfFileInfo), which allocates the space.
 * ENOSPC is reported, never hidden.
 * @param fd A descriptor open for writing.
 * @param offset Start of the range.
 * @param length Length of the range (> 0).
 */
export function preallocate(fd: number, offset: number, length: number): Promise<void> {
  return promise(arguments, 3, 'preallocate', () => {
    validatePreallocate(fd, offset, length);
    return native.preallocate(fd, offset, length);
  });
}

/** Synchronous {@link preallocate}. */
export function preallocateSync(fd: number, offset: number, length: number): void {
  validateArgumentCount(arguments, 3, 'preallocateSync');
  validatePreallocate(fd, offset, length);
  native.preallocateSync(fd, offset, length);
}

function validatePreallocate(fd: unknown, offset: unknown, length: unknown): void {
  validateFd(fd);
  validateUint(offset, 'offset');
  validateIntRange(length, 'length', 1, Number.MAX_SAFE_INTEGER - (offset as number));
}

function writeArguments(fd: unknown, data: unknown, position: unknown, options: unknown): [number, ArrayBufferView, number, number] {
  validateFd(fd);
  validateBytes(data);
  const at = toPosition(position);
  validateOptions(options);
  const flush = flushCode((options as WriteDurableOptions | undefined)?.flush, 'data');
  return [fd, data, at, flush];
}

/**
 * Writes every byte of `data` at `position` (looping over short writes), then runs the chosen
 * flush, in ONE native call: one submission (linked write + fsync on io_uring, one flush-thread
 * trip elsewhere) instead of two round trips for write + datasync.
 * Resolves to the number of bytes written (always `data.byteLength`) once the flush returned.
 * The Promise form copies `data` first (keeping its memory alignment), so the caller may reuse
 * the buffer at once.
 *
 * On failure the error (node:fs-shaped) carries `bytesWritten`: how much went in before it.
 * A failed flush is never retried: treat everything written since the last good flush as lost.
 * @param fd A descriptor open for writing.
 * @param data The bytes.
 * @param position File offset, or null for the current position (what O_APPEND needs).
 * @param options `flush`: `'data'` (default), `'full'`, `'fsync'`, `'barrier'` or `'none'`;
 *   see {@link FlushMode} for what each means on each OS.
 */
export function writeDurable(fd: number, data: BinaryData, position: number | null, options?: WriteDurableOptions): Promise<number> {
  return promise(arguments, 4, 'writeDurable', () => native.writeDurable(...writeArguments(fd, data, position, options)));
}

/** Synchronous {@link writeDurable}. */
export function writeDurableSync(fd: number, data: BinaryData, position: number | null, options?: WriteDurableOptions): number {
  validateArgumentCount(arguments, 4, 'writeDurableSync');
  return native.writeDurableSync(...writeArguments(fd, data, position, options));
}

/**
 * Replaces `to` with `from` in one atomic step.
 * - POSIX: rename(2). The new name is durable only after {@link fsyncDir} of the directory.
 * - Windows: MoveFileExW(MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH): returns after
 *   the move is flushed (the role a directory fsync plays on POSIX).
 * @param from The existing file.
 * @param to The name to give it (an existing file there is replaced).
 */
export function replaceFile(from: PathLike, to: PathLike): Promise<void> {
  return promise(arguments, 2, 'replaceFile', () => native.replaceFile(toPath(from, 'from'), toPath(to, 'to')));
}

/** Synchronous {@link replaceFile}. */
export function replaceFileSync(from: PathLike, to: PathLike): void {
  validateArgumentCount(arguments, 2, 'replaceFileSync');
  native.replaceFileSync(toPath(from, 'from'), toPath(to, 'to'));
}

// ---------------------------------------------------------------------------------------------
// Advisory locks

function lockArguments(fd: unknown, options: unknown): [number, boolean, boolean] {
  validateFd(fd);
  validateOptions(options);
  const { shared, wait } = (options ?? {}) as LockOptions;
  validateOptionalBoolean(shared, 'options.shared');
  validateOptionalBoolean(wait, 'options.wait');
  return [fd, shared === true, wait === true];
}

/**
 * Takes an advisory lock on the whole file, which other processes, and other opens of the
 * same file in this process, respect: flock(2) on POSIX, LockFileEx on Windows. It is released
 * by {@link unlockFile} or when the fd is closed (or the process dies). Without `wait`, a lock
 * held elsewhere fails at once with EAGAIN (on Windows too: LockFileEx's lock violation is
 * reported as EAGAIN).
 * @param fd An open file descriptor.
 * @param options `shared` for a shared lock; `wait` to block until it is free.
 */
export function lockFile(fd: number, options?: LockOptions): Promise<void> {
  return promise(arguments, 2, 'lockFile', () => native.lockFile(...lockArguments(fd, options)));
}

/** Synchronous {@link lockFile}. */
export function lockFileSync(fd: number, options?: LockOptions): void {
  validateArgumentCount(arguments, 2, 'lockFileSync');
  native.lockFileSync(...lockArguments(fd, options));
}

/**
 * Releases a lock taken with {@link lockFile}.
 * @param fd The descriptor that holds the lock.
 */
export function unlockFile(fd: number): Promise<void> {
  return promise(arguments, 1, 'unlockFile', () => {
    validateFd(fd);
    return native.unlockFile(fd);
  });
}

/** Synchronous {@link unlockFile}. */
export function unlockFileSync(fd: number): void {
  validateArgumentCount(arguments, 1, 'unlockFileSync');
  validateFd(fd);
  native.unlockFileSync(fd);
}

// ---------------------------------------------------------------------------------------------
// Direct-I/O alignment

/** A path (checked and converted as node:fs does) or a checked descriptor. */
function checkPathOrFd(value: unknown): string | number {
  if (typeof value === 'number') {
    validateFd(value);
    return value;
  }
  return toPath(value, 'pathOrFd');
}

/**
 * The alignment direct I/O needs for a file (or the filesystem a path is on): memory address,
 * and file offset/length.
 * - Linux: statx(STATX_DIOALIGN) (Linux 6.1+; `{0, 0}` there means the file cannot be opened
 *   with O_DIRECT); else the block device's logical block size from sysfs; else the page size.
 * - macOS, FreeBSD: st_blksize. Windows: FileStorageInfo's logical sector size.
 * `source` says which of these answered.
 * @param pathOrFd A path or an open descriptor.
 */
export function dioAlignment(pathOrFd: PathLike | number): Promise<DioAlignment> {
  return promise(arguments, 1, 'dioAlignment', () => native.dioAlignment(checkPathOrFd(pathOrFd)));
}

/** Synchronous {@link dioAlignment}. */
export function dioAlignmentSync(pathOrFd: PathLike | number): DioAlignment {
  validateArgumentCount(arguments, 1, 'dioAlignmentSync');
  return native.dioAlignmentSync(checkPathOrFd(pathOrFd));
}
