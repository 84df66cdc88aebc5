/**
 * DurableLog against the C model of its own pattern, and with more than one batch in flight
 * (`maxInFlight`), on one or more devices side by side (`--device`, see
 * bench/measure/ramdev.ts: the disk and quiet RAM-backed filesystems).
 *
 * The C model (bench/c/inflight_fdatasync.c) does what the log asks of the device and nothing
 * else: with k = 1, one pwrite of an N-record batch (N frames of 24 + 256 bytes) + one
 * fdatasync per cycle, on a zero-filled, flushed file; with k > 1, k threads each writing 1/k
 * of the batch, which is what the log with maxInFlight k does (a burst is spread over the free
 * slots). Its records/s (flushes/s x records per flush) is what the device allows with no
 * JavaScript at all. N is the appender count: appenders that each await their own append move
 * in lockstep, so a cycle carries one record per appender.
 *
 * Each round runs every case once per device, in a rotated order (interleaved rounds, so load
 * from elsewhere hits all cases alike): per appender count in --appenders (each appender
 * awaiting its own 256-byte append before the next), a fresh log per maxInFlight in --k; and
 * the C loop for each k and appender count. A run lasts --seconds, or until the log is half a
 * segment further (so no segment is prepared or rolled while timed: the C model pays neither),
 * whichever comes first; the C loop runs for --seconds.
 * Figures are medians over the rounds with their spread (min..max), and per round the log's
 * records/s over the C model's (same device, same appender count, k = 1), the ratio of each
 * maxInFlight to maxInFlight 1, and at one appender the two p50s.
 *
 *   node dist/bench/log-inflight.js [--dir DIR] [--device disk,ram-ext4,ram-xfs] [--rounds 5]
 *     [--appenders 64,256] [--k 1,2,4,8] [--seconds 1] [--json FILE]
 * @module
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import nodePath from 'node:path';
import { type CommandSpec, listValue, numberValue } from './measure/args';
import { FRAME, logRun, RECORD, SEGMENT, settle, type Sample } from './measure/log-run';
import { DEVICE_OPTION, openDevices, parseDevices, removeDevices, type BenchDevice } from './measure/ramdev';
import { UsageError } from './measure/schema';
import { runScript, scriptArgs, scriptOptions, usageChecked } from './measure/script';
import { median } from './measure/stats';


const SPEC: CommandSpec = {
  program: 'node dist/bench/log-inflight.js',
  name: '',
  args: '',
  summary: 'DurableLog against the C model of its pattern (one pwrite of the batch + one fdatasync per cycle), per appender count and maxInFlight, on each --device, in interleaved rounds.',
  options: {
    ...scriptOptions(5),
    ...DEVICE_OPTION,
    appenders: { type: 'string', value: 'LIST', help: 'appender counts (default 64,256); each awaits its own append' },
    k: { type: 'string', value: 'LIST', help: 'maxInFlight values, 1 among them (default 1,2,4,8)' },
    seconds: { type: 'string', value: 'S', help: 'length of each run, at most (default 1; a run also ends half a segment on)' },
  },
};

interface Args {
  dir: string;
  rounds: number;
  json: string | undefined;
  devices: ReturnType<typeof parseDevices>;
  appenders: number[];
  ks: number[];
  seconds: number;
}

function integers(parsed: Parameters<typeof listValue>[0], name: string, fallback: number[], min: number, max: number): number[] {
  const list = listValue(parsed, name)?.map(Number) ?? fallback;
  if (list.some((n) => !Number.isInteger(n) || n < min || n > max)) throw new UsageError(`--${name}: integers from ${min} to ${max}`);
  return [...new Set(list)];
}

function parseArgs(argv: string[]): Args {
  const { dir, rounds, json, parsed } = scriptArgs(SPEC, argv, 5);
  return usageChecked(SPEC, () => {
    const ks = integers(parsed, 'k', [1, 2, 4, 8], 1, 64);
    if (!ks.includes(1)) throw new UsageError('--k: 1 must be among the values (the ratios are to it)');
    return {
      dir,
      rounds,
      json,
      devices: parseDevices(parsed.values.device as string | undefined),
      appenders: integers(parsed, 'appenders', [64, 256], 1, 4096),
      ks,
      seconds: numberValue(parsed, 'seconds', 1, 0.05, 600, false),
    };
  });
}

interface CSample {
  flushesPerSec: number;
  /** flushesPerSec x the records each flush carries. */
  recordsPerSec: number;
  p50: number;
  p99: number;
  seconds: number;
}

function buildC(): string {
  const source = nodePath.join(__dirname, '..', '..', 'bench', 'c', 'inflight_fdatasync.c');
  const binary = nodePath.join(__dirname, '..', '..', 'build', 'bench-inflight-fdatasync');
  fs.mkdirSync(nodePath.dirname(binary), { recursive: true });
  execFileSync('cc', ['-O2', '-pthread', '-o', binary, source]);
  return binary;
}

/** The C loop with k threads on one shared, zero-filled, flushed file, each writing 1/k of a batch of `appenders` records per flush. */
async function cRun(binary: string, root: string, k: number, appenders: number, seconds: number): Promise<CSample> {
  const perFlush = Math.ceil(appenders / k);
  const size = perFlush * FRAME;
  const file = nodePath.join(root, `c-${k}.dat`);
  fs.writeFileSync(file, Buffer.alloc(64 * k * size));
  const fd = fs.openSync(file, 'r+');
  fs.fsyncSync(fd);
  fs.closeSync(fd);
  await settle();
  const out = JSON.parse(execFileSync(binary, ['same', String(k), `${seconds.toFixed(3)}s`, String(size), file], { encoding: 'utf8' })) as CSample;
  fs.rmSync(file, { force: true });
  return { flushesPerSec: out.flushesPerSec, recordsPerSec: out.flushesPerSec * perFlush, p50: out.p50, p99: out.p99, seconds: out.seconds };
}

interface Spread {
  median: number;
  min: number;
  max: number;
}
const spread = (values: number[]): Spread => ({ median: median(values), min: Math.min(...values), max: Math.max(...values) });
const fmt = (s: Spread, digits = 0) => `${s.median.toFixed(digits)} (${s.min.toFixed(digits)}..${s.max.toFixed(digits)})`;

/** The figures of one device from its rounds. */
function summarize(device: BenchDevice, args: Args, logRounds: Map<string, Sample[]>, cRounds: Map<string, CSample[]>) {
  const log = args.appenders.flatMap((appenders) =>
    args.ks.map((k) => {
      const samples = logRounds.get(`${appenders}/${k}`) as Sample[];
      const base = logRounds.get(`${appenders}/1`) as Sample[];
      const model = cRounds.get(`${appenders}/1`) as CSample[];
      return {
        appenders,
        maxInFlight: k,
        recordsPerSec: spread(samples.map((s) => s.recordsPerSec)),
        p50Us: spread(samples.map((s) => s.p50)),
        p99Us: spread(samples.map((s) => s.p99)),
        p999Us: spread(samples.map((s) => s.p999)),
        // Same-round ratios: against maxInFlight 1, and against the C model (one flush per batch).
        recordsPerSecRatio: spread(samples.map((s, i) => s.recordsPerSec / base[i].recordsPerSec)),
        p99Ratio: spread(samples.map((s, i) => s.p99 / base[i].p99)),
        overCModel: spread(samples.map((s, i) => s.recordsPerSec / model[i].recordsPerSec)),
        p50MinusCModelUs: spread(samples.map((s, i) => s.p50 - model[i].p50)),
        rounds: samples,
      };
    }),
  );
  const c = args.appenders.flatMap((appenders) =>
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
  return { device: device.name, describe: device.describe, log, c };
}

function render(s: ReturnType<typeof summarize>, rounds: number): string[] {
  const lines = [`${s.device}: ${s.describe}, ${rounds} interleaved rounds (median (min..max) over rounds; ratios per round, same device)`];
  lines.push('  DurableLog');
  for (const row of s.log) {
    lines.push(
      `    ${String(row.appenders).padStart(4)} appenders, maxInFlight ${String(row.maxInFlight).padStart(2)}: ${fmt(row.recordsPerSec)} records/s, x${fmt(row.recordsPerSecRatio, 2)} k=1; p50 ${fmt(row.p50Us, 1)} us, p99 ${fmt(row.p99Us)} us (x${fmt(row.p99Ratio, 2)})`,
    );
  }
  lines.push('  C model: k threads, each pwrite of 1/k of the batch + fdatasync, one file (records/s = flushes/s x records per flush)');
  for (const row of s.c) {
    lines.push(
      `    ${String(row.appenders).padStart(4)}-record batches, k ${String(row.k).padStart(2)}: ${fmt(row.flushesPerSec)} flushes/s, ${fmt(row.recordsPerSec)} records/s, x${fmt(row.recordsPerSecRatio, 2)} k=1; ceiling x${fmt(row.ceilingOverLog1, 2)} the log's; p50 ${fmt(row.p50Us, 1)} us, p99 ${fmt(row.p99Us)} us`,
    );
  }
  lines.push('  the log (maxInFlight 1) against the C model (one flush per batch), same round');
  for (const row of s.log.filter((r) => r.maxInFlight === 1)) {
    lines.push(`    ${String(row.appenders).padStart(4)} appenders: log/C records/s ${fmt(row.overCModel, 3)}; p50 log minus C ${fmt(row.p50MinusCModelUs, 1)} us`);
  }
  return lines;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const { devices, skipped } = openDevices(args.devices, args.dir);
  for (const s of skipped) process.stderr.write(`device ${s.name} skipped: ${s.reason}\n`);
  if (devices.length === 0) throw new Error('no device to measure on');
  const binary = buildC();
  type Case = { device: number; kind: 'log' | 'c'; appenders: number; k: number };
  const cases: Case[] = devices.flatMap((_, device) =>
    (['log', 'c'] as const).flatMap((kind) => args.appenders.flatMap((appenders) => args.ks.map((k) => ({ device, kind, appenders, k })))),
  );
  const logRounds = devices.map(() => new Map<string, Sample[]>());
  const cRounds = devices.map(() => new Map<string, CSample[]>());
  const roots = devices.map((d) => fs.mkdtempSync(nodePath.join(d.dir, 'hardsync-log-inflight-')));
  try {
    for (let round = 0; round < args.rounds; round++) {
      // Rotate the order each round so that no case always runs first (or right after C).
      const order = cases.map((_, i) => cases[(i + round * 3) % cases.length]);
      for (const c of order) {
        const key = `${c.appenders}/${c.k}`;
        if (c.kind === 'log') {
          const sample = await logRun(roots[c.device], c.k, c.appenders, args.seconds);
          logRounds[c.device].set(key, [...(logRounds[c.device].get(key) ?? []), sample]);
        } else {
          const sample = await cRun(binary, roots[c.device], c.k, c.appenders, args.seconds);
          cRounds[c.device].set(key, [...(cRounds[c.device].get(key) ?? []), sample]);
        }
      }
      process.stderr.write(`round ${round + 1}/${args.rounds} done\n`);
    }
  } finally {
    for (const root of roots) fs.rmSync(root, { recursive: true, force: true });
  }
  const results = devices.map((d, i) => summarize(d, args, logRounds[i], cRounds[i]));
  removeDevices();
  const lines = [`DurableLog against the C model: node ${process.version}, kernel ${os.release()}, load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} at the end`];
  for (const s of results) lines.push('', ...render(s, args.rounds));
  for (const s of skipped) lines.push('', `${s.name}: skipped (${s.reason})`);
  console.log(lines.join('\n'));
  if (args.json) {
    const doc = { date: new Date().toISOString(), node: process.version, kernel: os.release(), rounds: args.rounds, seconds: args.seconds, record: RECORD.length, frame: FRAME, segmentSize: SEGMENT, loadAverage: os.loadavg(), devices: results, skipped };
    fs.writeFileSync(args.json, `${JSON.stringify(doc, null, 2)}\n`);
  }
}

runScript(main);
