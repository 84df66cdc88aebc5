/**
 * The durable patterns built on the primitives: atomic replace, durable create, ordered
 * secret writes, and a write-ahead log with group commit.
 * @module
 */
export {
  writeFileAtomic,
  writeFileAtomicSync,
  writeFileSecret,
  writeFileSecretSync,
  createDurable,
  createDurableSync,
  cleanupAtomicTemps,
  cleanupAtomicTempsSync,
} from './atomic';
export type { AtomicData, AtomicOptions, CreateDurableOptions, SecretOptions } from './atomic';
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
} from './log';
export { crc32c, crc32cUpdate } from './crc32c';
