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
import { cdfPoints, round3, roundsInterval } from './stats';
import { latencyFigures, UNSTABLE_HALF_WIDTH_PCT, UNSTABLE_ROUNDS_RATIO } from './run';
import { wrapText } from './report';

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
export async function runPg(scratch: string, seconds: number, caps: Capabilities, print: (text: string) => void, file = path.join(scratch, 'pg_test_fsync.out')): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  const tests = pgTests(caps);
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
    const stability = pgStability(outcome.samplesNs);
    const samples = outcome.samplesNs.sort();
    // pg_test_fsync's figure: operations over the wall time of the loop (from the first
    // operation's start to the last one's end; the open before it is not timed, as in pg).
    const opsPerSec = outcome.ops / (outcome.wallNs / 1e9);
    print(`${pgOps(opsPerSec, 1e6 / opsPerSec).trimEnd()}${stability.unstable ? PG_UNSTABLE_MARK : ''}\n`);
    results.push({
      ...row, supported: true, ops: outcome.ops, opsPerSec: round3(opsPerSec), usPerOp: round3(1e6 / opsPerSec),
      latencyUs: latencyFigures(samples),
      mbPerSec: round3((outcome.ops * test.size * test.writesPerOp) / (outcome.wallNs / 1e9) / 1e6),
      cdf: cdfPoints(samples),
      stability: { unstable: stability.unstable, reasons: stability.reasons, conditions: null },
    });
  }
  closeSection();
  return results;
}

/** What an unstable line gets after pg's figures (pg's own columns stay as they are). */
export const PG_UNSTABLE_MARK = '  unstable';

/** A pg test is cut, in time order, into this many parts to see whether its rate held. */
export const PG_PARTS = 5;

/**
 * Whether one pg test's rate held over its run: the operations, in the order they ran, cut into
 * {@link PG_PARTS} consecutive parts, each part's rate (operations over their time) taken as a
 * round, judged by bench's rule: a 95% interval reaching more than 10% from the figure, or parts
 * whose rates differ by more than 1.5x.
 * @param samplesNs Latencies in the order they were measured (not sorted yet).
 */
export function pgStability(samplesNs: ArrayLike<number>): { unstable: boolean; reasons: string[] } {
  const n = samplesNs.length;
  if (n < PG_PARTS * 2) return { unstable: true, reasons: [`${n} operations: too few to tell whether the rate held`] };
  const rates: number[] = [];
  for (let part = 0; part < PG_PARTS; part++) {
    const from = Math.floor((part * n) / PG_PARTS);
    const to = Math.floor(((part + 1) * n) / PG_PARTS);
    let ns = 0;
    for (let i = from; i < to; i++) ns += samplesNs[i];
    rates.push((to - from) / (ns / 1e9));
  }
  let total = 0;
  for (let i = 0; i < n; i++) total += samplesNs[i];
  const e = roundsInterval(n / (total / 1e9), rates);
  const reasons: string[] = [];
  if (e.halfWidthPct > UNSTABLE_HALF_WIDTH_PCT) reasons.push(`the rate's 95% interval ${e.low.toFixed(0)}-${e.high.toFixed(0)} ops/s reaches more than ${UNSTABLE_HALF_WIDTH_PCT}% from the figure`);
  const spread = Math.max(...rates) / Math.min(...rates);
  if (spread > UNSTABLE_ROUNDS_RATIO) reasons.push(`the test's ${PG_PARTS} parts ran from ${Math.min(...rates).toFixed(0)} to ${Math.max(...rates).toFixed(0)} ops/s (${spread.toFixed(1)}x)`);
  return { unstable: reasons.length > 0, reasons };
}

/** The wal_sync_method values, in PostgreSQL's documented order, with the test that measures each. */
const WAL_SYNC_METHODS = ['open_datasync', 'fdatasync', 'fsync', 'fsync_writethrough', 'open_sync'] as const;

/** The capability whose durability each wal_sync_method relies on. */
const WAL_SYNC_CAPABILITY: Record<(typeof WAL_SYNC_METHODS)[number], keyof Capabilities['calls']> = {
  open_datasync: 'openDsync', fdatasync: 'fdatasync', fsync: 'fsync', fsync_writethrough: 'fullFsync', open_sync: 'openSync',
};

/** Differences within this fraction are noise: the default is kept unless another method beats it by more. */
const WAL_NOISE = 0.1;

/** The wal_sync_method `hardsync pg` would choose here, and why (JSON `pg`). */
export interface WalSyncChoice {
  /** null: none can be recommended (memory filesystem, or no durable method measured). */
  method: string | null;
  why: string;
}

/**
 * The wal_sync_method to choose from a pg run: among the methods durable on this OS
 * (capabilities()), the fastest with one 8kB write per commit (section 1), unless
 * PostgreSQL's default here is within 10% of it (then the default: nothing to gain), and
 * never one that is much slower with two writes per commit (section 2: the open_* methods
 * flush every write). PostgreSQL's default: fdatasync on Linux and FreeBSD, else the first
 * supported method in its list.
 */
export function chooseWalSyncMethod(results: readonly BenchResult[], caps: Capabilities, memory: boolean): WalSyncChoice {
  if (memory) return { method: null, why: 'this filesystem is in memory: no wal_sync_method makes a WAL written here survive power loss.' };
  const opsOf = (section: 1 | 2, method: string): number | null => {
    const r = results.find((x) => x.method === `pg-${method}` && x.writesPerSync === section && x.supported);
    return r?.opsPerSec ?? null;
  };
  const durable = WAL_SYNC_METHODS.filter((m) => caps.calls[WAL_SYNC_CAPABILITY[m]]?.durable === true && opsOf(1, m) !== null);
  if (durable.length === 0) return { method: null, why: 'no method that is durable on this OS could be measured here.' };
  const platformDefault = caps.platform === 'linux' || caps.platform === 'freebsd' ? 'fdatasync' : WAL_SYNC_METHODS.find((m) => caps.calls[WAL_SYNC_CAPABILITY[m]]?.supported) ?? 'fsync';
  const one = (m: string): number => opsOf(1, m) as number;
  const two = (m: string): number => opsOf(2, m) ?? one(m) / 2;
  // A commit writes one 8kB page or more: both sections count alike (their geometric mean).
  const score = (m: string): number => Math.sqrt(one(m) * two(m));
  const ranked = [...durable].sort((a, b) => score(b) - score(a));
  const best = ranked[0];
  const fmt = (m: string): string => `${m} ${one(m).toFixed(0)} ops/s with one 8kB write, ${two(m).toFixed(0)} with two`;
  const notDurable = WAL_SYNC_METHODS.filter((m) => opsOf(1, m) !== null && !durable.includes(m));
  const caveat = notDurable.length > 0 ? ` Not considered: ${notDurable.join(', ')} (not durable on this OS, capabilities()).` : '';
  if (durable.includes(platformDefault as (typeof WAL_SYNC_METHODS)[number]) && score(platformDefault) >= score(best) * (1 - WAL_NOISE)) {
    const runnerUp = best === platformDefault ? ranked[1] : best;
    return {
      method: platformDefault,
      why: `PostgreSQL's default here, and no durable method beats it by more than ${WAL_NOISE * 100}% over one and two 8kB writes per commit (the geometric mean of the two rates: ${fmt(platformDefault)}${runnerUp ? `; ${fmt(runnerUp)}` : ''}).${caveat}`,
    };
  }
  return {
    method: best,
    why: `the fastest durable method here over one and two 8kB writes per commit (${fmt(best)}${durable.includes(platformDefault as (typeof WAL_SYNC_METHODS)[number]) ? `; the default, ${fmt(platformDefault)}` : `; the default ${platformDefault} is not durable here`}).${caveat}`,
  };
}

/** The lines `hardsync pg` ends with: the wal_sync_method it would choose, and why. */
export function walSyncLines(choice: WalSyncChoice, unstable: number, width = 80): string {
  const lines = ['', choice.method ? `wal_sync_method = ${choice.method}` : 'wal_sync_method: no recommendation', ...wrapText(`Why: ${choice.why}`, width, '  ').split('\n')];
  if (unstable > 0) lines.push(...wrapText(`"unstable": ${unstable} line${unstable === 1 ? '' : 's'} whose rate did not hold over the test (cut into ${PG_PARTS} parts in time: a 95% interval reaching more than ${UNSTABLE_HALF_WIDTH_PCT}% from the figure, or parts more than ${UNSTABLE_ROUNDS_RATIO}x apart); rerun with a longer -s before trusting them.`, width, '  ').split('\n'));
  return `${lines.join('\n')}\n`;
}
