/**
 * Two builds of hardsync in one process, side by side: this one and another checkout's (for
 * example the commit before a change, built with `npm run build`), each addon loaded from its
 * own path with its own engine (the same HARDSYNC_ENGINE for both), rounds interleaved (the
 * order flips every round). Against `FileHandle.datasync()` on tmpfs: awaited Promise
 * `fdatasync` one at a time, and 64 in flight. On each --device: awaited `writeDurable` of
 * 8 KiB with a data flush, one at a time, beside the blocking C loop
 * (bench/c/write_fdatasync.c) on the same file. Ratios are per round, then the median;
 * [lowest-highest round].
 *
 * Usage: node dist/bench/callpath-ab.js --other DIR [--rounds N] [--device LIST] [--dir DIR]
 *   DIR: the other checkout's root (its dist/lib/index.js and build/ are loaded).
 */
import fs from 'node:fs';
import path from 'node:path';
import * as self from '../lib/index';
import { type CommandSpec, stringValue } from './measure/args';
import { buildCReference, FILE_SLOTS, preallocatedFile, runCReference, WRITE_SIZE } from './measure/c-reference';
import { DEVICE_OPTION, openDevices, parseDevices, removeDevices } from './measure/ramdev';
import { UsageError } from './measure/schema';
import { runScript, scriptArgs, scriptOptions, usageChecked } from './measure/script';
import { median, percentile, sequentialLatencies } from './measure/stats';

const SPEC: CommandSpec = {
  program: 'node dist/bench/callpath-ab.js',
  name: '',
  args: '--other DIR',
  summary: "Two builds of hardsync in one process (this one and --other DIR's), rounds interleaved: awaited fdatasync on tmpfs, 64 in flight, and awaited writeDurable on each --device beside the C loop.",
  options: {
    ...scriptOptions(9),
    ...DEVICE_OPTION,
    other: { type: 'string', value: 'DIR', help: "the other checkout's root (its dist/lib/index.js and build/ are loaded)" },
  },
};

const CALLS = 20_000;
const WRITES = 2_000;

async function awaited(call: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  for (let i = 0; i < CALLS; i++) await call();
  return Number(process.hrtime.bigint() - start) / CALLS;
}

async function inFlight(call: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  for (let done = 0; done < CALLS; done += 64) await Promise.all(Array.from({ length: 64 }, call));
  return Number(process.hrtime.bigint() - start) / CALLS;
}

async function main(): Promise<void> {
  const { dir, rounds, parsed } = scriptArgs(SPEC, process.argv.slice(2), 9);
  const otherDir = stringValue(parsed, 'other');
  const { other, devices } = usageChecked(SPEC, () => {
    if (otherDir === undefined) throw new UsageError('--other DIR is required');
    if (rounds < 2) throw new UsageError('--rounds must be at least 2');
    return { other: path.resolve(otherDir), devices: parseDevices(parsed.values.device as string | undefined, []) };
  });
  const them = require(path.join(other, 'dist', 'lib', 'index.js')) as typeof self;
  if (them === self) throw new Error('--other names this very build');
  const file = path.join('/dev/shm', `hardsync-ab-${process.pid}`);
  fs.writeFileSync(file, 'x');
  const fd = fs.openSync(file, 'r+');
  const handle = await fs.promises.open(file, 'r+');
  const who: Record<string, () => Promise<unknown>> = {
    this: () => self.fdatasync(fd),
    other: () => them.fdatasync(fd),
    'node:fs': () => handle.datasync(),
  };
  const results: Record<string, Record<string, number[]>> = { awaited: {}, inFlight: {} };
  const made = openDevices(devices, dir);
  for (const s of made.skipped) process.stderr.write(`device ${s.name} skipped: ${s.reason}\n`);
  const cLoop = buildCReference();
  const buffer = Buffer.alloc(WRITE_SIZE, 0x5a);
  const onDevice = made.devices.map((device) => {
    const data = preallocatedFile(device.dir, `hardsync-ab-${process.pid}`);
    return { device, data, fd: fs.openSync(data, 'r+'), p50: { this: [] as number[], other: [] as number[], c: [] as number[] } };
  });
  try {
    for (const name of Object.keys(who)) {
      await awaited(who[name]);
      results.awaited[name] = [];
      results.inFlight[name] = [];
    }
    for (let round = 0; round < rounds; round++) {
      const order = Object.keys(who);
      if (round % 2 === 1) order.reverse();
      for (const name of order) results.awaited[name].push(await awaited(who[name]));
      for (const name of order) results.inFlight[name].push(await inFlight(who[name]));
      for (const d of onDevice) {
        const write = { this: self.writeDurable, other: them.writeDurable };
        const names = round % 2 === 0 ? (['this', 'other', 'c'] as const) : (['c', 'other', 'this'] as const);
        for (const name of names) {
          const samples = name === 'c' ? runCReference(cLoop, d.data, WRITES) : await sequentialLatencies(WRITES, (i) => write[name](d.fd, buffer, (i % FILE_SLOTS) * WRITE_SIZE, { flush: 'data' }));
          samples.sort((a, b) => a - b);
          d.p50[name].push(percentile(samples, 50));
        }
      }
    }
  } finally {
    await handle.close();
    fs.closeSync(fd);
    fs.rmSync(file, { force: true });
    for (const d of onDevice) {
      fs.closeSync(d.fd);
      fs.rmSync(d.data, { force: true });
    }
    removeDevices();
  }
  const range = (values: number[], d: number) => `${median(values).toFixed(d)} [${Math.min(...values).toFixed(d)}-${Math.max(...values).toFixed(d)}]`;
  const lines = [`engines: this ${self.engine.name}, other ${them.engine.name} (${other}); ${rounds} interleaved rounds`];
  for (const [figure, label] of [['awaited', 'awaited fdatasync on /dev/shm'], ['inFlight', 'fdatasync on /dev/shm, 64 in flight']] as const) {
    const r = results[figure];
    lines.push(`${label}, ns/call: this ${range(r.this, 0)}, other ${range(r.other, 0)}, node:fs FileHandle.datasync() ${range(r['node:fs'], 0)}`);
    const ratio = (name: string) => r[name].map((v, i) => v / r['node:fs'][i]);
    lines.push(`  vs FileHandle.datasync(): this ${range(ratio('this'), 3)}, other ${range(ratio('other'), 3)}`);
  }
  for (const d of onDevice) {
    const minus = (name: 'this' | 'other') => d.p50[name].map((v, i) => v - d.p50.c[i]);
    lines.push(`awaited writeDurable 8 KiB on ${d.device.name} (${d.device.describe}), p50 us: this ${range(d.p50.this, 1)}, other ${range(d.p50.other, 1)}, C pwrite+fdatasync ${range(d.p50.c, 1)}`);
    lines.push(`  minus the C loop, us: this ${range(minus('this'), 1)}, other ${range(minus('other'), 1)}; this minus other ${range(d.p50.this.map((v, i) => v - d.p50.other[i]), 1)}`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

runScript(main);
