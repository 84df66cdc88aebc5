/**
 * Public types of hardsync.
 * @module
 */

/**
 * Which flush {@link writeDurable} (and the patterns built on it) runs after writing:
 * - `'none'`: no flush at all; the data is only in the page cache (not durable).
 * - `'data'`: fdatasync (Linux, FreeBSD), fsync(2) on macOS, FlushFileBuffers on Windows.
 * - `'full'`: the strongest flush the OS has: fsync (Linux, FreeBSD), F_FULLFSYNC (macOS),
 *   FlushFileBuffers (Windows). See {@link fullFsync}.
 * - `'fsync'`: fsync(2) (FlushFileBuffers on Windows). On macOS this does NOT flush the drive cache.
 * - `'barrier'`: an ordering barrier: F_BARRIERFSYNC on macOS; fdatasync elsewhere.
 */
export type FlushMode = 'none' | 'data' | 'full' | 'fsync' | 'barrier';

/** A path as node:fs accepts it. A Buffer or Uint8Array is read as UTF-8. */
export type PathLike = string | Buffer | Uint8Array | URL;

/** The bytes a write takes. */
export type BinaryData = ArrayBufferView;

interface OpenOptionsBase {
  /** Open for reading (default true when `write` is not set). */
  read?: boolean | undefined;
  /** Open for writing. */
  write?: boolean | undefined;
  /** Truncate to length 0 (needs `write`). */
  truncate?: boolean | undefined;
  /** Every write goes to the end of the file (O_APPEND). */
  append?: boolean | undefined;
  /**
   * O_DSYNC: each write returns only after its data (and the metadata needed to read it) is on
   * stable storage. On macOS it does not flush the drive cache. Windows: FILE_FLAG_WRITE_THROUGH.
   */
  dsync?: boolean | undefined;
  /** O_SYNC: like `dsync`, and all metadata too. Windows: FILE_FLAG_WRITE_THROUGH; `sync` with `dsync` is EINVAL there. */
  sync?: boolean | undefined;
  /**
   * Bypass the page cache: O_DIRECT (Linux, FreeBSD), F_NOCACHE after open (macOS),
   * FILE_FLAG_NO_BUFFERING (Windows). Needs aligned memory, offsets and lengths (see
   * {@link allocAligned}, {@link dioAlignment}). NOT durable by itself: the device may still
   * hold the data in its volatile cache; add `dsync` or a flush.
   */
  direct?: boolean | undefined;
  /**
   * Fail with ELOOP if the last component of the path is a symbolic link (O_NOFOLLOW). Windows
   * has no such flag: there `nofollow` fails with ERR_HARDSYNC_UNSUPPORTED, except together
   * with `create` + `exclusive`, which never follows an existing name there either.
   */
  nofollow?: boolean | undefined;
}

/**
 * Options of {@link open}. `exclusive` and `mode` only mean something with `create: true`, and
 * the types say so: `{ exclusive: true }` without `create: true` does not compile.
 *
 * Every optional property of hardsync's options accepts `undefined` (meaning "not given", as at
 * runtime), so they compile under `exactOptionalPropertyTypes` with values forwarded from the
 * caller's own optional parameters.
 */
export type OpenOptions =
  | (OpenOptionsBase & {
      /** Create the file if it does not exist (O_CREAT). */
      create: true;
      /** Fail with EEXIST if the file exists (O_EXCL). */
      exclusive?: boolean | undefined;
      /** Permission bits of a created file (before umask), default 0o666. */
      mode?: number | undefined;
    })
  | (OpenOptionsBase & { create?: false | undefined; exclusive?: undefined; mode?: undefined });

/** Options of {@link writeDurable}. */
export interface WriteDurableOptions {
  /** The flush after the writes; default `'data'`. */
  flush?: FlushMode | undefined;
}

/** Options of {@link lockFile}. */
export interface LockOptions {
  /** A shared (read) lock instead of an exclusive one. */
  shared?: boolean | undefined;
  /** Wait until the lock is free (the Promise form waits on the threadpool). Default false: fail at once. */
  wait?: boolean | undefined;
}

/** Options of {@link mapFile}. */
export interface MapFileOptions {
  /** File offset of the first byte (default 0). Any byte: no alignment needed. */
  offset?: number | undefined;
  /** Bytes to map (default: up to the end of the file). The range must lie inside the file. */
  length?: number | undefined;
  /**
   * MAP_SYNC: on a DAX filesystem (persistent memory accessed directly, Linux), keep the
   * file's metadata synchronous with page faults. Fails with ERR_HARDSYNC_UNSUPPORTED where
   * the file or the OS cannot have it; see `capabilities(path).calls.mapSync`.
   */
  sync?: boolean | undefined;
}

/** Options of {@link msync}: the range, within the view (default: the whole view). */
export interface MsyncOptions {
  /** First byte, from the start of the view (default 0). */
  offset?: number | undefined;
  /** Bytes from there (default: to the end of the view). */
  length?: number | undefined;
}

/** Direct-I/O alignment rules of a file or filesystem. */
export interface DioAlignment {
  /** The buffer's memory address must be a multiple of this (0: direct I/O not supported). */
  memory: number;
  /** File offsets and lengths must be multiples of this (0: direct I/O not supported). */
  offset: number;
  /** Where the figures came from, e.g. `"statx(STATX_DIOALIGN)"` or a fallback. */
  source: string;
}

/** The names {@link capabilities} reports on: the exports, with `open` split by mode. */
export type CapabilityName =
  | 'fsync'
  | 'fdatasync'
  | 'fullFsync'
  | 'barrierFsync'
  | 'syncFileRange'
  | 'syncfs'
  | 'fsyncDir'
  | 'open'
  | 'openDsync'
  | 'openSync'
  | 'openDirect'
  | 'preallocate'
  | 'writeDurable'
  | 'replaceFile'
  | 'dioAlignment'
  | 'lockFile'
  | 'mapFile'
  | 'msync'
  | 'mapSync';

/** One entry of {@link capabilities}. */
export interface Capability {
  /** Whether the call works here (on this OS and, when a path was given, on that filesystem). */
  supported: boolean;
  /** What the call runs on this OS, e.g. `"fcntl(F_FULLFSYNC)"` or `"fdatasync(2)"`. */
  syscall: string;
  /** Why it is unsupported on the probed filesystem (only when a probe refused it). */
  reason?: string;
  /**
   * For the flushes and the synchronous opens only: whether a successful call makes the data
   * durable on this OS, through every volatile cache (false for macOS's fsync, which leaves
   * the drive's cache unflushed, and for sync_file_range and O_DIRECT everywhere).
   */
  durable?: boolean;
}

/** Where async flushes run: see {@link EngineInfo}. */
export type EngineName = 'io_uring' | 'threads' | 'libuv-threadpool';

/**
 * Which engine runs this process's (this thread's) async flushes and `writeDurable` calls,
 * chosen when the addon loads:
 * - `io_uring` (Linux): submitted to the kernel; completions wake the event loop directly.
 * - `threads`: hardsync's own flush threads (`flushThreads` of them, `HARDSYNC_FLUSH_THREADS`).
 * - `libuv-threadpool`: libuv's threadpool, shared with node:fs, dns and crypto.
 * The first two never occupy libuv's threadpool, so slow flushes cannot stall other I/O.
 * `HARDSYNC_ENGINE=io_uring|threads|threadpool` forces one; the Sync functions always block.
 */
export interface EngineInfo {
  /** The engine in use. */
  name: EngineName;
  /** What HARDSYNC_ENGINE asked for (`auto` when unset). */
  requested: 'auto' | 'io_uring' | 'threads' | 'threadpool';
  /** Size of hardsync's flush-thread pool (0 for `libuv-threadpool`). */
  flushThreads: number;
  /** Why io_uring is not in use, when it was asked for or would have been the default. */
  reason: string;
}

/** What {@link capabilities} returns. */
export interface Capabilities {
  /** The platform family the addon was built for: "linux", "darwin", "win32", "freebsd". */
  platform: string;
  /** The engine that runs async flushes here. */
  engine: EngineInfo;
  /** Per call: supported or not, and the syscall it maps to. */
  calls: Record<CapabilityName, Capability>;
  /** The probed path, when one was given. */
  path?: string;
  /** Direct-I/O alignment at the probed path, when one was given. */
  dioAlignment?: DioAlignment;
}

/** The O_* and SYNC_FILE_RANGE_* values of this platform (0 where absent). */
export interface Constants {
  readonly O_RDONLY: number;
  readonly O_WRONLY: number;
  readonly O_RDWR: number;
  readonly O_CREAT: number;
  readonly O_EXCL: number;
  readonly O_TRUNC: number;
  readonly O_APPEND: number;
  readonly O_CLOEXEC: number;
  readonly O_NOFOLLOW: number;
  readonly O_DIRECTORY: number;
  readonly O_DSYNC: number;
  readonly O_SYNC: number;
  readonly O_DIRECT: number;
  readonly SYNC_FILE_RANGE_WAIT_BEFORE: number;
  readonly SYNC_FILE_RANGE_WRITE: number;
  readonly SYNC_FILE_RANGE_WAIT_AFTER: number;
  readonly F_FULLFSYNC: number;
  readonly F_BARRIERFSYNC: number;
  readonly F_NOCACHE: number;
}
