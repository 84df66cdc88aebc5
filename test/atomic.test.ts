import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeFileAtomic, writeFileAtomicSync } from '../dist/lib/index.js';
import { fdOf, hasStrace, runFixture } from './helpers/strace';
import { tempDir } from './helpers/tmp';

const listing = (dir: string) => fs.readdirSync(dir).sort();
const modeOf = (file: string) => fs.statSync(file).mode & 0o7777;

describe('writeFileAtomic', () => {
  it('writes strings (with encoding), Buffers, TypedArrays, DataViews, iterables and async iterables', async () => {
    const dir = tempDir('hardsync-atomic-');
    const file = path.join(dir, 'f');
    await writeFileAtomic(file, 'héllo');
    expect(fs.readFileSync(file, 'utf8')).toBe('héllo');
    await writeFileAtomic(file, '68656c6c6f', { encoding: 'hex' });
    expect(fs.readFileSync(file, 'utf8')).toBe('hello');
    await writeFileAtomic(file, Buffer.from('buffer'));
    expect(fs.readFileSync(file, 'utf8')).toBe('buffer');
    await writeFileAtomic(file, new Uint16Array([0x6968]));
    expect(fs.readFileSync(file, 'utf8')).toBe('hi');
    const bytes = Buffer.from('xxdataviewxx');
    await writeFileAtomic(file, new DataView(bytes.buffer, bytes.byteOffset + 2, 8));
    expect(fs.readFileSync(file, 'utf8')).toBe('dataview');
    await writeFileAtomic(file, ['a', Buffer.from('b'), new Uint8Array([99])]);
    expect(fs.readFileSync(file, 'utf8')).toBe('abc');
    async function* chunks() {
      yield 'async ';
      yield Buffer.from('chunks');
    }
    await writeFileAtomic(file, chunks());
    expect(fs.readFileSync(file, 'utf8')).toBe('async chunks');
    await writeFileAtomic(file, '');
    expect(fs.readFileSync(file, 'utf8')).toBe('');
    await writeFileAtomic(file, (async function* () {})());
    expect(fs.readFileSync(file).length).toBe(0);
    expect(listing(dir)).toEqual(['f']);
  });

  it('streams a large async iterable without holding it (content checked by hash)', async () => {
    const dir = tempDir('hardsync-atomic-');
    const file = path.join(dir, 'big');
    const hash = crypto.createHash('sha256');
    async function* chunks() {
      for (let i = 0; i < 40; i++) {
        const chunk = crypto.randomBytes(512 * 1024 + i);
        hash.update(chunk);
        yield chunk;
      }
    }
    await writeFileAtomic(file, chunks(), { flush: 'data' });
    expect(crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex')).toBe(hash.digest('hex'));
  });

  it('keeps the existing mode, else uses 0o666 & ~umask, and applies an explicit mode exactly', async () => {
    const dir = tempDir('hardsync-atomic-');
    const file = path.join(dir, 'm');
    const previous = process.umask(0o027);
    try {
      await writeFileAtomic(file, 'new');
      expect(modeOf(file)).toBe(0o640);
      fs.chmodSync(file, 0o604);
      await writeFileAtomic(file, 'again');
      expect(modeOf(file)).toBe(0o604);
      await writeFileAtomic(file, 'explicit', { mode: 0o751 });
      expect(modeOf(file)).toBe(0o751);
      writeFileAtomicSync(file, 'sync keeps');
      expect(modeOf(file)).toBe(0o751);
    } finally {
      process.umask(previous);
    }
  });

  it.skipIf(process.getuid?.() !== 0)('chown sets the owner before the data goes in', async () => {
    const dir = tempDir('hardsync-atomic-');
    const file = path.join(dir, 'owned');
    await writeFileAtomic(file, 'x', { chown: { uid: 4321, gid: 4322 } });
    const stat = fs.statSync(file);
    expect([stat.uid, stat.gid]).toEqual([4321, 4322]);
    // -1 leaves the new file's own id (the process's), as fchown(2) does
    writeFileAtomicSync(file, 'y', { chown: { uid: 4323, gid: -1 } });
    expect([fs.statSync(file).uid, fs.statSync(file).gid]).toEqual([4323, process.getgid!()]);
  });

  it('rejects bad arguments before any I/O', async () => {
    const dir = tempDir('hardsync-atomic-');
    const file = path.join(dir, 'never');
    const cases: [unknown[], string][] = [
      [[42, 'x'], 'ERR_INVALID_ARG_TYPE'],
      [['', 'x'], 'ERR_INVALID_ARG_VALUE'],
      [[file, 42], 'ERR_INVALID_ARG_TYPE'],
      [[file, null], 'ERR_INVALID_ARG_TYPE'],
      [[file, 'x', 'utf8'], 'ERR_INVALID_ARG_TYPE'],
      [[file, 'x', { encoding: 'klingon' }], 'ERR_INVALID_ARG_VALUE'],
      [[file, 'x', { mode: 0o10000 }], 'ERR_OUT_OF_RANGE'],
      [[file, 'x', { mode: '644' }], 'ERR_INVALID_ARG_TYPE'],
      [[file, 'x', { flush: 'fsync' }], 'ERR_INVALID_ARG_VALUE'],
      [[file, 'x', { chown: { uid: 'root', gid: 0 } }], 'ERR_INVALID_ARG_TYPE'],
      [[file, 'x', { chown: { uid: 1.5, gid: 0 } }], 'ERR_OUT_OF_RANGE'],
      [[file, 'x', { signal: {} }], 'ERR_INVALID_ARG_TYPE'],
    ];
    for (const [args, code] of cases) {
      await expect((writeFileAtomic as (...a: unknown[]) => Promise<void>)(...args)).rejects.toMatchObject({ code });
      if (!(args[2] as { signal?: unknown } | undefined)?.signal) {
        expect(() => (writeFileAtomicSync as (...a: unknown[]) => void)(...args)).toThrow(expect.objectContaining({ code }));
      }
    }
    expect(() => writeFileAtomicSync(file, (async function* () {})() as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(listing(dir)).toEqual([]);
  });

  it('on an error the temp file is removed, the target untouched, and the error names the step and path', async () => {
    const dir = tempDir('hardsync-atomic-');
    const file = path.join(dir, 'target');
    fs.writeFileSync(file, 'old');
    // a chunk of the wrong type half-way through a stream
    await expect(writeFileAtomic(file, ['good', 42 as never])).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    expect(() => writeFileAtomicSync(file, ['good', 42 as never])).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    // rename over a directory fails at the rename step
    const blocked = path.join(dir, 'is-a-dir');
    fs.mkdirSync(path.join(blocked, 'child'), { recursive: true });
    const error = await writeFileAtomic(blocked, 'x').catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'EISDIR', syscall: 'rename', dest: blocked });
    expect((error as { path: string }).path).toMatch(new RegExp(`^${dir}/\\.is-a-dir\\.hs1-(?:[0-9a-f]{8}-){3}\\d+-\\d+-[0-9a-f]{12}\\.tmp$`));
    expect(() => writeFileAtomicSync(blocked, 'x')).toThrow(expect.objectContaining({ code: 'EISDIR', syscall: 'rename' }));
    // a missing directory fails at the open step
    const missing = path.join(dir, 'no-such-dir', 'f');
    const openError = await writeFileAtomic(missing, 'x').catch((e: unknown) => e);
    expect(openError).toMatchObject({ code: 'ENOENT', syscall: 'open' });
    expect((openError as { path: string }).path).toContain(path.join(dir, 'no-such-dir'));
    expect(fs.readFileSync(file, 'utf8')).toBe('old');
    expect(listing(dir)).toEqual(['is-a-dir', 'target']);
  });

  it('abort: a pre-aborted signal does nothing; an abort mid-stream keeps the old file and leaves no temp file', async () => {
    const dir = tempDir('hardsync-atomic-');
    const file = path.join(dir, 'target');
    fs.writeFileSync(file, 'old');
    const aborted = AbortSignal.abort(new Error('stop'));
    await expect(writeFileAtomic(file, 'new', { signal: aborted })).rejects.toMatchObject({ name: 'AbortError', code: 'ABORT_ERR' });
    const controller = new AbortController();
    let produced = 0;
    async function* chunks() {
      for (;;) {
        produced++;
        if (produced === 5) controller.abort();
        yield Buffer.alloc(64 * 1024, 0x6e);
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    const error = await writeFileAtomic(file, chunks(), { signal: controller.signal }).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'AbortError', code: 'ABORT_ERR' });
    expect(produced).toBeLessThan(10);
    expect(fs.readFileSync(file, 'utf8')).toBe('old');
    expect(listing(dir)).toEqual(['target']);
  });

  it('concurrent calls on one path are serialized: the last call wins, every call resolves, no temp file is left', async () => {
    const dir = tempDir('hardsync-atomic-');
    const file = path.join(dir, 'shared');
    const order: number[] = [];
    const calls = Array.from({ length: 40 }, (_, i) =>
      writeFileAtomic(file, `${i}:`.padEnd(1000 + ((i * 37) % 500), String(i % 10))).then(() => order.push(i)),
    );
    // a different spelling of the same path joins the same queue
    calls.push(writeFileAtomic(path.join(dir, '.', 'shared'), 'last').then(() => order.push(40)));
    await Promise.all(calls);
    expect(order).toEqual(Array.from({ length: 41 }, (_, i) => i));
    expect(fs.readFileSync(file, 'utf8')).toBe('last');
    expect(listing(dir)).toEqual(['shared']);
  });

  it('a symbolic link at the path is replaced, not followed', async () => {
    const dir = tempDir('hardsync-atomic-');
    fs.writeFileSync(path.join(dir, 'real'), 'real');
    fs.symlinkSync(path.join(dir, 'real'), path.join(dir, 'link'));
    await writeFileAtomic(path.join(dir, 'link'), 'new');
    expect(fs.lstatSync(path.join(dir, 'link')).isSymbolicLink()).toBe(false);
    expect(fs.readFileSync(path.join(dir, 'real'), 'utf8')).toBe('real');
    expect(fs.readFileSync(path.join(dir, 'link'), 'utf8')).toBe('new');
  });
});

describe.skipIf(!hasStrace)('writeFileAtomic syscalls (strace)', () => {
  for (const op of ['atomic', 'atomicSync', 'atomicStream']) {
    it(`${op}: O_EXCL|O_NOFOLLOW|O_CLOEXEC temp 0600 -> fchmod -> write -> fsync -> close -> rename -> directory fsync`, () => {
      const dir = tempDir('hardsync-atomic-');
      const file = path.join(dir, 'cfg');
      fs.writeFileSync(file, 'old');
      fs.chmodSync(file, 0o640);
      const run = runFixture('atomic-child.js', [op, file, 'one,two,three'], {
        trace: 'openat,fchmod,pwrite64,write,fsync,fdatasync,close,rename',
      });
      expect(run.result).toEqual({ ok: true });
      const open = run.calls.find((c) => c.name === 'openat' && /\/\.cfg\.hs1-(?:[0-9a-f]{8}-){3}\d+-\d+-[0-9a-f]{12}\.tmp"/.test(c.args));
      expect(open).toBeDefined();
      for (const flag of ['O_CREAT', 'O_EXCL', 'O_NOFOLLOW', 'O_CLOEXEC']) expect(open!.args).toContain(flag);
      expect(open!.args).toMatch(/, 0600$/);
      const temp = /"([^"]+)"/.exec(open!.args)![1];
      const onTemp = (name: string) => run.calls.findIndex((c) => c.name === name && fdOf(c.args)?.path === temp);
      const opened = run.calls.indexOf(open!);
      const chmod = onTemp('fchmod');
      const write = onTemp('pwrite64');
      const flush = onTemp('fsync');
      const close = onTemp('close');
      const rename = run.calls.findIndex((c) => c.name === 'rename' && c.args === `"${temp}", "${file}"`);
      const dirFsync = run.calls.findIndex((c, i) => i > rename && c.name === 'fsync' && fdOf(c.args)?.path === dir);
      expect(run.calls[chmod].args).toMatch(/, 0640$/);
      expect([opened, chmod, write, flush, close, rename, dirFsync].every((i) => i >= 0)).toBe(true);
      expect(opened).toBeLessThan(chmod);
      expect(chmod).toBeLessThan(write);
      // every data write comes before the flush
      const lastWrite = run.calls.map((c, i) => (c.name === 'pwrite64' && fdOf(c.args)?.path === temp ? i : -1)).reduce((a, b) => Math.max(a, b));
      expect(lastWrite).toBeLessThan(flush);
      expect(flush).toBeLessThan(close);
      expect(close).toBeLessThan(rename);
      expect(rename).toBeLessThan(dirFsync);
      expect(fs.readFileSync(file, 'utf8')).toBe(op === 'atomicStream' ? 'onetwothree' : 'one,two,three');
      expect(modeOf(file)).toBe(0o640);
    });
  }

  it("flush: 'data' flushes the temp file with fdatasync", () => {
    const dir = tempDir('hardsync-atomic-');
    const run = runFixture('atomic-child.js', ['atomic', path.join(dir, 'f'), 'x', JSON.stringify({ flush: 'data' })], {
      trace: 'fsync,fdatasync',
    });
    expect(run.result.ok).toBe(true);
    expect(run.calls.some((c) => c.name === 'fdatasync' && /\.tmp>/.test(c.args))).toBe(true);
    expect(run.calls.some((c) => c.name === 'fsync' && /\.tmp>/.test(c.args))).toBe(false);
  });

  for (const [syscall, reported] of [
    ['fsync', 'fsync'],
    ['pwrite64', 'pwrite'],
    ['rename', 'rename'],
  ] as const) {
    for (const op of ['atomic', 'atomicSync']) {
      for (const code of ['EIO', 'ENOSPC', 'EDQUOT'] as const) {
      it(`${op}: a failing ${syscall} (${code} injected) leaves the old file, no temp file, and names the step`, () => {
        const dir = tempDir('hardsync-atomic-');
        const file = path.join(dir, 'keep');
        fs.writeFileSync(file, 'old');
        const run = runFixture('atomic-child.js', [op, file, 'new'], { trace: syscall, inject: [`${syscall}:error=${code}:when=1`] });
        expect(run.calls.some((c) => c.result.includes('INJECTED'))).toBe(true);
        expect(run.result.ok).toBe(false);
        expect(run.result.error).toMatchObject({ code, errno: -os.constants.errno[code], syscall: reported });
        expect(run.result.error.path).toMatch(/\/\.keep\.hs1-(?:[0-9a-f]{8}-){3}\d+-\d+-[0-9a-f]{12}\.tmp$/);
        expect(run.result.error.message).toContain(run.result.error.path);
        expect(fs.readFileSync(file, 'utf8')).toBe('old');
        expect(listing(dir)).toEqual(['keep']);
      });
      }
    }
  }
});
