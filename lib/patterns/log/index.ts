/**
 * DurableLog, the write-ahead log with group commit, split by job: the log and its group
 * commit (./log.ts), options (./options.ts), recovery and locking (./recovery.ts), segment
 * files (./segments.ts), reading (./read.ts), followers waiting for more (./followers.ts),
 * and what it does to its files through a seam
 * only the crash tests' negative controls replace (./io.ts). The on-disk format is ../frame.ts.
 * @module
 */
export { DurableLog } from './log';
export type {
  DurableLogOptions,
  LogFlush,
  LogRecord,
  LogRecordsOptions,
  LogRecovery,
  LogStats,
  LogTruncation,
  LogVerified,
  LogVerify,
  SegmentFill,
} from './options';
