/**
 * The TypeScript side of the addon's vocabulary as arrays the compiler holds to the types:
 * each list `satisfies` its union (no name outside it), and `EXHAUSTIVE` does not compile
 * while a name of the union is missing from its list. test/vocabulary.test.ts type-checks
 * this file and compares the lists with the tables the addon exports (native/platform.h).
 * @module
 */
import type { FlushKindName, OpenFlagName } from '../../lib/native';
import type { CapabilityName, Constants, FlushMode } from '../../lib/types';

/** `true` when List names every member of Union, else a type naming the missing ones. */
type Exhaustive<Union, List extends readonly unknown[]> =
  [Exclude<Union, List[number]>] extends [never] ? true : { missing: Exclude<Union, List[number]> };

/** lib/types.ts FlushMode: what writeDurable's `flush` takes. */
export const FLUSH_MODES = ['none', 'data', 'full', 'fsync', 'barrier'] as const satisfies readonly FlushMode[];

/** Every flush kind: FlushMode's and the benchmark loop's syncfs. */
export const FLUSH_KIND_NAMES = [...FLUSH_MODES, 'syncfs'] as const satisfies readonly FlushKindName[];

/** lib/types.ts OpenOptions' boolean options. */
export const OPEN_FLAGS = [
  'read', 'write', 'create', 'exclusive', 'truncate', 'append', 'dsync', 'sync', 'direct', 'nofollow',
] as const satisfies readonly OpenFlagName[];

/** lib/types.ts CapabilityName. */
export const CAPABILITY_NAMES = [
  'fsync', 'fdatasync', 'fullFsync', 'barrierFsync', 'syncFileRange', 'syncfs', 'fsyncDir', 'open', 'openDsync',
  'openSync', 'openDirect', 'preallocate', 'writeDurable', 'replaceFile', 'dioAlignment', 'lockFile', 'mapFile', 'msync',
  'mapSync',
] as const satisfies readonly CapabilityName[];

/** lib/types.ts Constants' keys. */
export const CONSTANT_NAMES = [
  'O_RDONLY', 'O_WRONLY', 'O_RDWR', 'O_CREAT', 'O_EXCL', 'O_TRUNC', 'O_APPEND', 'O_CLOEXEC', 'O_NOFOLLOW',
  'O_DIRECTORY', 'O_DSYNC', 'O_SYNC', 'O_DIRECT', 'SYNC_FILE_RANGE_WAIT_BEFORE', 'SYNC_FILE_RANGE_WRITE',
  'SYNC_FILE_RANGE_WAIT_AFTER', 'F_FULLFSYNC', 'F_BARRIERFSYNC', 'F_NOCACHE',
] as const satisfies readonly (keyof Constants)[];

/** Compiles only when every list above is complete. */
export const EXHAUSTIVE: [
  Exhaustive<FlushMode, typeof FLUSH_MODES>,
  Exhaustive<FlushKindName, typeof FLUSH_KIND_NAMES>,
  Exhaustive<OpenFlagName, typeof OPEN_FLAGS>,
  Exhaustive<CapabilityName, typeof CAPABILITY_NAMES>,
  Exhaustive<keyof Constants, typeof CONSTANT_NAMES>,
] = [true, true, true, true, true];
