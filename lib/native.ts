/**
 * The compiled addon (prebuild if one matches, else build/Release), and its raw signatures.
 * Only lib/ talks to it; every argument has been validated before a call reaches it.
 * @module
 */
import path from 'node:path';
import type { CapabilityName, Constants, EngineInfo, FlushMode, OpenOptions } from './types';

/**
 * The flush kinds the addon defines (native/platform.h HS_FLUSH_KINDS): writeDurable's
 * {@link FlushMode}s, and `syncfs`, which only the benchmark loop takes.
 */
export type FlushKindName = FlushMode | 'syncfs';

/** The boolean options of open(), each one bit of the packed flags (native/platform.h HS_OPEN_OPTIONS). */
export type OpenFlagName = Exclude<keyof OpenOptions, 'mode'>;

/** Raw capability row from native/platform/*.cc. */
export interface NativeCapability {
  name: string;
  supported: boolean;
  syscall: string;
  /** Present for flushes and synchronous opens: whether a successful call makes data durable here. */
  durable?: boolean;
}

/** The benchmark loop's spec (native/bench.h BenchSpec); built by bench/measure/native-loop.ts. */
export interface NativeBenchSpec {
  files: string[];
  directory: string;
  sequence: number;
  flush: number;
  placement: number;
  dsync: boolean;
  sync: boolean;
  direct: boolean;
  fsyncDirectory: boolean;
  syncFileRangeFlags: number;
  size: number;
  writesPerOp: number;
  alignment: number;
  regionBytes: number;
  prefillBytes: number;
  seconds: number;
  maxSamples: number;
}

/** What the benchmark loop resolves with: one latency per operation, in nanoseconds. */
export interface NativeBenchResult {
  samplesNs: Float64Array;
  ops: number;
  busyNs: number;
  wallNs: number;
}

/** The addon's exports (see native/binding.cc). */
export interface NativeBinding {
  fsync(fd: number): Promise<void>;
  fsyncSync(fd: number): void;
  fdatasync(fd: number): Promise<void>;
  fdatasyncSync(fd: number): void;
  fullFsync(fd: number): Promise<void>;
  fullFsyncSync(fd: number): void;
  barrierFsync(fd: number): Promise<void>;
  barrierFsyncSync(fd: number): void;
  syncfs(fd: number): Promise<void>;
  syncfsSync(fd: number): void;
  syncFileRange(fd: number, offset: number, nbytes: number, flags: number): Promise<void>;
  syncFileRangeSync(fd: number, offset: number, nbytes: number, flags: number): void;
  fsyncDir(path: string): Promise<void>;
  fsyncDirSync(path: string): void;
  open(path: string, flags: number, mode: number): Promise<number>;
  openSync(path: string, flags: number, mode: number): number;
  preallocate(fd: number, offset: number, length: number): Promise<void>;
  preallocateSync(fd: number, offset: number, length: number): void;
  writeDurable(fd: number, data: ArrayBufferView, position: number, flush: number): Promise<number>;
  writeDurableSync(fd: number, data: ArrayBufferView, position: number, flush: number): number;
  lockFile(fd: number, shared: boolean, wait: boolean): Promise<void>;
  lockFileSync(fd: number, shared: boolean, wait: boolean): void;
  unlockFile(fd: number): Promise<void>;
  unlockFileSync(fd: number): void;
  replaceFile(from: string, to: string): Promise<void>;
  replaceFileSync(from: string, to: string): void;
  dioAlignment(pathOrFd: string | number): Promise<{ memory: number; offset: number; source: string }>;
  dioAlignmentSync(pathOrFd: string | number): { memory: number; offset: number; source: string };
  mapFile(fd: number, offset: number, length: number, sync: boolean): Promise<Buffer>;
  mapFileSync(fd: number, offset: number, length: number, sync: boolean): Buffer;
  msync(view: ArrayBufferView, offset: number, length: number): Promise<void>;
  msyncSync(view: ArrayBufferView, offset: number, length: number): void;
  unmapFile(view: ArrayBufferView): void;
  alignmentOffset(view: ArrayBufferView, alignment: number): number;
  capabilities(): NativeCapability[];
  /** CRC-32C of `length` bytes of `data` from byte `offset`, continuing `crc` (native/crc32c.cc). */
  crc32c(crc: number, data: ArrayBufferView, offset: number, length: number): number;
  /** The same, always with the table-driven code (the reference the tests compare against). */
  crc32cPortable(crc: number, data: ArrayBufferView, offset: number, length: number): number;
  /**
   * Completes the DurableLog frames in bytes [0, bytes) of `data` (batch end, then CRC-32C of
   * each; native/log_frames.h) and returns how many; not whole frames: ERR_OUT_OF_RANGE.
   */
  frameBatch(data: ArrayBufferView, bytes: number, batchEnd: number): number;
  /** `size` bytes of native memory as a Buffer, for writeArena (native/arena.h). */
  logArena(size: number): Buffer;
  /** writeDurable of a view of a logArena Buffer, read in place: unchanged until it settles. */
  writeArena(fd: number, data: ArrayBufferView, position: number, flush: number): Promise<number>;
  /** What crc32c runs on this CPU. */
  crc32cImplementation: 'sse4.2' | 'armv8-crc' | 'table';
  engineInfo(): EngineInfo;
  benchLoop(spec: NativeBenchSpec): Promise<NativeBenchResult>;
  constants: Constants;
  /** Flush kind name -> the code writeDurable and the benchmark loop take (frozen). */
  flushKinds: Readonly<Record<FlushKindName, number>>;
  /** open() option name -> its bit in open's packed flags (frozen). */
  openBits: Readonly<Record<OpenFlagName, number>>;
  /** The names capabilities() reports on, in the addon's order (frozen). */
  capabilityNames: readonly CapabilityName[];
  platform: string;
  defaultDioAlignment: number;
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
const load = require('node-gyp-build') as (dir: string) => unknown;

/**
 * The loaded addon. HARDSYNC_NATIVE=/path/to/hardsync.node loads that file instead (the
 * sanitizer build and the cross-platform test runs use it).
 */
export const native = (
  process.env.HARDSYNC_NATIVE ? require(path.resolve(process.env.HARDSYNC_NATIVE)) : load(path.join(__dirname, '..', '..'))
) as NativeBinding;
