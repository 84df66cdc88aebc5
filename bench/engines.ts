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
import { buildCReference, FILE_SLOTS, preallocatedFile, runCReference, WRITE_SIZE } from './measure/c-reference';
import { slowFilesystem } from './measure/slow-fs';
import { median, percentile } from './measure/stats';

interface Options {
  dir: string;
  rounds: number;
  seconds: number;
  delayMs: number;
  starve: boolean;
  json?: string;
}

const USAGE = 'usage: node dist/bench/engines.js [--dir DIR] [--rounds N] [--seconds S] [--delay-ms MS] [--no-starve] [--json FILE]\n';

function parseArgs(argv: string[]): Options {
  const options: Options = { dir: os.tmpdir(), rounds: 5, seconds: 3, delayMs: 20, starve: true };
  const number = (flag: string, value: string | undefined, min: number): number => {
    const n = Number(value);
    if (value === undefined || !Number.isFinite(n) || n < min) {
      process.stderr.write(`${flag} needs a number >= ${min}\n${USAGE}`);
      process.exit(2);
    }
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const value = argv[i + 1];
    switch (argv[i]) {
      case '--dir': options.dir = value; i++; break;
      case '--rounds': options.rounds = Math.round(number('--rounds', value, 1)); i++; break;
      case '--seconds': options.seconds = number('--seconds', value, 0.5); i++; break;
      case '--delay-ms': options.delayMs = Math.round(number('--delay-ms', value, 1)); i++; break;
      case '--no-starve': options.starve = false; break;
      case '--json': options.json = value; i++; break;
      case '--help': case '-h':
        process.stdout.write(USAGE);
        process.exit(0);
        break;
      default:
        process.stderr.write(`unknown argument ${argv[i]}\n${USAGE}`);
        process.exit(2);
    }
  }
  return options;
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

  // 2. Latency against the C loops: plain pwrite + fdatasync, and the same through io_uring
  // (bench/c/uring_write_fdatasync.c: what the kernel's io_uring route costs by itself).
  const file = preallocatedFile(options.dir, `hardsync-engines-${process.pid}`);
  try {
    const loops: Record<string, string> = { c: buildCReference() };
    if (names.includes('io_uring')) loops.cUring = buildCReference('uring_write_fdatasync');
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
    const cP50 = median(p50.c);
    const label: Record<string, string> = { c: 'C pwrite+fdatasync', cUring: 'C io_uring loop' };
    report.latency = { dir: options.dir, size: WRITE_SIZE, opsPerRound: ops, rows: {} as Record<string, unknown> };
    lines.push('', `Latency: sequential await writeDurable(8 KiB, flush 'data') on ${options.dir}, ${ops} per round, vs C loops`);
    lines.push(`  ${'engine'.padEnd(20)}  p50 us   p99 us   p50 vs C pwrite+fdatasync`);
    for (const name of rows) {
      const row = { p50: median(p50[name]), p99: median(p99[name]), p50VsC: median(p50[name]) / cP50 };
      report.latency.rows[label[name] ?? name] = row;
      lines.push(`  ${(label[name] ?? name).padEnd(20)}  ${f(row.p50).padStart(6)}  ${f(row.p99).padStart(7)}   ${f(row.p50VsC, 3)}x`);
    }
  } finally {
    fs.rmSync(file, { force: true });
  }

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
