/**
 * Benchmark of the durable patterns against their baselines, side by side in one run:
 *
 * 1. group commit: 64 concurrent appenders of 256-byte records to a DurableLog, against the
 *    same appends each done as write + fdatasync (writeDurable, flush 'data', 64 in flight),
 *    into a file prepared both ways a log segment can be (zero-filled, fallocated); the faster
 *    baseline counts. Targets: >= 10x the records/s, and append p99 <= 3x the p99 of a single
 *    write+fdatasync. The log also runs with segmentFill 'reserve' (fallocated segments, what
 *    it did before zero-filled ones) for the before/after.
 * 2. one appender awaiting each append, against a writeDurable (flush 'data') loop writing the
 *    same bytes to a zero-filled file, as the log's segments are, taking turns with it in
 *    blocks of 50 calls. Target: median within 1.25x.
 * 3. writeFileAtomic of a 4 KiB file against the write-file-atomic package (which fsyncs the
 *    file but not the directory), with the directory fsync measured on its own.
 *
 * With --rolls it runs, instead, 64 appenders through several 64 MiB segments, zero-filled
 * against fallocated, so that each next segment's background preparation and each roll happen
 * while measured: the tail latency (p99.9, max) they cost.
 *
 * The scenarios run in interleaved rounds (A B C A B C ...) so that noise from other load hits
 * all of them alike; figures are medians over rounds, after one uncounted warm-up round.
 *
 *   node dist/bench/patterns.js [--dir /tmp] [--rounds 5] [--json out.json] [--quick] [--rolls]
 * @module
 */
import fs from 'node:fs';
import os from 'node:os';
import nodePath from 'node:path';
import { performance } from 'node:perf_hooks';
import { DurableLog, fsync, fsyncDir, preallocate, replaceFile, writeDurable, writeFileAtomic, open } from '../lib/index';
import type { SegmentFill } from '../lib/index';
import type { CommandSpec } from './measure/args';
import { runScript, scriptArgs, scriptOptions } from './measure/script';
import { median, percentile } from './measure/stats';

// write-file-atomic is a devDependency of the benchmark only; it has no types of its own here.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const writeFileAtomicPackage = require('write-file-atomic') as (path: string, data: Buffer, options?: object) => Promise<void>;

const SPEC: CommandSpec = {
  program: 'node dist/bench/patterns.js',
  name: '',
  args: '',
  summary: 'The durable patterns against their baselines, side by side in one run.',
  options: {
    ...scriptOptions(5),
    quick: { type: 'boolean', help: 'a fifth of the calls per round (a smoke run)' },
    rolls: { type: 'boolean', help: 'instead, 64 appenders through several 64 MiB segments, zero-filled vs fallocated (tail latency)' },
  },
};

interface Args {
  dir: string;
  rounds: number;
  json?: string;
  quick: boolean;
  rolls: boolean;
}

function parseArgs(argv: string[]): Args {
  const { dir, rounds, json, parsed } = scriptArgs(SPEC, argv, 5);
  return { dir, rounds, json, quick: parsed.values.quick === true, rolls: parsed.values.rolls === true };
}

/** One measured run: throughput and latency quantiles in microseconds. */
interface Sample {
  opsPerSec: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
}

function sample(latenciesMs: number[], elapsedMs: number): Sample {
  const sorted = latenciesMs.map((ms) => ms * 1000).sort((a, b) => a - b);
  return {
    opsPerSec: (latenciesMs.length / elapsedMs) * 1000,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    p999: percentile(sorted, 99.9),
    max: sorted[sorted.length - 1],
  };
}

/**
 * `loops` concurrent loops, each awaiting `perLoop` calls of `op`: every call's latency (ms)
 * and the elapsed time of the whole.
 */
async function timedLoops(loops: number, perLoop: number, op: () => Promise<unknown>): Promise<{ latencies: number[]; elapsed: number }> {
  const latencies: number[] = [];
  const start = performance.now();
  await Promise.all(
    Array.from({ length: loops }, async () => {
      for (let i = 0; i < perLoop; i++) {
        const t = performance.now();
        await op();
        latencies.push(performance.now() - t);
      }
    }),
  );
  return { latencies, elapsed: performance.now() - start };
}

const RECORD = Buffer.alloc(256, 0x5a);
const APPENDERS = 64;
const SEGMENT_SIZE = 64 * 1024 * 1024;

async function freshDir(root: string, name: string): Promise<string> {
  const dir = nodePath.join(root, name);
  await fs.promises.rm(dir, { recursive: true, force: true });
  await fs.promises.mkdir(dir, { recursive: true });
  return dir;
}

/**
 * Every log and baseline file is made fresh for each run, then left alone for SETTLE_MS before
 * the run starts: a log's first segment is 64 MiB of zeros written and fsynced at open, and the
 * run before removed its files (this disk is mounted with online discard). Right after that,
 * flushes were erratic across runs, and steady once the disk had been left alone for a moment
 * (the runs made that way: bench/README.md, "The library's own speed goals"). What preparing
 * segments costs in the steady state is `--rolls`' job.
 */
const SETTLE_MS = 1000;
const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, SETTLE_MS));

/** `appenders` loops, each awaiting `perAppender` appends of RECORD to a fresh log. */
async function logRun(root: string, flush: 'data' | 'dsync', segmentFill: SegmentFill, appenders: number, perAppender: number): Promise<Sample> {
  const dir = await freshDir(root, `log-${flush}-${segmentFill}`);
  const log = await DurableLog.open(dir, { flush, segmentFill, segmentSize: SEGMENT_SIZE });
  await settle();
  // Warm up: the first appends pay for page faults and the like.
  for (let i = 0; i < 50; i++) await log.append(RECORD);
  const { latencies, elapsed } = await timedLoops(appenders, perAppender, () => log.append(RECORD));
  await log.close();
  await fs.promises.rm(dir, { recursive: true, force: true });
  return sample(latencies, elapsed);
}

/**
 * `<dir>/records`, `bytes` long, prepared as a log segment is (see SegmentFill), fsynced, and
 * left to settle like the logs; open for reading and writing.
 */
async function baselineFile(dir: string, fill: SegmentFill, bytes: number): Promise<number> {
  const fd = await open(nodePath.join(dir, 'records'), { read: true, write: true, create: true });
  if (fill === 'zeros') fs.writeSync(fd, Buffer.alloc(bytes), 0, bytes, 0);
  else await preallocate(fd, 0, bytes);
  await fsync(fd);
  await settle();
  return fd;
}

/**
 * The baseline: each append is its own write + fdatasync (one writeDurable call, flush 'data')
 * at its own offset of a preallocated file, `appenders` of them in flight at once: as many as
 * the engine runs together (4 on libuv's threadpool or the default flush threads, all of them
 * on io_uring, where the filesystem can merge their journal commits).
 */
async function writeSyncRun(root: string, fill: SegmentFill, appenders: number, perAppender: number, frameSize: number): Promise<Sample> {
  const dir = await freshDir(root, 'plain');
  const fd = await baselineFile(dir, fill, (appenders * perAppender + 64) * frameSize);
  const record = Buffer.alloc(frameSize, 0x5a);
  let next = 0;
  // Warm up like the log run (50 appends), inside the 64 spare slots preallocated above.
  for (let i = 0; i < 50; i++) await writeDurable(fd, record, (next++) * frameSize, { flush: 'data' });
  const { latencies, elapsed } = await timedLoops(appenders, perAppender, () =>
    writeDurable(fd, record, (next++) * frameSize, { flush: 'data' }));
  fs.closeSync(fd);
  await fs.promises.rm(dir, { recursive: true, force: true });
  return sample(latencies, elapsed);
}

/**
 * One appender awaiting each append, to a log with flush 'data', to one with 'dsync', and a
 * writeDurable (flush 'data') loop writing the same frames to a zero-filled file (as the log's
 * segments are): the three take turns in blocks of 50 calls, in a rotating order, so that the
 * machine's mood of the moment falls on all three alike (their ratio is the goal).
 */
async function singlesRun(root: string, count: number, frameSize: number): Promise<Sample[]> {
  const dirs = [await freshDir(root, 'single-data'), await freshDir(root, 'single-dsync')];
  const logData = await DurableLog.open(dirs[0], { flush: 'data', segmentSize: SEGMENT_SIZE });
  const logDsync = await DurableLog.open(dirs[1], { flush: 'dsync', segmentSize: SEGMENT_SIZE });
  dirs.push(await freshDir(root, 'single-plain'));
  const fd = await baselineFile(dirs[2], 'zeros', (count + 64) * frameSize);
  const record = Buffer.alloc(frameSize, 0x5a);
  let next = 0;
  const calls = [() => logData.append(RECORD), () => logDsync.append(RECORD), () => writeDurable(fd, record, (next++) * frameSize, { flush: 'data' })];
  for (const call of calls) for (let i = 0; i < 50; i++) await call();
  const latencies: number[][] = calls.map(() => []);
  const elapsed = calls.map(() => 0);
  const BLOCK = 50;
  for (let block = 0; block * BLOCK < count; block++) {
    for (let k = 0; k < calls.length; k++) {
      const which = (block + k) % calls.length;
      const start = performance.now();
      for (let i = 0; i < BLOCK; i++) {
        const t = performance.now();
        await calls[which]();
        latencies[which].push(performance.now() - t);
      }
      elapsed[which] += performance.now() - start;
    }
  }
  await logData.close();
  await logDsync.close();
  fs.closeSync(fd);
  for (const dir of dirs) await fs.promises.rm(dir, { recursive: true, force: true });
  return calls.map((_, i) => sample(latencies[i], elapsed[i]));
}

/** writeFileAtomic-like calls on one 4 KiB file, sequentially. */
async function atomicRun(root: string, name: string, count: number, write: (path: string, data: Buffer) => Promise<void>): Promise<Sample> {
  const dir = await freshDir(root, `atomic-${name}`);
  const file = nodePath.join(dir, 'config.json');
  const data = Buffer.alloc(4096, 0x61);
  for (let i = 0; i < 5; i++) await write(file, data);
  const latencies: number[] = [];
  const start = performance.now();
  for (let i = 0; i < count; i++) {
    const t = performance.now();
    await write(file, data);
    latencies.push(performance.now() - t);
  }
  const elapsed = performance.now() - start;
  await fs.promises.rm(dir, { recursive: true, force: true });
  return sample(latencies, elapsed);
}

/** The directory fsync alone, right after a rename in that directory (what writeFileAtomic adds). */
async function dirFsyncRun(root: string, count: number): Promise<Sample> {
  const dir = await freshDir(root, 'dirsync');
  const a = nodePath.join(dir, 'a');
  const b = nodePath.join(dir, 'b');
  fs.writeFileSync(a, 'x');
  const latencies: number[] = [];
  const start = performance.now();
  for (let i = 0; i < count; i++) {
    await replaceFile(i % 2 === 0 ? a : b, i % 2 === 0 ? b : a);
    const t = performance.now();
    await fsyncDir(dir);
    latencies.push(performance.now() - t);
  }
  const elapsed = performance.now() - start;
  await fs.promises.rm(dir, { recursive: true, force: true });
  return sample(latencies, elapsed);
}

/** A scenario measures one thing, or several that take turns (`names`, one Sample each). */
type Scenario = { names: string[]; run: () => Promise<Sample[]> };
const one = (name: string, run: () => Promise<Sample>): Scenario => ({ names: [name], run: async () => [await run()] });

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const root = await fs.promises.mkdtemp(nodePath.join(args.dir, 'hardsync-bench-patterns-'));
  const scale = args.quick ? 0.2 : 1;
  // 400 appends per appender gives the 64-appender log ~400 batches per round: one slow flush
  // delays all 64 appends of its batch, so with fewer batches the append p99 would be the single
  // worst flush of the round, while the one-at-a-time baseline's p99 is its 20th worst.
  const perAppender = Math.max(20, Math.round(400 * scale));
  const basePerAppender = Math.max(2, Math.round(10 * scale));
  const singleCount = Math.max(100, Math.round(2000 * scale));
  const atomicCount = Math.max(50, Math.round(300 * scale));
  // What one DurableLog record of RECORD occupies on disk (24-byte header + payload).
  const frameSize = RECORD.length + 24;

  // --rolls: appends through several whole segments, so that the background preparation of
  // each next segment (64 MiB of zeros, or a fallocate) and the rolls happen while measured.
  const rollsPerAppender = Math.max(20, Math.round(12000 * scale));
  const scenarios: Scenario[] = args.rolls
    ? [
        one('log 64 appenders, rolls (zeros)', () => logRun(root, 'data', 'zeros', APPENDERS, rollsPerAppender)),
        one('log 64 appenders, rolls (reserve)', () => logRun(root, 'data', 'reserve', APPENDERS, rollsPerAppender)),
      ]
    : [
        one('log 64 appenders (flush data)', () => logRun(root, 'data', 'zeros', APPENDERS, perAppender)),
        one('log 64 appenders (dsync)', () => logRun(root, 'dsync', 'zeros', APPENDERS, perAppender)),
        one('log 64 appenders (data, reserve)', () => logRun(root, 'data', 'reserve', APPENDERS, perAppender)),
        one('write+fdatasync 64 (zeroed file)', () => writeSyncRun(root, 'zeros', APPENDERS, basePerAppender, frameSize)),
        one('write+fdatasync 64 (fallocated)', () => writeSyncRun(root, 'reserve', APPENDERS, basePerAppender, frameSize)),
        {
          names: ['log 1 appender (flush data)', 'log 1 appender (dsync)', 'writeDurable 1 at a time (data)'],
          run: () => singlesRun(root, singleCount, frameSize),
        },
        one('writeFileAtomic 4 KiB (hardsync)', () => atomicRun(root, 'hardsync', atomicCount, (p, d) => writeFileAtomic(p, d))),
        one('writeFileAtomic 4 KiB (flush data)', () => atomicRun(root, 'hardsync-data', atomicCount, (p, d) => writeFileAtomic(p, d, { flush: 'data' }))),
        one('write-file-atomic 4 KiB (npm)', () => atomicRun(root, 'npm', atomicCount, (p, d) => writeFileAtomicPackage(p, d))),
        one('fsyncDir after rename', () => dirFsyncRun(root, atomicCount)),
      ];

  const results = new Map<string, Sample[]>(scenarios.flatMap((s) => s.names.map((name): [string, Sample[]] => [name, []])));
  try {
    // Round 0 warms up (JIT, page cache, first extent conversions) and is not counted.
    for (let round = -1; round < args.rounds; round++) {
      for (const scenario of scenarios) {
        const samples = await scenario.run();
        if (round >= 0) scenario.names.forEach((name, i) => results.get(name)?.push(samples[i]));
      }
      if (round < 0) continue;
      process.stderr.write(`round ${round + 1}/${args.rounds} done\n`);
    }
  } finally {
    await fs.promises.rm(root, { recursive: true, force: true });
  }

  const summary: Record<string, Sample> = {};
  for (const [name, samples] of results) {
    summary[name] = {
      opsPerSec: median(samples.map((s) => s.opsPerSec)),
      p50: median(samples.map((s) => s.p50)),
      p99: median(samples.map((s) => s.p99)),
      p999: median(samples.map((s) => s.p999)),
      max: median(samples.map((s) => s.max)),
    };
  }

  const pad = (text: string, width: number): string => text.padEnd(width);
  const num = (value: number, digits = 1): string => value.toFixed(digits).padStart(12);
  console.log(`hardsync patterns benchmark: ${args.dir} (${os.cpus().length} cpus, ${args.rounds} rounds, medians)`);
  console.log(`${pad('scenario', 36)}${['ops/s', 'p50 us', 'p99 us', 'p99.9 us', 'max us'].map((h) => h.padStart(12)).join('')}`);
  for (const [name, s] of Object.entries(summary)) console.log(`${pad(name, 36)}${num(s.opsPerSec, 0)}${num(s.p50)}${num(s.p99)}${num(s.p999)}${num(s.max)}`);
  if (args.rolls) {
    const zeros = summary['log 64 appenders, rolls (zeros)'];
    const reserve = summary['log 64 appenders, rolls (reserve)'];
    const records = APPENDERS * rollsPerAppender;
    console.log('');
    console.log(`${records} records of ${RECORD.length} B per run (${((records * (RECORD.length + 24)) / SEGMENT_SIZE).toFixed(1)} segments of ${SEGMENT_SIZE >> 20} MiB)`);
    console.log(`zero-filled vs fallocated segments: records/s ${(zeros.opsPerSec / reserve.opsPerSec).toFixed(2)}x, p99 ${(zeros.p99 / reserve.p99).toFixed(2)}x, p99.9 ${(zeros.p999 / reserve.p999).toFixed(2)}x, max ${(zeros.max / reserve.max).toFixed(2)}x`);
    if (args.json) writeJson(args, summary, results, {});
    return;
  }

  const group = summary['log 64 appenders (flush data)'];
  const groupDsync = summary['log 64 appenders (dsync)'];
  const groupReserve = summary['log 64 appenders (data, reserve)'];
  const plainZeroed = summary['write+fdatasync 64 (zeroed file)'];
  const plainFallocated = summary['write+fdatasync 64 (fallocated)'];
  // The stronger of the two baselines is the one to beat.
  const plain64 = plainZeroed.opsPerSec >= plainFallocated.opsPerSec ? plainZeroed : plainFallocated;
  const single = summary['writeDurable 1 at a time (data)'];
  const logSingle = summary['log 1 appender (flush data)'];
  const logSingleDsync = summary['log 1 appender (dsync)'];
  const atomic = summary['writeFileAtomic 4 KiB (hardsync)'];
  const atomicData = summary['writeFileAtomic 4 KiB (flush data)'];
  const npm = summary['write-file-atomic 4 KiB (npm)'];
  const dirSync = summary['fsyncDir after rename'];
  const ratios = {
    groupThroughput: group.opsPerSec / plain64.opsPerSec,
    groupThroughputDsync: groupDsync.opsPerSec / plain64.opsPerSec,
    groupThroughputReserve: groupReserve.opsPerSec / plain64.opsPerSec,
    zerosVsReserve: group.opsPerSec / groupReserve.opsPerSec,
    groupP99VsSingleP99: group.p99 / single.p99,
    groupP99VsSingleP99Dsync: groupDsync.p99 / single.p99,
    singleAppendVsWriteDurable: logSingle.p50 / single.p50,
    singleAppendVsWriteDurableDsync: logSingleDsync.p50 / single.p50,
    atomicVsNpm: atomic.p50 / npm.p50,
    atomicDataVsNpm: atomicData.p50 / npm.p50,
    dirFsyncP50: dirSync.p50,
  };
  const verdict = (ok: boolean): string => (ok ? 'met' : 'NOT met');
  console.log('');
  console.log(
    `group commit throughput: ${ratios.groupThroughput.toFixed(1)}x the faster write+fdatasync baseline ` +
      `(dsync: ${ratios.groupThroughputDsync.toFixed(1)}x, reserve: ${ratios.groupThroughputReserve.toFixed(1)}x); target >= 10x: ${verdict(ratios.groupThroughput >= 10)}`,
  );
  console.log(`zero-filled segments: ${ratios.zerosVsReserve.toFixed(2)}x the records/s of fallocated ones (segmentFill 'reserve')`);
  console.log(`group commit p99: ${ratios.groupP99VsSingleP99.toFixed(2)}x single write+fdatasync p99 (dsync: ${ratios.groupP99VsSingleP99Dsync.toFixed(2)}x); target <= 3x: ${verdict(ratios.groupP99VsSingleP99 <= 3)}`);
  console.log(`single appender p50: ${ratios.singleAppendVsWriteDurable.toFixed(2)}x writeDurable (dsync: ${ratios.singleAppendVsWriteDurableDsync.toFixed(2)}x); target <= 1.25x: ${verdict(ratios.singleAppendVsWriteDurable <= 1.25)}`);
  console.log(`writeFileAtomic 4 KiB p50: ${atomic.p50.toFixed(0)} us (flush data: ${atomicData.p50.toFixed(0)} us) vs write-file-atomic ${npm.p50.toFixed(0)} us (${ratios.atomicVsNpm.toFixed(2)}x); the directory fsync alone: p50 ${dirSync.p50.toFixed(0)} us`);
  if (args.json) writeJson(args, summary, results, ratios);
}

function writeJson(args: Args, summary: Record<string, Sample>, results: Map<string, Sample[]>, ratios: object): void {
  const out = { dir: args.dir, rounds: args.rounds, rolls: args.rolls, cpus: os.cpus().length, node: process.version, summary, ratios, raw: Object.fromEntries(results) };
  fs.writeFileSync(args.json as string, `${JSON.stringify(out, null, 2)}\n`);
}

runScript(main);
