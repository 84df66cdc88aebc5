/**
 * The default engine's call path against node:fs, side by side in
 * one process, rounds interleaved, each figure the median of its rounds with their range:
 *
 * On tmpfs (/dev/shm), with whatever engine HARDSYNC_ENGINE gives (the default: io_uring):
 * 1. awaited Promise `fdatasync`, one at a time, vs `await FileHandle.datasync()` (ns per call);
 * 2. the same with 64 in flight (ns of wall time per call);
 * 3. 8 KiB overwrites: `await writeDurable(fd, buf, pos, { flush: 'data' })` vs `await
 *    fh.write(); await fh.datasync()`, ops/s.
 * 4. Starvation (as bench/engines.ts): 16 fdatasync loops on the power-cut simulator with
 *    every flush delayed 20 ms, while fs.promises.readFile of 4 KiB on --dir runs back to back:
 *    read p99; and the same with the 16 loops flushing files on tmpfs instead, which hardsync
 *    runs on the JavaScript thread (native/engine.h), against FileHandle.datasync() there.
 * On each --device (default: disk, the directory --dir, the OS temp dir by default; the RAM
 * devices of bench/measure/ramdev.ts are the quiet ones):
 * 5. 8 KiB overwrite + data flush, `await writeDurable` p50 minus the p50 of the C loop
 *    bench/c/write_fdatasync.c (pwrite + fdatasync), in microseconds, and writeDurable's p50
 *    over the p50 of the C loop through io_uring (bench/c/uring_write_fdatasync.c) and of the
 *    C loop that hands each write to a worker thread (bench/c/thread_write_fdatasync.c): the
 *    floors of the two kinds of engine.
 *
 * Usage: node dist/bench/callpath.js [--rounds N] [--dir DIR] [--device LIST] [--json FILE]
 *                                    [--seconds S] [--no-starve]
 * Writes bench/results/callpath-<kernel>-<time>.json unless --json names another file.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { engine, fdatasync, writeDurable } from '../lib/index';
import { buildCReference, C_LOOPS, FILE_SLOTS, preallocatedFile, runCReference, WRITE_SIZE } from './measure/c-reference';
import { DEVICE_OPTION, isRamDevice, openDevices, parseDevices, removeDevices, type BenchDevice } from './measure/ramdev';
import { slowFilesystem } from './measure/slow-fs';
import { type CommandSpec, numberValue } from './measure/args';
import { scriptArgs, scriptOptions, usageChecked } from './measure/script';
import { median, percentile, sequentialLatencies } from './measure/stats';

const SPEC: CommandSpec = {
  program: 'node dist/bench/callpath.js',
  name: '',
  args: '',
  summary: "The default engine's call path against node:fs, side by side in interleaved rounds (tmpfs call cost, the starvation figure, ext4 against the C loops).",
  options: {
    ...scriptOptions(7),
    ...DEVICE_OPTION,
    seconds: { type: 'string', value: 'S', help: 'seconds of each starvation measurement (default 2)' },
    'no-starve': { type: 'boolean', help: 'skip the starvation measurement' },
  },
};
const ROOT = path.join(__dirname, '..', '..');
const CHILD = path.join(__dirname, 'engines-child.js');
const SHM = '/dev/shm';

interface Options {
  rounds: number;
  dir: string;
  json?: string;
  seconds: number;
  starve: boolean;
  devices: ReturnType<typeof parseDevices>;
}

function parseArgs(argv: string[]): Options {
  const { dir, rounds, json, parsed } = scriptArgs(SPEC, argv, 7);
  return usageChecked(SPEC, () => ({
    dir,
    rounds: Math.max(rounds, 2),
    json,
    seconds: numberValue(parsed, 'seconds', 2, 0.5, 3600, false),
    starve: parsed.values['no-starve'] !== true,
    devices: parseDevices(parsed.values.device as string | undefined),
  }));
}

/** One device's overwrite file and its per-round figures (p50 us, and the ratios of each round). */
interface DeviceRun {
  device: BenchDevice;
  file: string;
  fd: number;
  wd: number[];
  loops: Record<string, number[]>;
  minusC: number[];
  vsCUring: number[];
  vsCThread: number[];
}

/** ns per call of `calls` sequentially awaited calls. */
async function timeAwaited(calls: number, body: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) await body();
  return Number(process.hrtime.bigint() - start) / calls;
}

/** ns of wall time per call with `depth` calls in flight (batches of depth, each awaited whole). */
async function timeInFlight(calls: number, depth: number, body: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  for (let done = 0; done < calls; done += depth) {
    const batch = new Array<Promise<unknown>>(depth);
    for (let j = 0; j < depth; j++) batch[j] = body();
    await Promise.all(batch);
  }
  return Number(process.hrtime.bigint() - start) / calls;
}

/** One starvation measurement (bench/engines-child.ts `starve`) with the default engine. */
function starve(flushDir: string, readFile: string, seconds: number, node: boolean): { readP99Ms: number; flushesPerSecond: number; engine: string } {
  const run = spawnSync(process.execPath, [CHILD, 'starve', JSON.stringify({ flushDir, readFile, flushers: 16, seconds, node })], {
    encoding: 'utf8',
    timeout: 600_000,
  });
  if (run.status !== 0) throw new Error(`starve child failed (${run.status ?? run.signal}): ${run.stderr}`);
  return JSON.parse(run.stdout.trim().split('\n').pop()!);
}

/** Median, lowest and highest of a figure's rounds. */
interface Spread {
  median: number;
  min: number;
  max: number;
  rounds: number[];
}
const spread = (rounds: number[]): Spread => ({ median: median(rounds), min: Math.min(...rounds), max: Math.max(...rounds), rounds });
const opsPerSecond = (sortedUs: number[]): number => (sortedUs.length / sortedUs.reduce((a, b) => a + b, 0)) * 1e6;

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const rounds = options.rounds;
  const f = (n: number, d = 1) => n.toFixed(d);
  const show = (s: Spread, d = 1) => `${f(s.median, d)} [${f(s.min, d)}-${f(s.max, d)}]`;

  // tmpfs: one file for the flush calls, a preallocated one for the 8 KiB overwrites.
  const shmDir = fs.mkdtempSync(path.join(SHM, 'hardsync-callpath-'));
  const flushFile = path.join(shmDir, 'flush');
  fs.writeFileSync(flushFile, 'x');
  const shmFd = fs.openSync(flushFile, 'r+');
  const shmHandle = await fs.promises.open(flushFile, 'r+');
  const shmData = preallocatedFile(shmDir, 'data');
  const shmDataFd = fs.openSync(shmData, 'r+');
  const shmDataHandle = await fs.promises.open(shmData, 'r+');
  // Each device: the overwrite file writeDurable and the C loops share.
  const { devices, skipped } = openDevices(options.devices, options.dir);
  const runs: DeviceRun[] = devices.map((device) => {
    const file = preallocatedFile(device.dir, `hardsync-callpath-${process.pid}`);
    return { device, file, fd: fs.openSync(file, 'r+'), wd: [], loops: { c: [], cUring: [], cThread: [] }, minusC: [], vsCUring: [], vsCThread: [] };
  });
  const binaries = Object.fromEntries(C_LOOPS.map((l) => [l.name, buildCReference(l.source)]));
  const readFile = path.join(options.dir, `hardsync-callpath-read-${process.pid}`);
  fs.writeFileSync(readFile, Buffer.alloc(4096, 7));
  const slow = options.starve ? await slowFilesystem(ROOT, 20) : 'not asked for (--no-starve)';
  const buffer = Buffer.alloc(WRITE_SIZE, 0x5a);
  let slot = 0;
  const nextPosition = (): number => (slot++ % FILE_SLOTS) * WRITE_SIZE;

  const calls = 20_000;
  const writes = 5_000;
  const diskOps = 1000;
  const diskBlocks = 5;
  const r = {
    awaited: [] as number[], awaitedNode: [] as number[], inFlight: [] as number[], inFlightNode: [] as number[],
    wdOps: [] as number[], fhOps: [] as number[],
    starveSlow: [] as number[], starveSlowNode: [] as number[], starveShm: [] as number[], starveShmNode: [] as number[],
    awaitedRatio: [] as number[], inFlightRatio: [] as number[], opsRatio: [] as number[],
  };
  try {
    // Warm-up: the ring's io-wq workers, the flush threads, libuv's threadpool, the JIT.
    await timeAwaited(2000, () => fdatasync(shmFd));
    await timeAwaited(2000, () => shmHandle.datasync());
    for (const run of runs) for (let i = 0; i < 50; i++) await writeDurable(run.fd, buffer, nextPosition(), { flush: 'data' });
    for (let round = 0; round < rounds; round++) {
      // Contenders alternate which goes first, so neither always follows the other.
      const pair = async (a: () => Promise<number>, b: () => Promise<number>): Promise<[number, number]> => {
        if (round % 2 === 0) {
          const x = await a();
          return [x, await b()];
        }
        const y = await b();
        return [await a(), y];
      };
      const [awaited, awaitedNode] = await pair(() => timeAwaited(calls, () => fdatasync(shmFd)), () => timeAwaited(calls, () => shmHandle.datasync()));
      const [inFlight, inFlightNode] = await pair(() => timeInFlight(calls, 64, () => fdatasync(shmFd)), () => timeInFlight(calls, 64, () => shmHandle.datasync()));
      const [wdOps, fhOps] = await pair(
        async () => opsPerSecond(await sequentialLatencies(writes, () => writeDurable(shmDataFd, buffer, nextPosition(), { flush: 'data' }))),
        async () => opsPerSecond(await sequentialLatencies(writes, async () => {
          await shmDataHandle.write(buffer, 0, WRITE_SIZE, nextPosition());
          await shmDataHandle.datasync();
        })),
      );
      r.awaited.push(awaited); r.awaitedNode.push(awaitedNode); r.awaitedRatio.push(awaited / awaitedNode);
      r.inFlight.push(inFlight); r.inFlightNode.push(inFlightNode); r.inFlightRatio.push(inFlight / inFlightNode);
      r.wdOps.push(wdOps); r.fhOps.push(fhOps); r.opsRatio.push(wdOps / fhOps);

      // In blocks, alternating, so that the device's drift (other jobs, the VM's host) meets
      // writeDurable and the C loops alike: each round's p50 comes from its blocks pooled.
      for (const run of runs) {
        const wd: number[] = [];
        const loops: Record<string, number[]> = { c: [], cUring: [], cThread: [] };
        for (let block = 0; block < diskBlocks; block++) {
          const ops = diskOps / diskBlocks;
          const node = async () => wd.push(...(await sequentialLatencies(ops, () => writeDurable(run.fd, buffer, nextPosition(), { flush: 'data' }))));
          if ((round + block) % 2 === 0) await node();
          for (const name of Object.keys(loops)) loops[name].push(...runCReference(binaries[name], run.file, ops));
          if ((round + block) % 2 === 1) await node();
        }
        wd.sort((a, b) => a - b);
        const wdP50 = percentile(wd, 50);
        run.wd.push(wdP50);
        for (const [name, samples] of Object.entries(loops)) run.loops[name].push(percentile(samples.sort((a, b) => a - b), 50));
        run.minusC.push(wdP50 - run.loops.c[round]);
        run.vsCUring.push(wdP50 / run.loops.cUring[round]);
        run.vsCThread.push(wdP50 / run.loops.cThread[round]);
      }

      if (typeof slow !== 'string') {
        r.starveSlow.push(starve(slow.mountpoint, readFile, options.seconds, false).readP99Ms);
        r.starveSlowNode.push(starve(slow.mountpoint, readFile, options.seconds, true).readP99Ms);
      }
      if (options.starve) {
        r.starveShm.push(starve(shmDir, readFile, options.seconds, false).readP99Ms);
        r.starveShmNode.push(starve(shmDir, readFile, options.seconds, true).readP99Ms);
      }
      process.stderr.write(`round ${round + 1}/${rounds} done\n`);
    }
  } finally {
    await shmHandle.close();
    await shmDataHandle.close();
    fs.closeSync(shmFd);
    fs.closeSync(shmDataFd);
    for (const run of runs) {
      fs.closeSync(run.fd);
      fs.rmSync(run.file, { force: true });
    }
    removeDevices();
    fs.rmSync(shmDir, { recursive: true, force: true });
    fs.rmSync(readFile, { force: true });
    if (typeof slow !== 'string') slow.stop();
  }

  const s = Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v.length > 0 ? spread(v) : undefined])) as Record<keyof typeof r, Spread | undefined>;
  const goals = {
    awaitedRatio: s.awaitedRatio!.median <= 0.6,
    inFlightRatio: s.inFlightRatio!.median <= 0.5,
    opsRatio: s.opsRatio!.median >= 2,
    starvationSlow: s.starveSlow === undefined ? undefined : s.starveSlow.median < 2,
  };
  // Per device: on a disk, writeDurable within 1.1x the C io_uring loop; on a RAM device, whose
  // flush costs microseconds, within 5 us of the blocking C loop.
  const perDevice = runs.map((run) => {
    const figures = {
      writeDurable: spread(run.wd),
      ...Object.fromEntries(Object.entries(run.loops).map(([name, values]) => [name, spread(values)])),
      minusC: spread(run.minusC),
      vsCUring: spread(run.vsCUring),
      vsCThread: spread(run.vsCThread),
    } as Record<string, Spread>;
    const goal = isRamDevice(run.device.name) ? { name: 'writeDurable minus C loop <= 5 us', met: figures.minusC.median <= 5 } : { name: 'writeDurable / C io_uring loop <= 1.1', met: figures.vsCUring.median <= 1.1 };
    return { device: run.device.name, describe: run.device.describe, figures, goal };
  });
  const met = (ok: boolean | undefined) => (ok === undefined ? 'not measured' : ok ? 'met' : 'NOT met');
  const lines = [
    `hardsync call path: node ${process.version}, kernel ${os.release()}, engine ${engine.name}, ${rounds} interleaved rounds`,
    'figures: median of rounds [lowest-highest round]; ratios are per round, then the median',
    '',
    `tmpfs (${SHM})`,
    `  await fdatasync, ns/call            ${show(s.awaited!, 0)}`,
    `  await FileHandle.datasync(), ns     ${show(s.awaitedNode!, 0)}`,
    `  ratio                               ${show(s.awaitedRatio!, 3)}   goal <= 0.6: ${met(goals.awaitedRatio)}`,
    `  fdatasync, 64 in flight, ns/call    ${show(s.inFlight!, 0)}`,
    `  FileHandle.datasync(), 64 in flight ${show(s.inFlightNode!, 0)}`,
    `  ratio                               ${show(s.inFlightRatio!, 3)}   goal <= 0.5: ${met(goals.inFlightRatio)}`,
    `  await writeDurable 8 KiB, ops/s     ${show(s.wdOps!, 0)}`,
    `  fh.write() + fh.datasync(), ops/s   ${show(s.fhOps!, 0)}`,
    `  ratio                               ${show(s.opsRatio!, 3)}   goal >= 2: ${met(goals.opsRatio)}`,
    '',
    `Starvation: fs.promises.readFile 4 KiB on ${options.dir}, read p99 ms, while 16 loops flush`,
    typeof slow === 'string'
      ? `  on the power-cut simulator (20 ms flushes): skipped (${slow})`
      : `  on the power-cut simulator (20 ms flushes): hardsync ${show(s.starveSlow!, 2)}  node:fs ${show(s.starveSlowNode!, 2)}   goal < 2 (hardsync): ${met(goals.starvationSlow)}`,
    s.starveShm === undefined ? '  on tmpfs: skipped' : `  on tmpfs (run on the JS thread):            hardsync ${show(s.starveShm, 2)}  node:fs ${show(s.starveShmNode!, 2)}   reported (no goal)`,
  ];
  for (const d of perDevice) {
    const x = d.figures;
    lines.push(
      '',
      `8 KiB overwrite + data flush on ${d.device} (${d.describe}), p50 us (${diskOps} per round, in ${diskBlocks} alternating blocks)`,
      `  await writeDurable                  ${show(x.writeDurable)}`,
      `  C pwrite + fdatasync loop           ${show(x.c)}`,
      `  C io_uring loop                     ${show(x.cUring)}`,
      `  C worker-thread loop                ${show(x.cThread)}`,
      `  writeDurable minus C loop, us       ${show(x.minusC)}`,
      `  writeDurable / C io_uring loop      ${show(x.vsCUring, 3)}`,
      `  writeDurable / C worker-thread loop ${show(x.vsCThread, 3)}`,
      `  goal: ${d.goal.name}: ${met(d.goal.met)}`,
    );
  }
  for (const d of skipped) lines.push('', `${d.name}: skipped (${d.reason})`);
  process.stdout.write(`${lines.join('\n')}\n`);
  const report = {
    node: process.version, kernel: os.release(), engine: engine.name, rounds, dir: options.dir, tmpfs: SHM,
    callsPerRound: calls, writesPerRound: writes, diskOpsPerRound: diskOps, writeSize: WRITE_SIZE, starveSeconds: options.seconds,
    starvationSkipped: typeof slow === 'string' ? slow : undefined,
    figures: s, goals, devices: perDevice, skipped,
  };
  const json = options.json ?? path.join(ROOT, 'bench', 'results', `callpath-${os.release()}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  fs.writeFileSync(json, `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(`results: ${path.relative(process.cwd(), json)}\n`);
}

main().catch((error) => {
  process.stderr.write(`${error.stack ?? error}\n`);
  process.exit(1);
});
