/**
 * The on-disk format of a {@link DurableLog} segment, and the scanner recovery and `records()`
 * share. All integers little-endian.
 *
 * Segment file `<first LSN, 16 decimal digits>.wal`, preallocated (zero-filled) to its size:
 * ```
 * segment header (32 bytes)
 *   0  8  magic "HSWALSEG"
 *   8  4  format version (1)
 *  12  4  header size (32)
 *  16  8  LSN of the segment's first record
 *  24  4  CRC-32C of bytes 0..24
 *  28  4  zero
 * records, back to back from offset 32; each:
 *   0  4  record magic 0x4C575348 (never zero, so zero-fill past the last record reads as "end")
 *   4  4  payload length
 *   8  8  LSN
 *  16  4  batch end: the segment offset where the group-commit batch holding this record ends
 *  20  4  CRC-32C of payload then bytes 0..20 of this header
 *  24  …  payload
 * ```
 * The batch end lets recovery tell a torn tail from corruption: a power cut during a batch's
 * flush can persist any subset of its sectors, so garbage confined to the last batch is a torn
 * write (never acknowledged), while garbage beyond it means bytes that were acknowledged changed.
 * With `maxInFlight` k, the last k batches may be in that state, any of them missing while a
 * later one reached the disk: garbage covered by frames of at most k batches is a torn tail.
 * No epoch or checksum chaining is needed to keep a batch beyond a hole, or a frame left by an
 * earlier crash, from being read as a record: recovery stops at the first frame whose checksum
 * or LSN is not the next one, zeroes (durably) everything non-zero it finds after it before the
 * log takes appends, and a batch is only ever written into bytes read as zero since the open
 * (DurableLog's #checkAhead), so no stale frame can follow a valid record in sequence.
 * @module
 */
import fs from 'node:fs';
import { promisify } from 'node:util';
import { native } from '../native';
import { crc32cRange } from './crc32c';

/** Size of the segment header. */
export const SEGMENT_HEADER_SIZE = 32;
/** Size of a record header. */
export const RECORD_HEADER_SIZE = 24;
/** The first bytes of every segment. */
export const SEGMENT_MAGIC = Buffer.from('HSWALSEG', 'latin1');
/** The first four bytes of every record (read as a little-endian u32). */
export const RECORD_MAGIC = 0x4c575348;
/** Segment format version. */
export const FORMAT_VERSION = 1;

const TWO_32 = 2 ** 32;

/** Segment file name for a first LSN: 16 decimal digits, so names sort in LSN order. */
export function segmentName(firstLsn: number): string {
  return `${String(firstLsn).padStart(16, '0')}.wal`;
}

/** The first LSN a segment file name stands for, or undefined if it is not a segment name. */
export function parseSegmentName(name: string): number | undefined {
  const match = /^(\d{16})\.wal$/.exec(name);
  if (!match) return undefined;
  const lsn = Number(match[1]);
  return Number.isSafeInteger(lsn) && lsn >= 1 ? lsn : undefined;
}

/** Builds a segment header. */
export function encodeSegmentHeader(firstLsn: number): Buffer {
  const header = Buffer.alloc(SEGMENT_HEADER_SIZE);
  SEGMENT_MAGIC.copy(header, 0);
  header.writeUInt32LE(FORMAT_VERSION, 8);
  header.writeUInt32LE(SEGMENT_HEADER_SIZE, 12);
  header.writeUInt32LE(firstLsn % TWO_32, 16);
  header.writeUInt32LE(Math.floor(firstLsn / TWO_32), 20);
  header.writeUInt32LE(crc32cRange(0, header, 0, 24), 24);
  return header;
}

/** The first LSN a segment header records, or a reason it is not a valid header. */
export function decodeSegmentHeader(header: Buffer): { firstLsn: number } | { reason: string } {
  if (header.length < SEGMENT_HEADER_SIZE) return { reason: 'segment shorter than its header' };
  if (!header.subarray(0, 8).equals(SEGMENT_MAGIC)) return { reason: 'bad segment magic' };
  if (header.readUInt32LE(24) !== crc32cRange(0, header, 0, 24)) return { reason: 'segment header checksum mismatch' };
  if (header.readUInt32LE(8) !== FORMAT_VERSION) return { reason: `unknown segment format version ${header.readUInt32LE(8)}` };
  const firstLsn = header.readUInt32LE(16) + header.readUInt32LE(20) * TWO_32;
  return { firstLsn };
}

/**
 * Writes a record's header (all but the batch end and CRC, which {@link completeFrames} adds
 * once the batch is known) and payload into `target` at `offset`.
 */
export function startFrame(target: Buffer, offset: number, payload: Buffer, lsn: number): void {
  target.writeUInt32LE(RECORD_MAGIC, offset);
  target.writeUInt32LE(payload.length, offset + 4);
  target.writeUInt32LE(lsn % TWO_32, offset + 8);
  target.writeUInt32LE(Math.floor(lsn / TWO_32), offset + 12);
  payload.copy(target, offset + RECORD_HEADER_SIZE);
}

/**
 * Completes every frame in bytes [0, bytes) of `target`, which {@link startFrame} began back to
 * back: writes each one's batch end and then its CRC-32C (over its payload, then bytes 0..20 of
 * its header), in one call into the addon for the whole batch (native/log_frames.cc). Returns
 * how many frames there were. A range that is not whole frames is an ERR_OUT_OF_RANGE, and then
 * nothing is written.
 */
export function completeFrames(target: Buffer, bytes: number, batchEnd: number): number {
  return native.frameBatch(target, bytes, batchEnd);
}

/**
 * Encodes a complete one-record frame: for tests and tools that write a log by hand.
 * @param payload The record's bytes.
 * @param lsn Its LSN.
 * @param batchEnd The segment offset where its batch ends (its own end, for a batch of one).
 */
export function encodeRecord(payload: Buffer, lsn: number, batchEnd: number): Buffer {
  const frame = Buffer.alloc(RECORD_HEADER_SIZE + payload.length);
  startFrame(frame, 0, payload, lsn);
  completeFrames(frame, frame.length, batchEnd);
  return frame;
}

const readAsync = promisify(fs.read);

/**
 * Reads a file through a moving window, so records of any size can be scanned without holding
 * a whole segment in memory.
 */
export class WindowReader {
  #window = Buffer.alloc(0);
  #windowStart = 0;

  /**
   * @param fd A descriptor open for reading.
   * @param size The file's size: reads stop there.
   * @param windowSize How much to read at once.
   */
  constructor(
    private readonly fd: number,
    readonly size: number,
    private readonly windowSize = 1 << 20,
  ) {}

  /** Bytes [offset, offset + length), or fewer where the file ends. The view is valid until the next call. */
  async bytes(offset: number, length: number): Promise<Buffer> {
    const end = Math.min(offset + length, this.size);
    if (offset >= this.#windowStart && end <= this.#windowStart + this.#window.length) {
      return this.#window.subarray(offset - this.#windowStart, end - this.#windowStart);
    }
    const want = Math.max(end - offset, Math.min(this.windowSize, this.size - offset));
    const window = Buffer.allocUnsafe(Math.max(want, 0));
    let filled = 0;
    while (filled < window.length) {
      const { bytesRead } = await readAsync(this.fd, window, filled, window.length - filled, offset + filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    this.#window = window.subarray(0, filled);
    this.#windowStart = offset;
    return this.#window.subarray(0, Math.max(0, Math.min(end - offset, filled)));
  }
}

/** Why a scan stopped. */
export interface ScanStop {
  /** Offset of the first byte that is not part of a valid record. */
  offset: number;
  /** `'end'` when it reads as the zero-fill after the last record; otherwise what was wrong. */
  reason: string;
  /** Where the frame at `offset` claims to end, when its magic was right (clamped to the file). */
  claimedEnd?: number;
  /** The batch end the frame at `offset` claims, when its magic was right and the value is sane. */
  claimedBatchEnd?: number;
}

/** What {@link scanSegment} found. */
export interface ScanResult {
  /** Valid records found. */
  records: number;
  /** LSN of the last valid record (firstLsn - 1 when none). */
  lastLsn: number;
  /** The batch end recorded by the last valid record (SEGMENT_HEADER_SIZE when none). */
  lastBatchEnd: number;
  /** Offset of the first frame of the last valid record's batch (SEGMENT_HEADER_SIZE when none). */
  lastBatchStart: number;
  /** LSN of the first record of the last valid record's batch (firstLsn when none). */
  lastBatchFirstLsn: number;
  stop: ScanStop;
}

/**
 * Walks the records of one segment from just after its header, checking each frame's magic,
 * length, checksum, LSN sequence and batch end, until the first one that is not valid.
 */
export class SegmentScanner {
  /** Offset of the next frame. */
  offset = SEGMENT_HEADER_SIZE;
  /** Valid records returned so far. */
  records = 0;
  /** The batch end recorded by the last valid record (SEGMENT_HEADER_SIZE when none). */
  lastBatchEnd = SEGMENT_HEADER_SIZE;
  /**
   * Offset of the first frame of the last valid record's batch (SEGMENT_HEADER_SIZE when none):
   * a record starts a batch where the previous batch ended.
   */
  lastBatchStart = SEGMENT_HEADER_SIZE;
  /** LSN of the first record of the last valid record's batch (firstLsn when none). */
  lastBatchFirstLsn: number;
  /** Set once {@link next} returned undefined: where and why the valid records end. */
  stop: ScanStop | undefined;
  #expected: number;

  /**
   * @param reader The segment's reader.
   * @param firstLsn The LSN the segment's first record must have.
   */
  constructor(
    private readonly reader: WindowReader,
    firstLsn: number,
  ) {
    this.#expected = firstLsn;
    this.lastBatchFirstLsn = firstLsn;
  }

  /** LSN of the last valid record returned (firstLsn - 1 before the first). */
  get lastLsn(): number {
    return this.#expected - 1;
  }

  /**
   * The next valid record, or undefined at the first invalid or absent one (then see
   * {@link stop}). The payload view is only valid until the next call.
   */
  async next(): Promise<{ lsn: number; payload: Buffer } | undefined> {
    if (this.stop) return undefined;
    const { reader, offset } = this;
    const size = reader.size;
    if (offset + RECORD_HEADER_SIZE > size) {
      const rest = await reader.bytes(offset, RECORD_HEADER_SIZE);
      this.stop = { offset, reason: isZero(rest) ? 'end' : 'incomplete record header', claimedEnd: size };
      return undefined;
    }
    const header = Buffer.from(await reader.bytes(offset, RECORD_HEADER_SIZE));
    const magic = header.readUInt32LE(0);
    if (magic !== RECORD_MAGIC) {
      this.stop = { offset, reason: magic === 0 ? 'end' : 'bad record magic' };
      return undefined;
    }
    const length = header.readUInt32LE(4);
    const frameEnd = offset + RECORD_HEADER_SIZE + length;
    const batchEnd = header.readUInt32LE(16);
    const fail = (reason: string): undefined => {
      this.stop = {
        offset,
        reason,
        claimedEnd: Math.min(frameEnd, size),
        claimedBatchEnd: batchEnd > offset && batchEnd <= size ? batchEnd : undefined,
      };
      return undefined;
    };
    if (frameEnd > size) return fail('incomplete record');
    const payload = await reader.bytes(offset + RECORD_HEADER_SIZE, length);
    const crc = crc32cRange(crc32cRange(0, payload, 0, payload.length), header, 0, 20);
    if (crc !== header.readUInt32LE(20)) return fail('checksum mismatch');
    const lsn = header.readUInt32LE(8) + header.readUInt32LE(12) * TWO_32;
    if (lsn !== this.#expected) return fail(`LSN ${lsn} out of sequence (expected ${this.#expected})`);
    if (batchEnd < frameEnd || batchEnd > size) return fail('batch end out of range');
    this.#expected++;
    this.records++;
    if (offset >= this.lastBatchEnd) {
      this.lastBatchStart = offset;
      this.lastBatchFirstLsn = lsn;
    }
    this.lastBatchEnd = batchEnd;
    this.offset = frameEnd;
    return { lsn, payload };
  }
}

/** Scans a whole segment (see {@link SegmentScanner}) and reports where its valid records end. */
export async function scanSegment(reader: WindowReader, firstLsn: number): Promise<ScanResult> {
  const scanner = new SegmentScanner(reader, firstLsn);
  while (await scanner.next());
  return { records: scanner.records, lastLsn: scanner.lastLsn, lastBatchEnd: scanner.lastBatchEnd, lastBatchStart: scanner.lastBatchStart, lastBatchFirstLsn: scanner.lastBatchFirstLsn, stop: scanner.stop as ScanStop };
}

const ZEROS = Buffer.alloc(1 << 16);

/** Whether every byte is zero (memcmp against a zero block, not a JS byte loop). */
export function isZero(bytes: Buffer): boolean {
  for (let at = 0; at < bytes.length; at += ZEROS.length) {
    const part = bytes.subarray(at, Math.min(at + ZEROS.length, bytes.length));
    if (!part.equals(ZEROS.subarray(0, part.length))) return false;
  }
  return true;
}

/** Where {@link findDataEnd} stopped looking. */
export interface DataEnd {
  /** One past the last non-zero byte found in [from, checkedTo), or `from` when all were zero. */
  end: number;
  /** Every byte in [end, checkedTo) was read and is zero. */
  checkedTo: number;
}

/**
 * Finds where the non-zero bytes after `from` end without reading a whole zero-filled segment:
 * reads forward from `from` and stops once `gap` bytes past the last non-zero byte seen (and
 * past `atLeast`) were all zero, or at the end of the file. A torn batch can have zeros inside
 * it (sectors that never reached the disk) followed by sectors that did; `gap` is the largest
 * such hole the caller expects (the batch size). `gap = Infinity` reads to the end of the file.
 */
export async function findDataEnd(reader: WindowReader, from: number, gap: number, atLeast = from): Promise<DataEnd> {
  let end = from;
  let limit = Math.min(reader.size, Math.max(from + gap, atLeast));
  const step = 1 << 16;
  let at = from;
  while (at < limit) {
    const bytes = await reader.bytes(at, Math.min(step, limit - at));
    if (bytes.length === 0) break;
    if (!isZero(bytes)) {
      let i = bytes.length - 1;
      while (bytes[i] === 0) i--;
      end = at + i + 1;
      limit = Math.min(reader.size, Math.max(limit, end + gap));
    }
    at += bytes.length;
  }
  return { end, checkedTo: Math.max(at, end) };
}

/**
 * Looks for valid frames inside [from, to) whose LSN is at least `minLsn`: evidence that
 * garbage up to the batch end they record belongs to the batches being written at the crash
 * (a torn batch whose first sectors did not reach the disk while later ones did; with more
 * than one batch in flight, a later batch that reached the disk while an earlier one did not).
 * Returns the distinct batch ends those frames record (empty when there is none).
 */
export async function findBatchEvidence(reader: WindowReader, from: number, to: number, minLsn: number): Promise<Set<number>> {
  const needle = Buffer.alloc(4);
  needle.writeUInt32LE(RECORD_MAGIC, 0);
  const region = Buffer.from(await reader.bytes(from, to - from));
  const ends = new Set<number>();
  for (let at = region.indexOf(needle, 1); at >= 0; at = region.indexOf(needle, at + 1)) {
    const offset = from + at;
    if (offset + RECORD_HEADER_SIZE > reader.size) break;
    const header = Buffer.from(await reader.bytes(offset, RECORD_HEADER_SIZE));
    const length = header.readUInt32LE(4);
    if (offset + RECORD_HEADER_SIZE + length > reader.size) continue;
    const payload = await reader.bytes(offset + RECORD_HEADER_SIZE, length);
    const crc = crc32cRange(crc32cRange(0, payload, 0, payload.length), header, 0, 20);
    if (crc !== header.readUInt32LE(20)) continue;
    const lsn = header.readUInt32LE(8) + header.readUInt32LE(12) * TWO_32;
    const batchEnd = header.readUInt32LE(16);
    if (lsn >= minLsn && batchEnd >= offset + RECORD_HEADER_SIZE + length && batchEnd <= reader.size) ends.add(batchEnd);
  }
  return ends;
}
