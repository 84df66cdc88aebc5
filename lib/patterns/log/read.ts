/**
 * Reading a {@link DurableLog}'s records back from its segment files (what `records()` runs).
 * @module
 */
import { open } from '../../primitives';
import { SEGMENT_HEADER_SIZE, SegmentScanner, WindowReader, type ScanStop } from '../frame';
import { logError } from './options';
import { checkSegmentHeader, closeAsync, fstatAsync, retiredPath, type Segment } from './segments';

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
   * (the end of what is durable); undefined once the cursor is past `lastWanted`. The payload
   * is a copy. A damaged record (or none where one should be before `byteEnd`) is
   * `ERR_HARDSYNC_LOG_CORRUPT`.
   */
  async read(lastWanted: number, byteEnd: number): Promise<{ lsn: number; data: Buffer } | undefined> {
    if (this.#next > lastWanted) return undefined;
    // One scanner (and its read window) for as long as the end of what may be read stays put.
    if (this.#scanner === undefined || this.#scanEnd !== byteEnd) {
      this.#scanner = new SegmentScanner(new WindowReader(this.fd, Math.min(byteEnd, this.size)), this.#next);
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
