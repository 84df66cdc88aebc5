/**
 * Two builds of DurableLog in one process, side by side: this one and another checkout's (the
 * commit before a change to the log, built with `npm run build`), on each --device, per
 * appender count (each appender awaiting its own append, 256 bytes or --record-size:
 * bench/measure/log-run.ts),
 * a fresh log per run, rounds interleaved (the order flips every round) so that load from
 * elsewhere falls on both alike. Per build: records/s, append p50, and the process's CPU per
 * record (every thread: the JavaScript thread, the engine's, io_uring's workers); then the
 * ratio this / other, per round, its median and [lowest-highest round].
 *
 * Usage: node dist/bench/log-ab.js --other DIR [--device ram-xfs] [--appenders 1,16,64,256]
 *   [--rounds 7] [--seconds 1] [--record-size 256] [--dir DIR] [--json FILE]
 *   DIR: the other checkout's root (its dist/lib/index.js and build/ are loaded).
 * @module
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as self from '../lib/index';
import { type CommandSpec, listValue, numberValue, stringValue } from './measure/args';
import { logRun, type Sample } from './measure/log-run';
import { DEVICE_OPTION, openDevices, parseDevices, removeDevices } from './measure/ramdev';
import { UsageError } from './measure/schema';
import { runScript, scriptArgs, scriptOptions, usageChecked } from './measure/script';
import { median } from './measure/stats';

const SPEC: CommandSpec = {
  program: 'node dist/bench/log-ab.js',
  name: '',
  args: '--other DIR',
  summary: "Two builds of DurableLog in one process (this one and --other DIR's), rounds interleaved: records/s, append p50 and CPU per record, per appender count, on each --device.",
  options: {
    ...scriptOptions(7),
    ...DEVICE_OPTION,
    other: { type: 'string', value: 'DIR', help: "the other checkout's root (its dist/lib/index.js and build/ are loaded)" },
    appenders: { type: 'string', value: 'LIST', help: 'appender counts (default 1,16,64,256); each awaits its own append' },
    seconds: { type: 'string', value: 'S', help: 'length of each run, at most (default 1; a run also ends half a segment on)' },
    'record-size': { type: 'string', value: 'BYTES', help: 'bytes of each record (default 256)' },
  },
};

type Build = 'this' | 'other';

async function main(): Promise<void> {
  const { dir, rounds, json, parsed } = scriptArgs(SPEC, process.argv.slice(2), 7);
  const otherDir = stringValue(parsed, 'other');
  const args = usageChecked(SPEC, () => {
    if (otherDir === undefined) throw new UsageError('--other DIR is required');
    if (rounds < 2) throw new UsageError('--rounds must be at least 2');
    const appenders = listValue(parsed, 'appenders') ?? ['1', '16', '64', '256'];
    return {
      other: path.resolve(otherDir),
      devices: parseDevices(parsed.values.device as string | undefined, ['ram-xfs']),
      appenders: appenders.map((raw) => {
        const n = Number(raw);
        if (!Number.isInteger(n) || n < 1 || n > 4096) throw new UsageError(`--appenders: "${raw}" is not a count from 1 to 4096`);
        return n;
      }),
      seconds: numberValue(parsed, 'seconds', 1, 0.05, 600, false),
      record: Buffer.alloc(numberValue(parsed, 'record-size', 256, 0, 1 << 20, true), 0x5a),
    };
  });
  const them = require(path.join(args.other, 'dist', 'lib', 'index.js')) as typeof self;
  if (them === self) throw new Error('--other names this very build');
  const logs: Record<Build, typeof self.DurableLog> = { this: self.DurableLog, other: them.DurableLog };
  const made = openDevices(args.devices, dir);
  for (const s of made.skipped) process.stderr.write(`device ${s.name} skipped: ${s.reason}\n`);
  const samples = new Map<string, Record<Build, Sample[]>>();
  const key = (device: string, appenders: number): string => `${device} ${appenders}`;
  try {
    for (const device of made.devices) {
      for (const n of args.appenders) {
        samples.set(key(device.name, n), { this: [], other: [] });
        // One uncounted run of each, so that neither pays the first run's warm-up.
        for (const build of ['this', 'other'] as const) await logRun(device.dir, 1, n, Math.min(args.seconds, 0.3), logs[build], args.record);
      }
    }
    for (let round = 0; round < rounds; round++) {
      const order: Build[] = round % 2 === 0 ? ['this', 'other'] : ['other', 'this'];
      for (const device of made.devices) {
        for (const n of args.appenders) {
          const slot = samples.get(key(device.name, n)) as Record<Build, Sample[]>;
          for (const build of order) slot[build].push(await logRun(device.dir, 1, n, args.seconds, logs[build], args.record));
        }
      }
      process.stderr.write(`round ${round + 1}/${rounds} done, load average ${os.loadavg()[0].toFixed(2)}\n`);
    }
  } finally {
    removeDevices();
  }
  const range = (values: number[], d: number): string =>
    `${median(values).toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d })} [${Math.min(...values).toFixed(d)}-${Math.max(...values).toFixed(d)}]`;
  const lines = [
    `DurableLog, this build against ${args.other}: engine ${self.engine.name}, ${rounds} interleaved rounds of ${args.seconds} s, ${args.record.length}-byte records, node ${process.version}, load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} at the end`,
    '| device | appenders | records/s this | records/s other | this / other | p50 us this | p50 us other | CPU us/record this | CPU us/record other |',
    '|---|--:|--:|--:|--:|--:|--:|--:|--:|',
  ];
  for (const device of made.devices) {
    for (const n of args.appenders) {
      const s = samples.get(key(device.name, n)) as Record<Build, Sample[]>;
      const of = (build: Build, figure: keyof Sample): number[] => s[build].map((sample) => sample[figure]);
      const ratio = s.this.map((sample, i) => sample.recordsPerSec / s.other[i].recordsPerSec);
      lines.push(
        `| ${device.name} | ${n} | ${range(of('this', 'recordsPerSec'), 0)} | ${range(of('other', 'recordsPerSec'), 0)} | ${range(ratio, 3)} | ${range(of('this', 'p50'), 1)} | ${range(of('other', 'p50'), 1)} | ${range(of('this', 'cpuPerRecord'), 2)} | ${range(of('other', 'cpuPerRecord'), 2)} |`,
      );
    }
  }
  process.stdout.write(`${lines.join('\n')}\n`);
  if (json !== undefined) {
    const doc = { date: new Date().toISOString(), node: process.version, kernel: os.release(), other: args.other, rounds, seconds: args.seconds, recordSize: args.record.length, loadAverage: os.loadavg(), samples: Object.fromEntries(samples) };
    fs.writeFileSync(json, `${JSON.stringify(doc, null, 2)}\n`);
  }
}

runScript(main);
