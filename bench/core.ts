/**
 * The primitives' speed goals (bench/README.md, "The library's own speed goals"), measured
 * side by side in one run (rounds interleaved, medians and ratios reported; never a single
 * absolute time):
 *
 * 1. Call overhead on tmpfs: `fdatasyncSync` vs node:fs `fdatasyncSync`; the Promise
 *    `fdatasync` vs `FileHandle.datasync()`.
 * 2. 8 KiB sequential overwrites of a preallocated file with a data flush after each:
 *    `await writeDurable(fd, buf, pos, { flush: 'data' })` vs `await fh.write(); await
 *    fh.datasync()`, and its p50 latency vs the same pwrite+fdatasync in a plain C loop
 *    (bench/c/write_fdatasync.c, compiled here with cc).
 *
 * Usage: node dist/bench/core.js [--dir DIR] [--overhead-dir DIR] [--rounds N] [--json FILE] [--overhead-only]
 * (`--overhead-only` runs part 1 alone: to compare two builds' call overhead, run each build's
 * copy of this script in turn, interleaved, and compare the medians.)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fdatasync, fdatasyncSync, writeDurable } from '../lib/index';
import { buildCReference, FILE_SLOTS, preallocatedFile, runCReference, WRITE_SIZE } from './measure/c-reference';
import { median, percentile, sequentialLatencies as latencies } from './measure/stats';

interface Options {
  dir: string;
  overheadDir: string;
  rounds: number;
  json?: string;
  overheadOnly: boolean;
}

function parseArgs(argv: string[]): Options {
  const options: Options = { dir: os.tmpdir(), overheadDir: '/dev/shm', rounds: 7, overheadOnly: false };
  for (let i = 0; i < argv.length; i++) {
    const value = argv[i + 1];
    switch (argv[i]) {
      case '--dir': options.dir = value; i++; break;
      case '--overhead-dir': options.overheadDir = value; i++; break;
      case '--rounds': options.rounds = Number(value); i++; break;
      case '--json': options.json = value; i++; break;
      case '--overhead-only': options.overheadOnly = true; break;
      case '--help':
        process.stdout.write('usage: node dist/bench/core.js [--dir DIR] [--overhead-dir DIR] [--rounds N] [--json FILE] [--overhead-only]\n');
        process.exit(0);
        break;
      default:
        process.stderr.write(`unknown argument ${argv[i]}\n`);
        process.exit(2);
    }
  }
  return options;
}

/** ns per call of a synchronous loop of `calls` calls. */
function timeSync(calls: number, body: () => void): number {
  const start = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) body();
  return Number(process.hrtime.bigint() - start) / calls;
}

/** ns per call of `calls` sequentially awaited calls. */
async function timeAsync(calls: number, body: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) await body();
  return Number(process.hrtime.bigint() - start) / calls;
}

/** ns of main-thread work per call with `depth` calls in flight: the per-call cost, not the hop. */
async function timeInFlight(calls: number, depth: number, body: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  for (let done = 0; done < calls; done += depth) {
    const batch = new Array<Promise<unknown>>(depth);
    for (let j = 0; j < depth; j++) batch[j] = body();
    await Promise.all(batch);
  }
  return Number(process.hrtime.bigint() - start) / calls;
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const report: Record<string, unknown> = { node: process.version, kernel: os.release(), rounds: options.rounds };

  // 1. Call overhead on tmpfs.
  const shmFile = path.join(options.overheadDir, `hardsync-overhead-${process.pid}`);
  fs.writeFileSync(shmFile, 'x');
  const shmFd = fs.openSync(shmFile, 'r+');
  const shmHandle = await fs.promises.open(shmFile, 'r+');
  const syncCalls = 200_000;
  const asyncCalls = 20_000;
  const overhead = {
    hardsyncSync: [] as number[], nodeSync: [] as number[], hardsyncAsync: [] as number[], fileHandle: [] as number[],
    hardsyncInFlight: [] as number[], fileHandleInFlight: [] as number[],
  };
  timeSync(20_000, () => fdatasyncSync(shmFd)); // warm-up
  timeSync(20_000, () => fs.fdatasyncSync(shmFd));
  await timeAsync(2_000, () => fdatasync(shmFd));
  await timeAsync(2_000, () => shmHandle.datasync());
  for (let round = 0; round < options.rounds; round++) {
    overhead.hardsyncSync.push(timeSync(syncCalls, () => fdatasyncSync(shmFd)));
    overhead.nodeSync.push(timeSync(syncCalls, () => fs.fdatasyncSync(shmFd)));
    overhead.hardsyncAsync.push(await timeAsync(asyncCalls, () => fdatasync(shmFd)));
    overhead.fileHandle.push(await timeAsync(asyncCalls, () => shmHandle.datasync()));
    overhead.hardsyncInFlight.push(await timeInFlight(asyncCalls, 64, () => fdatasync(shmFd)));
    overhead.fileHandleInFlight.push(await timeInFlight(asyncCalls, 64, () => shmHandle.datasync()));
  }
  await shmHandle.close();
  fs.closeSync(shmFd);
  fs.rmSync(shmFile);
  const syncRatio = median(overhead.hardsyncSync) / median(overhead.nodeSync);
  const asyncRatio = median(overhead.hardsyncAsync) / median(overhead.fileHandle);
  const inFlightRatio = median(overhead.hardsyncInFlight) / median(overhead.fileHandleInFlight);
  report.overhead = {
    dir: options.overheadDir,
    nsPerCall: {
      hardsyncFdatasyncSync: median(overhead.hardsyncSync),
      nodeFsFdatasyncSync: median(overhead.nodeSync),
      hardsyncFdatasyncPromise: median(overhead.hardsyncAsync),
      fileHandleDatasync: median(overhead.fileHandle),
      hardsyncFdatasyncPromise64InFlight: median(overhead.hardsyncInFlight),
      fileHandleDatasync64InFlight: median(overhead.fileHandleInFlight),
    },
    syncRatio,
    asyncRatio,
    inFlightRatio,
  };

  const f = (n: number, d = 1) => n.toFixed(d);
  const overheadLines = [
    `hardsync core benchmark: node ${process.version}, kernel ${os.release()}, ${options.rounds} interleaved rounds, medians`,
    '',
    `Call overhead on ${options.overheadDir} (ns per call)`,
    `  hardsync fdatasyncSync       ${f(median(overhead.hardsyncSync))}`,
    `  node:fs  fdatasyncSync       ${f(median(overhead.nodeSync))}`,
    `  ratio                        ${f(syncRatio, 3)}   (goal <= 1.0)`,
    `  hardsync await fdatasync     ${f(median(overhead.hardsyncAsync))}`,
    `  await FileHandle.datasync()  ${f(median(overhead.fileHandle))}`,
    `  ratio (sequential latency)   ${f(asyncRatio, 3)}   (goal <= 0.6)`,
    `  hardsync fdatasync, 64 in flight       ${f(median(overhead.hardsyncInFlight))}`,
    `  FileHandle.datasync(), 64 in flight    ${f(median(overhead.fileHandleInFlight))}`,
    `  ratio (per-call cost)        ${f(inFlightRatio, 3)}   (goal <= 0.5)`,
  ];
  if (options.overheadOnly) {
    process.stdout.write(`${overheadLines.join('\n')}\n`);
    if (options.json) fs.writeFileSync(options.json, `${JSON.stringify(report, null, 2)}\n`);
    return;
  }

  // 2. 8 KiB write + data flush on a real filesystem.
  const durableFile = preallocatedFile(options.dir, `hardsync-wd-${process.pid}`);
  const cBinary = buildCReference();
  const fd = fs.openSync(durableFile, 'r+');
  const handle = await fs.promises.open(durableFile, 'r+');
  const buffer = Buffer.alloc(WRITE_SIZE, 0x5a);
  const opsPerRound = 1000;
  const results = { writeDurable: [] as number[][], fileHandle: [] as number[][], c: [] as number[][] };
  let slot = 0;
  const nextPosition = (): number => (slot++ % FILE_SLOTS) * WRITE_SIZE;
  for (let round = 0; round < options.rounds; round++) {
    results.writeDurable.push(await latencies(opsPerRound, () => writeDurable(fd, buffer, nextPosition(), { flush: 'data' })));
    results.fileHandle.push(await latencies(opsPerRound, async () => {
      await handle.write(buffer, 0, WRITE_SIZE, nextPosition());
      await handle.datasync();
    }));
    results.c.push(runCReference(cBinary, durableFile, opsPerRound));
  }
  await handle.close();
  fs.closeSync(fd);
  fs.rmSync(durableFile);

  const summarize = (rounds: number[][]) => {
    const p50 = median(rounds.map((r) => percentile(r, 50)));
    const p99 = median(rounds.map((r) => percentile(r, 99)));
    const opsPerSec = median(rounds.map((r) => (r.length / r.reduce((a, b) => a + b, 0)) * 1e6));
    return { p50, p99, opsPerSec };
  };
  const wd = summarize(results.writeDurable);
  const fh = summarize(results.fileHandle);
  const c = summarize(results.c);
  report.writeDurable = {
    dir: options.dir,
    size: WRITE_SIZE,
    opsPerRound,
    writeDurable: wd,
    fileHandleWriteDatasync: fh,
    cLoop: c,
    opsRatioVsFileHandle: wd.opsPerSec / fh.opsPerSec,
    p50RatioVsC: wd.p50 / c.p50,
  };

  const lines = [
    ...overheadLines,
    '',
    `8 KiB overwrite + data flush on ${options.dir} (${opsPerRound} ops per round)`,
    `  method                              ops/s      p50 us   p99 us`,
    `  await writeDurable(flush 'data')    ${f(wd.opsPerSec, 0).padStart(7)}    ${f(wd.p50).padStart(7)}  ${f(wd.p99).padStart(7)}`,
    `  await fh.write(); await fh.datasync ${f(fh.opsPerSec, 0).padStart(7)}    ${f(fh.p50).padStart(7)}  ${f(fh.p99).padStart(7)}`,
    `  C loop pwrite + fdatasync           ${f(c.opsPerSec, 0).padStart(7)}    ${f(c.p50).padStart(7)}  ${f(c.p99).padStart(7)}`,
    `  writeDurable ops/s vs FileHandle    ${f(wd.opsPerSec / fh.opsPerSec, 3)}x  (goal >= 2 on tmpfs: bench/callpath.js; on a disk, reported)`,
    `  writeDurable p50 vs C loop          ${f(wd.p50 / c.p50, 3)}x  (goal <= 1.3)`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  if (options.json) fs.writeFileSync(options.json, `${JSON.stringify(report, null, 2)}\n`);
}

main().catch((error) => {
  process.stderr.write(`${error.stack ?? error}\n`);
  process.exit(1);
});
