/**
 * A {@link DurableLog}'s segment files: naming and listing, the one header check, preparing the
 * next segment in the background (the spare), installing it, and retiring the segments that
 * `truncateBefore` removed (kept while an iterator still reads them, then unlinked).
 * @module
 */
import fs from 'node:fs';
import nodePath from 'node:path';
import { promisify } from 'node:util';
import { fdatasync, fsync, fsyncDir, fullFsync, open, preallocate, replaceFile, writeDurable } from '../../primitives';
import { canFsyncDir, withPath } from '../common';
import { SEGMENT_HEADER_SIZE, WindowReader, decodeSegmentHeader, encodeSegmentHeader, parseSegmentName, segmentName } from '../frame';
import { logError, type Settings } from './options';

/** One segment of the log: the file holding the records from `firstLsn` on. */
export interface Segment {
  firstLsn: number;
  path: string;
}

/**
 * The file the next segment is made from, while it is being prepared (filled and fsynced). It
 * never holds a record or a header, and ends in `.wal.tmp`, so `open` removes a leftover one.
 */
const SPARE_NAME = 'next.wal.tmp';
/** Zeros are written in pieces of this size (one shared, never-written buffer). */
const ZERO_CHUNK = 1024 * 1024;
/**
 * A spare being zero-filled is flushed every this many bytes, so that the disk takes its zeros
 * in bounded bursts: a batch's flush queued behind them waits for at most this much. Chosen with
 * `node dist/bench/patterns.js --rolls` against one fsync per spare and a write-and-wait per
 * 1 MiB piece; the figures are in bench/README.md, "The library's own speed goals".
 */
const ZERO_FLUSH_EVERY = 8 * 1024 * 1024;
let zeroChunk: Buffer | undefined;

export const closeAsync = promisify(fs.close);
const writeAsync = promisify(fs.write);
export const fstatAsync = promisify(fs.fstat);

/**
 * Reads a segment's header and checks it names `segment.firstLsn`: the one header check that
 * recovery, `verify: 'all'` and `records()` share. Returns why it is not valid, or undefined.
 */
export async function checkSegmentHeader(reader: WindowReader, segment: Segment): Promise<string | undefined> {
  const header = decodeSegmentHeader(Buffer.from(await reader.bytes(0, SEGMENT_HEADER_SIZE)));
  if ('reason' in header) return header.reason;
  if (header.firstLsn !== segment.firstLsn) return `header says first LSN ${header.firstLsn}`;
  return undefined;
}

/**
 * The segments in `directory`, oldest first, after removing leftover `*.wal.tmp` files (a
 * segment whose preparation did not finish: it never held a record).
 */
export async function listSegments(directory: string): Promise<Segment[]> {
  const names = await fs.promises.readdir(directory);
  const leftovers = names.filter((name) => name.endsWith('.wal.tmp'));
  for (const name of leftovers) await fs.promises.rm(nodePath.join(directory, name), { force: true });
  if (leftovers.length > 0 && canFsyncDir()) await fsyncDir(directory);
  return names
    .map((name) => ({ name, firstLsn: parseSegmentName(name) }))
    .filter((entry): entry is { name: string; firstLsn: number } => entry.firstLsn !== undefined)
    .sort((a, b) => a.firstLsn - b.firstLsn)
    .map(({ name, firstLsn }) => ({ firstLsn, path: nodePath.join(directory, name) }));
}

/** mkdir -p, then fsync the parent of every directory it created, so they survive a crash. */
export async function makeDirectoryDurable(directory: string): Promise<void> {
  const first = await fs.promises.mkdir(directory, { recursive: true });
  if (first === undefined || !canFsyncDir()) return;
  const created: string[] = [];
  for (let dir = directory; ; dir = nodePath.dirname(dir)) {
    created.push(dir);
    if (dir === first || nodePath.dirname(dir) === dir) break;
  }
  for (const dir of created.reverse()) await fsyncDir(nodePath.dirname(dir));
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
export async function prepareSpare(directory: string, settings: Settings, stop: () => boolean): Promise<string> {
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
export async function installSegment(directory: string, spare: string, firstLsn: number, settings: Settings): Promise<{ segment: Segment; fd: number }> {
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

/**
 * The segments `truncateBefore` took out of the log whose files are not removed yet (oldest
 * first), and how many `records()` iterators still have each segment to read. A segment is
 * unlinked only once no iterator holds it, so a reader never loses a file under it (and
 * Windows never refuses an unlink of an open file).
 */
export class RetiredSegments {
  // Removed from the log, not yet unlinked, oldest first: an iterator may still read them.
  readonly #doomed: Segment[] = [];
  // How many iterators still have each segment to read.
  readonly #pins = new Map<Segment, number>();

  /**
   * @param directory The log's directory (fsynced after unlinks).
   * @param onUnpinned Called when the last iterator holding a retired segment releases it: the
   *   owner then queues {@link removeUnpinned}.
   */
  constructor(
    private readonly directory: string,
    private readonly onUnpinned: () => void,
  ) {}

  /** Whether retired segments wait to be unlinked. */
  get pending(): boolean {
    return this.#doomed.length > 0;
  }

  /** Takes `segments` (oldest first, already out of the log) for removal. */
  retire(segments: Segment[]): void {
    this.#doomed.push(...segments);
  }

  /** Marks `segments` as still to be read by one iterator, until it releases them. */
  pin(segments: Segment[]): { release(segment: Segment): void; releaseAll(): void } {
    const held = new Set(segments);
    for (const segment of held) this.#pins.set(segment, (this.#pins.get(segment) ?? 0) + 1);
    const release = (segment: Segment): void => {
      if (!held.delete(segment)) return;
      const count = this.#pins.get(segment);
      if (count === undefined) return; // unpinAll() dropped every pin
      if (count > 1) this.#pins.set(segment, count - 1);
      else this.#pins.delete(segment);
      if (count === 1 && this.#doomed.includes(segment)) this.onUnpinned();
    };
    return {
      release,
      releaseAll: () => {
        for (const segment of [...held]) release(segment);
      },
    };
  }

  /** Drops every pin (the log is closing: no iterator reads on). */
  unpinAll(): void {
    this.#pins.clear();
  }

  /**
   * Unlinks the retired segments no iterator holds, oldest first, then fsyncs the directory.
   * A failed directory fsync is passed to `onSyncError` (which fails the log) and rethrown.
   */
  async removeUnpinned(onSyncError: (error: unknown) => void): Promise<void> {
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
          await fsyncDir(this.directory);
        } catch (error) {
          onSyncError(error);
          // eslint-disable-next-line no-unsafe-finally
          throw error;
        }
      }
    }
  }
}
