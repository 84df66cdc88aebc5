/**
 * The two things a {@link DurableLog} does to its files that a crash test must be able to get
 * wrong on purpose: writing a batch, and setting aside a segment that readers still hold.
 * The log uses {@link defaultLogIo}; the power-cut negative controls (a batch acknowledged
 * before the earlier ones are durable, a truncation that leaves held segments under their
 * names) inject another through `openLogWithIo` in ./log.ts, which the package does not
 * export: no option of `DurableLog.open` reaches this.
 * @module
 */
import { replaceFile, writeDurable } from '../../primitives';
import type { WriteDurableOptions } from '../../types';

/** What the log does to its files through this seam. */
export interface LogIo {
  /**
   * Writes a batch at `position` and flushes it as `options.flush` says; resolves once both
   * returned. Must copy (or finish with) `data` before it returns its promise: the log reuses
   * that memory at once. Same contract as {@link writeDurable}, which is the default.
   */
  writeBatch(fd: number, data: Buffer, position: number, options: WriteDurableOptions): Promise<unknown>;
  /**
   * Takes the segment file `from` out of the names `open` reads, while readers still hold it;
   * resolves with where the file now is (the log unlinks that once they let go). The default
   * renames it to `to` (the log then flushes the directory).
   */
  setAside(from: string, to: string): Promise<string>;
}

/** The real thing: writeDurable, and a rename (MoveFileEx with write-through on Windows). */
export const defaultLogIo: LogIo = Object.freeze({
  writeBatch: writeDurable,
  async setAside(from: string, to: string): Promise<string> {
    await replaceFile(from, to);
    return to;
  },
});
