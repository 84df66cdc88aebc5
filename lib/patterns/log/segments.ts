/**
 * A {@link DurableLog}'s segment files: naming and listing, the one header check, preparing the
 * next segment in the background (the spare), installing it, and retiring the segments that
 * `truncateBefore` removed (unlinked, or set aside while an iterator still reads them).
 * @module
 */
import fs from 'node:fs';
import nodePath from 'node:path';
import { promisify } from 'node:util';
import { fdatasync, fsync, fsyncDir, fullFsync, open, preallocate, replaceFile, writeDurable } from '../../primitives';
import { canFsyncDir, withPath } from '../common';
import { SEGMENT_HEADER_SIZE, WindowReader, decodeSegmentHeader, encodeSegmentHeader, parseSegmentName, segmentName } from '../frame';
import type { LogIo } from './io';
import { logError, type Settings } from './options';

/** One segment of the log: the file holding the records from `firstLsn` on. */
export interface Segment {
  readonly firstLsn: number;
  /** Its file, under the name `open` reads (see {@link retiredPath} for where it goes once truncated). */
  readonly path: string;
  /** The LSN of its last record, once it is sealed (a newer segment exists); unset while it is the active one. */
  lastLsn?: number;
}

/**
 * Where a segment's file goes when `truncateBefore` takes it out of the log while a reader
 * still holds it: a name `open` ignores, and removes (see {@link listSegments}).
 */
export function retiredPath(segmentPath: string): string {
  return `${segmentPath}${RETIRED_SUFFIX}`;
}

const RETIRED_SUFFIX = '.retired';

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
 * The segments in `directory`, oldest first, each but the newest with its `lastLsn` (the next
 * one's first LSN, minus one), after removing leftovers: `*.wal.tmp` files (a segment whose
 * preparation did not finish: it never held a record) and `*.wal.retired` ones (segments
 * `truncateBefore` had taken out of the log while a reader held them).
 */
export async function listSegments(directory: string): Promise<Segment[]> {
  const names = await fs.promises.readdir(directory);
  const leftovers = names.filter((name) => name.endsWith('.wal.tmp') || name.endsWith(`.wal${RETIRED_SUFFIX}`));
  for (const name of leftovers) await fs.promises.rm(nodePath.join(directory, name), { force: true });
  if (leftovers.length > 0 && canFsyncDir()) await fsyncDir(directory);
  const segments: Segment[] = names
    .map((name) => ({ name, firstLsn: parseSegmentName(name) }))
    .filter((entry): entry is { name: string; firstLsn: number } => entry.firstLsn !== undefined)
    .sort((a, b) => a.firstLsn - b.firstLsn)
    .map(({ name, firstLsn }) => ({ firstLsn, path: nodePath.join(directory, name) }));
  for (let index = 0; index + 1 < segments.length; index++) segments[index].lastLsn = segments[index + 1].firstLsn - 1;
  return segments;
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

/** A retired segment's file: where it is now, and its size once known. */
interface RetiredFile {
  path: string;
  bytes: number;
}

/** What {@link RetiredSegments.takeOut} did. */
export interface TakenOut {
  /** Segments taken out of the log's names. */
  segments: number;
  /** Their size. */
  bytes: number;
  /** Of them, those set aside because a reader holds them (and are still held). */
  held: Segment[];
}

/**
 * The segments `truncateBefore` took out of the log whose files are not gone yet, and how many
 * `records()` iterations still have each segment to read. Taking a segment out is durable at
 * once: one no reader holds is unlinked; one a reader holds is set aside (renamed to a name
 * `open` ignores and removes), and unlinked once the last reader lets go; after either, the
 * directory is flushed. So no crash after `truncateBefore` resolved brings a removed segment
 * back, and no file is unlinked while a reader may still open it (Windows refuses to remove an
 * open file; renaming one works, as libuv opens files with FILE_SHARE_DELETE).
 */
export class RetiredSegments {
  // Out of the log but still under their segment names, oldest first: takeOut has not reached
  // them yet, or failed on them (the next takeOut retries). Their size, once measured.
  readonly #pending: { segment: Segment; bytes?: number }[] = [];
  // Set aside while readers hold them (or unlinked once released, unless that failed).
  readonly #aside = new Map<Segment, RetiredFile>();
  // How many iterations still have each segment to read.
  readonly #pins = new Map<Segment, number>();

  /**
   * @param directory The log's directory (flushed after each segment is taken out).
   * @param io How a held segment is set aside (see {@link LogIo.setAside}).
   * @param onReleased Called when the last reader holding a retired segment lets go of it:
   *   the owner then queues {@link removeReleased}.
   */
  constructor(
    private readonly directory: string,
    private readonly io: LogIo,
    private readonly onReleased: () => void,
  ) {}

  /** Retired segments whose files are still on disk, and the space they hold. */
  get stats(): { segments: number; bytes: number } {
    let bytes = 0;
    for (const entry of this.#pending) bytes += entry.bytes ?? 0;
    for (const file of this.#aside.values()) bytes += file.bytes;
    return { segments: this.#pending.length + this.#aside.size, bytes };
  }

  /** Whether retired segments wait to be taken out or unlinked. */
  get pending(): boolean {
    return this.#pending.length > 0 || this.#aside.size > 0;
  }

  /** Takes `segments` (oldest first, already out of the log) for removal by {@link takeOut}. */
  retire(segments: Segment[]): void {
    for (const segment of segments) this.#pending.push({ segment });
  }

  /** Marks `segments` as still to be read by one iteration, until it releases them. */
  pin(segments: Segment[]): { release(segment: Segment): void; releaseAll(): void } {
    const held = new Set(segments);
    for (const segment of held) this.#pins.set(segment, (this.#pins.get(segment) ?? 0) + 1);
    const release = (segment: Segment): void => {
      if (!held.delete(segment)) return;
      const count = this.#pins.get(segment);
      if (count === undefined) return; // unpinAll() dropped every pin
      if (count > 1) {
        this.#pins.set(segment, count - 1);
        return;
      }
      this.#pins.delete(segment);
      if (this.#aside.has(segment) || this.#pending.some((entry) => entry.segment === segment)) this.onReleased();
    };
    return {
      release,
      releaseAll: () => {
        for (const segment of [...held]) release(segment);
      },
    };
  }

  /** Drops every pin (the log is closing: no iteration reads on). */
  unpinAll(): void {
    this.#pins.clear();
  }

  /**
   * Takes every pending segment out of the log's names, oldest first: unlinked if no reader
   * holds it, else set aside; then the directory is flushed, before the next segment is
   * touched, so whatever part of it a crash keeps, the log it leaves has no gap. A failed
   * directory flush is passed to `onSyncError` (which fails the log) and rethrown; any other
   * error leaves that segment and the later ones pending, and is thrown.
   */
  async takeOut(onSyncError: (error: unknown) => void): Promise<TakenOut> {
    const done: TakenOut = { segments: 0, bytes: 0, held: [] };
    // Sizes first: if a removal fails, stats() still counts what the rest hold.
    for (const entry of this.#pending) entry.bytes ??= (await fs.promises.stat(entry.segment.path)).size;
    while (this.#pending.length > 0) {
      const entry = this.#pending[0];
      const { segment } = entry;
      const bytes = entry.bytes as number;
      if (this.#pins.has(segment)) {
        const where = await this.io.setAside(segment.path, retiredPath(segment.path));
        this.#aside.set(segment, { path: where, bytes });
        done.held.push(segment);
      } else {
        await fs.promises.unlink(segment.path);
      }
      this.#pending.shift();
      done.segments++;
      done.bytes += bytes;
      if (canFsyncDir()) {
        try {
          await fsyncDir(this.directory);
        } catch (error) {
          onSyncError(error);
          throw error;
        }
      }
    }
    return done;
  }

  /** How many of `segments` are still set aside (held by a reader, or not yet unlinked), and their size. */
  stillHeld(segments: Segment[]): { segments: number; bytes: number } {
    const files = segments.map((segment) => this.#aside.get(segment)).filter((file) => file !== undefined);
    return { segments: files.length, bytes: files.reduce((sum, file) => sum + file.bytes, 0) };
  }

  /**
   * Unlinks the set-aside files no reader holds any more, oldest first. They are already out
   * of the names `open` reads, so nothing needs flushing. Tries each; throws the first error
   * (those files stay, counted in {@link stats}, and the next call tries them again).
   */
  async removeReleased(): Promise<void> {
    let failure: { error: unknown } | undefined;
    for (const [segment, file] of [...this.#aside]) {
      if (this.#pins.has(segment)) continue;
      try {
        await fs.promises.unlink(file.path);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
          failure ??= { error };
          continue;
        }
      }
      this.#aside.delete(segment);
    }
    if (failure !== undefined) throw failure.error;
  }
}
