/**
 * The options of {@link DurableLog.open}, their defaults and validation, the shapes of what
 * `open` reports, and the log's error constructor.
 * @module
 */
import type { HardsyncError } from '../../errors';
import { validateIntRange, validateOneOf, validateOptions } from '../../validate';

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
 *   converts it, metadata that every such flush must commit to the journal (what that costs:
 *   bench/README.md, "The library's own speed goals"). The better choice on copy-on-write filesystems (btrfs, ZFS, APFS), where
 *   every write allocates anyway and writing zeros first gains nothing.
 */
export type SegmentFill = 'zeros' | 'reserve';

/**
 * What {@link DurableLog.open} reads and checks:
 * - `'tail'` (default): the newest segment only, from its header to the end of its records,
 *   plus the zero fill after them up to `maxBatchBytes * maxInFlight` (at least 1 MiB) past
 *   the last non-zero byte it finds, which is where the batches torn by a crash can reach. Older segments are not
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
  /**
   * How many batches may be written and flushing at once (1 to 64); default 1, chosen by
   * measurement (bench/README.md, "More than one batch in flight"). With 1, the next batch
   * forms only once the previous one is durable. With k > 1, a batch starts as soon as a slot is free (the first batches of a burst
   * are split across the free slots), so the disk flushes one batch while JavaScript resolves
   * the previous one and gathers the next, and concurrent flushes can share the device's cache
   * flush. Acknowledgements stay in LSN order: append(N) resolves only once every batch up to
   * N's has been flushed, and after a failed flush no later batch is acknowledged even if its
   * own flush succeeded. Recovery keeps a prefix: a batch that reached the disk while an
   * earlier one did not is discarded. Open a log with a `maxInFlight` at least the one it was
   * written with: recovery reads `maxInFlight * maxBatchBytes` (at least 1 MiB) of zero fill
   * past the last record for torn batches, and reports a torn tail of more batches than that
   * as `recovery.corruption`.
   */
  maxInFlight?: number | undefined;
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

/** One record read back by {@link DurableLog.records}: its LSN and a copy of its bytes. */
export interface LogRecord {
  lsn: number;
  data: Buffer;
}

/** Options of {@link DurableLog.records}. */
export interface LogRecordsOptions {
  /**
   * Keep going: after the last durable record, wait (no polling, no timer) for the next batch
   * to become durable and yield it, for as long as the iteration lasts. Default false: end at
   * the `lastLsn` of the call.
   */
  follow?: boolean | undefined;
  /**
   * Ends the iteration with an `AbortError` (code `ABORT_ERR`, the signal's reason as
   * `cause`), at once if it is waiting for records. `AbortSignal.timeout(ms)` makes a poll
   * with a timeout.
   */
  signal?: AbortSignal | undefined;
}

/** What {@link DurableLog.truncateBefore} did. */
export interface LogTruncation {
  /** The log's `firstLsn` now: the oldest record a crash from here on can bring back. */
  firstLsn: number;
  /** Segments this call took out of the log (a failed earlier call's included). */
  segments: number;
  /** Their size on disk: freed now, or (`heldBytes`) once the readers holding them let go. */
  bytes: number;
  /** Of those segments, how many readers still hold (set aside under a name open ignores). */
  held: number;
  /** Their size on disk. */
  heldBytes: number;
}

/** What {@link DurableLog.stats} reports. */
export interface LogStats {
  /** Segment files in the log, the active one included. */
  segments: number;
  /**
   * Segments `truncateBefore` took out of the log whose files are still on disk: held by a
   * reader (set aside under a name `open` ignores and removes), or not yet removed after an
   * error. They hold `retiredBytes`.
   */
  retiredSegments: number;
  /** Disk space held by the retired segments. */
  retiredBytes: number;
  /** `records()` iterations that have begun and not ended (followers included). */
  readers: number;
  /** Followers waiting for the next batch to become durable. */
  waiting: number;
}

const DEFAULTS = {
  segmentSize: 64 * 1024 * 1024,
  maxBatchBytes: 1024 * 1024,
  maxBatchRecords: 4096,
  maxDelayMicros: 0,
  maxInFlight: 1,
};
/** The most batches {@link DurableLogOptions.maxInFlight} allows in flight. */
export const MAX_IN_FLIGHT = 64;
const MIN_SEGMENT_SIZE = 1024;
// Batch ends and record lengths are u32 in the format; Buffers above 2 GiB are awkward anyway.
const MAX_SEGMENT_SIZE = 2 ** 31;
const LOG_FLUSHES: readonly LogFlush[] = ['data', 'full', 'dsync', 'none'];
const SEGMENT_FILLS: readonly SegmentFill[] = ['zeros', 'reserve'];
const LOG_VERIFIES: readonly LogVerify[] = ['tail', 'all'];
/** The least stretch of zero fill that `verify: 'tail'` reads past the last non-zero byte. */
export const MIN_TAIL_GAP = 1024 * 1024;

/** The validated options, every default filled in. */
export interface Settings {
  flush: LogFlush;
  segmentSize: number;
  segmentFill: SegmentFill;
  maxBatchBytes: number;
  maxBatchRecords: number;
  maxDelayMicros: number;
  maxInFlight: number;
  verify: LogVerify;
}

/** Validates {@link DurableLogOptions} (ERR_INVALID_ARG_TYPE / ERR_OUT_OF_RANGE / ERR_INVALID_ARG_VALUE). */
export function settingsFrom(options: unknown): Settings {
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
    maxInFlight: number('maxInFlight', 1, MAX_IN_FLIGHT),
    verify: validateOneOf(given.verify, 'options.verify', LOG_VERIFIES, 'tail'),
  };
}

/**
 * How far past the last non-zero byte a torn tail can reach (the batches in flight at a crash,
 * any of them missing): what recovery and #checkAhead read.
 */
export function tailGap(settings: Settings): number {
  return Math.max(settings.maxBatchBytes * settings.maxInFlight, MIN_TAIL_GAP);
}

/** An error of the log's own (`ERR_HARDSYNC_LOG_*`), with extra properties. */
export function logError(code: string, message: string, extra?: object): HardsyncError {
  const error = new Error(message) as HardsyncError;
  error.code = code;
  if (extra) Object.assign(error, extra);
  return error;
}
