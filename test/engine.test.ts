// The engines that run async flushes (native/engine.h): each one forced in a child process
// (HARDSYNC_ENGINE is read once, when the addon loads), doing the same work, with the same
// results and the same errors; the fallback from io_uring when the kernel refuses it; that
// the io_uring and thread engines really stay off libuv's threadpool; and teardown: fds closed
// with flushes in flight, process.exit, natural exit, worker_threads terminated mid-flight.
import { spawnSync } from 'node:child_process';
import { spawnAsync } from './helpers/spawn';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as hs from '../dist/lib/index.js';
import { loopUnavailable, mountFs, type MountedFs } from './helpers/loopfs';
import { PowercutFs, powercutUnavailable } from './helpers/powercut';
import { hasStrace } from './helpers/strace';
import { diskTempDir, tempDir } from './helpers/tmp';

const CHILD = path.join(__dirname, 'fixtures', 'engine', 'child.js');
const ENGINES = ['io_uring', 'threads', 'threadpool'] as const;
type Requested = (typeof ENGINES)[number];
const NAME: Record<Requested, string> = { io_uring: 'io_uring', threads: 'threads', threadpool: 'libuv-threadpool' };
const strace = hasStrace;

// Whether io_uring works on this machine: a child asked for it says which engine it got.
const uringHere =
  hs.engine.name === 'io_uring' ||
  spawnSync(process.execPath, ['-e', `console.log(require(${JSON.stringify(path.resolve(__dirname, '..'))}).engine.name)`], {
    encoding: 'utf8',
    env: { ...process.env, HARDSYNC_ENGINE: 'io_uring' },
  }).stdout.trim() === 'io_uring';

interface ChildRun {
  status: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  json: any;
}

// Asynchronously: a child can run a minute or more (longer under the sanitizers), and a
// spawnSync would stop this worker's event loop, and vitest's RPC with it, for all of that time.
async function runChild(scenario: string, args: object, env: Record<string, string> = {}, timeout = 60_000): Promise<ChildRun> {
  const child = await spawnAsync(process.execPath, [CHILD, scenario, JSON.stringify(args)], {
    timeout,
    env: { ...process.env, ...env },
  });
  const last = child.stdout?.trim().split('\n').pop() ?? '';
  let json: any;
  try {
    json = JSON.parse(last);
  } catch {
    json = undefined;
  }
  return { status: child.status, signal: child.signal, stdout: child.stdout ?? '', stderr: child.stderr ?? '', json };
}

function expectClean(run: ChildRun): void {
  expect(run.signal, run.stderr).toBeNull();
  expect(run.status, run.stderr).toBe(0);
  expect(run.json, run.stdout + run.stderr).toBeDefined();
}

let dir: string;
let cleanup: () => void;
beforeAll(() => {
  ({ dir, cleanup } = diskTempDir('hardsync-engine-'));
});
afterAll(() => cleanup());

describe('engine selection', () => {
  it('this run uses the engine HARDSYNC_ENGINE asks for (a CI run per engine tests that engine)', () => {
    const asked = process.env.HARDSYNC_ENGINE;
    if (asked === undefined || asked === '' || asked === 'auto') {
      expect(hs.engine.requested).toBe('auto');
      // auto: io_uring where the kernel allows it, else the thread engine with the reason.
      if (hs.engine.name !== 'io_uring') {
        expect(hs.engine.name).toBe('threads');
        expect(hs.engine.reason).not.toBe('');
      }
    } else {
      expect(hs.engine.requested).toBe(asked);
      expect(hs.engine.name, `asked for ${asked}; reason: ${hs.engine.reason}`).toBe(NAME[asked as Requested]);
    }
    expect(hs.capabilitiesSync().engine).toEqual(hs.engine);
  });

  it.each(ENGINES)('HARDSYNC_ENGINE=%s: every async flush works and writes the same bytes', async (engine) => {
    if (engine === 'io_uring' && !uringHere) return; // the fallback test covers machines without it
    const run = await runChild('calls', { dir: tempDir(`calls-${engine}-`, dir) }, { HARDSYNC_ENGINE: engine });
    expectClean(run);
    expect(run.json.engine.name).toBe(NAME[engine]);
    expect(run.json.engine.requested).toBe(engine);
    for (const [name, result] of Object.entries(run.json.results)) expect(result, name).toMatchObject({ ok: true });
    expect(run.json.results.writeBig.value).toBe(3 << 20);
    expect(run.json.manyOk).toBe(true);
    // Same file contents whichever engine wrote them.
    expect(run.json.head).toEqual([4, 4, 2, 1, 3, 3]);
    expect(run.json.size).toBe(8192 + (3 << 20));
  });

  it('rejects bad HARDSYNC_ENGINE and HARDSYNC_FLUSH_THREADS values when the addon loads', () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ HARDSYNC_ENGINE: 'uring' }, /HARDSYNC_ENGINE must be one of io_uring, threads, threadpool, auto \(got "uring"\)/],
      [{ HARDSYNC_FLUSH_THREADS: '0' }, /HARDSYNC_FLUSH_THREADS must be an integer from 1 to 64 \(got "0"\)/],
      [{ HARDSYNC_FLUSH_THREADS: '65' }, /from 1 to 64 \(got "65"\)/],
      [{ HARDSYNC_FLUSH_THREADS: '4x' }, /from 1 to 64 \(got "4x"\)/],
    ];
    for (const [env, message] of cases) {
      const child = spawnSync(process.execPath, ['-e', `try { require(${JSON.stringify(path.resolve(__dirname, '..'))}) } catch (e) { console.log(JSON.stringify({ message: e.message, code: e.code })) }`], {
        encoding: 'utf8',
        env: { ...process.env, ...env },
      });
      expect(child.status, child.stderr).toBe(0);
      const error = JSON.parse(child.stdout.trim());
      expect(error.message).toMatch(message);
      expect(error.code).toBe('ERR_INVALID_ARG_VALUE');
    }
  });

  it('HARDSYNC_FLUSH_THREADS sets the size of the flush-thread pool', async () => {
    const run = await runChild('calls', { dir: tempDir('threads-', dir) }, { HARDSYNC_ENGINE: 'threads', HARDSYNC_FLUSH_THREADS: '2' });
    expectClean(run);
    expect(run.json.engine.flushThreads).toBe(2);
  });
});

describe('fallback from io_uring', () => {
  it('a failed probe falls back to the thread engine, saying why, and everything still works', async () => {
    for (const requested of ['auto', 'io_uring']) {
      const run = await runChild('calls', { dir: tempDir('probe-', dir) }, { HARDSYNC_ENGINE: requested, HARDSYNC_IO_URING_PROBE: 'fail' });
      expectClean(run);
      expect(run.json.engine).toMatchObject({ name: 'threads', requested, reason: expect.stringMatching(/probe forced to fail/) });
      expect(run.json.manyOk).toBe(true);
    }
  });

  it.skipIf(!strace || !uringHere)('io_uring_setup refused (as seccomp does) or the opcode probe refused: thread engine, with the errno', () => {
    const cases: [string, RegExp][] = [
      ['inject=io_uring_setup:error=EPERM', /io_uring_setup: Operation not permitted/],
      ['inject=io_uring_setup:error=ENOSYS', /io_uring_setup: Function not implemented/],
      ['inject=io_uring_register:error=EINVAL', /io_uring_register\(PROBE\): Invalid argument/],
    ];
    for (const [inject, reason] of cases) {
      const target = tempDir('seccomp-', dir);
      const child = spawnSync('strace', ['-f', '-qq', '-o', '/dev/null', '-e', 'trace=io_uring_setup,io_uring_register', '-e', inject, process.execPath, CHILD, 'calls', JSON.stringify({ dir: target })], {
        encoding: 'utf8',
        timeout: 60_000,
        env: { ...process.env, HARDSYNC_ENGINE: 'io_uring' },
      });
      expect(child.status, child.stderr).toBe(0);
      const json = JSON.parse(child.stdout.trim().split('\n').pop()!);
      expect(json.engine).toMatchObject({ name: 'threads', requested: 'io_uring', reason: expect.stringMatching(reason) });
      expect(json.manyOk).toBe(true);
    }
  });
});

describe('off libuv\'s threadpool', () => {
  // UV_THREADPOOL_SIZE=1 and that one thread stuck opening a FIFO nobody writes to: a flush on
  // libuv's threadpool cannot run until the FIFO gets a writer; one on hardsync's own engines can.
  it.each(ENGINES)('HARDSYNC_ENGINE=%s', async (engine) => {
    if (engine === 'io_uring' && !uringHere) return;
    const fifo = path.join(dir, `fifo-${engine}`);
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const run = await runChild('threadpoolBlocked', { dir, fifo, waitMs: 3000 }, { HARDSYNC_ENGINE: engine, UV_THREADPOOL_SIZE: '1' });
    expectClean(run);
    expect(run.json.finishedWhileBlocked).toBe(engine !== 'threadpool');
  });

  it.skipIf(!strace || !uringHere)('io_uring: the async calls make no write or flush syscall at all (the kernel runs them)', () => {
    const target = tempDir('traced-', dir);
    const log = path.join(dir, 'uring-strace.log');
    const child = spawnSync('strace', ['-f', '-qq', '-o', log, '-e', 'trace=pwrite64,fsync,fdatasync,sync_file_range,io_uring_enter', process.execPath, CHILD, 'calls', JSON.stringify({ dir: target })], {
      encoding: 'utf8',
      timeout: 60_000,
      env: { ...process.env, HARDSYNC_ENGINE: 'io_uring' },
    });
    expect(child.status, child.stderr).toBe(0);
    const lines = fs.readFileSync(log, 'utf8').split('\n');
    const names = (re: RegExp) => lines.filter((line) => re.test(line)).length;
    expect(names(/io_uring_enter\(/)).toBeGreaterThan(100);
    // syncfs has no io_uring opcode (it runs on a flush thread); everything else is in the ring.
    expect(lines.filter((line) => /^\d+\s+(fsync|fdatasync|sync_file_range|pwrite64)\(/.test(line))).toEqual([]);
  });
});

describe('errors through each engine are the same errors', () => {
  let small: MountedFs | undefined;
  const canMount = loopUnavailable('tmpfs') === undefined;
  beforeAll(() => {
    if (canMount) small = mountFs('tmpfs', 1);
  });
  afterAll(() => small?.unmount());

  it('ENOENT, ENOTDIR, EBADF, EBADF on a read-only fd, ENOSPC with bytesWritten: identical message, code, errno, syscall, path', async () => {
    const readOnlyFile = path.join(dir, 'read-only.bin');
    fs.writeFileSync(readOnlyFile, 'x');
    const args = { dir, readOnlyFile, ...(small ? { full: small.mountPoint, fullBytes: 1 << 20 } : {}) };
    const runs = [];
    for (const engine of ENGINES.filter((name) => name !== 'io_uring' || uringHere)) {
      const run = await runChild('errors', args, { HARDSYNC_ENGINE: engine });
      expectClean(run);
      expect(run.json.engine.name).toBe(NAME[engine]);
      const { engine: _engine, ...errors } = run.json;
      runs.push(errors);
    }
    const [first, ...rest] = runs;
    expect(first.fsyncDirMissing.error).toMatchObject({ code: 'ENOENT', syscall: 'open', errno: -2 });
    expect(first.fsyncDirOfFile.error).toMatchObject({ code: 'ENOTDIR', syscall: 'open' });
    expect(first.fdatasyncClosed.error).toMatchObject({ code: 'EBADF', syscall: 'fdatasync' });
    expect(first.writeReadOnly.error).toMatchObject({ code: 'EBADF', syscall: 'pwrite', bytesWritten: 0 });
    if (small) {
      expect(first.writeNoSpace.error).toMatchObject({ code: 'ENOSPC', syscall: 'pwrite' });
      expect(first.writeNoSpace.error.bytesWritten).toBeGreaterThan(0);
      expect(first.writeNoSpace.error.bytesWritten).toBeLessThan(2 << 20);
    }
    for (const other of rest) expect(other).toEqual(first);
  });
});

// In this process, whichever engine the run chose (CI runs the suite once per engine): a
// flush that fails in the filesystem (EIO from the power-cut simulator after a cut, which the
// kernel reports through the io_uring completion on that engine) rejects with exactly the
// error the Sync form, a plain syscall, throws.
describe.skipIf(powercutUnavailable() !== undefined)(`EIO from the filesystem, engine ${hs.engine.name}`, () => {
  let pfs: PowercutFs;
  beforeAll(async () => {
    pfs = await PowercutFs.mount();
  });
  afterAll(async () => {
    await pfs?.unmount();
  });

  it('async and Sync forms fail alike: message, code, errno, syscall, path, bytesWritten', async () => {
    const sub = path.join(pfs.mountpoint, 'sub');
    fs.mkdirSync(sub);
    const fd = fs.openSync(path.join(sub, 'file'), 'w+');
    const dirFd = fs.openSync(sub, 'r');
    try {
      fs.writeSync(fd, Buffer.alloc(4096, 1));
      pfs.cut();
      const C = hs.constants;
      const range = C.SYNC_FILE_RANGE_WAIT_BEFORE | C.SYNC_FILE_RANGE_WRITE | C.SYNC_FILE_RANGE_WAIT_AFTER;
      const shape = (error: any) => ({ message: error.message, code: error.code, errno: error.errno, syscall: error.syscall, path: error.path, bytesWritten: error.bytesWritten });
      const pairs: [string, () => Promise<unknown>, () => unknown][] = [
        ['fdatasync', () => hs.fdatasync(fd), () => hs.fdatasyncSync(fd)],
        ['fsync', () => hs.fsync(fd), () => hs.fsyncSync(fd)],
        ['fsync of a directory fd', () => hs.fsync(dirFd), () => hs.fsyncSync(dirFd)],
        ['writeDurable data', () => hs.writeDurable(fd, Buffer.alloc(100), 0, { flush: 'data' }), () => hs.writeDurableSync(fd, Buffer.alloc(100), 0, { flush: 'data' })],
        ['writeDurable none', () => hs.writeDurable(fd, Buffer.alloc(100), null, { flush: 'none' }), () => hs.writeDurableSync(fd, Buffer.alloc(100), null, { flush: 'none' })],
        ['fsyncDir', () => hs.fsyncDir(sub), () => hs.fsyncDirSync(sub)],
      ];
      for (const [name, async, sync] of pairs) {
        let syncError: any;
        try {
          sync();
        } catch (error) {
          syncError = error;
        }
        expect(syncError, `${name}: the Sync form failed`).toBeDefined();
        expect(syncError.code, name).toBe('EIO');
        const asyncError = await async().then(() => undefined, (error) => error);
        expect(asyncError, `${name}: the async form failed`).toBeDefined();
        expect(shape(asyncError), name).toEqual(shape(syncError));
      }
      // sync_file_range: FUSE has no such operation, so it succeeds even after the cut, in both forms.
      hs.syncFileRangeSync(fd, 0, 0, range);
      await hs.syncFileRange(fd, 0, 0, range);
    } finally {
      for (const open of [fd, dirFd]) {
        try {
          fs.closeSync(open);
        } catch {
          // after the cut, close fails with EIO too (the fd is gone all the same)
        }
      }
      pfs.reboot();
    }
  });
});

// A flush (or a write of at most 256 KiB) on a memory filesystem runs on the JavaScript thread
// in every engine and settles on the next loop turn (native/engine.h); everything else there
// (the 3 MiB write of 'calls', sync_file_range, fsyncDir) takes the engine's usual route.
describe.skipIf(!fs.existsSync('/dev/shm'))('tmpfs: calls run on the JavaScript thread', () => {
  let shm: string;
  beforeAll(() => {
    shm = fs.mkdtempSync(path.join('/dev/shm', 'hardsync-engine-'));
  });
  afterAll(() => fs.rmSync(shm, { recursive: true, force: true }));

  it.each(ENGINES)('HARDSYNC_ENGINE=%s: every async flush works and writes the same bytes', async (engine) => {
    if (engine === 'io_uring' && !uringHere) return;
    const run = await runChild('calls', { dir: fs.mkdtempSync(path.join(shm, `calls-${engine}-`)) }, { HARDSYNC_ENGINE: engine });
    expectClean(run);
    for (const [name, result] of Object.entries(run.json.results)) expect(result, name).toMatchObject({ ok: true });
    expect(run.json.manyOk).toBe(true);
    expect(run.json.head).toEqual([4, 4, 2, 1, 3, 3]);
    expect(run.json.size).toBe(8192 + (3 << 20));
  });

  it.each(ENGINES)('HARDSYNC_ENGINE=%s: each awaited call gives the event loop a turn; errors are the Sync form\'s', async (engine) => {
    const run = await runChild('turns', { dir: fs.mkdtempSync(path.join(shm, `turns-${engine}-`)) }, { HARDSYNC_ENGINE: engine });
    expectClean(run);
    // Settled within the call, an awaited loop would be one chain of microtasks: no turn at all.
    expect(run.json.immediates).toBeGreaterThanOrEqual(run.json.calls / 2);
    expect(run.json.asyncError).toMatchObject({ code: 'EBADF', syscall: 'pwrite', bytesWritten: 0 });
    expect(run.json.asyncError).toEqual(run.json.syncError);
    expect(run.json.size).toBe(100);
    expect(run.json.last).toBe(999 & 0xff);
  });

  it.each(ENGINES)('HARDSYNC_ENGINE=%s: an unawaited call keeps the process alive until it settles', async (engine) => {
    const run = await runChild('keepsAlive', { dir: shm, bytes: 4096 }, { HARDSYNC_ENGINE: engine });
    expectClean(run);
    expect(run.json.settled).toBe(4096);
  });

  it('worker_threads half terminated mid-flight on tmpfs, default engine, 3 rounds', async () => {
    const run = await runChild('workers', { dir: fs.mkdtempSync(path.join(shm, 'workers-')), rounds: 3 }, {}, 120_000);
    expectClean(run);
    expect(run.json.terminated).toBe(6);
    expect(run.json.completed).toBeGreaterThanOrEqual(6);
  });
});

describe('teardown', () => {
  it.each(ENGINES)('HARDSYNC_ENGINE=%s: closing the fd with 400 flushes in flight settles every one', async (engine) => {
    const run = await runChild('closeInFlight', { dir }, { HARDSYNC_ENGINE: engine });
    expectClean(run);
    expect(run.json.settled).toBe(400);
    const codes = Object.keys(run.json.codes);
    expect(codes.every((code) => code === 'ok' || code === 'EBADF'), JSON.stringify(run.json.codes)).toBe(true);
  });

  it.each(ENGINES)('HARDSYNC_ENGINE=%s: an unawaited flush keeps the process alive until it settles', async (engine) => {
    const run = await runChild('keepsAlive', { dir }, { HARDSYNC_ENGINE: engine });
    expectClean(run);
    expect(run.json.settled).toBe(1 << 20);
  });

  it.each(ENGINES)('HARDSYNC_ENGINE=%s: process.exit with 200 flushes in flight exits at once with its code', async (engine) => {
    const run = await runChild('exitInFlight', { dir }, { HARDSYNC_ENGINE: engine }, 30_000);
    expectClean(run);
    expect(run.json.exiting).toBe(true);
  });

  it('an idle engine does not keep the process alive', () => {
    const child = spawnSync(process.execPath, ['-e', `const hs = require(${JSON.stringify(path.resolve(__dirname, '..'))}); console.log(hs.engine.name)`], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(child.signal).toBeNull();
    expect(child.status).toBe(0);
  });

  it.each(ENGINES)('HARDSYNC_ENGINE=%s: worker_threads with their own addon copies, half terminated mid-flight, 3 rounds', async (engine) => {
    const run = await runChild('workers', { dir: tempDir('workers-', dir), rounds: 3 }, { HARDSYNC_ENGINE: engine }, 120_000);
    expectClean(run);
    expect(run.json.engines).toEqual([engine === 'io_uring' && !uringHere ? 'threads' : NAME[engine]]);
    expect(run.json.terminated).toBe(6);
    expect(run.json.completed).toBeGreaterThanOrEqual(6);
  });
});
