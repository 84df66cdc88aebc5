/**
 * The engines side by side (native/engine.h): each measurement runs in a child process with
 * HARDSYNC_ENGINE forced, rounds interleaved across engines, medians reported.
 *
 * 1. Starvation: 16 loops of fdatasync on a filesystem whose every flush takes --delay-ms (the
 *    power-cut simulator, powercut/, with its `delay` command: the slowness is in the
 *    filesystem, so io_uring meets it too), while fs.promises.readFile of a 4 KiB file on
 *    --dir runs back to back; the read latency p99 per engine, and with node:fs
 *    FileHandle.datasync() doing the flushing.
 * 2. Latency: sequential `await writeDurable(fd, 8 KiB, pos, { flush: 'data' })` p50 per
 *    engine, against the plain C loop's pwrite + fdatasync p50 on the same file, and against
 *    the same C loop through io_uring (what the kernel's io_uring route costs by itself).
 * 3. DurableLog, 64 appenders of 256-byte records (flush 'data'): records/s per engine.
 *
 * Usage: node dist/bench/engines.js [--dir DIR] [--rounds N] [--seconds S] [--delay-ms MS]
 *                                   [--no-starve] [--json FILE]
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type CommandSpec, numberValue } from './measure/args';
import { buildCReference, C_LOOPS, FILE_SLOTS, preallocatedFile, runCReference, WRITE_SIZE } from './measure/c-reference';
import { DEVICE_OPTION, openDevices, parseDevices, removeDevices } from './measure/ramdev';
import { scriptArgs, scriptOptions, usageChecked } from './measure/script';
import { slowFilesystem } from './measure/slow-fs';
import { median, percentile } from './measure/stats';

interface Options {
  dir: string;
  rounds: number;
  seconds: number;
  delayMs: number;
  starve: boolean;
  devices: ReturnType<typeof parseDevices>;
  json?: string;
}

const SPEC: CommandSpec = {
  program: 'node dist/bench/engines.js',
  name: '',
  args: '',
  summary: 'The engines side by side, each in a child process with HARDSYNC_ENGINE forced: starvation, awaited writeDurable latency against the C loops (on each --device), DurableLog.',
  options: {
    ...scriptOptions(5),
    ...DEVICE_OPTION,
    seconds: { type: 'string', value: 'S', help: 'seconds of each starvation measurement (default 3)' },
    'delay-ms': { type: 'string', value: 'MS', help: 'how long each flush takes on the slow filesystem (default 20)' },
    'no-starve': { type: 'boolean', help: 'skip the starvation measurement' },
  },
};

function parseArgs(argv: string[]): Options {
  const { dir, rounds, json, parsed } = scriptArgs(SPEC, argv, 5);
  return usageChecked(SPEC, () => ({
    dir,
    rounds,
    json,
    seconds: numberValue(parsed, 'seconds', 3, 0.5, 3600, false),
    delayMs: numberValue(parsed, 'delay-ms', 20, 1, 60_000, true),
    starve: parsed.values['no-starve'] !== true,
    devices: parseDevices(parsed.values.device as string | undefined),
  }));
}

const CHILD = path.join(__dirname, 'engines-child.js');
const ROOT = path.join(__dirname, '..', '..');

/** Runs one measurement with HARDSYNC_ENGINE=engine; returns its JSON line. */
function child(engine: string, scenario: string, args: object): any {
  const run = spawnSync(process.execPath, [CHILD, scenario, JSON.stringify(args)], {
    encoding: 'utf8',
    env: { ...process.env, HARDSYNC_ENGINE: engine },
    timeout: 600_000,
  });
  if (run.status !== 0) throw new Error(`${scenario} with HARDSYNC_ENGINE=${engine} failed (${run.status ?? run.signal}): ${run.stderr}`);
  return JSON.parse(run.stdout.trim().split('\n').pop()!);
}

/** Which engines this machine can run: io_uring only where a forced load really gets it. */
function engines(): string[] {
  const probe = spawnSync(process.execPath, ['-e', `process.stdout.write(require(${JSON.stringify(ROOT)}).engine.name)`], {
    encoding: 'utf8',
    env: { ...process.env, HARDSYNC_ENGINE: 'io_uring' },
  });
  return probe.stdout === 'io_uring' ? ['io_uring', 'threads', 'threadpool'] : ['threads', 'threadpool'];
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const names = engines();
  const report: Record<string, any> = { node: process.version, kernel: os.release(), rounds: options.rounds, engines: names };
  const f = (n: number, d = 1) => n.toFixed(d);
  const lines = [`hardsync engines benchmark: node ${process.version}, kernel ${os.release()}, ${options.rounds} interleaved rounds, medians`];

  // 1. Starvation.
  if (options.starve) {
    const slow = await slowFilesystem(ROOT, options.delayMs);
    if (typeof slow === 'string') {
      lines.push('', `Starvation: skipped (${slow})`);
      report.starvation = { skipped: slow };
    } else {
      try {
        const readFile = path.join(options.dir, `hardsync-read-${process.pid}`);
        fs.writeFileSync(readFile, Buffer.alloc(4096, 7));
        const who = [...names.map((name) => ({ name: `hardsync fdatasync, ${name}`, engine: name, node: false })), { name: 'node:fs FileHandle.datasync()', engine: 'threadpool', node: true }];
        const runs: Record<string, any[]> = Object.fromEntries(who.map((w) => [w.name, []]));
        for (let round = 0; round < options.rounds; round++) {
          for (const w of who) {
            runs[w.name].push(child(w.engine, 'starve', { flushDir: slow.mountpoint, readFile, flushers: 16, seconds: options.seconds, node: w.node }));
          }
        }
        fs.rmSync(readFile, { force: true });
        report.starvation = { delayMs: options.delayMs, flushers: 16, seconds: options.seconds, results: {} as Record<string, unknown> };
        lines.push('', `Starvation: 16 concurrent fdatasync loops, each flush delayed ${options.delayMs} ms in the filesystem; fs.promises.readFile of 4 KiB on ${options.dir} meanwhile`);
        lines.push(`  flushing with                         read p50 ms  read p99 ms  read max ms  flushes/s`);
        for (const w of who) {
          const r = runs[w.name];
          const row = {
            readP50Ms: median(r.map((x) => x.readP50Ms)),
            readP99Ms: median(r.map((x) => x.readP99Ms)),
            readMaxMs: median(r.map((x) => x.readMaxMs)),
            flushesPerSecond: median(r.map((x) => x.flushesPerSecond)),
            engineRan: r[0].engine,
          };
          report.starvation.results[w.name] = row;
          lines.push(`  ${w.name.padEnd(36)}  ${f(row.readP50Ms, 2).padStart(11)}  ${f(row.readP99Ms, 2).padStart(11)}  ${f(row.readMaxMs, 1).padStart(11)}  ${f(row.flushesPerSecond, 0).padStart(9)}`);
        }
      } finally {
        slow.stop();
      }
    }
  }

  // 2. Latency against the C loops, on each device: plain pwrite + fdatasync, the same through
  // io_uring, and the same handed to a worker thread (bench/measure/c-reference.ts C_LOOPS).
  const { devices, skipped } = openDevices(options.devices, options.dir);
  report.latency = [] as unknown[];
  for (const s of skipped) lines.push('', `Latency on ${s.name}: skipped (${s.reason})`);
  for (const device of devices) {
    const file = preallocatedFile(device.dir, `hardsync-engines-${process.pid}`);
    try {
      const loops = Object.fromEntries(C_LOOPS.filter((l) => l.name !== 'cUring' || names.includes('io_uring')).map((l) => [l.name, buildCReference(l.source)]));
      const ops = 1000;
      const rows = [...names, ...Object.keys(loops)];
      const p50: Record<string, number[]> = Object.fromEntries(rows.map((n) => [n, []]));
      const p99: Record<string, number[]> = Object.fromEntries(rows.map((n) => [n, []]));
      for (let round = 0; round < options.rounds; round++) {
        for (const name of names) {
          const r = child(name, 'latency', { file, ops, size: WRITE_SIZE, slots: FILE_SLOTS });
          p50[name].push(r.p50);
          p99[name].push(r.p99);
        }
        for (const [name, binary] of Object.entries(loops)) {
          const samples = runCReference(binary, file, ops);
          p50[name].push(percentile(samples, 50));
          p99[name].push(percentile(samples, 99));
        }
      }
      const label = Object.fromEntries(C_LOOPS.map((l) => [l.name, l.label])) as Record<string, string>;
      const entry = { device: device.name, describe: device.describe, size: WRITE_SIZE, opsPerRound: ops, rows: {} as Record<string, unknown> };
      lines.push('', `Latency: sequential await writeDurable(8 KiB, flush 'data') on ${device.name} (${device.describe}), ${ops} per round, vs C loops`);
      lines.push(`  ${'engine'.padEnd(22)}  p50 us [rounds]          p99 us   p50 vs C pwrite+fdatasync   p50 minus it, us`);
      for (const name of rows) {
        const vsC = p50[name].map((v, i) => v / p50.c[i]);
        const minusC = p50[name].map((v, i) => v - p50.c[i]);
        const row = { p50: median(p50[name]), p50Rounds: p50[name], p99: median(p99[name]), p50VsC: median(vsC), p50MinusCUs: median(minusC) };
        entry.rows[label[name] ?? name] = row;
        const rounds = `[${f(Math.min(...p50[name]))}-${f(Math.max(...p50[name]))}]`;
        lines.push(`  ${(label[name] ?? name).padEnd(22)}  ${f(row.p50).padStart(6)} ${rounds.padEnd(16)} ${f(row.p99).padStart(7)}   ${f(row.p50VsC, 3).padStart(6)}x   ${f(row.p50MinusCUs).padStart(8)}`);
      }
      (report.latency as unknown[]).push(entry);
    } finally {
      fs.rmSync(file, { force: true });
    }
  }
  removeDevices();

  // 3. DurableLog group commit.
  const perSecond: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (let round = 0; round < options.rounds; round++) {
    for (const name of names) perSecond[name].push(child(name, 'log', { dir: options.dir, appenders: 64, perAppender: 200 }).recordsPerSecond);
  }
  report.log = { appenders: 64, recordBytes: 256, flush: 'data', recordsPerSecond: {} as Record<string, number> };
  lines.push('', `DurableLog: 64 appenders of 256-byte records, flush 'data', on ${options.dir}`);
  for (const name of names) {
    report.log.recordsPerSecond[name] = median(perSecond[name]);
    lines.push(`  ${name.padEnd(20)}  ${f(median(perSecond[name]), 0).padStart(8)} records/s`);
  }

  process.stdout.write(`${lines.join('\n')}\n`);
  if (options.json) fs.writeFileSync(options.json, `${JSON.stringify(report, null, 2)}\n`);
}

main().catch((error) => {
  process.stderr.write(`${error.stack ?? error}\n`);
  process.exit(1);
});
