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
import { writeDurable } from '../../primitives';
import type { FlushMode, PathLike } from '../../types';
import { toPath, validateArgumentCount, validateIntRange } from '../../validate';
import { chunkBytes, withPath } from '../common';
import { RECORD_HEADER_SIZE, SEGMENT_HEADER_SIZE, WindowReader, findDataEnd, finishFrame, startFrame } from '../frame';
import { logError, settingsFrom, tailGap, type DurableLogOptions, type LogRecovery, type Settings } from './options';
import { segmentRecords } from './read';
import { lockLog, recover, type Recovered } from './recovery';
import { RetiredSegments, closeAsync, installSegment, makeDirectoryDurable, prepareSpare, type Segment } from './segments';

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

/** Initial arena size; an arena grown past ARENA_KEEP by a large record is given back when idle. */
const ARENA_START = 64 * 1024;
const ARENA_KEEP = 4 * 1024 * 1024;

function nextTick(): Promise<void> {
  return new Promise((resolve) => process.nextTick(resolve));
}

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
  // Where the next batch goes: the end of the last batch written (or being written).
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
  #truncating: Promise<void> = Promise.resolve();
  // Segments truncateBefore took out of the log whose files are not removed yet: an iterator
  // still reads them (see records()).
  readonly #retired: RetiredSegments;
  // The next segment's file, prepared in the background once the active segment is half full,
  // so that a roll does not wait for a whole segment of zeros to be written and fsynced.
  #spare: Promise<string> | undefined;
  #spareStopped = false;

  private constructor(state: Recovered & { directory: string; settings: Settings; lockFd: number }) {
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
    this.#retired = new RetiredSegments(this.#directory, () => {
      if (this.#closed) return;
      // The removal runs in truncateBefore's queue; a failure leaves the file retired, and the
      // next truncateBefore (or close) tries again and reports it.
      this.#truncating = this.#truncating.then(() => this.#removeRetired()).catch(() => undefined);
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
    return DurableLog.#open(dir, options).then(undefined, rethrowWithCallerStack);
  }

  static async #open(dir: PathLike, options?: DurableLogOptions): Promise<DurableLog> {
    const directory = nodePath.resolve(toPath(dir, 'dir'));
    const settings = settingsFrom(options);
    await makeDirectoryDurable(directory);
    const lockFd = await lockLog(directory);
    try {
      return new DurableLog({ ...(await recover(directory, settings)), directory, settings, lockFd });
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
    for (let i = 0, at = 0; i < count; at += pendings[i].size, i++) finishFrame(arena, at, pendings[i].payloadCrc, batch.end);
    // writeDurable copies the bytes before it returns its promise, so the arena can be reused
    // for the appends that arrive while this batch is being written and flushed.
    const written =
      this.#settings.writeJitterMs > 0
        ? this.#jitteredWrite(Buffer.from(arena.subarray(0, bytes)), start)
        : writeDurable(this.#fd, arena.subarray(0, bytes), start, { flush: this.#writeFlush });
    this.#offset = batch.end;
    this.#inflight.push(batch);
    this.#outstanding++;
    this.#queuedBytes -= bytes;
    if (this.#queuedBytes > 0) arena.copyWithin(0, bytes, bytes + this.#queuedBytes);
    if (arena.length > ARENA_KEEP && this.#queuedBytes <= ARENA_START) {
      this.#arena = Buffer.allocUnsafe(ARENA_START);
      arena.copy(this.#arena, 0, 0, this.#queuedBytes);
    }
    const path = this.#segments[this.#segments.length - 1].path;
    written.then(
      () => this.#batchWritten(batch),
      (error: unknown) => this.#batchWritten(batch, withPath(error, path)),
    );
  }

  /** The test-only write of WRITE_JITTER_MS: the same write and flush, after a random delay. */
  async #jitteredWrite(bytes: Buffer, start: number): Promise<void> {
    const fd = this.#fd; // a roll waits for every outstanding write, so it stays open
    await new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * (this.#settings.writeJitterMs + 1))));
    await writeDurable(fd, bytes, start, { flush: this.#writeFlush });
  }

  /** A batch's write and flush returned: acknowledge what is durable in LSN order, or fail. */
  #batchWritten(batch: Batch, error?: unknown): void {
    this.#outstanding--;
    if (error !== undefined) {
      this.#fail(error);
    } else if (this.#failure === undefined) {
      batch.done = true;
      if (this.#settings.ackOutOfOrder) {
        // The negative control: acknowledged without waiting for the earlier batches.
        this.#inflight.splice(this.#inflight.indexOf(batch), 1);
        this.#durableLsn = Math.max(this.#durableLsn, batch.lastLsn);
        for (const pending of batch.pendings) pending.resolve({ lsn: pending.lsn });
      }
      while (this.#inflight.length > 0 && this.#inflight[0].done) {
        const durable = this.#inflight.shift() as Batch;
        this.#durableLsn = Math.max(this.#durableLsn, durable.lastLsn);
        for (const pending of durable.pendings) pending.resolve({ lsn: pending.lsn });
        if (this.#spare === undefined && durable.end * 2 >= this.#capacity) {
          const spare = prepareSpare(this.#directory, this.#settings, () => this.#spareStopped);
          spare.catch(() => undefined); // not this batch's failure: the roll prepares it again
          this.#spare = spare;
        }
      }
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
    this.#segments.push(fresh.segment);
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
    const lease = this.#retired.pin(segments.slice(first, end));
    try {
      for (let index = first; index < end; index++) {
        const segment = segments[index];
        // The last LSN this segment should hold that the caller may see.
        const lastWanted = index + 1 < segments.length ? Math.min(upTo, segments[index + 1].firstLsn - 1) : upTo;
        yield* segmentRecords(segment, start, lastWanted, () => {
          if (this.#closed) throw this.#closedError();
        });
        lease.release(segment);
      }
    } finally {
      lease.releaseAll();
    }
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
    const removed: Segment[] = [];
    while (this.#segments.length > 1 && this.#segments[1].firstLsn <= lsn) removed.push(this.#segments.shift() as Segment);
    this.#retired.retire(removed);
    await this.#removeRetired();
  }

  /** Unlinks the removed segments no iterator holds, oldest first, then fsyncs the directory. */
  #removeRetired(): Promise<void> {
    return this.#retired.removeUnpinned((error) => this.#fail(error));
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
      while (this.#draining || this.#scheduled || this.#queue.length > 0 || this.#outstanding > 0) {
        await new Promise<void>((resolve) => {
          this.#idleWaiters.push(resolve);
          if (!this.#draining && !this.#scheduled && this.#queue.length > 0) this.#schedule();
        });
      }
      await this.#truncating;
      // No iterator reads on after close: what they held can go.
      this.#retired.unpinAll();
      let removal: { error: unknown } | undefined;
      if (this.#retired.pending) await this.#removeRetired().catch((error: unknown) => (removal = { error }));
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
