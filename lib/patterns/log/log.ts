/**
 * DurableLog: a write-ahead log whose `append` resolves only once the record is durable, with
 * group commit (one write + one flush for every append that arrived while the previous flush
 * was running), checksummed frames, recovery of a torn tail, preallocated segments, and an
 * advisory lock so that one process owns a log directory. Format: see ../frame.ts; options:
 * ./options.ts; recovery: ./recovery.ts; segment files: ./segments.ts; reading: ./read.ts.
 * @module
 */
import fs from 'node:fs';
import nodePath from 'node:path';
import { performance } from 'node:perf_hooks';
import { outOfRange, rethrowWithCallerStack } from '../../errors';
import type { HardsyncError } from '../../errors';
import type { FlushMode, PathLike } from '../../types';
import { toPath, validateArgumentCount, validateIntRange, validateOptionalBoolean, validateOptions } from '../../validate';
import { abortError, chunkBytes, throwIfAborted, validateSignal, withPath } from '../common';
import { RECORD_HEADER_SIZE, SEGMENT_HEADER_SIZE, WindowReader, completeFrames, findDataEnd, startFrame } from '../frame';
import { Followers, type Waiting } from './followers';
import { defaultLogIo, newArena, type LogIo } from './io';
import {
  logError,
  settingsFrom,
  tailGap,
  type DurableLogOptions,
  type LogRecord,
  type LogRecordsOptions,
  type LogRecovery,
  type LogStats,
  type LogTruncation,
  type Settings,
} from './options';
import { SegmentCursor, SharedTail } from './read';
import { lockLog, recover, type Recovered } from './recovery';
import { RetiredSegments, closeAsync, installSegment, makeDirectoryDurable, prepareSpare, type Segment } from './segments';

/** An append waiting for its batch; its frame sits in the log's arena, in queue order. */
class Pending {
  constructor(
    readonly lsn: number,
    readonly size: number,
    readonly enqueuedAt: number,
    readonly resolve: (value: { lsn: number }) => void,
    readonly reject: (error: unknown) => void,
  ) {}
}

/** A batch written and flushing: its appends, acknowledged once it and every earlier batch are durable. */
interface Batch {
  readonly pendings: Pending[];
  /** The last LSN in it. */
  readonly lastLsn: number;
  /** Where it ends in the active segment. */
  readonly end: number;
  /** Its write and flush returned successfully. */
  done: boolean;
}

/** Initial arena size; an arena grown past ARENA_KEEP by a large record is not kept once written. */
const ARENA_START = 64 * 1024;
const ARENA_KEEP = 4 * 1024 * 1024;
/** Written arenas kept for reuse (with one batch in flight the log alternates between two). */
const SPARE_ARENAS = 2;

function nextTick(): Promise<void> {
  return new Promise((resolve) => process.nextTick(resolve));
}

// Set in DurableLog's static block: the only way to give a log another LogIo (see openLogWithIo).
let openWithIo: (dir: PathLike, options: DurableLogOptions | undefined, io: LogIo) => Promise<DurableLog>;

/**
 * A write-ahead log in a directory. `append` resolves only after the record is durable (per
 * the `flush` option); appends that arrive while a flush runs are written together with one
 * write and one flush (group commit). At most `maxInFlight` batches (default 1) are written and
 * flushing at once; they are acknowledged in LSN order (see {@link DurableLogOptions.maxInFlight}).
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
 * Readers: `records()` reads what is durable, and with `follow` waits for more (see
 * {@link DurableLog.records}); `truncateBefore` is durable when it resolves, even while readers
 * hold the segments it removes (see {@link DurableLog.truncateBefore}). What `open` checked:
 * {@link DurableLog.recovery}`.verified` (see {@link LogVerify}).
 */
export class DurableLog {
  static {
    openWithIo = (dir, options, io) => DurableLog.#open(dir, options, io);
  }

  /** What `open` found and repaired. */
  readonly recovery: LogRecovery;

  readonly #directory: string;
  readonly #settings: Settings;
  readonly #io: LogIo;
  readonly #writeFlush: FlushMode;
  #lockFd: number;
  #segments: Segment[];
  #fd: number;
  #capacity: number;
  // Where the next batch goes: the end of the last batch written (or being written).
  #offset: number;
  // Bytes of the active segment from #offset up to here are known to be zero: all of a new
  // segment; in the segment open recovered, as far as recovery read. A batch that would reach
  // past it first reads on (see #checkAhead).
  #zeroTo: number;
  #nextLsn: number;
  #durableLsn: number;
  // Where the last durable batch ends in the active segment: a follower reads no further.
  #durableEnd: number;
  // Followers waiting for the next batch to become durable (woken once per acknowledgement).
  readonly #followers = new Followers();
  // records() iterations begun and not ended.
  #readers = 0;
  // The stretch of the active segment the followers last read: one read for all of them.
  readonly #tail = new SharedTail();
  #queue: Pending[] = [];
  // Frames of the queued appends, back to back from offset 0 in queue order, so a batch is one
  // slice of it: no per-record buffers and no concat on the hot path. A batch's write reads
  // its arena in place: appends go to another arena until that write has settled.
  #arena = newArena(ARENA_START);
  // Arenas whose writes have settled, ready for the next batches.
  #spareArenas: Buffer[] = [];
  #queuedBytes = 0;
  // Batches written and flushing, or flushed but waiting for an earlier one, in LSN order.
  #inflight: Batch[] = [];
  // Writes (and flushes) handed to the addon that have not returned, even on a failed log: the
  // segment's descriptor stays open until they have.
  #outstanding = 0;
  // Called when a batch's write returns (a slot frees, or the log failed).
  #slotWaiters: (() => void)[] = [];
  #draining = false;
  #scheduled = false;
  #wake: (() => void) | undefined;
  #idleWaiters: (() => void)[] = [];
  #failure: unknown;
  #closed = false;
  #closing: Promise<void> | undefined;
  #truncating: Promise<unknown> = Promise.resolve();
  // Segments truncateBefore took out of the log whose files are not gone yet: set aside while
  // an iterator still reads them (see truncateBefore()).
  readonly #retired: RetiredSegments;
  // The next segment's file, prepared in the background once the active segment is half full,
  // so that a roll does not wait for a whole segment of zeros to be written and fsynced.
  #spare: Promise<string> | undefined;
  #spareStopped = false;

  private constructor(state: Recovered & { directory: string; settings: Settings; lockFd: number; io: LogIo }) {
    this.#directory = state.directory;
    this.#settings = state.settings;
    this.#io = state.io;
    this.#writeFlush = state.settings.flush === 'dsync' ? 'none' : state.settings.flush;
    this.#lockFd = state.lockFd;
    this.#segments = state.segments;
    this.#fd = state.fd;
    this.#capacity = state.capacity;
    this.#offset = state.offset;
    this.#zeroTo = state.zeroTo;
    this.#nextLsn = state.lastLsn + 1;
    this.#durableLsn = state.lastLsn;
    this.#durableEnd = state.offset;
    this.recovery = Object.freeze({ ...state.recovery, verified: Object.freeze({ ...state.recovery.verified }) });
    this.#retired = new RetiredSegments(this.#directory, this.#io, () => {
      if (this.#closed) return;
      // The unlink runs in truncateBefore's queue; a failure leaves the file set aside (counted
      // by stats()), and the next truncateBefore or close tries again.
      this.#truncating = this.#truncating.then(() => this.#retired.removeReleased()).catch(() => undefined);
    });
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
    return DurableLog.#open(dir, options, defaultLogIo).then(undefined, rethrowWithCallerStack);
  }

  static async #open(dir: PathLike, options: DurableLogOptions | undefined, io: LogIo): Promise<DurableLog> {
    const directory = nodePath.resolve(toPath(dir, 'dir'));
    const settings = settingsFrom(options);
    await makeDirectoryDurable(directory);
    const lockFd = await lockLog(directory);
    try {
      return new DurableLog({ ...(await recover(directory, settings)), directory, settings, lockFd, io });
    } catch (error) {
      fs.close(lockFd, () => undefined);
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
    startFrame(this.#arena, this.#queuedBytes, payload, lsn);
    this.#queuedBytes += size;
    let resolve!: (value: { lsn: number }) => void;
    let reject!: (error: unknown) => void;
    const promise = new Promise<{ lsn: number }>((resolve_, reject_) => {
      resolve = resolve_;
      reject = reject_;
    });
    const gathering = this.#settings.maxDelayMicros > 0;
    this.#queue.push(new Pending(lsn, size, gathering ? performance.now() : 0, resolve, reject));
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
    const grown = newArena(Math.max(needed, this.#arena.length * 2));
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
    if (this.#draining || this.#scheduled) return;
    this.#scheduled = true;
    // nextTick runs after the current run of promise reactions, so every append made in this
    // turn (including those of appenders whose previous append just resolved) joins the batch.
    process.nextTick(() => {
      this.#scheduled = false;
      void this.#drain();
    });
  }

  /** Resolves at the next return of a batch's write (or at once if none is outstanding). */
  #slotFreed(): Promise<void> {
    if (this.#outstanding === 0) return Promise.resolve();
    return new Promise((resolve) => this.#slotWaiters.push(resolve));
  }

  /** Forms batches from the queue and starts them, up to maxInFlight at once. */
  async #drain(): Promise<void> {
    if (this.#draining) return;
    this.#draining = true;
    const { maxInFlight, maxDelayMicros } = this.#settings;
    try {
      while (this.#queue.length > 0 && this.#failure === undefined) {
        if (this.#outstanding >= maxInFlight) {
          await this.#slotFreed();
          // Let the appenders just resolved queue their next records before the next batch forms.
          await nextTick();
          continue;
        }
        if (maxDelayMicros > 0) await this.#gather();
        const head = this.#queue[0];
        if (this.#offset + head.size > this.#capacity) {
          // A segment is sealed only once every batch in it is durable.
          while (this.#outstanding > 0) await this.#slotFreed();
          if (this.#failure !== undefined) break;
          await this.#roll(head.lsn);
          continue;
        }
        await this.#startBatch(maxInFlight - this.#outstanding);
      }
    } catch (error) {
      this.#fail(error);
    } finally {
      this.#draining = false;
      this.#notifyIdle();
    }
  }

  #notifyIdle(): void {
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const waiter of waiters) waiter();
  }

  /**
   * Takes the next batch from the queue and starts its write and flush, without waiting for
   * them: at most maxBatchRecords / maxBatchBytes, what fits in the segment, and, with
   * `freeSlots` > 1, only its share of the queue, so that a burst is spread over the free slots.
   */
  async #startBatch(freeSlots: number): Promise<void> {
    const { maxBatchBytes, maxBatchRecords } = this.#settings;
    const limit = Math.min(maxBatchRecords, Math.ceil(this.#queue.length / freeSlots));
    let count = 0;
    let bytes = 0;
    while (count < this.#queue.length && count < limit) {
      const size = this.#queue[count].size;
      if (count > 0 && bytes + size > maxBatchBytes) break;
      if (this.#offset + bytes + size > this.#capacity) break;
      bytes += size;
      count++;
    }
    // Appends made while this waits only join the queue's end: the first `count` stay put.
    if (this.#offset + bytes > this.#zeroTo) await this.#checkAhead(this.#offset + bytes);
    if (this.#failure !== undefined) return; // a batch in flight failed meanwhile: #fail took the queue
    const pendings = this.#queue.splice(0, count);
    const start = this.#offset;
    const batch: Batch = { pendings, lastLsn: pendings[count - 1].lsn, end: start + bytes, done: false };
    const arena = this.#arena;
    completeFrames(arena, bytes, batch.end);
    // The write reads the arena until it settles: the appends still queued, and those that
    // arrive meanwhile, go to another one.
    const written = this.#io.writeBatch(this.#fd, arena.subarray(0, bytes), start, { flush: this.#writeFlush });
    this.#offset = batch.end;
    this.#inflight.push(batch);
    this.#outstanding++;
    this.#queuedBytes -= bytes;
    this.#arena = this.#takeArena(this.#queuedBytes);
    if (this.#queuedBytes > 0) arena.copy(this.#arena, 0, bytes, bytes + this.#queuedBytes);
    const path = this.#segments[this.#segments.length - 1].path;
    written.then(
      () => {
        this.#giveBackArena(arena);
        this.#batchWritten(batch);
      },
      (error: unknown) => {
        this.#giveBackArena(arena);
        this.#batchWritten(batch, withPath(error, path));
      },
    );
  }

  /** An arena for the queue, at least `bytes` long: a spare one, or a new one. */
  #takeArena(bytes: number): Buffer {
    const spare = this.#spareArenas.pop();
    if (spare !== undefined && spare.length >= bytes) return spare;
    return newArena(Math.max(bytes, ARENA_START));
  }

  /** An arena whose write has settled: kept for a later batch, unless large or enough are. */
  #giveBackArena(arena: Buffer): void {
    if (arena.length <= ARENA_KEEP && this.#spareArenas.length < SPARE_ARENAS) this.#spareArenas.push(arena);
  }

  /** A batch's write and flush returned: acknowledge what is durable in LSN order, or fail. */
  #batchWritten(batch: Batch, error?: unknown): void {
    this.#outstanding--;
    if (error !== undefined) {
      this.#fail(error);
    } else if (this.#failure === undefined) {
      batch.done = true;
      const before = this.#durableLsn;
      while (this.#inflight.length > 0 && this.#inflight[0].done) {
        const durable = this.#inflight.shift() as Batch;
        this.#durableLsn = durable.lastLsn;
        this.#durableEnd = durable.end;
        for (const pending of durable.pendings) pending.resolve({ lsn: pending.lsn });
        if (this.#spare === undefined && durable.end * 2 >= this.#capacity) {
          const spare = prepareSpare(this.#directory, this.#settings, () => this.#spareStopped);
          spare.catch(() => undefined); // not this batch's failure: the roll prepares it again
          this.#spare = spare;
        }
      }
      // After the resolves: a follower reads the records from the file, so its yield comes
      // after the append's promise has settled.
      if (this.#durableLsn !== before && this.#followers.waiting > 0) this.#followers.wakeAll();
    }
    const waiters = this.#slotWaiters;
    this.#slotWaiters = [];
    for (const waiter of waiters) waiter();
    if (!this.#draining && this.#outstanding === 0) this.#notifyIdle();
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
    const to = Math.min(this.#capacity, end + tailGap(this.#settings));
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
    // Every batch of the sealed segment is durable: its last record is the one before firstLsn.
    this.#segments[this.#segments.length - 1].lastLsn = firstLsn - 1;
    this.#segments.push(fresh.segment);
    this.#durableEnd = SEGMENT_HEADER_SIZE;
    this.#capacity = this.#settings.segmentSize;
    this.#offset = SEGMENT_HEADER_SIZE;
    this.#zeroTo = this.#capacity;
    await closeAsync(old);
  }

  #fail(error: unknown): void {
    if (this.#failure === undefined) this.#failure = error;
    const failed = [...this.#inflight.flatMap((batch) => batch.pendings), ...this.#queue];
    this.#inflight = [];
    this.#queue = [];
    this.#queuedBytes = 0;
    for (const pending of failed) pending.reject(this.#failure);
    this.#followers.wakeAll();
  }

  #check(): void {
    if (this.#failure !== undefined) throw this.#failure;
    if (this.#closed) throw this.#closedError();
  }

  /**
   * The durable records from `fromLsn` on (default: `firstLsn`), read back from the segment
   * files, in LSN order, each once.
   *
   * `fromLsn` is checked at the call, which throws: a non-number is a TypeError
   * `ERR_INVALID_ARG_TYPE`; a number that is not an integer from 1 up, or above `nextLsn`, is
   * a RangeError `ERR_OUT_OF_RANGE`; one below `firstLsn` (records removed by
   * `truncateBefore`) is a RangeError `ERR_HARDSYNC_LOG_TRUNCATED` with a `firstLsn` property,
   * the LSN to resume from, and `requestedLsn`. A closed or failed log throws its error.
   *
   * Without `follow`, it returns the records from `fromLsn` to `lastLsn` as of the call (none
   * when `fromLsn` is past it), and holds, from its first step, every segment it set out to
   * read: `truncateBefore` never makes it fail or skip (a segment removed meanwhile stays on
   * disk, set aside, until the iteration has passed it).
   *
   * With `follow: true` it does not end at the last durable record: it waits for the next
   * batch to become durable and yields its records, for as long as the iteration lasts. No
   * timer and no polling: each waiting follower is woken once per acknowledged batch, after
   * the batch's appends have resolved (a record is never yielded before its append resolved).
   * It reads from the files, so a follower that falls behind costs no memory for the records
   * it has not read. It survives segment rolls. It holds only the segment it is reading, so a
   * follower never delays freeing space by more than one segment: `truncateBefore` never pulls
   * a file from under it, but one that removes a segment the follower has not reached leaves it
   * behind, and it then throws `ERR_HARDSYNC_LOG_TRUNCATED` with `firstLsn` (as a Kafka
   * consumer below the log start offset does), never skipping a record.
   *
   * How an iteration ends: a `break` out of `for await` (or `return()`) releases what it holds;
   * `options.signal` firing throws an `AbortError` (code `ABORT_ERR`, the reason as `cause`),
   * at once if it is waiting, so `AbortSignal.timeout(ms)` makes a poll with a timeout (an
   * async generator's `return()` waits for a pending `next()`: stop a waiting follower with its
   * signal); `close()` ends every iteration with `ERR_HARDSYNC_LOG_CLOSED` at its next step (a
   * waiting follower at once); after a write or flush error a follower yields the records that
   * were durable, then throws that error. A damaged record throws `ERR_HARDSYNC_LOG_CORRUPT`:
   * nothing past it is returned.
   * @param fromLsn First LSN wanted (default `firstLsn`).
   * @param options `follow`, `signal`: see {@link LogRecordsOptions}.
   */
  records(fromLsn?: number, options?: LogRecordsOptions): AsyncGenerator<LogRecord, void, undefined> {
    validateArgumentCount(arguments, 2, 'log.records', 'for await (const r of log.records(fromLsn, options))');
    if (fromLsn !== undefined) validateIntRange(fromLsn, 'fromLsn', 1, Number.MAX_SAFE_INTEGER);
    const given: unknown = options;
    validateOptions(given);
    const follow = given?.follow;
    validateOptionalBoolean(follow, 'options.follow');
    const signal = validateSignal(given?.signal);
    this.#check();
    throwIfAborted(signal);
    const start = fromLsn ?? this.firstLsn;
    if (start > this.#nextLsn) throw outOfRange('fromLsn', `<= ${this.#nextLsn} (log.nextLsn)`, start);
    if (start < this.firstLsn) throw this.#truncatedError(start);
    return this.#read(start, follow === true ? Infinity : this.#durableLsn, signal);
  }

  /** ERR_HARDSYNC_LOG_TRUNCATED for a reader that asks for `lsn`, below firstLsn. */
  #truncatedError(lsn: number): RangeError & { code: string; firstLsn: number; requestedLsn: number } {
    const first = this.firstLsn;
    const error = new RangeError(
      `DurableLog: records before LSN ${first} were removed by truncateBefore (asked for ${lsn}); the oldest readable record is log.firstLsn = ${first}`,
    ) as RangeError & { code: string; firstLsn: number; requestedLsn: number };
    error.code = 'ERR_HARDSYNC_LOG_TRUNCATED';
    error.firstLsn = first;
    error.requestedLsn = lsn;
    return error;
  }

  /** The records from `start` to `end` (Infinity: following), as {@link records} describes. */
  async *#read(start: number, end: number, signal: AbortSignal | undefined): AsyncGenerator<LogRecord, void, undefined> {
    const follow = end === Infinity;
    const checkOpen = (): void => {
      throwIfAborted(signal);
      if (this.#closed) throw this.#closedError();
    };
    checkOpen();
    // Truncated between the call and this first step.
    if (start < this.firstLsn) throw this.#truncatedError(start);
    this.#readers++;
    let next = start;
    // A bounded read holds every segment it set out to read, and reads those; a follower holds
    // the one it reads, and finds the next one in the log.
    const planned = follow ? [] : this.#segments.filter((segment) => segment.firstLsn <= end && (segment.lastLsn ?? Infinity) >= start);
    let lease = follow ? undefined : this.#retired.pin(planned);
    let cursor: SegmentCursor | undefined;
    // A follower's wait ends at once when its signal fires; a bounded read checks it per record.
    const waiting: Waiting = {};
    const unwatch = follow && signal !== undefined ? this.#followers.watchAbort(signal, () => waiting.reject?.(abortError(signal))) : undefined;
    try {
      while (next <= end) {
        checkOpen();
        if (cursor === undefined) {
          let segment = planned.shift();
          if (segment === undefined) {
            if (next < this.firstLsn) throw this.#truncatedError(next);
            segment = this.#segmentHolding(next);
            lease = this.#retired.pin([segment]);
          }
          cursor = await SegmentCursor.open(segment);
          continue;
        }
        const { segment } = cursor;
        const sealed = segment.lastLsn !== undefined;
        // What this segment holds that is durable now; the active segment only up to the last
        // acknowledged batch, whose end is where reading stops.
        const last = Math.min(end, sealed ? (segment.lastLsn as number) : this.#durableLsn);
        if (next <= last) {
          const byteEnd = sealed ? cursor.size : this.#durableEnd;
          const tail = sealed ? undefined : this.#tail;
          for (let record = await cursor.read(last, byteEnd, tail); record !== undefined; record = await cursor.read(last, byteEnd, tail)) {
            next = record.lsn + 1;
            if (record.lsn >= start) yield record;
            checkOpen();
          }
        } else if (sealed) {
          const done = cursor;
          cursor = undefined;
          await done.close();
          lease?.release(segment);
        } else if (!follow) {
          break;
        } else if (this.#failure !== undefined) {
          throw this.#failure;
        } else {
          await this.#followers.next(waiting);
        }
      }
    } finally {
      unwatch?.();
      this.#readers--;
      await cursor?.close().catch(() => undefined);
      lease?.releaseAll();
    }
  }

  /** The segment of the log that holds (or, past the end, will hold) `lsn` >= firstLsn. */
  #segmentHolding(lsn: number): Segment {
    let index = this.#segments.length - 1;
    while (index > 0 && this.#segments[index].firstLsn > lsn) index--;
    return this.#segments[index];
  }

  /**
   * Removes every whole segment whose records all have LSNs below `lsn`, oldest first; the
   * active segment is never removed. The segments leave the log at once (`firstLsn` moves up).
   * When the promise resolves the removal is durable: no crash from then on brings a removed
   * record back, whether or not readers still hold its segment. A segment no reader holds is
   * unlinked; one a `records()` iteration still has to read is set aside (renamed to
   * `<name>.retired`, a name `open` ignores and removes) and unlinked once no iteration holds
   * it; after each segment the directory is flushed, so a crash part-way leaves a log without
   * a gap. (Windows has no directory flush: the rename is MoveFileEx with write-through, and
   * an unlink is as durable as NTFS's metadata journal makes it.)
   *
   * Resolves with what it did ({@link LogTruncation}): the new `firstLsn`, how many segments
   * it removed and their bytes, and how many of them (`held`, `heldBytes`) readers still hold:
   * that space is freed when they let go ({@link stats} shows it meanwhile). If removing a
   * segment fails, it rejects and that segment (and any newer one) stays on disk under its
   * name, out of the log: the next truncateBefore, or close, tries again.
   * @param lsn The first LSN that must be kept: an integer from 1 to `nextLsn`. Anything else
   *   is a RangeError `ERR_OUT_OF_RANGE` (TypeError `ERR_INVALID_ARG_TYPE` for a non-number),
   *   thrown before anything is removed.
   */
  truncateBefore(lsn: number): Promise<LogTruncation> {
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

  async #removeSegmentsBefore(lsn: number): Promise<LogTruncation> {
    this.#check();
    const removed: Segment[] = [];
    while (this.#segments.length > 1 && this.#segments[1].firstLsn <= lsn) removed.push(this.#segments.shift() as Segment);
    this.#retired.retire(removed);
    const done = await this.#retired.takeOut((error) => this.#fail(error));
    // Files readers let go of meanwhile: unlinking them is not what this call promised, so a
    // failure leaves them counted in stats() for the next call.
    await this.#retired.removeReleased().catch(() => undefined);
    const held = this.#retired.stillHeld(done.held);
    return { firstLsn: this.firstLsn, segments: done.segments, bytes: done.bytes, held: held.segments, heldBytes: held.bytes };
  }

  /**
   * Counts, now: the log's segments, the retired ones still on disk and the space they hold,
   * the `records()` iterations running and the followers waiting. Cheap (no I/O).
   */
  stats(): LogStats {
    validateArgumentCount(arguments, 0, 'log.stats', 'log.stats()');
    const retired = this.#retired.stats;
    return { segments: this.#segments.length, retiredSegments: retired.segments, retiredBytes: retired.bytes, readers: this.#readers, waiting: this.#followers.waiting };
  }

  /**
   * Waits for the appends already made to finish (flushed, or rejected if the log failed),
   * then closes the segment and releases the lock. Later calls reject with
   * `ERR_HARDSYNC_LOG_CLOSED` (or the failure, on a failed log), and so does the next step of
   * an iteration still running (a waiting follower's at once). Retired segments that
   * iterations held are unlinked now. Closing a failed log resolves: it is how its files are
   * released; it rejects only if removing a retired segment fails (the files are released all
   * the same, and the next open removes what is left).
   */
  close(): Promise<void> {
    try {
      validateArgumentCount(arguments, 0, 'log.close', 'await log.close()');
    } catch (error) {
      return Promise.reject(error);
    }
    this.#closing ??= (async () => {
      this.#closed = true;
      this.#followers.wakeAll();
      // Nothing else can join a batch that is waiting for company: write it now.
      if (this.#wake !== undefined) {
        const wake = this.#wake;
        this.#wake = undefined;
        wake();
      }
      while (this.#draining || this.#scheduled || this.#queue.length > 0 || this.#outstanding > 0) {
        await new Promise<void>((resolve) => {
          this.#idleWaiters.push(resolve);
          if (!this.#draining && !this.#scheduled && this.#queue.length > 0) this.#schedule();
        });
      }
      await this.#truncating;
      // No iteration reads on after close: what they held can go.
      this.#retired.unpinAll();
      let removal: { error: unknown } | undefined;
      if (this.#retired.pending) {
        await this.#retired
          .takeOut((error) => this.#fail(error))
          .then(() => this.#retired.removeReleased())
          .catch((error: unknown) => (removal = { error }));
      }
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
 * Opens a log whose batch writes and setting-aside of held segments go through `io` instead of
 * {@link defaultLogIo}: the seam of the power-cut negative controls. Internal: the package does
 * not export this module, and no option of {@link DurableLog.open} reaches it.
 */
export function openLogWithIo(dir: PathLike, options: DurableLogOptions | undefined, io: LogIo): Promise<DurableLog> {
  return openWithIo(dir, options, io);
}
