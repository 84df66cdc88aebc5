/**
 * Opening a {@link DurableLog}'s directory: the advisory lock, and recovery (finding where the
 * valid records end, zeroing a torn tail, telling it from corruption, `verify: 'all'`).
 * @module
 */
import fs from 'node:fs';
import nodePath from 'node:path';
import type { HardsyncError } from '../../errors';
import { lockFile, open, writeDurable } from '../../primitives';
import { withPath } from '../common';
import { SEGMENT_HEADER_SIZE, SegmentScanner, WindowReader, findBatchEvidence, findDataEnd, scanSegment, type ScanStop } from '../frame';
import { logError, tailGap, type LogRecovery, type Settings } from './options';
import { checkSegmentHeader, closeAsync, fstatAsync, installSegment, listSegments, prepareSpare, type Segment } from './segments';

const LOCK_NAME = 'LOCK';

/**
 * Opens `<directory>/LOCK` and takes the advisory lock on it; returns its descriptor. A lock
 * held elsewhere is `ERR_HARDSYNC_LOG_LOCKED`.
 */
export async function lockLog(directory: string): Promise<number> {
  const lockPath = nodePath.join(directory, LOCK_NAME);
  const lockFd = await open(lockPath, { read: true, write: true, create: true, mode: 0o644 });
  try {
    await lockFile(lockFd);
  } catch (error) {
    fs.close(lockFd, () => undefined);
    const code = (error as HardsyncError).code;
    // Every platform reports a lock held elsewhere as EAGAIN (native/platform/*.cc Lock).
    if (code === 'EAGAIN') {
      throw logError(
        'ERR_HARDSYNC_LOG_LOCKED',
        `DurableLog: ${directory} is in use by another process or DurableLog (lock on ${lockPath} is held)`,
        { path: lockPath, cause: error },
      );
    }
    throw withPath(error, lockPath);
  }
  return lockFd;
}

/** The state recovery hands to the log: its segments, the active one open, and where it ends. */
export interface Recovered {
  segments: Segment[];
  /** The newest segment, open for appending. */
  fd: number;
  /** The newest segment's size. */
  capacity: number;
  /** Where the next batch goes in the newest segment. */
  offset: number;
  /** Bytes from `offset` up to here are known to be zero. */
  zeroTo: number;
  lastLsn: number;
  recovery: LogRecovery;
}

/**
 * Recovers the log in `directory` (already locked): creates its first segment if it has none;
 * with `verify: 'all'` checks every sealed segment; scans the newest segment, keeps every valid
 * record, and zeroes (durably) the bytes after the last one.
 */
export async function recover(directory: string, settings: Settings): Promise<Recovered> {
  const segments = await listSegments(directory);

  if (segments.length === 0) {
    const fresh = await installSegment(directory, await prepareSpare(directory, settings, () => false), 1, settings);
    return {
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
    };
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
    // Segments get their final name only after their header is durable, so a bad header is
    // damage, not a torn write: refuse rather than guess.
    const headerDamage = await checkSegmentHeader(reader, last);
    if (headerDamage !== undefined) {
      throw logError('ERR_HARDSYNC_LOG_CORRUPT', `DurableLog: segment ${last.path} is damaged: ${headerDamage}`, { path: last.path });
    }
    const scan = await scanSegment(reader, last.firstLsn);
    // The log ends with its last whole batch. Valid frames at the head of a batch whose end
    // never reached the disk (a write cut short: with O_DSYNC its first sectors are durable,
    // and writeback can store part of any unflushed write) were never acknowledged, and their
    // batch end points past what is there: they go with the rest of that batch.
    const tornBatch = scan.lastBatchEnd > scan.stop.offset;
    const stop = tornBatch ? scan.lastBatchStart : scan.stop.offset;
    const lastLsn = tornBatch ? scan.lastBatchFirstLsn - 1 : scan.lastLsn;
    // Where the non-zero bytes after the last valid record end. A crash can leave the batch
    // being written torn, with holes of zeros (sectors that never reached the disk) before
    // sectors that did, so the search reads on for a batch's worth of zeros past every
    // non-zero byte; with 'all' it reads the whole zero fill.
    const gap = settings.verify === 'all' ? Infinity : tailGap(settings);
    const claimed = Math.max(scan.lastBatchEnd, scan.stop.claimedEnd ?? 0, scan.stop.claimedBatchEnd ?? 0);
    const data = await findDataEnd(reader, stop, gap, claimed);
    const garbageEnd = data.end;
    let truncatedBytes = 0;
    let corruption: LogRecovery['corruption'];
    if (garbageEnd > stop) {
      // The batches being written at the crash (up to maxInFlight of them) may be torn
      // anywhere, and a later one may have reached the disk while an earlier one did not: that
      // is the expected state after a power cut, as nothing in them was acknowledged. The
      // valid frames past the stop say which batches those were; garbage that reaches past
      // them, or frames of more batches than can be in flight, is corruption of acknowledged
      // data.
      const batchEnds = await findBatchEvidence(reader, stop, garbageEnd, lastLsn + 1);
      if (stop < scan.lastBatchEnd) batchEnds.add(scan.lastBatchEnd);
      if (scan.stop.claimedBatchEnd !== undefined) batchEnds.add(scan.stop.claimedBatchEnd);
      let batchLimit: number | undefined;
      for (const end of batchEnds) batchLimit = Math.max(batchLimit ?? 0, end);
      if (scan.stop.claimedEnd !== undefined) batchLimit = Math.max(batchLimit ?? 0, scan.stop.claimedEnd);
      if (batchLimit === undefined || garbageEnd > batchLimit || batchEnds.size > settings.maxInFlight) {
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
    verified.records += scan.records - (scan.lastLsn - lastLsn);
    verified.bytes += stop;
    verified.lastLsn = lastLsn;
    verified.zeroFillBytes = data.checkedTo - stop;
    const firstLsn = segments[0].firstLsn;
    return {
      segments,
      fd,
      capacity: size,
      offset: stop,
      zeroTo: data.checkedTo,
      lastLsn,
      recovery: {
        segments: segments.length,
        records: lastLsn - firstLsn + 1,
        firstLsn,
        lastLsn,
        truncatedBytes,
        ...(corruption ? { corruption } : {}),
        verified,
      },
    };
  } catch (error) {
    fs.close(fd, () => undefined);
    throw error;
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
    const headerDamage = await checkSegmentHeader(reader, segment);
    if (headerDamage !== undefined) throw corrupt(0, undefined, headerDamage);
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
