/**
 * The two things a {@link DurableLog} does to its files that a crash test must be able to get
 * wrong on purpose: writing a batch, and setting aside a segment that readers still hold.
 * The log uses {@link defaultLogIo}; the power-cut negative controls (a batch acknowledged
 * before the earlier ones are durable, a truncation that leaves held segments under their
 * names) inject another through `openLogWithIo` in ./log.ts, which the package does not
 * export: no option of `DurableLog.open` reaches this.
 * @module
 */
import { native } from '../../native';
import { replaceFile, writeDurable } from '../../primitives';
import type { WriteDurableOptions } from '../../types';
import { flushCode } from '../../validate';

/** What the log does to its files through this seam. */
export interface LogIo {
  /**
   * Writes a batch at `position` and flushes it as `options.flush` says; resolves once both
   * returned. The log leaves `data` unchanged until the promise settles, so the write may read
   * it in place (the default does, for an arena of {@link newArena}; anything else goes
   * through {@link writeDurable}, which copies).
   */
  writeBatch(fd: number, data: Buffer, position: number, options: WriteDurableOptions): Promise<unknown>;
  /**
   * Takes the segment file `from` out of the names `open` reads, while readers still hold it;
   * resolves with where the file now is (the log unlinks that once they let go). The default
   * renames it to `to` (the log then flushes the directory).
   */
  setAside(from: string, to: string): Promise<string>;
}

// The ArrayBuffers of the arenas the addon made: the write can hold those until it returns.
const arenas = new WeakSet<ArrayBufferLike>();
let nativeArenas = true;

/**
 * Memory for a log's frames, `size` bytes, contents undefined: native memory that the batch
 * write reads in place and holds (the addon's reference) until it has returned, whatever
 * JavaScript does with the Buffer meanwhile. Where the runtime allows no external buffers,
 * Buffer.allocUnsafe (written through writeDurable's copy).
 */
export function newArena(size: number): Buffer {
  if (nativeArenas) {
    try {
      const arena = native.logArena(size);
      arenas.add(arena.buffer);
      return arena;
    } catch (error) {
      if ((error as { code?: unknown }).code !== 'ERR_HARDSYNC_UNSUPPORTED') throw error;
      nativeArenas = false;
    }
  }
  return Buffer.allocUnsafe(size);
}

/** The real thing: a batch write of an arena without a copy (else writeDurable), and a rename (MoveFileEx with write-through on Windows). */
export const defaultLogIo: LogIo = Object.freeze({
  writeBatch(fd: number, data: Buffer, position: number, options: WriteDurableOptions): Promise<unknown> {
    if (!arenas.has(data.buffer)) return writeDurable(fd, data, position, options);
    return native.writeArena(fd, data, position, flushCode(options.flush, 'data'));
  },
  async setAside(from: string, to: string): Promise<string> {
    await replaceFile(from, to);
    return to;
  },
});
