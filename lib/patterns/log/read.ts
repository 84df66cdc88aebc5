/**
 * Reading a {@link DurableLog}'s records back from its segment files (what `records()` runs).
 * @module
 */
import { open } from '../../primitives';
import { SegmentScanner, WindowReader, type ScanStop } from '../frame';
import { logError } from './options';
import { checkSegmentHeader, closeAsync, fstatAsync, type Segment } from './segments';

/**
 * The records of one segment, from its first up to `lastWanted`, those below `start` skipped.
 * Each payload is a copy. A damaged header or record (or fewer records than `lastWanted`) is
 * `ERR_HARDSYNC_LOG_CORRUPT`; `checkOpen` runs before each record (it throws once the log is
 * closed).
 */
export async function* segmentRecords(
  segment: Segment,
  start: number,
  lastWanted: number,
  checkOpen: () => void,
): AsyncGenerator<{ lsn: number; data: Buffer }, void, undefined> {
  const fd = await open(segment.path);
  try {
    const { size } = await fstatAsync(fd);
    const reader = new WindowReader(fd, size);
    if ((await checkSegmentHeader(reader, segment)) !== undefined) {
      throw logError('ERR_HARDSYNC_LOG_CORRUPT', `DurableLog: segment ${segment.path} has a damaged header`, { path: segment.path });
    }
    const scanner = new SegmentScanner(reader, segment.firstLsn);
    while (scanner.lastLsn < lastWanted) {
      checkOpen();
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
}
