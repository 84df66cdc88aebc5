/**
 * `hardsync pg`: PostgreSQL's pg_test_fsync, section for section and line for line (same
 * labels, same printf formats, same write offsets and open flags, O_DIRECT included where pg
 * uses it), timed by the native loop, so the two outputs can be put side by side.
 * @module
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Capabilities } from '../../lib/index';
import { BenchFlushCode, BenchPlacementCode, BenchSequenceCode, runNativeLoop, type LoopSpec } from './native-loop';
import type { BenchResult } from './schema';
import { latencyFigures } from './run';
import { cdfPoints, round3 } from './stats';

const BLCKSZ = 8192;
/** pg_test_fsync's file: DEFAULT_XLOG_SEG_SIZE, written in full before the tests. */
const PG_FILE_BYTES = 16 * 1024 * 1024;

/**
 * Creates pg_test_fsync's file as its test_open() does, once for every test: random bytes in
 * one 16 MB write(), fsync, close. Every test then opens this file with its own flags and
 * writes at offset 0, so each test starts from the page cache and the blocks the tests before
 * it left, as in pg (this command once rewrote the file, in 8 kB writes, before each test).
 */
export function createPgFile(file: string): void {
  const fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_TRUNC, 0o600);
  try {
    const data = crypto.randomBytes(PG_FILE_BYTES);
    let done = 0;
    while (done < data.length) done += fs.writeSync(fd, data, done, data.length - done);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
/**
 * Section 5 (a page-cache write, under a microsecond) times one write in this many. pg reads
 * the clock only around its loop; reading it twice around every write cost this loop several
 * percent of the write (the measured figures: bench/README.md, "Section 5, the non-synced 8 kB
 * write"). One pair per 64 writes makes that cost 64 times smaller, ends the loop at most 64
 * writes past the deadline, and still gives thousands of real per-write latencies a second
 * for the percentiles.
 */
export const PG_NON_SYNC_SAMPLE_EVERY = 64;

/** One measured line of pg_test_fsync. */
export interface PgTest {
  section: number;
  /** The label exactly as pg_test_fsync prints it. */
  label: string;
  /** Our method id for the JSON. */
  method: string;
  size: number;
  writesPerOp: number;
  durable: boolean;
  spec: Partial<LoopSpec> | null;
  /** pg prints "n/a*" (and a footnote) when the filesystem refuses direct I/O. */
  naMark?: 'n/a' | 'n/a*';
  syscalls: string[];
}

/** The five section headers, verbatim (pg_test_fsync.c of PostgreSQL 15). */
export const PG_HEADERS: Record<number, string> = {
  1: "\nCompare file sync methods using one 8kB write:\n(in wal_sync_method preference order, except fdatasync is Linux's default)\n",
  2: "\nCompare file sync methods using two 8kB writes:\n(in wal_sync_method preference order, except fdatasync is Linux's default)\n",
  3: '\nCompare open_sync with different write sizes:\n(This is designed to compare the cost of writing 16kB in different write\nopen_sync sizes.)\n',
  4: '\nTest if fsync on non-write file descriptor is honored:\n(If the times are similar, fsync() can sync data written on a different\ndescriptor.)\n',
  5: "\nNon-sync'ed 8kB writes:\n",
};

/** The footnote pg prints after a section with an "n/a*". */
export const PG_DIRECT_FOOTNOTE = '* This file system and its mount options do not support direct\n  I/O, e.g. ext4 in journaled mode.\n';

/** `        %-30s`: pg's LABEL_FORMAT. */
export function pgLabel(label: string): string {
  return `        ${label.padEnd(30)}`;
}

/** `%13.3f ops/sec  %6.0f usecs/op\n`: pg's OPS_FORMAT. */
export function pgOps(opsPerSec: number, usPerOp: number): string {
  return `${opsPerSec.toFixed(3).padStart(13)} ops/sec  ${usPerOp.toFixed(0).padStart(6)} usecs/op\n`;
}

/** `%21s\n`: pg's NA_FORMAT. */
export function pgNa(text: string): string {
  return `${text.padStart(21)}\n`;
}

/** pg's first lines. */
export function pgPreamble(seconds: number, caps: Capabilities): string {
  const per = `${seconds} second${seconds === 1 ? '' : 's'} per test\n`;
  const direct = caps.calls.openDirect.supported
    ? 'O_DIRECT supported on this platform for open_datasync and open_sync.\n'
    : 'Direct I/O is not supported on this platform.\n';
  return per + direct;
}

/** Every line pg_test_fsync measures, with the spec that reproduces it here. */
export function pgTests(caps: Capabilities): PgTest[] {
  const directOk = caps.calls.openDirect.supported && !(caps.dioAlignment && caps.dioAlignment.offset === 0);
  // pg's fsync_writethrough is F_FULLFSYNC (macOS) or _commit (Windows): only a call distinct
  // from plain fsync; on Linux it is n/a, as hardsync's fullFsync is fsync there.
  const writethrough = caps.calls.fullFsync.supported && !caps.calls.fullFsync.syscall.startsWith(caps.calls.fsync.syscall.split(' ')[0]);
  const tests: PgTest[] = [];
  const direct = (size: number): boolean => directOk && (!caps.dioAlignment || size % caps.dioAlignment.offset === 0);
  for (const [section, writes] of [[1, 1], [2, 2]] as const) {
    const base = { size: BLCKSZ, writesPerOp: writes, section };
    tests.push({ ...base, label: 'open_datasync', method: 'pg-open_datasync', durable: true,
      spec: direct(BLCKSZ) ? { dsync: true, direct: true } : null, naMark: directOk ? 'n/a' : 'n/a*',
      syscalls: ['open(O_WRONLY|O_DSYNC|O_DIRECT) once', `pwrite(8192) x${writes}`] });
    tests.push({ ...base, label: 'fdatasync', method: 'pg-fdatasync', durable: true,
      spec: caps.calls.fdatasync.supported ? { flush: BenchFlushCode.fdatasync } : null, naMark: 'n/a',
      syscalls: ['open(O_WRONLY) once', `pwrite(8192) x${writes}`, caps.calls.fdatasync.syscall] });
    tests.push({ ...base, label: 'fsync', method: 'pg-fsync', durable: true,
      spec: { flush: BenchFlushCode.fsync }, naMark: 'n/a',
      syscalls: ['open(O_WRONLY) once', `pwrite(8192) x${writes}`, caps.calls.fsync.syscall] });
    tests.push({ ...base, label: 'fsync_writethrough', method: 'pg-fsync_writethrough', durable: true,
      spec: writethrough ? { flush: BenchFlushCode.full } : null, naMark: 'n/a',
      syscalls: ['open(O_WRONLY) once', `pwrite(8192) x${writes}`, caps.calls.fullFsync.syscall] });
    tests.push({ ...base, label: 'open_sync', method: 'pg-open_sync', durable: true,
      spec: direct(BLCKSZ) ? { sync: true, direct: true } : null, naMark: directOk ? 'n/a' : 'n/a*',
      syscalls: ['open(O_WRONLY|O_SYNC|O_DIRECT) once', `pwrite(8192) x${writes}`] });
  }
  for (const [label, kb] of [[' 1 * 16kB open_sync write', 16], [' 2 *  8kB open_sync writes', 8], [' 4 *  4kB open_sync writes', 4],
    [' 8 *  2kB open_sync writes', 2], ['16 *  1kB open_sync writes', 1]] as const) {
    const size = kb * 1024;
    tests.push({ section: 3, label, method: `pg-open_sync-${16 / kb}x${kb}k`, size, writesPerOp: 16 / kb, durable: true,
      spec: direct(size) ? { sync: true, direct: true } : null, naMark: directOk ? 'n/a' : 'n/a*',
      syscalls: ['open(O_WRONLY|O_SYNC|O_DIRECT) once', `pwrite(${size}) x${16 / kb}`] });
  }
  tests.push({ section: 4, label: 'write, fsync, close', method: 'pg-write-fsync-close', size: BLCKSZ, writesPerOp: 1, durable: true,
    spec: { sequence: BenchSequenceCode.writeFlushClose, flush: BenchFlushCode.fsync },
    syscalls: ['open(O_WRONLY)', 'write(8192)', caps.calls.fsync.syscall, 'close', 'open(O_WRONLY)', 'close'] });
  tests.push({ section: 4, label: 'write, close, fsync', method: 'pg-write-close-fsync', size: BLCKSZ, writesPerOp: 1, durable: true,
    spec: { sequence: BenchSequenceCode.writeCloseFlush, flush: BenchFlushCode.fsync },
    syscalls: ['open(O_WRONLY)', 'write(8192)', 'close', 'open(O_WRONLY)', caps.calls.fsync.syscall, 'close'] });
  tests.push({ section: 5, label: 'write', method: 'pg-write', size: BLCKSZ, writesPerOp: 1, durable: false,
    spec: { flush: BenchFlushCode.none, sampleEvery: PG_NON_SYNC_SAMPLE_EVERY },
    syscalls: ['open(O_WRONLY) once', 'pwrite(8192) at offset 0', `clock read around 1 pwrite in ${PG_NON_SYNC_SAMPLE_EVERY} (the latency sample)`] });
  return tests;
}

/**
 * Runs pg_test_fsync's tests in `scratch`, writing pg's output through `print` as it goes
 * (like pg does, so a slow disk shows progress), and returns the JSON rows.
 */
export async function runPg(scratch: string, seconds: number, caps: Capabilities, print: (text: string) => void): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  const tests = pgTests(caps);
  const file = path.join(scratch, 'pg_test_fsync.out');
  // pg creates its file before printing anything.
  createPgFile(file);
  print(pgPreamble(seconds, caps));
  let section = 0;
  let footnote = false;
  const closeSection = (): void => {
    if (footnote) print(PG_DIRECT_FOOTNOTE);
    footnote = false;
  };
  for (const test of tests) {
    if (test.section !== section) {
      closeSection();
      section = test.section;
      print(PG_HEADERS[section]);
    }
    print(pgLabel(test.label));
    const row: BenchResult = {
      method: test.method, label: test.label.trim(), mode: 'overwrite', size: test.size, writesPerSync: test.writesPerOp, threads: 1,
      runner: 'native', durable: test.durable, supported: false, ops: null, opsPerSec: null, usPerOp: null, latencyUs: null,
      mbPerSec: null, syscalls: test.syscalls,
    };
    if (test.spec === null) {
      print(pgNa(test.naMark ?? 'n/a'));
      // pg_test_fsync prints the footnote after the two sync-method sections only.
      if (test.naMark === 'n/a*' && test.section <= 2) footnote = true;
      row.reason = test.naMark === 'n/a*' ? 'the filesystem does not support direct I/O' : 'not available on this OS';
      results.push(row);
      continue;
    }
    const spec: LoopSpec = {
      files: [file],
      directory: scratch,
      sequence: BenchSequenceCode.plain,
      flush: BenchFlushCode.none,
      placement: BenchPlacementCode.overwrite,
      dsync: false,
      sync: false,
      direct: false,
      fsyncDirectory: false,
      syncFileRangeFlags: 0,
      size: test.size,
      writesPerOp: test.writesPerOp,
      alignment: Math.max(4096, caps.dioAlignment?.memory ?? 0),
      // pg writes every operation at offset 0 of its 16 MB file, made once by createPgFile.
      regionBytes: test.size * test.writesPerOp,
      prefillBytes: 0,
      reuseFiles: true,
      seconds,
      maxSamples: 1 << 21,
      ...test.spec,
    };
    const outcome = await runNativeLoop(spec);
    const samples = outcome.samplesNs.sort();
    // pg_test_fsync's figure: operations over the wall time of the loop (from the first
    // operation's start to the last one's end; the open before it is not timed, as in pg).
    const opsPerSec = outcome.ops / (outcome.wallNs / 1e9);
    print(pgOps(opsPerSec, 1e6 / opsPerSec));
    results.push({
      ...row, supported: true, ops: outcome.ops, opsPerSec: round3(opsPerSec), usPerOp: round3(1e6 / opsPerSec),
      latencyUs: latencyFigures(samples),
      mbPerSec: round3((outcome.ops * test.size * test.writesPerOp) / (outcome.wallNs / 1e9) / 1e6),
      cdf: cdfPoints(samples),
    });
  }
  closeSection();
  return results;
}
