/**
 * The methods the benchmark measures, what each one calls, and which benchmark case runs where.
 * What a name maps to on this OS comes from `capabilities()`, never from process.platform;
 * the only per-OS table here describes node:fs (libuv), which hardsync does not control.
 * @module
 */
import type { Capabilities, CapabilityName } from '../../lib/index';
import { BenchFlushCode, BenchPlacementCode, BenchSequenceCode } from './native-loop';

/** Where the writes of a case go. */
export type Mode = 'overwrite' | 'append' | 'new';

/** All modes, in report order. */
export const MODES: readonly Mode[] = Object.freeze(['overwrite', 'append', 'new'] as Mode[]);

/** One benchmark method. */
export interface MethodDef {
  id: string;
  /** Short human name for the table. */
  label: string;
  /**
   * Whether the method makes data durable on every OS (its portable meaning; the warning on
   * implausibly fast figures uses it). What it does on the OS where it runs: {@link durableOn}.
   */
  durable: boolean;
  /** The calls whose durability the method relies on (capabilities() says, per OS, whether each is durable). */
  durableVia?: CapabilityName[];
  /** Capabilities that must be supported. */
  requires: CapabilityName[];
  flush: BenchFlushCode;
  dsync?: boolean;
  sync?: boolean;
  direct?: boolean;
  /** sync_file_range flags by constant name, OR-ed. */
  syncFileRange?: ('SYNC_FILE_RANGE_WAIT_BEFORE' | 'SYNC_FILE_RANGE_WRITE' | 'SYNC_FILE_RANGE_WAIT_AFTER')[];
  /** A method that is a file-creation sequence: always runs as mode 'new'. */
  sequence?: 'dirFsync' | 'atomicReplace';
  /**
   * Stores through a shared mapping of the file (mapFile) instead of writes, and msyncs them:
   * always runs as mode 'overwrite' (a mapping cannot grow the file it maps).
   */
  mapped?: boolean;
  /** More than one write per flush makes sense (not for per-write synchronous opens). */
  amortizable: boolean;
  /** A node:fs baseline: runs from JavaScript with fs.writeSync + fs.<call>Sync. */
  nodeFs?: 'fdatasync' | 'fsync';
  /** Why the method exists, for the legend. */
  note: string;
}

/** Every method, in report order. */
export const METHODS: readonly MethodDef[] = Object.freeze([
  { id: 'write', label: 'write only (page cache)', durable: false, requires: [], flush: BenchFlushCode.none, amortizable: false,
    note: 'no flush: the page-cache baseline, not durable' },
  { id: 'fdatasync', label: 'write+fdatasync', durable: true, durableVia: ['fdatasync'], requires: ['fdatasync'], flush: BenchFlushCode.fdatasync, amortizable: true,
    note: 'data and the metadata needed to read it' },
  { id: 'fsync', label: 'write+fsync', durable: true, durableVia: ['fsync'], requires: ['fsync'], flush: BenchFlushCode.fsync, amortizable: true,
    note: 'data and all metadata' },
  { id: 'fullFsync', label: 'write+fullFsync', durable: true, durableVia: ['fullFsync'], requires: ['fullFsync'], flush: BenchFlushCode.full, amortizable: true,
    note: "the OS's strongest flush" },
  { id: 'barrierFsync', label: 'write+barrierFsync', durable: false, durableVia: ['barrierFsync'], requires: ['barrierFsync'], flush: BenchFlushCode.barrier, amortizable: true,
    note: 'ordering barrier where the OS has one (macOS); durable only where it maps to a flush' },
  { id: 'dsync', label: 'O_DSYNC open', durable: true, durableVia: ['openDsync'], requires: ['openDsync'], flush: BenchFlushCode.none, dsync: true, amortizable: false,
    note: 'each write returns once its data is on stable storage' },
  { id: 'osync', label: 'O_SYNC open', durable: true, durableVia: ['openSync'], requires: ['openSync'], flush: BenchFlushCode.none, sync: true, amortizable: false,
    note: 'each write returns once data and metadata are on stable storage' },
  { id: 'direct', label: 'O_DIRECT alone', durable: false, requires: ['openDirect'], flush: BenchFlushCode.none, direct: true, amortizable: false,
    note: 'bypasses the page cache but NOT durable: the device cache may still hold the data' },
  { id: 'direct-dsync', label: 'O_DIRECT|O_DSYNC', durable: true, durableVia: ['openDsync'], requires: ['openDirect', 'openDsync'], flush: BenchFlushCode.none, direct: true, dsync: true, amortizable: false,
    note: 'no page cache, and a device flush (or FUA) per write' },
  { id: 'sfr-write', label: 'sync_file_range WRITE', durable: false, requires: ['syncFileRange'], flush: BenchFlushCode.none,
    syncFileRange: ['SYNC_FILE_RANGE_WRITE'], amortizable: true, note: 'starts writeback only: not durable' },
  { id: 'sfr-wait', label: 'sync_file_range WAIT|WRITE|WAIT', durable: false, requires: ['syncFileRange'], flush: BenchFlushCode.none,
    syncFileRange: ['SYNC_FILE_RANGE_WAIT_BEFORE', 'SYNC_FILE_RANGE_WRITE', 'SYNC_FILE_RANGE_WAIT_AFTER'], amortizable: true,
    note: 'waits for writeback, but writes no metadata and flushes no device cache: not durable' },
  { id: 'sfr-fdatasync', label: 'sync_file_range+fdatasync', durable: true, durableVia: ['fdatasync'], requires: ['syncFileRange', 'fdatasync'], flush: BenchFlushCode.fdatasync,
    syncFileRange: ['SYNC_FILE_RANGE_WRITE'], amortizable: true, note: 'writeback started early, then the real flush (RocksDB style)' },
  { id: 'syncfs', label: 'write+syncfs', durable: true, durableVia: ['syncfs'], requires: ['syncfs'], flush: BenchFlushCode.syncfs, amortizable: true,
    note: 'flushes the whole filesystem' },
  { id: 'dir-fsync', label: 'create+fsync+dir fsync', durable: true, durableVia: ['fsync', 'fsyncDir'], requires: ['fsync', 'fsyncDir'], flush: BenchFlushCode.fsync, sequence: 'dirFsync', amortizable: true,
    note: 'a new file is durable only once its directory entry is' },
  { id: 'atomic-replace', label: 'atomic replace', durable: true, durableVia: ['fsync', 'fsyncDir'], requires: ['fsync', 'replaceFile', 'fsyncDir'], flush: BenchFlushCode.fsync,
    sequence: 'atomicReplace', amortizable: true, note: 'write temp, fsync, close, rename, fsync dir' },
  { id: 'mmap-msync', label: 'store via mmap+msync', durable: true, durableVia: ['msync'], requires: ['mapFile', 'msync'], flush: BenchFlushCode.none, mapped: true,
    amortizable: true, note: 'stores through a shared mapping (mapFile), then msync of the range: durable per capabilities().calls.msync' },
  { id: 'node-fdatasync', label: 'node:fs fdatasyncSync', durable: true, requires: [], flush: BenchFlushCode.none, nodeFs: 'fdatasync', amortizable: true,
    note: "node's own call, from JavaScript (baseline)" },
  { id: 'node-fsync', label: 'node:fs fsyncSync', durable: true, requires: [], flush: BenchFlushCode.none, nodeFs: 'fsync', amortizable: true,
    note: "node's own call, from JavaScript (baseline)" },
] as MethodDef[]);

/**
 * Whether `method` makes data durable on the OS `caps` describes: every call it relies on is
 * durable there (barrierFsync is fdatasync(2) on Linux: durable; F_BARRIERFSYNC on macOS: not).
 * node:fs's own calls are libuv's strongest flush on each OS (see NODE_FS_CALLS): their
 * portable meaning holds.
 */
export function durableOn(method: MethodDef, caps: Capabilities): boolean {
  if (method.nodeFs) return method.durable;
  const via = method.durableVia ?? [];
  return via.length > 0 && via.every((name) => caps.calls[name]?.durable === true);
}

/** Method ids accepted by --methods. */
export const METHOD_IDS: readonly string[] = Object.freeze(METHODS.map((m) => m.id));

/** Finds a method by id. */
export function methodById(id: string): MethodDef | undefined {
  return METHODS.find((m) => m.id === id);
}

// What libuv runs for node:fs's fsync/fdatasync on each platform family (libuv src/unix/fs.c
// uv__fs_fsync / uv__fs_fdatasync, src/win/fs.c). hardsync does not control these, so they
// are described rather than probed.
const NODE_FS_CALLS: Record<string, Record<'fdatasync' | 'fsync', string>> = {
  linux: { fdatasync: 'fdatasync(2)', fsync: 'fsync(2)' },
  freebsd: { fdatasync: 'fdatasync(2)', fsync: 'fsync(2)' },
  darwin: {
    fdatasync: 'fcntl(F_FULLFSYNC), else fcntl(F_BARRIERFSYNC), else fsync(2) (libuv)',
    fsync: 'fcntl(F_FULLFSYNC), else fcntl(F_BARRIERFSYNC), else fsync(2) (libuv)',
  },
  win32: { fdatasync: 'FlushFileBuffers', fsync: 'FlushFileBuffers' },
};

/** The syscall node:fs's call runs on this platform family. */
export function nodeFsCall(platform: string, call: 'fdatasync' | 'fsync'): string {
  return NODE_FS_CALLS[platform]?.[call] ?? `${call} (libuv, unknown platform)`;
}

/** The label of a method as shown on this OS (node:fs baselines say what they call). */
export function methodLabel(method: MethodDef, caps: Capabilities): string {
  if (method.nodeFs) return `${method.label} = ${nodeFsCall(caps.platform, method.nodeFs)}`;
  return method.label;
}

/** Why a method cannot run here, or null when it can. */
export function unsupportedReason(method: MethodDef, caps: Capabilities): string | null {
  for (const name of method.requires) {
    const call = caps.calls[name];
    if (!call || !call.supported) return `${name} not available here${call?.reason ? `: ${call.reason}` : ` (${call?.syscall ?? 'unknown'})`}`;
  }
  if (method.direct) {
    const dio = caps.dioAlignment;
    if (dio && (dio.memory === 0 || dio.offset === 0)) return 'direct I/O not supported by this filesystem';
  }
  return null;
}

/** Why a method cannot run at this write size (direct-I/O alignment), or null. */
export function sizeReason(method: MethodDef, size: number, caps: Capabilities): string | null {
  if (!method.direct) return null;
  const offset = caps.dioAlignment?.offset ?? 4096;
  if (offset > 0 && size % offset !== 0) return `size ${size} is not a multiple of the direct-I/O alignment (${offset} B)`;
  return null;
}

function writeCall(caps: Capabilities): string {
  return caps.calls.writeDurable.syscall.split(' ')[0];
}

/** The exact calls one operation of a case makes, for the report. */
export function syscallsOf(method: MethodDef, mode: Mode, size: number, writesPerSync: number, caps: Capabilities): string[] {
  if (method.mapped) {
    return [
      `open(O_RDWR) + ${caps.calls.mapFile.syscall} of the region  [once]`,
      `store ${size} B into the mapping${writesPerSync > 1 ? ` x${writesPerSync}` : ''}`,
      `${caps.calls.msync.syscall} of the stored range`,
    ];
  }
  const calls: string[] = [];
  const flags = ['O_WRONLY'];
  if (method.dsync) flags.push('O_DSYNC');
  if (method.sync) flags.push('O_SYNC');
  if (method.direct) flags.push(caps.calls.openDirect.syscall.includes('O_DIRECT') && !caps.calls.openDirect.syscall.includes('F_NOCACHE') ? 'O_DIRECT' : caps.calls.openDirect.syscall);
  const effectiveMode = method.sequence ? 'new' : mode;
  if (effectiveMode === 'new') {
    calls.push(`open(${[...flags, 'O_CREAT', 'O_TRUNC'].join('|')})`);
  } else if (method.nodeFs) {
    calls.push('fs.openSync(path, "r+")  [once]');
  } else {
    calls.push(`open(${flags.join('|')})  [once]`);
  }
  const write = method.nodeFs ? 'fs.writeSync' : writeCall(caps);
  calls.push(`${write}(${size} B at ${effectiveMode === 'append' ? 'end of file' : effectiveMode === 'new' ? 'offset 0..' : 'preallocated offset'})${writesPerSync > 1 ? ` x${writesPerSync}` : ''}`);
  if (method.syncFileRange) calls.push(`sync_file_range(${method.syncFileRange.map((f) => f.replace('SYNC_FILE_RANGE_', '')).join('|')})`);
  if (method.nodeFs) calls.push(`fs.${method.nodeFs}Sync = ${nodeFsCall(caps.platform, method.nodeFs)}`);
  const flushName: Record<number, CapabilityName | null> = {
    [BenchFlushCode.none]: null,
    [BenchFlushCode.fdatasync]: 'fdatasync',
    [BenchFlushCode.fsync]: 'fsync',
    [BenchFlushCode.full]: 'fullFsync',
    [BenchFlushCode.barrier]: 'barrierFsync',
    [BenchFlushCode.syncfs]: 'syncfs',
  };
  const flush = flushName[method.flush];
  if (flush) calls.push(caps.calls[flush].syscall);
  if (effectiveMode === 'new') calls.push('close');
  if (method.sequence === 'atomicReplace') calls.push(caps.calls.replaceFile.syscall);
  if (method.sequence) calls.push(`${caps.calls.fsyncDir.syscall} on the directory`);
  if (effectiveMode === 'new' && !method.sequence) calls.push('(unlink, not timed)');
  if (effectiveMode === 'append') calls.push('(ftruncate to 0 at the size limit, not timed)');
  return calls;
}

/** The native loop's sequence and placement for a method in a mode. */
export function layoutOf(method: MethodDef, mode: Mode): { sequence: BenchSequenceCode; placement: BenchPlacementCode; fsyncDirectory: boolean } {
  if (method.mapped) return { sequence: BenchSequenceCode.mapped, placement: BenchPlacementCode.overwrite, fsyncDirectory: false };
  if (method.sequence === 'atomicReplace') return { sequence: BenchSequenceCode.atomicReplace, placement: BenchPlacementCode.overwrite, fsyncDirectory: true };
  if (method.sequence === 'dirFsync') return { sequence: BenchSequenceCode.newFile, placement: BenchPlacementCode.overwrite, fsyncDirectory: true };
  if (mode === 'new') return { sequence: BenchSequenceCode.newFile, placement: BenchPlacementCode.overwrite, fsyncDirectory: false };
  return {
    sequence: BenchSequenceCode.plain,
    placement: mode === 'append' ? BenchPlacementCode.append : BenchPlacementCode.overwrite,
    fsyncDirectory: false,
  };
}
