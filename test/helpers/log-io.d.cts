import type { DurableLog, DurableLogOptions } from '../../dist/lib/index.js';

/** What DurableLog does to its files (lib/patterns/log/io.ts). */
export interface LogIo {
  writeBatch(fd: number, data: Buffer, position: number, options: { flush?: string }): Promise<unknown>;
  setAside(from: string, to: string): Promise<string>;
}

/** The seam and its faulty variants for the built library whose index is `libIndex`. */
export function logIo(libIndex: string): {
  openLogWithIo(dir: string, options: DurableLogOptions | undefined, io: LogIo): Promise<DurableLog>;
  defaultLogIo: LogIo;
  /** Each batch's write starts 0 to `ms` ms late. */
  jitter(ms: number): LogIo;
  /** The jitter, and each batch reported done with every earlier one when its own flush returns (negative control; Linux). */
  ackEarly(ms: number): LogIo;
  /** A held segment stays under its name until released (negative control). */
  deferredUnlink(): LogIo;
};
