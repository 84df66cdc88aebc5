/**
 * The two loops that time a case: the native one (native/bench.cc on the threadpool, the
 * default: figures about the OS and the device) and the same loop written in JavaScript on
 * hardsync's public API (`--js`: what a Node program gets), plus node:fs baselines.
 * @module
 */
import fs from 'node:fs';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import {
  allocAligned,
  fsyncDirSync,
  mapFileSync,
  msyncSync,
  openSync,
  replaceFileSync,
  syncFileRangeSync,
  syncfsSync,
  unmapFile,
  writeDurableSync,
  type FlushMode,
} from '../../lib/index';
import { native, type FlushKindName, type NativeBenchResult, type NativeBenchSpec } from '../../lib/native';

/** native/bench.h BenchSequence. */
export enum BenchSequenceCode {
  plain = 0,
  reopen = 1,
  writeFlushClose = 2,
  writeCloseFlush = 3,
  newFile = 4,
  atomicReplace = 5,
  mapped = 6,
}

/**
 * The benchmark's flushes and their codes, read from the addon's flush kinds (native/platform.h
 * FlushKind: the loop runs them through the same RunFlush as writeDurable). Named as the
 * benchmark's methods name them: `fdatasync` is the kind `data`.
 */
export const BenchFlushCode = Object.freeze({
  none: native.flushKinds.none,
  fdatasync: native.flushKinds.data,
  fsync: native.flushKinds.fsync,
  full: native.flushKinds.full,
  barrier: native.flushKinds.barrier,
  syncfs: native.flushKinds.syncfs,
});
/** A code of {@link BenchFlushCode}. */
export type BenchFlushCode = (typeof BenchFlushCode)[keyof typeof BenchFlushCode];

/** native/bench.h BenchPlacement. */
export enum BenchPlacementCode {
  overwrite = 0,
  append = 1,
  preallocated = 2,
}

export type { NativeBenchSpec, NativeBenchResult };

/** A spec for the native loop: NativeBenchSpec and the loop's one optional field. */
export interface LoopSpec extends NativeBenchSpec {
  /**
   * Time one operation in this many (native/bench.h BenchSpec::sampleEvery; default 1: every
   * one). With N > 1 the N - 1 operations after a timed one run with no clock read, the
   * samples are the latencies of every Nth operation, `ops` counts them all, and `busyNs`
   * is the loop's elapsed time (as `wallNs` always is). For a sub-microsecond operation only
   * (`hardsync pg` section 5): two clock reads per operation would be a measurable share of it
   * (bench/README.md, "Section 5, the non-synced 8 kB write").
   */
  sampleEvery?: number;
}

/** Runs the native timed loop. */
export function runNativeLoop(spec: LoopSpec): Promise<NativeBenchResult> {
  return native.benchLoop(spec);
}

/** Flush code -> the kind's name (what writeDurable's `flush` option takes, or syncfs). */
const FLUSH_MODES: Record<number, FlushKindName> = Object.fromEntries(
  Object.entries(native.flushKinds).map(([name, code]) => [code, name as FlushKindName]),
);

// The JS loop gives the event loop a turn this often, so Ctrl-C is handled while it runs.
const YIELD_EVERY_NS = 20_000_000n;

/**
 * The same loop as native/bench.cc, in JavaScript, one thread: every operation goes through
 * hardsync's public Sync API (or node:fs for a baseline), timed with process.hrtime.
 * @param spec The same spec the native loop takes (one file: JS runs one thread).
 * @param nodeFs Run a node:fs baseline (fs.writeSync + fs.fdatasyncSync / fs.fsyncSync).
 */
export async function runJsLoop(spec: LoopSpec, nodeFs?: 'fdatasync' | 'fsync'): Promise<NativeBenchResult> {
  if (spec.files.length !== 1) throw new RangeError('the JavaScript loop runs one thread');
  if ((spec.sampleEvery ?? 1) !== 1) throw new RangeError('the JavaScript loop times every operation');
  const file = spec.files[0];
  const buffer = allocAligned(spec.size, spec.alignment);
  for (let i = 0; i < buffer.length; i++) buffer[i] = (i * 2654435761) >>> 24;
  const opBytes = spec.size * spec.writesPerOp;
  const flush = FLUSH_MODES[spec.flush];
  const newFile = `${file}.new`;
  const tempFile = `${file}.tmp`;
  const usesRegion = spec.sequence !== BenchSequenceCode.newFile && spec.sequence !== BenchSequenceCode.atomicReplace;

  if (usesRegion) {
    const fd = fs.openSync(file, 'w', 0o600);
    try {
      if (spec.placement === BenchPlacementCode.overwrite) {
        const fill = Math.max(spec.regionBytes, spec.prefillBytes);
        for (let at = 0; at < fill; at += spec.size) fs.writeSync(fd, buffer, 0, Math.min(spec.size, fill - at), at);
      }
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  }
  const openBench = (path: string, create: boolean): number =>
    nodeFs
      ? fs.openSync(path, create ? 'w' : 'r+', 0o600)
      : create
        ? openSync(path, { write: true, create: true, truncate: true, mode: 0o600, dsync: spec.dsync, sync: spec.sync, direct: spec.direct })
        : openSync(path, { write: true, dsync: spec.dsync, sync: spec.sync, direct: spec.direct });

  const writes = (fd: number, position: number): void => {
    for (let i = 0; i < spec.writesPerOp; i++) {
      const at = position + i * spec.size;
      if (nodeFs) {
        let done = 0;
        while (done < spec.size) done += fs.writeSync(fd, buffer, done, spec.size - done, at + done);
      } else {
        // The flush rides on the last write: writeDurableSync is write + flush in one call.
        const last = i === spec.writesPerOp - 1 && spec.syncFileRangeFlags === 0 && flush !== 'syncfs';
        writeDurableSync(fd, buffer, at, { flush: last ? (flush as FlushMode) : 'none' });
      }
    }
    if (spec.syncFileRangeFlags !== 0) syncFileRangeSync(fd, position, opBytes, spec.syncFileRangeFlags);
    if (nodeFs === 'fdatasync') fs.fdatasyncSync(fd);
    else if (nodeFs === 'fsync') fs.fsyncSync(fd);
    else if (flush === 'syncfs') syncfsSync(fd);
    else if (spec.syncFileRangeFlags !== 0 && flush !== 'none') writeDurableSync(fd, buffer.subarray(0, 0), position, { flush: flush as FlushMode });
  };

  const samples = new Float64Array(Math.max(1, spec.maxSamples));
  let ops = 0;
  let busy = 0;
  let position = 0;
  const mapped = spec.sequence === BenchSequenceCode.mapped;
  let fd = spec.sequence === BenchSequenceCode.plain ? openBench(file, false) : mapped ? fs.openSync(file, 'r+') : -1;
  const map = mapped ? mapFileSync(fd, { length: spec.regionBytes }) : undefined;
  try {
    if (fd >= 0 && spec.placement === BenchPlacementCode.append) fs.ftruncateSync(fd, 0);
    const start = process.hrtime.bigint();
    const deadline = start + BigInt(Math.round(spec.seconds * 1e9));
    let lastYield = start;
    for (;;) {
      if (usesRegion && position + opBytes > spec.regionBytes) {
        position = 0;
        if (spec.placement === BenchPlacementCode.append) fs.truncateSync(file, 0);
      }
      const t0 = process.hrtime.bigint();
      if (spec.sequence === BenchSequenceCode.plain) {
        writes(fd, position);
      } else if (spec.sequence === BenchSequenceCode.newFile) {
        const created = openBench(newFile, true);
        try {
          writes(created, 0);
        } finally {
          fs.closeSync(created);
        }
        if (spec.fsyncDirectory) fsyncDirSync(spec.directory);
      } else if (spec.sequence === BenchSequenceCode.atomicReplace) {
        const created = openBench(tempFile, true);
        try {
          writes(created, 0);
        } finally {
          fs.closeSync(created);
        }
        replaceFileSync(tempFile, file);
        fsyncDirSync(spec.directory);
      } else if (map) {
        for (let i = 0; i < spec.writesPerOp; i++) buffer.copy(map, position + i * spec.size);
        msyncSync(map, { offset: position, length: opBytes });
      } else {
        throw new RangeError(`the JavaScript loop does not run sequence ${spec.sequence}`);
      }
      const t1 = process.hrtime.bigint();
      if (spec.sequence === BenchSequenceCode.newFile) fs.unlinkSync(newFile);
      const ns = Number(t1 - t0);
      samples[ops++] = ns;
      busy += ns;
      position += opBytes;
      if (t1 >= deadline || ops >= samples.length) break;
      if (t1 - lastYield > YIELD_EVERY_NS) {
        await yieldToEventLoop();
        lastYield = process.hrtime.bigint();
      }
    }
    return { samplesNs: samples.slice(0, ops), ops, busyNs: busy, wallNs: busy };
  } finally {
    if (map) unmapFile(map);
    if (fd >= 0) fs.closeSync(fd);
    fd = -1;
  }
}
