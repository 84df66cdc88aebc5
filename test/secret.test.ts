import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeFileSecret, writeFileSecretSync } from '../dist/lib/index.js';
import { fdOf, hasStrace, runFixture } from './helpers/strace';
import { tempDir } from './helpers/tmp';

const modeOf = (file: string) => fs.statSync(file).mode & 0o7777;

describe('writeFileSecret', () => {
  it('writes the secret 0o600, whatever the umask and the old mode', async () => {
    const dir = tempDir('hardsync-secret-');
    const file = path.join(dir, 'key');
    fs.writeFileSync(file, 'public', { mode: 0o644 });
    const previous = process.umask(0);
    try {
      await writeFileSecret(file, 'sekrit');
      expect(fs.readFileSync(file, 'utf8')).toBe('sekrit');
      expect(modeOf(file)).toBe(0o600);
      writeFileSecretSync(file, Buffer.from('73796e63', 'hex'));
      expect(fs.readFileSync(file, 'utf8')).toBe('sync');
      expect(modeOf(file)).toBe(0o600);
      await writeFileSecret(file, '6869', { encoding: 'hex', flush: 'data' });
      expect(fs.readFileSync(file, 'utf8')).toBe('hi');
    } finally {
      process.umask(previous);
    }
    expect(fs.readdirSync(dir)).toEqual(['key']);
  });

  it('takes only a string or bytes, and validates before any I/O', async () => {
    const dir = tempDir('hardsync-secret-');
    const file = path.join(dir, 'never');
    await expect(writeFileSecret(file, ['a'] as never)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    await expect(writeFileSecret(file, 'a', { flush: 'none' as never })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
    await expect(writeFileSecret(file, 'a', { encoding: 'nope' as never })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
    expect(() => writeFileSecretSync(file, 42 as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => writeFileSecretSync(null as never, 'a')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(fs.readdirSync(dir)).toEqual([]);
  });
});

describe.skipIf(!hasStrace)('writeFileSecret syscall order (strace)', () => {
  for (const [op, flush, modeFlush] of [
    ['secret', undefined, 'fsync'],
    ['secretSync', undefined, 'fsync'],
    ['secret', 'data', 'fsync'],
  ] as const) {
    it(`${op}${flush ? ` (flush ${flush})` : ''}: created 0600, fchmod 0600, ${modeFlush} — all before the first data write`, () => {
      const dir = tempDir('hardsync-secret-');
      const file = path.join(dir, 'token');
      fs.writeFileSync(file, 'old public', { mode: 0o644 });
      const run = runFixture('atomic-child.js', [op, file, 'the secret', ...(flush ? [JSON.stringify({ flush })] : [])], {
        trace: 'openat,fchmod,fsync,fdatasync,pwrite64,write,close,rename',
      });
      expect(run.result).toEqual({ ok: true });
      const open = run.calls.find((c) => c.name === 'openat' && /\/\.token\.hs1-(?:[0-9a-f]{8}-){3}\d+-\d+-[0-9a-f]{12}\.tmp"/.test(c.args));
      expect(open).toBeDefined();
      expect(open!.args).toContain('O_CREAT');
      expect(open!.args).toContain('O_EXCL');
      expect(open!.args).toMatch(/, 0600$/); // never readable by others, not even for a moment
      const temp = /"([^"]+)"/.exec(open!.args)![1];
      const onTemp = run.calls.map((c, i) => ({ c, i })).filter(({ c }) => fdOf(c.args)?.path === temp);
      const first = (name: string) => onTemp.find(({ c }) => c.name === name)?.i ?? -1;
      const firstData = onTemp.find(({ c }) => c.name === 'pwrite64' || c.name === 'write')?.i ?? -1;
      const chmod = first('fchmod');
      const modeSync = first(modeFlush);
      expect(run.calls[chmod].args).toMatch(/, 0600\)?$/);
      expect(firstData).toBeGreaterThan(0);
      expect(chmod).toBeGreaterThan(run.calls.indexOf(open!));
      expect(chmod).toBeLessThan(modeSync);
      expect(modeSync).toBeLessThan(firstData);
      // no data of any kind reaches the file before the mode is durable
      for (const { c, i } of onTemp) if (c.name === 'pwrite64' || c.name === 'write') expect(i).toBeGreaterThan(modeSync);
      // then: data flushed after the last write, rename, directory fsync
      const dataFlush = onTemp.filter(({ c, i }) => i > firstData && (c.name === 'fsync' || c.name === 'fdatasync'));
      expect(dataFlush.length).toBe(1);
      expect(dataFlush[0].c.name).toBe(flush === 'data' ? 'fdatasync' : 'fsync');
      const rename = run.calls.findIndex((c) => c.name === 'rename' && c.args === `"${temp}", "${file}"`);
      expect(rename).toBeGreaterThan(dataFlush[0].i);
      expect(run.calls.findIndex((c, i) => i > rename && c.name === 'fsync' && fdOf(c.args)?.path === dir)).toBeGreaterThan(rename);
      expect(fs.readFileSync(file, 'utf8')).toBe('the secret');
      expect(modeOf(file)).toBe(0o600);
    });
  }

  it('a failing mode fsync (EIO injected) stops before any data is written and leaves nothing behind', () => {
    const dir = tempDir('hardsync-secret-');
    const file = path.join(dir, 'token');
    fs.writeFileSync(file, 'old');
    const run = runFixture('atomic-child.js', ['secretSync', file, 'never written'], {
      trace: 'fsync,pwrite64',
      inject: ['fsync:error=EIO:when=1'],
    });
    expect(run.result.error).toMatchObject({ code: 'EIO', syscall: 'fsync' });
    expect(run.calls.filter((c) => c.name === 'pwrite64' && /\.tmp>/.test(c.args))).toEqual([]);
    expect(fs.readFileSync(file, 'utf8')).toBe('old');
    expect(fs.readdirSync(dir)).toEqual(['token']);
  });
});
