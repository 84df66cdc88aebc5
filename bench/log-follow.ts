/**
 * DurableLog followers (`log.records(from, { follow: true })`), what they see and what they
 * cost (bench/README.md, "Following a DurableLog"), side by side in one run:
 *
 * 1. Latency from an append's resolve to the follower's yield of that record: each appender
 *    stamps the time its append resolved (in its own continuation), follower 0 stamps the time
 *    it got the record; per record the difference, p50 and p99 over the measured records.
 *    A negative difference would be a record yielded before its append resolved: counted and
 *    reported (it must be 0).
 * 2. The appenders' acknowledgements per second with 0, 1 and 8 followers reading along, at
 *    1, 16 and 256 appenders (each awaiting its own 256-byte append before the next), and the
 *    process's CPU time per record (all threads; what the followers add shows against 0).
 *
 * Each round runs every case once on a fresh log, in a fresh random order (interleaved rounds,
 * so load from elsewhere hits all cases alike), after one uncounted warm-up round. Figures
 * are medians over rounds with their range (min..max), and per round the ratio of acks/s with
 * followers to acks/s with none in the same round.
 *
 *   node dist/bench/log-follow.js [--dir /tmp] [--rounds 5] [--appenders 1,16,256] [--followers 0,1,8] [--json FILE]
 * @module
 */
import fs from 'node:fs';
import nodePath from 'node:path';
import { performance } from 'node:perf_hooks';
import { DurableLog } from '../lib/index';
import { listValue, type CommandSpec } from './measure/args';
import { UsageError } from './measure/schema';
import { inScratchDir, runScript, scriptArgs, scriptOptions, shuffle } from './measure/script';
import { median, percentile } from './measure/stats';

const SPEC: CommandSpec = {
  program: 'node dist/bench/log-follow.js',
  name: '',
  args: '',
  summary: "DurableLog followers: append-resolve to follower-yield latency, and the appenders' acks/s with followers reading along.",
  options: {
    ...scriptOptions(5),
    appenders: { type: 'string', value: 'LIST', help: 'appender counts (default 1,16,256)' },
    followers: { type: 'string', value: 'LIST', help: 'follower counts; 0 is the baseline of the ratios (default 0,1,8)' },
  },
};

const RECORD = Buffer.alloc(256, 0x5a);
/** Measured appends per run, by appender count (others: 1024), after WARMUP per appender. */
const MEASURED: Record<number, number> = { 1: 600, 16: 1600, 256: 4096 };
const WARMUP = 10;

interface Args {
  dir: string;
  rounds: number;
  json?: string;
  appenders: number[];
  followers: number[];
}

function counts(values: string[] | undefined, fallback: number[], name: string, min: number): number[] {
  if (values === undefined) return fallback;
  const numbers = values.map(Number);
  if (numbers.some((n) => !Number.isInteger(n) || n < min || n > 1024)) throw new UsageError(`--${name}: integers from ${min} to 1024, got ${values.join(',')}`);
  return [...new Set(numbers)].sort((a, b) => a - b);
}

function parseArgs(argv: string[]): Args {
  const { dir, rounds, json, parsed } = scriptArgs(SPEC, argv, 5);
  try {
    const followers = counts(listValue(parsed, 'followers'), [0, 1, 8], 'followers', 0);
    if (!followers.includes(0)) throw new UsageError('--followers must include 0 (the baseline)');
    return { dir, rounds, json, appenders: counts(listValue(parsed, 'appenders'), [1, 16, 256], 'appenders', 1), followers };
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`${error.message}\n(${SPEC.program} --help for usage)\n`);
    process.exit(2);
  }
}

interface Sample {
  acksPerSec: number;
  /** The process's CPU time (every thread) per measured record, microseconds: what followers add shows against 0 followers. */
  cpuUsPerRecord: number;
  /** Follower 0's latencies, microseconds (none without followers). */
  p50Us?: number;
  p99Us?: number;
  /** Records yielded before their append resolved (must be 0). */
  early: number;
}

/** One run: a fresh log, `followers` following from LSN 1, `appenders` appending. */
async function run(root: string, appenders: number, followers: number): Promise<Sample> {
  const dir = nodePath.join(root, `log-${appenders}-${followers}`);
  await fs.promises.rm(dir, { recursive: true, force: true });
  const log = await DurableLog.open(dir);
  const measured = MEASURED[appenders] ?? 1024;
  const perAppender = Math.ceil(measured / appenders);
  const last = appenders * (WARMUP + perAppender);
  // Indexed by LSN: when its append resolved, and when follower 0 yielded it.
  const resolvedAt = new Float64Array(last + 1);
  const yieldedAt = new Float64Array(last + 1);
  const controller = new AbortController();
  const following = Array.from({ length: followers }, async (_, index) => {
    try {
      for await (const { lsn } of log.records(1, { follow: true, signal: controller.signal })) {
        if (index === 0) yieldedAt[lsn] = performance.now();
        if (lsn === last) return;
      }
    } catch (error) {
      if ((error as Error).name !== 'AbortError') throw error;
    }
  });
  let firstMeasured = Infinity;
  let start = 0;
  let cpuStart = process.cpuUsage();
  await Promise.all(
    Array.from({ length: appenders }, async () => {
      for (let i = 0; i < WARMUP; i++) resolvedAt[(await log.append(RECORD)).lsn] = performance.now();
      if (start === 0) {
        start = performance.now();
        cpuStart = process.cpuUsage();
        firstMeasured = log.nextLsn;
      }
      for (let i = 0; i < perAppender; i++) resolvedAt[(await log.append(RECORD)).lsn] = performance.now();
    }),
  );
  const elapsed = performance.now() - start;
  await Promise.all(following);
  const cpu = process.cpuUsage(cpuStart);
  controller.abort();
  await log.close();
  await fs.promises.rm(dir, { recursive: true, force: true });
  const records = last - firstMeasured + 1;
  const sample: Sample = { acksPerSec: (records / elapsed) * 1000, cpuUsPerRecord: (cpu.user + cpu.system) / records, early: 0 };
  if (followers > 0) {
    const latencies: number[] = [];
    for (let lsn = firstMeasured; lsn <= last; lsn++) {
      const micros = (yieldedAt[lsn] - resolvedAt[lsn]) * 1000;
      if (micros < 0) sample.early++;
      latencies.push(micros);
    }
    latencies.sort((a, b) => a - b);
    sample.p50Us = percentile(latencies, 50);
    sample.p99Us = percentile(latencies, 99);
  }
  return sample;
}

const spread = (values: number[]) => ({ median: median(values), min: Math.min(...values), max: Math.max(...values) });
const fmt = (s: { median: number; min: number; max: number }, digits = 0) => `${s.median.toFixed(digits)} (${s.min.toFixed(digits)}..${s.max.toFixed(digits)})`;

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const cases = args.appenders.flatMap((appenders) => args.followers.map((followers) => ({ appenders, followers })));
  const rounds = new Map<string, Sample[]>();
  const key = (c: { appenders: number; followers: number }) => `${c.appenders}/${c.followers}`;
  await inScratchDir(args.dir, 'hardsync-log-follow-', async (root) => {
    for (let round = 0; round <= args.rounds; round++) {
      for (const c of shuffle(cases)) {
        const sample = await run(root, c.appenders, c.followers);
        if (round > 0) rounds.set(key(c), [...(rounds.get(key(c)) ?? []), sample]);
      }
      process.stderr.write(round === 0 ? 'warm-up round done\n' : `round ${round}/${args.rounds} done\n`);
    }
  });
  const rows = cases.map((c) => {
    const samples = rounds.get(key(c)) as Sample[];
    const base = rounds.get(key({ appenders: c.appenders, followers: 0 })) as Sample[];
    return {
      ...c,
      acksPerSec: spread(samples.map((s) => s.acksPerSec)),
      acksRatio: spread(samples.map((s, i) => s.acksPerSec / base[i].acksPerSec)),
      cpuUsPerRecord: spread(samples.map((s) => s.cpuUsPerRecord)),
      ...(c.followers > 0 ? { p50Us: spread(samples.map((s) => s.p50Us as number)), p99Us: spread(samples.map((s) => s.p99Us as number)) } : {}),
      early: samples.reduce((sum, s) => sum + s.early, 0),
      rounds: samples,
    };
  });
  console.log(`DurableLog followers, ${args.rounds} interleaved rounds, ${args.dir} (median (min..max) over rounds; acks/s ratio to 0 followers in the same round)`);
  for (const row of rows) {
    const latency = row.p50Us ? `; resolve-to-yield p50 ${fmt(row.p50Us)} us, p99 ${fmt(row.p99Us!)} us; yielded before resolved: ${row.early}` : '';
    console.log(`  ${String(row.appenders).padStart(3)} appenders, ${String(row.followers).padStart(2)} followers: ${fmt(row.acksPerSec)} acks/s, x${fmt(row.acksRatio, 2)}; CPU ${fmt(row.cpuUsPerRecord, 1)} us/record${latency}`);
  }
  if (args.json) {
    fs.writeFileSync(args.json, `${JSON.stringify({ date: new Date().toISOString(), dir: args.dir, rounds: args.rounds, record: RECORD.length, measured: MEASURED, warmup: WARMUP, rows }, null, 2)}\n`);
  }
  if (rows.some((row) => row.early > 0)) {
    console.error('a follower yielded a record before its append resolved');
    process.exitCode = 1;
  }
}

runScript(main);
