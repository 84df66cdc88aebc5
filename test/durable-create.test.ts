import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createDurable, createDurableSync } from '../dist/lib/index.js';
import { fdOf, hasStrace, runFixture } from './helpers/strace';
import { tempDir } from './helpers/tmp';

describe('createDurable', () => {
  for (const [name, create] of [
    ['createDurable', createDurable],
    ['createDurableSync', async (...args: Parameters<typeof createDurableSync>) => createDurableSync(...args)],
  ] as const) {
    it(`${name}: creates the file and returns an fd open for reading and writing`, async () => {
      const dir = tempDir('hardsync-create-');
      const file = path.join(dir, 'new');
      const fd = await create(file);
      try {
        fs.writeSync(fd, 'hello', 0);
        const back = Buffer.alloc(5);
        fs.readSync(fd, back, 0, 5, 0);
        expect(back.toString()).toBe('hello');
      } finally {
        fs.closeSync(fd);
      }
      await expect(create(file)).rejects.toMatchObject({ code: 'EEXIST', syscall: 'open', path: file });
      const again = await create(file, { exclusive: false });
      fs.closeSync(again);
      expect(fs.readFileSync(file, 'utf8')).toBe('hello');
    });

    it(`${name}: mode is given to open (umask applies), errors are node-style, bad options throw first`, async () => {
      const dir = tempDir('hardsync-create-');
      const previous = process.umask(0o022);
      try {
        fs.closeSync(await create(path.join(dir, 'm'), { mode: 0o666, flush: 'data' }));
        expect(fs.statSync(path.join(dir, 'm')).mode & 0o777).toBe(0o644);
      } finally {
        process.umask(previous);
      }
      await expect(create(path.join(dir, 'missing', 'f'))).rejects.toMatchObject({ code: 'ENOENT', syscall: 'open' });
      await expect(create(path.join(dir, 'x'), { mode: -1 })).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
      await expect(create(path.join(dir, 'x'), { exclusive: 'yes' as never })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
      await expect(create(path.join(dir, 'x'), { flush: 'none' as never })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
      await expect(create(7 as never)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
      expect(fs.existsSync(path.join(dir, 'x'))).toBe(false);
    });
  }
});

describe.skipIf(!hasStrace)('createDurable syscalls (strace)', () => {
  for (const [op, flush, call] of [
    ['create', undefined, 'fsync'],
    ['createSync', undefined, 'fsync'],
    ['create', 'data', 'fdatasync'],
  ] as const) {
    it(`${op}${flush ? ` (flush ${flush})` : ''}: open(O_CREAT|O_EXCL) -> ${call}(file) -> fsync(directory), all before it returns`, () => {
      const dir = tempDir('hardsync-create-');
      const file = path.join(dir, 'durable');
      const run = runFixture('atomic-child.js', [op, file, 'payload', ...(flush ? [JSON.stringify({ flush })] : [])], {
        trace: 'openat,fsync,fdatasync,write,pwrite64',
      });
      expect(run.result.ok).toBe(true);
      const opened = run.calls.findIndex((c) => c.name === 'openat' && c.args.includes(`"${file}"`));
      expect(run.calls[opened].args).toContain('O_CREAT');
      expect(run.calls[opened].args).toContain('O_EXCL');
      expect(run.calls[opened].args).toContain('O_RDWR');
      const fileFlush = run.calls.findIndex((c) => c.name === call && fdOf(c.args)?.path === file);
      const dirFlush = run.calls.findIndex((c) => c.name === 'fsync' && fdOf(c.args)?.path === dir);
      // the fixture writes only after createDurable returned
      const firstWrite = run.calls.findIndex((c) => (c.name === 'write' || c.name === 'pwrite64') && fdOf(c.args)?.path === file);
      expect(opened).toBeLessThan(fileFlush);
      expect(fileFlush).toBeLessThan(dirFlush);
      expect(dirFlush).toBeLessThan(firstWrite);
      expect(fs.readFileSync(file, 'utf8')).toBe('payload');
    });
  }

  it('a failing flush (EIO injected) closes and removes the new file and names the step', () => {
    const dir = tempDir('hardsync-create-');
    const file = path.join(dir, 'doomed');
    const run = runFixture('atomic-child.js', ['create', file, 'x'], { trace: 'fsync', inject: ['fsync:error=EIO:when=1'] });
    expect(run.result.error).toMatchObject({ code: 'EIO', syscall: 'fsync', path: file });
    expect(fs.existsSync(file)).toBe(false);
  });
});
