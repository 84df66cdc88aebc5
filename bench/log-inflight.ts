/**
 * DurableLog with more than one batch in flight (`maxInFlight`), side by side with the
 * one-flush log, and beside it the device's flush rate with k flushes in flight measured in C
 * (bench/c/inflight_fdatasync.c: k threads, each pwrite + fdatasync in a loop on one shared
 * file), so that a gain the log does not get can be told apart from one the disk does not give.
 *
 * Each round runs every case once, in a rotated order (interleaved rounds, so that load from
 * elsewhere hits all cases alike): for 64 and 256 appenders (each awaiting its own 256-byte
 * append before the next), a fresh log per maxInFlight in --k; and the C loop for each k and
 * appender count, each of its k threads writing 1/k of a batch of that many records per flush,
 * which is what the log with maxInFlight k does (a burst is spread over the free slots). The C
 * loop's records/s (flushes/s x records per flush) is what the device allows with no
 * JavaScript at all: the ceiling of the log's gain.
 * Figures are medians over the rounds with their spread (min..max), and per round the ratio
 * of each maxInFlight's records/s (and p99) to maxInFlight 1's in the same round.
 *
 *   node dist/bench/log-inflight.js [--dir /tmp] [--rounds 5] [--k 1,2,4,8] [--json FILE]
 * @module
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import nodePath from 'node:path';
import { performance } from 'node:perf_hooks';
import { DurableLog } from '../lib/index';
import { median, percentile } from './measure/stats';

const RECORD = Buffer.alloc(256, 0x5a);
const APPENDERS = [64, 256];
/** Appends per appender per run (after 20 uncounted ones). */
const PER_APPENDER: Record<number, number> = { 64: 300, 256: 100 };
/** The C loop: flushes per thread; bytes of one record's frame. */
const C_OPS = 300;
const FRAME = 24 + RECORD.length;
const SETTLE_MS = 500;

interface Args {
  dir: string;
  rounds: number;
  ks: number[];
  json: string | undefined;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { dir: os.tmpdir(), rounds: 5, ks: [1, 2, 4, 8], json: undefined };
  for (let i = 0; i < argv.length; i++) {
    const value = argv[i + 1];
    if (argv[i] === '--dir') args.dir = value;
    else if (argv[i] === '--rounds') args.rounds = Number(value);
    else if (argv[i] === '--k') args.ks = value.split(',').map(Number);
    else if (argv[i] === '--json') args.json = value;
    else {
      console.log('usage: node dist/bench/log-inflight.js [--dir DIR] [--rounds N] [--k 1,2,4,8] [--json FILE]');
      process.exit(argv[i] === '--help' ? 0 : 2);
    }
    i++;
  }
  if (!Number.isInteger(args.rounds) || args.rounds < 1) throw new Error('--rounds must be a positive integer');
  if (!args.ks.includes(1) || args.ks.some((k) => !Number.isInteger(k) || k < 1 || k > 64)) throw new Error('--k: integers 1..64, 1 among them');
  return args;
}

interface Sample {
  recordsPerSec: number;
  p50: number;
  p99: number;
  p999: number;
}

const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, SETTLE_MS));

/** `appenders` loops each awaiting its appends to a fresh log with `maxInFlight` k. */
async function logRun(root: string, k: number, appenders: number): Promise<Sample> {
  const dir = nodePath.join(root, `log-${appenders}-${k}`);
  await fs.promises.rm(dir, { recursive: true, force: true });
  const log = await DurableLog.open(dir, { maxInFlight: k });
  await settle();
  const perAppender = PER_APPENDER[appenders];
  const latencies: number[] = [];
  let start = 0;
  await Promise.all(
    Array.from({ length: appenders }, async () => {
      for (let i = 0; i < 20; i++) await log.append(RECORD);
      if (start === 0) start = performance.now();
      for (let i = 0; i < perAppender; i++) {
        const t = performance.now();
        await log.append(RECORD);
        latencies.push((performance.now() - t) * 1000);
      }
    }),
  );
  const elapsed = performance.now() - start;
  await log.close();
  await fs.promises.rm(dir, { recursive: true, force: true });
  latencies.sort((a, b) => a - b);
  return { recordsPerSec: (latencies.length / elapsed) * 1000, p50: percentile(latencies, 50), p99: percentile(latencies, 99), p999: percentile(latencies, 99.9) };
}

interface CSample {
  flushesPerSec: number;
  /** flushesPerSec x the records each flush carries. */
  recordsPerSec: number;
  p50: number;
  p99: number;
}

function buildC(): string {
  const source = nodePath.join(__dirname, '..', '..', 'bench', 'c', 'inflight_fdatasync.c');
  const binary = nodePath.join(__dirname, '..', '..', 'build', 'bench-inflight-fdatasync');
  fs.mkdirSync(nodePath.dirname(binary), { recursive: true });
  execFileSync('cc', ['-O2', '-pthread', '-o', binary, source]);
  return binary;
}

/** The C loop with k threads on one shared, zero-filled, flushed file, each writing 1/k of a batch of `appenders` records per flush. */
async function cRun(binary: string, root: string, k: number, appenders: number): Promise<CSample> {
  const perFlush = Math.ceil(appenders / k);
  const size = perFlush * FRAME;
  const file = nodePath.join(root, `c-${k}.dat`);
  fs.writeFileSync(file, Buffer.alloc(64 * k * size));
  const fd = fs.openSync(file, 'r+');
  fs.fsyncSync(fd);
  fs.closeSync(fd);
  await settle();
  const out = JSON.parse(execFileSync(binary, ['same', String(k), String(C_OPS), String(size), file], { encoding: 'utf8' })) as CSample;
  fs.rmSync(file, { force: true });
  return { flushesPerSec: out.flushesPerSec, recordsPerSec: out.flushesPerSec * perFlush, p50: out.p50, p99: out.p99 };
}

const spread = (values: number[]) => ({ median: median(values), min: Math.min(...values), max: Math.max(...values) });
const fmt = (s: { median: number; min: number; max: number }, digits = 0) => `${s.median.toFixed(digits)} (${s.min.toFixed(digits)}..${s.max.toFixed(digits)})`;

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const root = fs.mkdtempSync(nodePath.join(args.dir, 'hardsync-log-inflight-'));
  const binary = buildC();
  type Case = { kind: 'log' | 'c'; appenders: number; k: number };
  const cases: Case[] = (['log', 'c'] as const).flatMap((kind) => APPENDERS.flatMap((appenders) => args.ks.map((k) => ({ kind, appenders, k }))));
  const logRounds = new Map<string, Sample[]>();
  const cRounds = new Map<string, CSample[]>();
  try {
    for (let round = 0; round < args.rounds; round++) {
      // Rotate the order each round so that no case always runs first (or right after C).
      const order = cases.map((_, i) => cases[(i + round * 3) % cases.length]);
      for (const c of order) {
        if (c.kind === 'log') {
          const key = `${c.appenders}/${c.k}`;
          const sample = await logRun(root, c.k, c.appenders);
          logRounds.set(key, [...(logRounds.get(key) ?? []), sample]);
        } else {
          const key = `${c.appenders}/${c.k}`;
          const sample = await cRun(binary, root, c.k, c.appenders);
          cRounds.set(key, [...(cRounds.get(key) ?? []), sample]);
        }
      }
      process.stderr.write(`round ${round + 1}/${args.rounds} done\n`);
    }
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
  const log = APPENDERS.flatMap((appenders) =>
    args.ks.map((k) => {
      const samples = logRounds.get(`${appenders}/${k}`) as Sample[];
      const base = logRounds.get(`${appenders}/1`) as Sample[];
      return {
        appenders,
        maxInFlight: k,
        recordsPerSec: spread(samples.map((s) => s.recordsPerSec)),
        p50Us: spread(samples.map((s) => s.p50)),
        p99Us: spread(samples.map((s) => s.p99)),
        p999Us: spread(samples.map((s) => s.p999)),
        // Same-round ratios against maxInFlight 1.
        recordsPerSecRatio: spread(samples.map((s, i) => s.recordsPerSec / base[i].recordsPerSec)),
        p99Ratio: spread(samples.map((s, i) => s.p99 / base[i].p99)),
        rounds: samples,
      };
    }),
  );
  const c = APPENDERS.flatMap((appenders) =>
    args.ks.map((k) => {
      const samples = cRounds.get(`${appenders}/${k}`) as CSample[];
      const base = cRounds.get(`${appenders}/1`) as CSample[];
      const logBase = logRounds.get(`${appenders}/1`) as Sample[];
      return {
        appenders,
        k,
        recordsPerFlush: Math.ceil(appenders / k),
        flushesPerSec: spread(samples.map((s) => s.flushesPerSec)),
        recordsPerSec: spread(samples.map((s) => s.recordsPerSec)),
        recordsPerSecRatio: spread(samples.map((s, i) => s.recordsPerSec / base[i].recordsPerSec)),
        // The most the log with maxInFlight k could reach, over what the log with 1 reached, same round.
        ceilingOverLog1: spread(samples.map((s, i) => s.recordsPerSec / logBase[i].recordsPerSec)),
        p50Us: spread(samples.map((s) => s.p50)),
        p99Us: spread(samples.map((s) => s.p99)),
        rounds: samples,
      };
    }),
  );
  console.log(`DurableLog maxInFlight, ${args.rounds} interleaved rounds, ${args.dir} (median (min..max) over rounds; ratios to maxInFlight 1 in the same round)`);
  for (const row of log) {
    console.log(
      `  ${String(row.appenders).padStart(3)} appenders, maxInFlight ${String(row.maxInFlight).padStart(2)}: ${fmt(row.recordsPerSec)} records/s, x${fmt(row.recordsPerSecRatio, 2)}; p50 ${fmt(row.p50Us)} us, p99 ${fmt(row.p99Us)} us (x${fmt(row.p99Ratio, 2)})`,
    );
  }
  console.log('C: k threads, each pwrite of 1/k of a batch + fdatasync, on one file (records/s = flushes/s x records per flush; ceiling = that over the log with maxInFlight 1)');
  for (const row of c) {
    console.log(
      `  ${String(row.appenders).padStart(3)}-record batches, k ${String(row.k).padStart(2)}: ${fmt(row.flushesPerSec)} flushes/s, ${fmt(row.recordsPerSec)} records/s, x${fmt(row.recordsPerSecRatio, 2)}; ceiling x${fmt(row.ceilingOverLog1, 2)} the log's; p50 ${fmt(row.p50Us)} us, p99 ${fmt(row.p99Us)} us`,
    );
  }
  if (args.json) {
    fs.writeFileSync(args.json, `${JSON.stringify({ date: new Date().toISOString(), dir: args.dir, rounds: args.rounds, record: RECORD.length, perAppender: PER_APPENDER, log, c }, null, 2)}\n`);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
