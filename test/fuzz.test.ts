// Hostile input: at least 100,000 calls of every export (sync and async) with generated
// arguments of every JS type and edge value, in a child process (test/fixtures/fuzz/child.js;
// see there for what it generates and why it runs apart from vitest). The child must exit
// normally, and every thrown or rejected value must be an Error with a string `code`.
//
// HARDSYNC_FUZZ_CALLS and HARDSYNC_FUZZ_SEED change the amount and the seed (the default seed
// is fixed so that CI is reproducible; a failure prints the seed to rerun with).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { tempDir } from './helpers/tmp';

const CHILD = path.join(__dirname, 'fixtures', 'fuzz', 'child.js');
const CALLS = Number(process.env.HARDSYNC_FUZZ_CALLS ?? 100_000);
// The sanitized build (scripts/asan/run.sh) runs the same calls several times slower: the hang
// guards below stretch with it.
const SLOWDOWN = process.env.HARDSYNC_SANITIZED === '1' ? 3 : 1;
const SEED = Number(process.env.HARDSYNC_FUZZ_SEED ?? 0x5eed_2026);
const BATCH = 500;

interface FuzzResult {
  stats: {
    calls: number;
    sync: number;
    async: number;
    resolved: number;
    returned: number;
    errors: number;
    codes: Record<string, number>;
    byTarget: Record<string, number>;
  };
  failures: { call: string; thrown: string }[];
  seconds: number;
  batches: number;
  targets: string[];
  pool: string[];
  crashed?: string;
}

function readTail(file: string, bytes: number): string {
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const buffer = Buffer.alloc(Math.min(size, bytes));
    fs.readSync(fd, buffer, 0, buffer.length, size - buffer.length);
    return buffer.toString('latin1');
  } finally {
    fs.closeSync(fd);
  }
}

let sandbox: string;
let mounted = false;

beforeAll(() => {
  sandbox = tempDir('hardsync-fuzz-');
  // A small private tmpfs where we can mount one (root): fast, and a fuzzed preallocate or
  // DurableLog segment size cannot eat more than 256 MiB of memory or disk, it gets ENOSPC.
  if (os.platform() === 'linux') {
    mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=256m,mode=0700', 'tmpfs', sandbox]).status === 0;
  }
  if (!mounted) console.warn(`[fuzz] no private tmpfs (not root?): fuzzing in ${sandbox}`);
});

afterAll(() => {
  if (!sandbox) return;
  if (mounted) spawnSync('umount', ['-l', sandbox]);
  fs.rmSync(sandbox, { recursive: true, force: true });
});

it(`survives ${CALLS} calls of every export with hostile arguments (seed ${SEED})`, async () => {
  const resultFile = path.join(os.tmpdir(), `hardsync-fuzz-${process.pid}.json`);
  const logFile = path.join(os.tmpdir(), `hardsync-fuzz-${process.pid}.log`);
  // The child's fds 0 and 1 are one /dev/null description (so a lock on one cannot block a
  // lock on the other), fd 2 a log file: the fuzz may write garbage to all three.
  // A private node of the null device where we can make one (root, on our tmpfs): flock(2)
  // locks belong to the inode, so on the shared /dev/null a fuzzed lockFile would meet the
  // locks of any other fuzz run on this machine (one in another checkout made this child's
  // own lock check fail with EAGAIN once).
  const privateNull = path.join(sandbox, 'null-device');
  const ownNull = mounted && spawnSync('mknod', ['-m', '666', privateNull, 'c', '1', '3']).status === 0;
  const devNull = fs.openSync(ownNull ? privateNull : '/dev/null', 'r+');
  // O_APPEND: whatever else the fuzz does to fd 2 (pwrite, preallocate), a crash report
  // written last lands at the end, where we read it.
  const log = fs.openSync(logFile, 'a+');
  const config = { sandbox, seed: SEED, calls: CALLS, batch: BATCH, result: resultFile };
  const started = Date.now();
  const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    const child = spawn(process.execPath, [CHILD, JSON.stringify(config)], { stdio: [devNull, devNull, log], env: process.env });
    const timer = setTimeout(() => child.kill('SIGKILL'), 170_000 * SLOWDOWN);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal });
    });
  });
  fs.closeSync(devNull);
  fs.closeSync(log);
  const elapsed = (Date.now() - started) / 1000;
  const logText = readTail(logFile, 64 * 1024);
  const result: FuzzResult | undefined = fs.existsSync(resultFile) ? JSON.parse(fs.readFileSync(resultFile, 'utf8')) : undefined;
  fs.rmSync(resultFile, { force: true });
  fs.rmSync(logFile, { force: true });

  // The child's stderr also received fuzzed writes: show only its readable tail.
  const tail = logText.replace(/[^\x20-\x7e\n]/g, '').split('\n').filter((line) => line.trim().length > 0).slice(-40).join('\n');
  const context = `seed ${SEED}; child exit ${exit.code} signal ${exit.signal} after ${elapsed}s\n${tail}`;
  expect(exit.signal, context).toBeNull();
  expect(exit.code, context).toBe(0);
  expect(result, context).toBeDefined();
  const { stats, failures } = result!;
  console.log(
    `[fuzz] seed ${SEED}: ${stats.calls} calls (${stats.sync} sync, ${stats.async} async; ${stats.returned + stats.resolved} succeeded, ` +
      `${stats.errors} failed) in ${result!.seconds.toFixed(1)} s; fd pool: ${result!.pool.join(', ')}\n[fuzz] error codes: ${JSON.stringify(stats.codes)}`,
  );
  expect(failures, `failures that are not an Error with a string code (seed ${SEED})`).toEqual([]);
  expect(stats.calls).toBeGreaterThanOrEqual(CALLS);

  // The fuzz reached what it claims to: every export, both forms, and native code (system
  // errors come only from there).
  for (const name of result!.targets) expect(stats.byTarget[name] ?? 0, `calls of ${name}`).toBeGreaterThan(0);
  expect(result!.targets).toEqual(expect.arrayContaining(['fsync', 'fsyncSync', 'writeDurable', 'writeDurableSync', 'open', 'openSync']));
  expect(stats.async).toBeGreaterThan(CALLS / 10);
  expect(stats.returned + stats.resolved).toBeGreaterThan(CALLS / 50);
  for (const code of ['ERR_INVALID_ARG_TYPE', 'ERR_OUT_OF_RANGE', 'EBADF', 'EINVAL']) {
    expect(stats.codes[code] ?? 0, `errors with code ${code}`).toBeGreaterThan(0);
  }
}, 180_000 * SLOWDOWN);
