/**
 * Reading a {@link DurableLog}'s records back from its segment files (what `records()` runs).
 * @module
 */
import { open } from '../../primitives';
import { SEGMENT_HEADER_SIZE, SegmentScanner, WindowReader, type ScanStop } from '../frame';
import { logError } from './options';
import { checkSegmentHeader, closeAsync, fstatAsync, retiredPath, type Segment } from './segments';

/** The most a {@link SharedTail} reads at once; a longer stretch is read through a window. */
const SHARED_MAX = 1 << 20;

/**
 * The newest durable stretch of the active segment, read once for all the followers that ask
 * for it: the followers waiting at the end of the log all resume at the same offset when a
 * batch becomes durable, so 64 of them cost one read of the batch, not 64.
 */
export class SharedTail {
  #last: { segment: Segment; from: number; to: number; bytes: Promise<Buffer> } | undefined;

  /** Bytes [from, to) of `segment`, read through `fd` unless the same stretch was asked for last. */
  bytes(segment: Segment, fd: number, from: number, to: number): Promise<Buffer> {
    const last = this.#last;
    if (last !== undefined && last.segment === segment && last.from === from && last.to === to) return last.bytes;
    const bytes = new WindowReader(fd, to, to - from).bytes(from, to - from);
    this.#last = { segment, from, to, bytes };
    bytes.catch(() => {
      if (this.#last?.bytes === bytes) this.#last = undefined;
    });
    return bytes;
  }
}

/** A {@link WindowReader} over bytes already read: [start, start + bytes.length) of the file. */
class HeldBytesReader extends WindowReader {
  constructor(
    private readonly held: Buffer,
    private readonly start: number,
  ) {
    super(-1, start + held.length);
  }

  override async bytes(offset: number, length: number): Promise<Buffer> {
    return this.held.subarray(offset - this.start, Math.min(offset + length, this.size) - this.start);
  }
}

/**
 * One segment open for reading, and where its reader is: the next frame's offset and LSN. A
 * follower reads the active segment a stretch at a time, up to what is durable, and resumes
 * where it stopped when more is.
 */
export class SegmentCursor {
  /** Offset of the next frame. */
  #offset = SEGMENT_HEADER_SIZE;
  /** LSN of the next record. */
  #next: number;
  #scanner: SegmentScanner | undefined;
  /** The byte end #scanner reads to. */
  #scanEnd = 0;

  private constructor(
    readonly segment: Segment,
    private readonly fd: number,
    /** The file's size. */
    readonly size: number,
  ) {
    this.#next = segment.firstLsn;
  }

  /**
   * Opens `segment` and checks its header. A segment `truncateBefore` set aside meanwhile is
   * found under its retired name (the caller holds it, so it is under one of the two).
   */
  static async open(segment: Segment): Promise<SegmentCursor> {
    let fd: number;
    try {
      fd = await open(segment.path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      fd = await open(retiredPath(segment.path)).catch(() => Promise.reject(error));
    }
    try {
      const { size } = await fstatAsync(fd);
      if ((await checkSegmentHeader(new WindowReader(fd, size), segment)) !== undefined) {
        throw logError('ERR_HARDSYNC_LOG_CORRUPT', `DurableLog: segment ${segment.path} has a damaged header`, { path: segment.path });
      }
      return new SegmentCursor(segment, fd, size);
    } catch (error) {
      await closeAsync(fd).catch(() => undefined);
      throw error;
    }
  }

  /** The LSN of the next record this cursor reads. */
  get next(): number {
    return this.#next;
  }

  /**
   * The next record, if its LSN is at most `lastWanted`, reading no byte at or past `byteEnd`
   * (the end of what is durable); undefined once the cursor is past `lastWanted`. With `tail`,
   * a short stretch is read through it, shared with other cursors. The payload is a copy. A
   * damaged record (or none where one should be before `byteEnd`) is `ERR_HARDSYNC_LOG_CORRUPT`.
   */
  async read(lastWanted: number, byteEnd: number, tail?: SharedTail): Promise<{ lsn: number; data: Buffer } | undefined> {
    if (this.#next > lastWanted) return undefined;
    // One scanner (and its read window) for as long as the end of what may be read stays put.
    if (this.#scanner === undefined || this.#scanEnd !== byteEnd) {
      const end = Math.min(byteEnd, this.size);
      const reader =
        tail !== undefined && end - this.#offset <= SHARED_MAX
          ? new HeldBytesReader(await tail.bytes(this.segment, this.fd, this.#offset, end), this.#offset)
          : new WindowReader(this.fd, end);
      this.#scanner = new SegmentScanner(reader, this.#next);
      this.#scanner.offset = this.#offset;
      this.#scanEnd = byteEnd;
    }
    const scanner = this.#scanner;
    const record = await scanner.next();
    if (record === undefined) {
      const stop = scanner.stop as ScanStop;
      throw logError(
        'ERR_HARDSYNC_LOG_CORRUPT',
        `DurableLog: record ${this.#next} in ${this.segment.path} at offset ${stop.offset} is damaged (${stop.reason})`,
        { path: this.segment.path, offset: stop.offset, reason: stop.reason },
      );
    }
    this.#offset = scanner.offset;
    this.#next = record.lsn + 1;
    return { lsn: record.lsn, data: Buffer.from(record.payload) };
  }

  /** Closes the file. */
  close(): Promise<void> {
    return closeAsync(this.fd);
  }
}
