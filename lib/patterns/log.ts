/**
 * DurableLog: a write-ahead log whose `append` resolves only once the record is durable, with
 * group commit (one write + one flush for every append that arrived while the previous flush
 * was running), checksummed frames, recovery of a torn tail, preallocated segments, and an
 * advisory lock so that one process owns a log directory. Format: see ./frame.ts.
 * @module
 */
import fs from 'node:fs';
import nodePath from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { outOfRange, rethrowWithCallerStack } from '../errors';
import type { HardsyncError } from '../errors';
import {
  fdatasync,
  fsync,
  fsyncDir,
  fullFsync,
  lockFile,
  open,
  preallocate,
  replaceFile,
  writeDurable,
} from '../primitives';
import type { FlushMode, PathLike } from '../types';
import { toPath, validateArgumentCount, validateIntRange, validateOneOf, validateOptions } from '../validate';
import { canFsyncDir, chunkBytes, withPath } from './common';
import {
  RECORD_HEADER_SIZE,
  SEGMENT_HEADER_SIZE,
  WindowReader,
  decodeSegmentHeader,
  encodeSegmentHeader,
  findDataEnd,
  finishFrame,
  findBatchEvidence,
  parseSegmentName,
  SegmentScanner,
  scanSegment,
  type ScanStop,
  segmentName,
  startFrame,
} from './frame';

/**
 * How an append becomes durable:
 * - `'data'` (default): one write of the batch, then fdatasync (see {@link FlushMode} per OS).
 * - `'full'`: one write, then the strongest flush (F_FULLFSYNC on macOS).
 * - `'dsync'`: segments are opened with O_DSYNC; the write itself returns once durable, no
 *   separate flush. (On macOS O_DSYNC does not flush the drive cache.)
 * - `'none'`: acknowledged with NO flush at all: not durable. For benchmarks and negative tests.
 */
export type LogFlush = 'data' | 'full' | 'dsync' | 'none';

/**
 * How a new segment's space is set aside before any record goes in:
 * - `'zeros'` (default): every byte is written with zeros, then fsynced, so every block is
 *   allocated and initialized. A batch's flush then has data to write and nothing else: no
 *   size change and no extent change. Costs writing each segment twice.
 * - `'reserve'`: {@link preallocate} (fallocate) only: instant, no extra writes. But ext4 and
 *   XFS record the reserved space as unwritten extents, and the first write into each block
 *   converts it, metadata that every such flush must commit to the journal (on this project's
 *   ext4 disk a pwrite + fdatasync of 18 KB took 1.5-2.4x as long as over zeroed blocks; see
 *   bench/README.md). The better choice on copy-on-write filesystems (btrfs, ZFS, APFS), where
 *   every write allocates anyway and writing zeros first gains nothing.
 */
export type SegmentFill = 'zeros' | 'reserve';

/**
 * What {@link DurableLog.open} reads and checks:
 * - `'tail'` (default): the newest segment only, from its header to the end of its records,
 *   plus the zero fill after them up to `maxBatchBytes` (at least 1 MiB) past the last non-zero
 *   byte it finds, which is where a batch torn by a crash can reach. Older segments are not
 *   read: their damage shows when `records()` reaches it (ERR_HARDSYNC_LOG_CORRUPT). Cost: the
 *   records of the newest segment, whatever the segment size or the log size.
 * - `'all'`: every record of every segment (checksum, LSN sequence, no gap between segments),
 *   and the newest segment's zero fill to its end. Damage in an older segment fails the open
 *   with `ERR_HARDSYNC_LOG_CORRUPT` (nothing is modified: those records were acknowledged,
 *   and repairing would mean dropping every later one); open with `'tail'` to use the log
 *   anyway (for example to `truncateBefore` past the damage). Cost: reading the whole log.
 */
export type LogVerify = 'tail' | 'all';

/** Options of {@link DurableLog.open}. */
export interface DurableLogOptions {
  /** See {@link LogVerify}; default `'tail'`. */
  verify?: LogVerify | undefined;
  /** See {@link LogFlush}; default `'data'`. */
  flush?: LogFlush | undefined;
  /** Size each segment is preallocated to; default 64 MiB. A record must fit in one segment. */
  segmentSize?: number | undefined;
  /** How a segment's space is prepared; see {@link SegmentFill}. Default `'zeros'`. */
  segmentFill?: SegmentFill | undefined;
  /** A group-commit batch holds at most this many bytes (a larger record goes alone); default 1 MiB. */
  maxBatchBytes?: number | undefined;
  /** A group-commit batch holds at most this many records; default 4096. */
  maxBatchRecords?: number | undefined;
  /**
   * How long the oldest waiting append may wait for company before its batch is written, in
   * microseconds; default 0 (a batch starts as soon as no flush is running).
   */
  maxDelayMicros?: number | undefined;
}

/** What {@link DurableLog.open} read and checked; see {@link LogVerify}. */
export interface LogVerified {
  /** The `verify` option the log was opened with. */
  mode: LogVerify;
  /** Segments whose header and records were read and checked (1 with `'tail'`). */
  segments: number;
  /** Records whose checksum, LSN and batch end were checked. */
  records: number;
  /** Bytes of segment headers and records that were checked. */
  bytes: number;
  /** First LSN checked (`lastLsn + 1` when no record was). */
  firstLsn: number;
  /** Last LSN checked (`firstLsn - 1` when no record was). */
  lastLsn: number;
  /**
   * Bytes after the last record of the newest segment that were read and are zero (or were
   * zeroed): the rest of the segment with `'all'`, a bounded stretch with `'tail'`.
   */
  zeroFillBytes: number;
}

/**
 * What {@link DurableLog.open} found. `segments`, `records`, `firstLsn` and `lastLsn` describe
 * the whole log, but only what `verified` says was read and checked: with `verify: 'tail'`
 * the older segments' records are counted from their file names, not read.
 */
export interface LogRecovery {
  /** Segment files in the log. */
  segments: number;
  /** Records in the log, `firstLsn` to `lastLsn` (see `verified` for how many were checked). */
  records: number;
  /** LSN of the oldest record in the log (`lastLsn + 1` when the log holds none). */
  firstLsn: number;
  /** LSN of the last valid record (`firstLsn - 1` when the log holds none, 0 for a new log). */
  lastLsn: number;
  /** Bytes after the last valid record that were zeroed (a torn tail, or corruption). */
  truncatedBytes: number;
  /**
   * Set when the bytes after the last valid record were not a torn tail: bytes past the last
   * (never acknowledged) batch were damaged, i.e. data that had been acknowledged is gone.
   * Recovery stopped at `offset` of `segment`; nothing from there on is returned.
   */
  corruption?: { segment: string; offset: number; reason: string };
  /** What was read and checked. */
  verified: LogVerified;
}

const DEFAULTS = {
  segmentSize: 64 * 1024 * 1024,
  maxBatchBytes: 1024 * 1024,
  maxBatchRecords: 4096,
  maxDelayMicros: 0,
};
const MIN_SEGMENT_SIZE = 1024;
// Batch ends and record lengths are u32 in the format; Buffers above 2 GiB are awkward anyway.
const MAX_SEGMENT_SIZE = 2 ** 31;
const LOG_FLUSHES: readonly LogFlush[] = ['data', 'full', 'dsync', 'none'];
const SEGMENT_FILLS: readonly SegmentFill[] = ['zeros', 'reserve'];
const LOG_VERIFIES: readonly LogVerify[] = ['tail', 'all'];
/** The least stretch of zero fill that `verify: 'tail'` reads past the last non-zero byte. */
const MIN_TAIL_GAP = 1024 * 1024;
const LOCK_NAME = 'LOCK';
/**
 * The file the next segment is made from, while it is being prepared (filled and fsynced). It
 * never holds a record or a header, and ends in `.wal.tmp`, so `open` removes a leftover one.
 */
const SPARE_NAME = 'next.wal.tmp';
/** Zeros are written in pieces of this size (one shared, never-written buffer). */
const ZERO_CHUNK = 1024 * 1024;
/**
 * A spare being zero-filled is flushed every this many bytes, so that the disk takes its zeros
 * in bounded bursts: a batch's flush queued behind them waits for at most this much. Measured
 * with `bench/patterns.ts --rolls` (bench/README.md): with one fsync of a whole 64 MiB spare the
 * worst append took ~43 ms; in 8 MiB steps ~7 ms, at the price of more appends near that
 * (p99.9 ~6 ms instead of ~2 ms). Write-and-wait of each 1 MiB piece (sync_file_range) spread
 * the zeros so thinly that many more batches met one: p99 2.2x.
 */
const ZERO_FLUSH_EVERY = 8 * 1024 * 1024;
let zeroChunk: Buffer | undefined;

const closeAsync = promisify(fs.close);
const writeAsync = promisify(fs.write);
const fstatAsync = promisify(fs.fstat);

interface Segment {
  firstLsn: number;
  path: string;
}

/** An append waiting for its batch; its frame sits in the log's arena, in queue order. */
class Pending {
  constructor(
    readonly lsn: number,
    readonly size: number,
    readonly payloadCrc: number,
    readonly enqueuedAt: number,
    readonly resolve: (value: { lsn: number }) => void,
    readonly reject: (error: unknown) => void,
  ) {}
}

/** Initial arena size; an arena grown past ARENA_KEEP by a large record is given back when idle. */
const ARENA_START = 64 * 1024;
const ARENA_KEEP = 4 * 1024 * 1024;

interface Settings {
  flush: LogFlush;
  segmentSize: number;
  segmentFill: SegmentFill;
  maxBatchBytes: number;
  maxBatchRecords: number;
  maxDelayMicros: number;
  verify: LogVerify;
}

function logError(code: string, message: string, extra?: object): HardsyncError {
  const error = new Error(message) as HardsyncError;
  error.code = code;
  if (extra) Object.assign(error, extra);
  return error;
}

function settingsFrom(options: unknown): Settings {
  validateOptions(options);
  const given = (options ?? {}) as Record<string, unknown>;
  const number = (name: keyof typeof DEFAULTS, min: number, max: number): number => {
    const value = given[name] === undefined ? DEFAULTS[name] : given[name];
    validateIntRange(value, `options.${name}`, min, max);
    return value;
  };
  return {
    flush: validateOneOf(given.flush, 'options.flush', LOG_FLUSHES, 'data'),
    segmentSize: number('segmentSize', MIN_SEGMENT_SIZE, MAX_SEGMENT_SIZE),
    segmentFill: validateOneOf(given.segmentFill, 'options.segmentFill', SEGMENT_FILLS, 'zeros'),
    maxBatchBytes: number('maxBatchBytes', 1, MAX_SEGMENT_SIZE),
    maxBatchRecords: number('maxBatchRecords', 1, 2 ** 31 - 1),
    maxDelayMicros: number('maxDelayMicros', 0, 60_000_000),
    verify: validateOneOf(given.verify, 'options.verify', LOG_VERIFIES, 'tail'),
  };
}

/** mkdir -p, then fsync the parent of every directory it created, so they survive a crash. */
async function makeDirectoryDurable(directory: string): Promise<void> {
  const first = await fs.promises.mkdir(directory, { recursive: true });
  if (first === undefined || !canFsyncDir()) return;
  const created: string[] = [];
  for (let dir = directory; ; dir = nodePath.dirname(dir)) {
    created.push(dir);
    if (dir === first || nodePath.dirname(dir) === dir) break;
  }
  for (const dir of created.reverse()) await fsyncDir(nodePath.dirname(dir));
}

function nextTick(): Promise<void> {
  return new Promise((resolve) => process.nextTick(resolve));
}

/**
 * A write-ahead log in a directory. `append` resolves only after the record is durable (per
 * the `flush` option); appends that arrive while a flush runs are written together with one
 * write and one flush (group commit). Never more than one write or flush is in flight.
 *
 * After any write or flush error the log is failed: pending appends and every later call
 * (except `close`, which releases the files) reject with that error, because after a failed
 * fsync the kernel may have dropped the dirty pages and nothing written since can be trusted.
 * Reopen the directory to run recovery.
 *
 * One process owns a log directory: `open` takes an advisory lock on `<dir>/LOCK`, and a second
 * open (from another process, or another open in this one) fails with
 * `code: 'ERR_HARDSYNC_LOG_LOCKED'`.
 *
 * Guarantees of `append` (see {@link DurableLog.append}): LSNs in call order; promises settle
 * in LSN order; when append(N) resolves every record below N is durable; after a failure no
 * later append resolves. Positions: {@link DurableLog.firstLsn} (oldest readable),
 * {@link DurableLog.lastLsn} (last durable), {@link DurableLog.nextLsn} (next to be given).
 * Readers: a `records()` iterator keeps the segments it still has to read, so `truncateBefore`
 * never makes it fail or skip (see {@link DurableLog.records}). What `open` checked:
 * {@link DurableLog.recovery}`.verified` (see {@link LogVerify}).
 */
export class DurableLog {
  /** What `open` found and repaired. */
  readonly recovery: LogRecovery;

  readonly #directory: string;
  readonly #settings: Settings;
  readonly #writeFlush: FlushMode;
  #lockFd: number;
  #segments: Segment[];
  #fd: number;
  #capacity: number;
  #offset: number;
  // Bytes of the active segment from #offset up to here are known to be zero: all of a new
  // segment; in the segment open recovered, as far as recovery read. A batch that would reach
  // past it first reads on (see #checkAhead).
  #zeroTo: number;
  #nextLsn: number;
  #durableLsn: number;
  #queue: Pending[] = [];
  // Frames of the queued appends, back to back from offset 0 in queue order, so a batch is one
  // slice of it: no per-record buffers and no concat on the hot path.
  #arena = Buffer.allocUnsafe(ARENA_START);
  #queuedBytes = 0;
  #inflight: Pending[] = [];
  #flushing = false;
  #scheduled = false;
  #wake: (() => void) | undefined;
  #idleWaiters: (() => void)[] = [];
  #failure: unknown;
  #closed = false;
  #closing: Promise<void> | undefined;
  #truncating: Promise<void> = Promise.resolve();
  // Segments truncateBefore took out of the log whose files are not removed yet, oldest first:
  // an iterator still reads them (see records()).
  #doomed: Segment[] = [];
  // How many iterators still have each segment to read.
  #pins = new Map<Segment, number>();
  // The next segment's file, prepared in the background once the active segment is half full,
  // so that a roll does not wait for a whole segment of zeros to be written and fsynced.
  #spare: Promise<string> | undefined;
  #spareStopped = false;

  private constructor(state: {
    directory: string;
    settings: Settings;
    lockFd: number;
    segments: Segment[];
    fd: number;
    capacity: number;
    offset: number;
    zeroTo: number;
    lastLsn: number;
    recovery: LogRecovery;
  }) {
    this.#directory = state.directory;
    this.#settings = state.settings;
    this.#writeFlush = state.settings.flush === 'dsync' ? 'none' : state.settings.flush;
    this.#lockFd = state.lockFd;
    this.#segments = state.segments;
    this.#fd = state.fd;
    this.#capacity = state.capacity;
    this.#offset = state.offset;
    this.#zeroTo = state.zeroTo;
    this.#nextLsn = state.lastLsn + 1;
    this.#durableLsn = state.lastLsn;
    this.recovery = Object.freeze({ ...state.recovery, verified: Object.freeze({ ...state.recovery.verified }) });
  }

  /**
   * Opens (creating if needed) the log in `dir`, locks it, and recovers: the last segment is
   * scanned, every complete record with a valid checksum and LSN is kept, the bytes after the
   * last one are zeroed and fdatasynced (the segment stays preallocated, so later appends still
   * change no file size), and `recovery` says what was found.
   * @param dir The log's directory (created with its parents if missing).
   * @param options See {@link DurableLogOptions}.
   */
  static async open(dir: PathLike, options?: DurableLogOptions): Promise<DurableLog> {
    validateArgumentCount(arguments, 2, 'DurableLog.open', 'await DurableLog.open(dir, options)');
    return DurableLog.#open(dir, options).then(undefined, rethrowWithCallerStack);
  }

  static async #open(dir: PathLike, options?: DurableLogOptions): Promise<DurableLog> {
    const directory = nodePath.resolve(toPath(dir, 'dir'));
    const settings = settingsFrom(options);
    await makeDirectoryDurable(directory);
    const lockPath = nodePath.join(directory, LOCK_NAME);
    const lockFd = await open(lockPath, { read: true, write: true, create: true, mode: 0o644 });
    try {
      await lockFile(lockFd);
    } catch (error) {
      fs.close(lockFd, () => undefined);
      const code = (error as HardsyncError).code;
      if (code === 'EAGAIN' || code === 'EWOULDBLOCK' || code === 'EBUSY') {
        throw logError(
          'ERR_HARDSYNC_LOG_LOCKED',
          `DurableLog: ${directory} is in use by another process or DurableLog (lock on ${lockPath} is held)`,
          { path: lockPath, cause: error },
        );
      }
      throw withPath(error, lockPath);
    }
    try {
      return await DurableLog.#recover(directory, settings, lockFd);
    } catch (error) {
      fs.close(lockFd, () => undefined);
      throw error;
    }
  }

  static async #recover(directory: string, settings: Settings, lockFd: number): Promise<DurableLog> {
    const names = await fs.promises.readdir(directory);
    // A *.wal.tmp is a segment whose preparation did not finish: it never held a record.
    const leftovers = names.filter((name) => name.endsWith('.wal.tmp'));
    for (const name of leftovers) await fs.promises.rm(nodePath.join(directory, name), { force: true });
    if (leftovers.length > 0 && canFsyncDir()) await fsyncDir(directory);
    const segments = names
      .map((name) => ({ name, firstLsn: parseSegmentName(name) }))
      .filter((entry): entry is { name: string; firstLsn: number } => entry.firstLsn !== undefined)
      .sort((a, b) => a.firstLsn - b.firstLsn)
      .map(({ name, firstLsn }) => ({ firstLsn, path: nodePath.join(directory, name) }));

    if (segments.length === 0) {
      const fresh = await installSegment(directory, await prepareSpare(directory, settings, () => false), 1, settings);
      return new DurableLog({
        directory,
        settings,
        lockFd,
        segments: [fresh.segment],
        fd: fresh.fd,
        capacity: settings.segmentSize,
        offset: SEGMENT_HEADER_SIZE,
        zeroTo: settings.segmentSize,
        lastLsn: 0,
        recovery: {
          segments: 1,
          records: 0,
          firstLsn: 1,
          lastLsn: 0,
          truncatedBytes: 0,
          verified: { mode: settings.verify, segments: 0, records: 0, bytes: 0, firstLsn: 1, lastLsn: 0, zeroFillBytes: 0 },
        },
      });
    }

    const verified = { mode: settings.verify, segments: 0, records: 0, bytes: 0, firstLsn: segments[segments.length - 1].firstLsn, lastLsn: 0, zeroFillBytes: 0 };
    if (settings.verify === 'all') {
      verified.firstLsn = segments[0].firstLsn;
      for (let index = 0; index + 1 < segments.length; index++) {
        const checked = await verifySealedSegment(segments[index], segments[index + 1].firstLsn - 1);
        verified.segments++;
        verified.records += checked.records;
        verified.bytes += checked.bytes;
      }
    }

    const last = segments[segments.length - 1];
    const fd = await open(last.path, { read: true, write: true, dsync: settings.flush === 'dsync' });
    try {
      const { size } = await fstatAsync(fd);
      const reader = new WindowReader(fd, size);
      const header = decodeSegmentHeader(Buffer.from(await reader.bytes(0, SEGMENT_HEADER_SIZE)));
      // Segments get their final name only after their header is durable, so a bad header is
      // damage, not a torn write: refuse rather than guess.
      if ('reason' in header || header.firstLsn !== last.firstLsn) {
        const reason = 'reason' in header ? header.reason : `header says first LSN ${header.firstLsn}`;
        throw logError('ERR_HARDSYNC_LOG_CORRUPT', `DurableLog: segment ${last.path} is damaged: ${reason}`, { path: last.path });
      }
      const scan = await scanSegment(reader, last.firstLsn);
      const stop = scan.stop.offset;
      // Where the non-zero bytes after the last valid record end. A crash can leave the batch
      // being written torn, with holes of zeros (sectors that never reached the disk) before
      // sectors that did, so the search reads on for a batch's worth of zeros past every
      // non-zero byte; with 'all' it reads the whole zero fill.
      const gap = settings.verify === 'all' ? Infinity : Math.max(settings.maxBatchBytes, MIN_TAIL_GAP);
      const claimed = Math.max(scan.lastBatchEnd, scan.stop.claimedEnd ?? 0, scan.stop.claimedBatchEnd ?? 0);
      const data = await findDataEnd(reader, stop, gap, claimed);
      const garbageEnd = data.end;
      let truncatedBytes = 0;
      let corruption: LogRecovery['corruption'];
      if (garbageEnd > stop) {
        // The last batch written before the crash may be torn anywhere inside it: that is the
        // expected state after a power cut, as nothing in it was acknowledged. Garbage that
        // reaches past it is corruption of acknowledged data.
        let batchLimit = stop < scan.lastBatchEnd ? scan.lastBatchEnd : undefined;
        const claims = [scan.stop.claimedEnd, scan.stop.claimedBatchEnd];
        if (batchLimit === undefined) {
          claims.push(await findBatchEvidence(reader, stop, garbageEnd, scan.lastLsn + 1));
        }
        for (const claim of claims) if (claim !== undefined) batchLimit = Math.max(batchLimit ?? 0, claim);
        if (batchLimit === undefined || garbageEnd > batchLimit) {
          corruption = { segment: nodePath.basename(last.path), offset: stop, reason: scan.stop.reason === 'end' ? 'non-zero bytes after the end of the log' : scan.stop.reason };
        }
        truncatedBytes = garbageEnd - stop;
        // Zero rather than ftruncate: the segment keeps its preallocated size, so the appends
        // that follow still overwrite in place and fdatasync has no size change to write.
        await writeDurable(fd, Buffer.alloc(truncatedBytes), stop, { flush: 'data' }).catch((error: unknown) => {
          throw withPath(error, last.path);
        });
      }
      verified.segments++;
      verified.records += scan.records;
      verified.bytes += stop;
      verified.lastLsn = scan.lastLsn;
      verified.zeroFillBytes = data.checkedTo - stop;
      const firstLsn = segments[0].firstLsn;
      return new DurableLog({
        directory,
        settings,
        lockFd,
        segments,
        fd,
        capacity: size,
        offset: stop,
        zeroTo: data.checkedTo,
        lastLsn: scan.lastLsn,
        recovery: {
          segments: segments.length,
          records: scan.lastLsn - firstLsn + 1,
          firstLsn,
          lastLsn: scan.lastLsn,
          truncatedBytes,
          ...(corruption ? { corruption } : {}),
          verified,
        },
      });
    } catch (error) {
      fs.close(fd, () => undefined);
      throw error;
    }
  }

  /**
   * The LSN of the oldest record still readable: `records()` starts there, and
   * `records(from)` with `from` below it fails with `ERR_HARDSYNC_LOG_TRUNCATED`. It is the
   * first LSN of the oldest segment, so it moves up when `truncateBefore` removes segments
   * (as soon as it starts removing them), and it may be below the LSN given to truncateBefore
   * (only whole segments are removed). When the log holds no record it equals `nextLsn`
   * (`firstLsn > lastLsn`): 1 for a new log.
   */
  get firstLsn(): number {
    return this.#segments[0].firstLsn;
  }

  /**
   * The LSN of the last durable record: the highest acknowledged one (its append resolved),
   * or the last one recovery found. 0 for a new log; `firstLsn - 1` when the log holds no
   * record. Appends that are still pending are not counted.
   */
  get lastLsn(): number {
    return this.#durableLsn;
  }

  /**
   * The LSN the next `append` will get: one more than the last LSN given out, pending appends
   * included (`lastLsn + 1` when none is pending). On a failed log the rejected appends'
   * LSNs were given out too; reopen to find where the log really ends.
   */
  get nextLsn(): number {
    return this.#nextLsn;
  }

  /**
   * Appends one record. Resolves with its LSN only after the record is durable: written and
   * flushed as the `flush` option says, together with whatever else was waiting (group
   * commit). The bytes are copied at once, so the caller may reuse its buffer.
   *
   * Guarantees, which a consumer applying records in order may rely on:
   * - LSNs are given in call order: consecutive, from 1, the LSN being fixed when `append` is
   *   called (it is `nextLsn` at that moment).
   * - The promises settle in LSN order: no append resolves (or rejects) before every append
   *   with a lower LSN has settled.
   * - When the append of LSN N resolves, every record with an LSN below N is durable too.
   * - After a failure (a write or flush error) no later append resolves: the appends pending
   *   then and every later call reject with that error.
   * @param data The record: bytes, or a string (stored as UTF-8).
   */
  append(data: string | ArrayBufferView): Promise<{ lsn: number }> {
    try {
      validateArgumentCount(arguments, 1, 'log.append', 'await log.append(data)');
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#append(data).then(undefined, rethrowWithCallerStack);
  }

  #append(data: string | ArrayBufferView): Promise<{ lsn: number }> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    if (this.#closed) return Promise.reject(this.#closedError());
    let payload: Buffer;
    try {
      payload = chunkBytes(data, 'utf8', 'data');
      const max = this.#settings.segmentSize - SEGMENT_HEADER_SIZE - RECORD_HEADER_SIZE;
      if (payload.length > max) throw outOfRange('data.byteLength', `<= ${max} (a record must fit in one segment)`, payload.length);
    } catch (error) {
      return Promise.reject(error);
    }
    const lsn = this.#nextLsn++;
    const size = RECORD_HEADER_SIZE + payload.length;
    this.#reserve(size);
    const payloadCrc = startFrame(this.#arena, this.#queuedBytes, payload, lsn);
    this.#queuedBytes += size;
    let resolve!: (value: { lsn: number }) => void;
    let reject!: (error: unknown) => void;
    const promise = new Promise<{ lsn: number }>((resolve_, reject_) => {
      resolve = resolve_;
      reject = reject_;
    });
    const gathering = this.#settings.maxDelayMicros > 0;
    this.#queue.push(new Pending(lsn, size, payloadCrc, gathering ? performance.now() : 0, resolve, reject));
    if (this.#wake !== undefined && this.#batchFull()) {
      const wake = this.#wake;
      this.#wake = undefined;
      wake();
    }
    this.#schedule();
    return promise;
  }

  /** Makes room for `size` more bytes of frames in the arena. */
  #reserve(size: number): void {
    const needed = this.#queuedBytes + size;
    if (needed <= this.#arena.length) return;
    const grown = Buffer.allocUnsafe(Math.max(needed, this.#arena.length * 2));
    this.#arena.copy(grown, 0, 0, this.#queuedBytes);
    this.#arena = grown;
  }

  #closedError(): HardsyncError {
    return logError('ERR_HARDSYNC_LOG_CLOSED', `DurableLog: ${this.#directory} is closed`);
  }

  #batchFull(): boolean {
    return this.#queue.length >= this.#settings.maxBatchRecords || this.#queuedBytes >= this.#settings.maxBatchBytes;
  }

  #schedule(): void {
    if (this.#flushing || this.#scheduled) return;
    this.#scheduled = true;
    // nextTick runs after the current run of promise reactions, so every append made in this
    // turn (including those of appenders whose previous append just resolved) joins the batch.
    process.nextTick(() => {
      this.#scheduled = false;
      void this.#drain();
    });
  }

  async #drain(): Promise<void> {
    if (this.#flushing) return;
    this.#flushing = true;
    try {
      while (this.#queue.length > 0 && this.#failure === undefined) {
        if (this.#settings.maxDelayMicros > 0) await this.#gather();
        const head = this.#queue[0];
        if (this.#offset + head.size > this.#capacity) {
          await this.#roll(head.lsn);
          continue;
        }
        await this.#writeBatch();
        // Let the appenders just resolved queue their next records before the next batch forms.
        await nextTick();
      }
    } catch (error) {
      this.#fail(error);
    } finally {
      this.#flushing = false;
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const waiter of waiters) waiter();
    }
  }

  async #writeBatch(): Promise<void> {
    const { maxBatchBytes, maxBatchRecords } = this.#settings;
    let count = 0;
    let bytes = 0;
    while (count < this.#queue.length && count < maxBatchRecords) {
      const size = this.#queue[count].size;
      if (count > 0 && bytes + size > maxBatchBytes) break;
      if (this.#offset + bytes + size > this.#capacity) break;
      bytes += size;
      count++;
    }
    // Appends made while this waits only join the queue's end: the first `count` stay put.
    if (this.#offset + bytes > this.#zeroTo) await this.#checkAhead(this.#offset + bytes);
    const batch = this.#queue.splice(0, count);
    this.#inflight = batch;
    const batchEnd = this.#offset + bytes;
    const arena = this.#arena;
    for (let i = 0, at = 0; i < count; at += batch[i].size, i++) finishFrame(arena, at, batch[i].payloadCrc, batchEnd);
    // writeDurable copies the bytes before it returns its promise, so the arena can be reused
    // for the appends that arrive while this batch is being written and flushed.
    const written = writeDurable(this.#fd, arena.subarray(0, bytes), this.#offset, { flush: this.#writeFlush });
    this.#queuedBytes -= bytes;
    if (this.#queuedBytes > 0) arena.copyWithin(0, bytes, bytes + this.#queuedBytes);
    if (arena.length > ARENA_KEEP && this.#queuedBytes <= ARENA_START) {
      this.#arena = Buffer.allocUnsafe(ARENA_START);
      arena.copy(this.#arena, 0, 0, this.#queuedBytes);
    }
    try {
      await written;
    } catch (error) {
      throw withPath(error, this.#segments[this.#segments.length - 1].path);
    }
    this.#offset = batchEnd;
    this.#durableLsn = batch[count - 1].lsn;
    this.#inflight = [];
    for (const pending of batch) pending.resolve({ lsn: pending.lsn });
    if (this.#spare === undefined && this.#offset * 2 >= this.#capacity) {
      const spare = prepareSpare(this.#directory, this.#settings, () => this.#spareStopped);
      spare.catch(() => undefined); // not this batch's failure: the roll prepares it again
      this.#spare = spare;
    }
  }

  /**
   * Reads the active segment past #zeroTo before a batch is written there. Recovery with
   * verify 'tail' reads only a bounded stretch of the zero fill after the last record, and no
   * batch may land next to bytes nobody has looked at: stale frames there (left, say, by a
   * batch torn with holes larger than this open's maxBatchBytes) could later read as records.
   * Non-zero bytes fail the log with ERR_HARDSYNC_LOG_CORRUPT (the batch is not written);
   * reopening with `verify: 'all'` reads the whole zero fill and repairs or reports them.
   */
  async #checkAhead(end: number): Promise<void> {
    const path = this.#segments[this.#segments.length - 1].path;
    const reader = new WindowReader(this.#fd, this.#capacity);
    const to = Math.min(this.#capacity, end + Math.max(this.#settings.maxBatchBytes, MIN_TAIL_GAP));
    let found;
    try {
      found = await findDataEnd(reader, this.#zeroTo, 0, to);
    } catch (error) {
      throw withPath(error, path);
    }
    if (found.end > this.#zeroTo) {
      throw logError(
        'ERR_HARDSYNC_LOG_CORRUPT',
        `DurableLog: segment ${path} holds non-zero bytes between offsets ${this.#zeroTo} and ${found.end}, after the end of the log, where open did not look; reopen with verify: 'all' to check and repair it`,
        { path, offset: this.#zeroTo },
      );
    }
    this.#zeroTo = found.checkedTo;
  }

  /** Waits (up to maxDelayMicros after the oldest append) for the batch to fill. */
  async #gather(): Promise<void> {
    const deadline = this.#queue[0].enqueuedAt + this.#settings.maxDelayMicros / 1000;
    while (!this.#batchFull() && this.#failure === undefined && !this.#closed) {
      const remaining = deadline - performance.now();
      if (remaining <= 0) return;
      await new Promise<void>((resolve) => {
        // setTimeout cannot wait less than 1 ms; below that, yield one event-loop turn at a time.
        const timer = remaining >= 1 ? setTimeout(resolve, Math.floor(remaining)) : undefined;
        if (timer === undefined) setImmediate(resolve);
        this.#wake = () => {
          if (timer !== undefined) clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = undefined;
    }
  }

  /** Seals the current segment (fully flushed already) and makes a new one the active one. */
  async #roll(firstLsn: number): Promise<void> {
    // The spare prepared in the background; if there is none, or preparing it failed (say,
    // ENOSPC before a truncateBefore freed space), prepare one now: only this error fails the log.
    const ready = await this.#spare?.catch(() => undefined);
    this.#spare = undefined;
    const spare = ready ?? (await prepareSpare(this.#directory, this.#settings, () => this.#spareStopped));
    const fresh = await installSegment(this.#directory, spare, firstLsn, this.#settings);
    const old = this.#fd;
    this.#fd = fresh.fd;
    this.#segments.push(fresh.segment);
    this.#capacity = this.#settings.segmentSize;
    this.#offset = SEGMENT_HEADER_SIZE;
    this.#zeroTo = this.#capacity;
    await closeAsync(old);
  }

  #fail(error: unknown): void {
    if (this.#failure === undefined) this.#failure = error;
    const failed = [...this.#inflight, ...this.#queue];
    this.#inflight = [];
    this.#queue = [];
    this.#queuedBytes = 0;
    for (const pending of failed) pending.reject(this.#failure);
  }

  #check(): void {
    if (this.#failure !== undefined) throw this.#failure;
    if (this.#closed) throw this.#closedError();
  }

  /**
   * The durable records from `fromLsn` on (default: `firstLsn`), read from disk, in LSN order.
   * Iteration begins at the first `next()` (the first turn of a `for await`): it then takes the
   * records up to `lastLsn` as of that moment and ends after them (later appends are not
   * included; start another iteration from the next LSN to follow the log).
   *
   * Reading while truncating: an iterator keeps the segments it has still to read. When
   * `truncateBefore` removes one of them from the log, the file stays in the directory until
   * every iterator that holds it has read past it, returned (a `break` out of `for await`) or
   * thrown; then it is removed (unlink, then an fsync of the directory). So an iterator
   * always returns every record it set out to return, without a gap, and no file is ever
   * unlinked while a reader has it open (which Windows refuses).
   *
   * Errors: `fromLsn` below `firstLsn` (those records were removed) is a RangeError with code
   * `ERR_HARDSYNC_LOG_TRUNCATED` and a `firstLsn` property, the LSN to resume from. A damaged
   * record throws `ERR_HARDSYNC_LOG_CORRUPT`: nothing past it is returned. Once `close()` is
   * called, an iterator throws `ERR_HARDSYNC_LOG_CLOSED` at its next step.
   * @param fromLsn First LSN wanted (an integer >= 1; ERR_OUT_OF_RANGE otherwise).
   */
  async *records(fromLsn?: number): AsyncGenerator<{ lsn: number; data: Buffer }, void, undefined> {
    validateArgumentCount(arguments, 1, 'log.records', 'for await (const r of log.records(fromLsn))');
    this.#check();
    if (fromLsn !== undefined) validateIntRange(fromLsn, 'fromLsn', 1, Number.MAX_SAFE_INTEGER);
    const segments = [...this.#segments];
    const upTo = this.#durableLsn;
    const firstRetained = segments[0].firstLsn;
    if (fromLsn !== undefined && fromLsn < firstRetained) {
      const error = new RangeError(
        `DurableLog: records before LSN ${firstRetained} were removed by truncateBefore (asked for ${fromLsn}); the oldest readable record is log.firstLsn = ${firstRetained}`,
      ) as RangeError & { code: string; firstLsn: number; requestedLsn: number };
      error.code = 'ERR_HARDSYNC_LOG_TRUNCATED';
      error.firstLsn = firstRetained;
      error.requestedLsn = fromLsn;
      throw error;
    }
    const start = fromLsn ?? firstRetained;
    let first = 0;
    while (first + 1 < segments.length && segments[first + 1].firstLsn <= start) first++;
    let end = first;
    while (end < segments.length && segments[end].firstLsn <= upTo && start <= upTo) end++;
    const lease = this.#pin(segments.slice(first, end));
    try {
      for (let index = first; index < end; index++) {
        const segment = segments[index];
        const fd = await open(segment.path);
        try {
          const { size } = await fstatAsync(fd);
          const reader = new WindowReader(fd, size);
          const header = decodeSegmentHeader(Buffer.from(await reader.bytes(0, SEGMENT_HEADER_SIZE)));
          if ('reason' in header || header.firstLsn !== segment.firstLsn) {
            throw logError('ERR_HARDSYNC_LOG_CORRUPT', `DurableLog: segment ${segment.path} has a damaged header`, { path: segment.path });
          }
          // The last LSN this segment should hold that the caller may see.
          const lastWanted = index + 1 < segments.length ? Math.min(upTo, segments[index + 1].firstLsn - 1) : upTo;
          const scanner = new SegmentScanner(reader, segment.firstLsn);
          while (scanner.lastLsn < lastWanted) {
            if (this.#closed) throw this.#closedError();
            const record = await scanner.next();
            if (record === undefined) {
              const stop = scanner.stop as ScanStop;
              throw logError(
                'ERR_HARDSYNC_LOG_CORRUPT',
                `DurableLog: record ${scanner.lastLsn + 1} in ${segment.path} at offset ${stop.offset} is damaged (${stop.reason})`,
                { path: segment.path, offset: stop.offset, reason: stop.reason },
              );
            }
            if (record.lsn >= start) yield { lsn: record.lsn, data: Buffer.from(record.payload) };
          }
        } finally {
          await closeAsync(fd);
        }
        lease.release(segment);
      }
    } finally {
      lease.releaseAll();
    }
  }

  /** Marks `segments` as still to be read by one iterator, until it releases them. */
  #pin(segments: Segment[]): { release(segment: Segment): void; releaseAll(): void } {
    const held = new Set(segments);
    for (const segment of held) this.#pins.set(segment, (this.#pins.get(segment) ?? 0) + 1);
    const release = (segment: Segment): void => {
      if (!held.delete(segment)) return;
      const count = this.#pins.get(segment);
      if (count === undefined) return; // close() dropped every pin
      if (count > 1) this.#pins.set(segment, count - 1);
      else this.#pins.delete(segment);
      if (count === 1 && this.#doomed.includes(segment) && !this.#closed) {
        // The removal runs in truncateBefore's queue; a failure leaves the file in #doomed, and
        // the next truncateBefore (or close) tries again and reports it.
        this.#truncating = this.#truncating.then(() => this.#removeDoomed()).catch(() => undefined);
      }
    };
    return {
      release,
      releaseAll: () => {
        for (const segment of [...held]) release(segment);
      },
    };
  }

  /**
   * Removes, durably, every whole segment whose records all have LSNs below `lsn`, oldest
   * first, so a crash part-way leaves a contiguous log; the active segment is never removed.
   * The segments leave the log at once (`firstLsn` moves up); their files are unlinked, then
   * the directory is fsynced, and the promise resolves. A segment that a `records()` iterator
   * still has to read is unlinked only once no iterator holds it (it and every newer removed
   * segment then wait; see {@link records}); until then a crash leaves it in the directory,
   * and a reopened log starts there again. A later truncateBefore, and close, wait for such
   * removals in progress and retry one that failed (rejecting if it fails again).
   * @param lsn The first LSN that must be kept: an integer from 1 to `nextLsn`. Anything else
   *   is a RangeError `ERR_OUT_OF_RANGE` (TypeError `ERR_INVALID_ARG_TYPE` for a non-number),
   *   thrown before anything is removed.
   */
  truncateBefore(lsn: number): Promise<void> {
    try {
      validateArgumentCount(arguments, 1, 'log.truncateBefore', 'await log.truncateBefore(lsn)');
      this.#check();
      validateIntRange(lsn, 'lsn', 1, this.#nextLsn);
    } catch (error) {
      return Promise.reject(error);
    }
    const run = this.#truncating.then(() => this.#removeSegmentsBefore(lsn));
    this.#truncating = run.catch(() => undefined);
    return run.then(undefined, rethrowWithCallerStack);
  }

  async #removeSegmentsBefore(lsn: number): Promise<void> {
    this.#check();
    while (this.#segments.length > 1 && this.#segments[1].firstLsn <= lsn) this.#doomed.push(this.#segments.shift() as Segment);
    await this.#removeDoomed();
  }

  /** Unlinks the removed segments no iterator holds, oldest first, then fsyncs the directory. */
  async #removeDoomed(): Promise<void> {
    let removed = 0;
    try {
      while (this.#doomed.length > 0 && !this.#pins.has(this.#doomed[0])) {
        await fs.promises.unlink(this.#doomed[0].path);
        this.#doomed.shift();
        removed++;
      }
    } finally {
      if (removed > 0 && canFsyncDir()) {
        try {
          await fsyncDir(this.#directory);
        } catch (error) {
          this.#fail(error);
          // eslint-disable-next-line no-unsafe-finally
          throw error;
        }
      }
    }
  }

  /**
   * Waits for the appends already made to finish (flushed, or rejected if the log failed),
   * then closes the segment and releases the lock. Later calls reject with
   * `ERR_HARDSYNC_LOG_CLOSED` (or the failure, on a failed log), and so does the next step of
   * an iterator still running. Segments removed by `truncateBefore` whose files an iterator
   * kept are unlinked now. Closing a failed log resolves: it is how its files are released;
   * it rejects only if removing such a segment fails (the files are released all the same).
   */
  close(): Promise<void> {
    try {
      validateArgumentCount(arguments, 0, 'log.close', 'await log.close()');
    } catch (error) {
      return Promise.reject(error);
    }
    this.#closing ??= (async () => {
      this.#closed = true;
      // Nothing else can join a batch that is waiting for company: write it now.
      if (this.#wake !== undefined) {
        const wake = this.#wake;
        this.#wake = undefined;
        wake();
      }
      while (this.#flushing || this.#scheduled || this.#queue.length > 0) {
        await new Promise<void>((resolve) => {
          this.#idleWaiters.push(resolve);
          if (!this.#flushing && !this.#scheduled) this.#schedule();
        });
      }
      await this.#truncating;
      // No iterator reads on after close: what they held can go.
      this.#pins.clear();
      let removal: { error: unknown } | undefined;
      if (this.#doomed.length > 0) await this.#removeDoomed().catch((error: unknown) => (removal = { error }));
      this.#spareStopped = true;
      if (this.#spare !== undefined) {
        const spare = await this.#spare.catch(() => undefined);
        this.#spare = undefined;
        if (spare !== undefined) await fs.promises.rm(spare, { force: true });
      }
      const fd = this.#fd;
      const lockFd = this.#lockFd;
      this.#fd = -1;
      this.#lockFd = -1;
      await closeAsync(fd).catch(() => undefined);
      await closeAsync(lockFd).catch(() => undefined);
      if (removal !== undefined) throw removal.error;
    })();
    return this.#closing.then(undefined, rethrowWithCallerStack);
  }
}

/**
 * Checks a sealed (not the newest) segment for `verify: 'all'`: a valid header naming its
 * first LSN, every record from there to `lastLsn` valid and in sequence, and nothing after the
 * last one but the zero fill (a following record would overlap the next segment). Throws
 * ERR_HARDSYNC_LOG_CORRUPT with the segment, offset, LSN and reason otherwise. Read only.
 */
async function verifySealedSegment(segment: Segment, lastLsn: number): Promise<{ records: number; bytes: number }> {
  const fd = await open(segment.path);
  try {
    const { size } = await fstatAsync(fd);
    const reader = new WindowReader(fd, size);
    const corrupt = (offset: number, lsn: number | undefined, reason: string): HardsyncError =>
      logError(
        'ERR_HARDSYNC_LOG_CORRUPT',
        `DurableLog: segment ${segment.path} is damaged at offset ${offset}${lsn === undefined ? '' : ` (record ${lsn})`}: ${reason}`,
        { path: segment.path, segment: nodePath.basename(segment.path), offset, ...(lsn === undefined ? {} : { lsn }), reason },
      );
    const header = decodeSegmentHeader(Buffer.from(await reader.bytes(0, SEGMENT_HEADER_SIZE)));
    if ('reason' in header) throw corrupt(0, undefined, header.reason);
    if (header.firstLsn !== segment.firstLsn) throw corrupt(0, undefined, `header says first LSN ${header.firstLsn}`);
    const scanner = new SegmentScanner(reader, segment.firstLsn);
    while (scanner.lastLsn < lastLsn) {
      if ((await scanner.next()) === undefined) {
        const stop = scanner.stop as ScanStop;
        const reason = stop.reason === 'end' ? `records ${scanner.lastLsn + 1} to ${lastLsn} are missing (the next segment starts at ${lastLsn + 1})` : stop.reason;
        throw corrupt(stop.offset, scanner.lastLsn + 1, reason);
      }
    }
    const bytes = scanner.offset;
    if ((await scanner.next()) !== undefined || scanner.stop?.reason !== 'end') {
      throw corrupt(bytes, lastLsn + 1, `bytes after the last record (${lastLsn}) are not zero fill: ${scanner.stop?.reason ?? 'a record that belongs to the next segment'}`);
    }
    return { records: scanner.records, bytes };
  } finally {
    await closeAsync(fd);
  }
}

/**
 * Prepares the file the next segment is made from, at `<dir>/next.wal.tmp`: `segmentSize`
 * bytes, filled as `segmentFill` says, then fsynced (F_FULLFSYNC for `flush: 'full'`) so that
 * its size and allocation are durable. Holds no header yet (the first LSN is not known until
 * the roll). Zeros are written sequentially with write(2), one piece at a time on libuv's
 * threadpool, so a background preparation never holds that pool for long, with an fdatasync
 * every ZERO_FLUSH_EVERY bytes; `stop()` returning true ends it early (the log closed). On
 * failure the file is removed.
 */
async function prepareSpare(directory: string, settings: Settings, stop: () => boolean): Promise<string> {
  const path = nodePath.join(directory, SPARE_NAME);
  const fd = await open(path, { read: true, write: true, create: true, truncate: true, mode: 0o644 });
  try {
    if (settings.segmentFill === 'reserve') {
      await preallocate(fd, 0, settings.segmentSize);
    } else {
      const zeros = (zeroChunk ??= Buffer.alloc(ZERO_CHUNK));
      let unsynced = 0;
      for (let at = 0; at < settings.segmentSize; ) {
        if (stop()) throw logError('ERR_HARDSYNC_LOG_CLOSED', `DurableLog: ${directory} closed while ${path} was being prepared`);
        const written = (await writeAsync(fd, zeros, 0, Math.min(ZERO_CHUNK, settings.segmentSize - at), null)).bytesWritten;
        at += written;
        unsynced += written;
        if (unsynced >= ZERO_FLUSH_EVERY && at < settings.segmentSize) {
          await fdatasync(fd);
          unsynced = 0;
        }
      }
    }
    await (settings.flush === 'full' ? fullFsync(fd) : fsync(fd));
  } catch (error) {
    await discard(fd, path);
    throw withPath(error, path);
  }
  await closeAsync(fd);
  return path;
}

/** Closes `fd`, then removes `path` (closed first: Windows cannot remove an open file). */
async function discard(fd: number, path: string): Promise<void> {
  await closeAsync(fd).catch(() => undefined);
  await fs.promises.rm(path, { force: true });
}

/**
 * Turns a prepared spare into the segment starting at `firstLsn`, durably, before any record
 * goes in: header written and flushed, renamed to its final name, directory fsynced. A segment
 * with its final name therefore always has a valid header. Returns it open for appending
 * (O_DSYNC for `flush: 'dsync'`).
 */
async function installSegment(directory: string, spare: string, firstLsn: number, settings: Settings): Promise<{ segment: Segment; fd: number }> {
  const path = nodePath.join(directory, segmentName(firstLsn));
  const fd = await open(spare, { read: true, write: true, dsync: settings.flush === 'dsync' });
  try {
    // fdatasync suffices: the size and the allocation were fsynced when the spare was prepared.
    await writeDurable(fd, encodeSegmentHeader(firstLsn), 0, { flush: settings.flush === 'full' ? 'full' : 'data' });
    await replaceFile(spare, path);
    if (canFsyncDir()) await fsyncDir(directory);
  } catch (error) {
    await discard(fd, spare);
    throw withPath(error, spare);
  }
  return { segment: { firstLsn, path }, fd };
}
