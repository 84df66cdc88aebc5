// The log's batch write without a copy: native.logArena makes native memory a Buffer shows,
// native.writeArena writes a view of it in place and holds the memory until the write has
// returned (native/arena.h), so that nothing JavaScript does meanwhile can free what the
// kernel or a flush thread still reads: the Buffer dropped and collected, its ArrayBuffer
// transferred (node copies an external ArrayBuffer rather than detach it; either way), the
// process exiting. The sanitized run (scripts/asan/run.sh) is what turns a
// use after free here into a failure; the checks below also hold without it.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import { DurableLog } from '../dist/lib/index.js';
import { native } from '../dist/lib/native.js';
import { tempDir } from './helpers/tmp';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;
const DATA_FLUSH = native.flushKinds.data;

function scratchFile(size: number): { file: string; fd: number } {
  const file = path.join(tempDir('hardsync-arena-'), 'f');
  fs.writeFileSync(file, Buffer.alloc(size));
  return { file, fd: fs.openSync(file, 'r+') };
}

function refusal(call: () => unknown): { name: string; code: unknown } {
  try {
    call();
  } catch (error) {
    return { name: (error as Error).name, code: (error as { code?: unknown }).code };
  }
  return { name: 'none', code: undefined };
}

describe('native.logArena and native.writeArena', () => {
  it('writes a view of an arena, at any offset in it, and the file holds exactly those bytes', async () => {
    const { file, fd } = scratchFile(16384);
    try {
      const arena = native.logArena(8192);
      for (let i = 0; i < arena.length; i++) arena[i] = (i * 31) & 255;
      expect(await native.writeArena(fd, arena.subarray(100, 4196), 4096, DATA_FLUSH)).toBe(4096);
      const disk = fs.readFileSync(file);
      expect(disk.subarray(4096, 8192).equals(arena.subarray(100, 4196))).toBe(true);
      expect(disk.subarray(0, 4096).equals(Buffer.alloc(4096))).toBe(true);
    } finally {
      fs.closeSync(fd);
    }
  });

  it('holds the memory until the write returns: the Buffer dropped and collected, or its ArrayBuffer transferred, meanwhile', async () => {
    const { file, fd } = scratchFile(1 << 20);
    try {
      const writes: Promise<number>[] = [];
      for (let i = 0; i < 64; i++) {
        const arena = native.logArena(16384);
        arena.fill(i + 1);
        writes.push(native.writeArena(fd, arena, i * 16384, DATA_FLUSH));
        if (i % 2 === 0) structuredClone(arena.buffer, { transfer: [arena.buffer] });
      }
      gc();
      expect(await Promise.all(writes)).toEqual(Array(64).fill(16384));
      const disk = fs.readFileSync(file);
      for (let i = 0; i < 64; i++) expect(disk.subarray(i * 16384, (i + 1) * 16384).equals(Buffer.alloc(16384, i + 1)), `write ${i}`).toBe(true);
    } finally {
      fs.closeSync(fd);
    }
  });

  it('refuses anything but a view of a live arena, and sizes it cannot make', () => {
    const { fd } = scratchFile(4096);
    try {
      const typeErrors: unknown[] = [Buffer.alloc(64), new Uint8Array(native.logArena(64)), 'x', undefined];
      for (const data of typeErrors) {
        expect(refusal(() => native.writeArena(fd, data as Buffer, 0, DATA_FLUSH))).toEqual({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
      }
      const arena = native.logArena(64);
      expect(refusal(() => native.writeArena(fd, arena, 0, 99))).toEqual({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
      expect(refusal(() => native.writeArena(-1, arena, 0, DATA_FLUSH))).toEqual({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
      for (const size of [0, -1, 2 ** 30 + 1]) expect(refusal(() => native.logArena(size))).toEqual({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
      for (const size of [1.5, Number.NaN, '64']) expect(refusal(() => native.logArena(size as number))).toEqual({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    } finally {
      fs.closeSync(fd);
    }
  });

  it('a failed write rejects like writeDurable, node:fs-shaped, and lets go of the arena', async () => {
    const { file, fd } = scratchFile(4096);
    fs.closeSync(fd);
    const readOnly = fs.openSync(file, 'r');
    try {
      const error = await native.writeArena(readOnly, native.logArena(512), 0, DATA_FLUSH).then(
        () => undefined,
        (e: unknown) => e as NodeJS.ErrnoException,
      );
      expect(error?.code).toBe('EBADF');
      expect(typeof error?.syscall).toBe('string');
    } finally {
      fs.closeSync(readOnly);
    }
  });
});

describe('DurableLog with its batches written from the arena in place', () => {
  it('a log closed, or a process exiting, with batches in flight: no crash, and what was acknowledged is there', async () => {
    const dir = path.join(tempDir('hardsync-arena-log-'), 'wal');
    const lib = path.join(__dirname, '..', 'dist', 'lib', 'index.js');
    // The child acknowledges 50 appends, then starts 200 more and exits at once, while their
    // batches are being written: the addon's writes outlive every JavaScript object.
    const child = spawnSync(
      process.execPath,
      [
        '-e',
        `const { DurableLog } = require(${JSON.stringify(lib)});
         (async () => {
           const log = await DurableLog.open(${JSON.stringify(dir)});
           for (let i = 0; i < 50; i++) await log.append('acked ' + i);
           for (let i = 0; i < 200; i++) log.append(Buffer.alloc(1000, i)).catch(() => {});
           setImmediate(() => process.exit(0));
         })();`,
      ],
      { encoding: 'utf8', timeout: 60_000 },
    );
    expect(child.signal).toBeNull();
    expect(child.stderr).toBe('');
    expect(child.status).toBe(0);
    const log = await DurableLog.open(dir, { verify: 'all' });
    try {
      expect(log.recovery.corruption).toBeUndefined();
      expect(log.lastLsn).toBeGreaterThanOrEqual(50);
      const first: string[] = [];
      for await (const record of log.records()) if (record.lsn <= 50) first.push(record.data.toString());
      expect(first).toEqual(Array.from({ length: 50 }, (_, i) => `acked ${i}`));
      // Closing with a batch in flight: close waits for it, the appends settle.
      const pending = Array.from({ length: 100 }, (_, i) => log.append(`more ${i}`));
      await log.close();
      const settled = await Promise.allSettled(pending);
      expect(settled.every((s) => s.status === 'fulfilled' || (s.reason as { code?: string }).code === 'ERR_HARDSYNC_LOG_CLOSED')).toBe(true);
    } finally {
      await log.close().catch(() => undefined);
    }
  });
});
