// Each name calls the syscall capabilities() says it does: the calls are recorded with strace
// (-P: only syscalls touching the test file) and compared with the table.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as hs from '../dist/lib/index.js';
import { hasStrace, joinedStraceLines, straceEngineEnv } from './helpers/strace';
import { diskTempDir } from './helpers/tmp';

const strace = hasStrace;
const linux = hs.platform === 'linux';
if (!strace) console.warn('SKIPPED test/syscalls.test.ts: strace is not installed (apt-get install strace)');

let dir: string;
let cleanup: () => void;
beforeAll(() => {
  ({ dir, cleanup } = diskTempDir());
});
afterAll(() => cleanup());

describe.skipIf(!strace || !linux)('syscalls under strace (Linux)', () => {
  it('each primitive makes exactly the syscall it is documented to make', () => {
    const file = path.join(dir, 'traced.bin');
    const log = path.join(dir, 'strace.log');
    execFileSync('strace', [
      '-f', '-qq', '-o', log, '-P', file, '-P', `${file}.renamed`,
      '-e', 'trace=openat,fsync,fdatasync,sync_file_range,syncfs,fallocate,pwrite64,flock,rename,renameat,renameat2',
      process.execPath, path.join(__dirname, 'fixtures', 'core', 'each-call.js'), file,
    ], { env: { ...process.env, ...straceEngineEnv, HARDSYNC_ROOT: path.resolve(__dirname, '..') } });
    const calls = fs.readFileSync(log, 'utf8').split('\n')
      .map((line) => line.replace(/^\d+\s+/, ''))
      .filter((line) => line && !line.includes('resumed>') && !line.startsWith('+++') && !line.startsWith('---'))
      .map((line) => line.replace(/\s+<unfinished \.\.\.>$/, ''));
    const names = calls.map((line) => line.slice(0, line.indexOf('(')));
    expect(names).toEqual([
      'openat', // openSync
      'fsync', // fsyncSync
      'fdatasync', // fdatasyncSync
      'fsync', // fullFsyncSync: Linux fsync flushes the device cache
      'fdatasync', // barrierFsyncSync: no ordering-only call on Linux
      'sync_file_range',
      'syncfs',
      'fallocate',
      'pwrite64', 'fdatasync', // writeDurableSync flush 'data'
      'flock',
      'fsync', // fsync (async)
      'fdatasync', // fdatasync (async)
      'pwrite64', 'fsync', // writeDurable flush 'full'
      'rename', // replaceFileSync
    ]);
    expect(calls[0]).toMatch(/O_WRONLY\|O_CREAT\|O_DSYNC\|O_CLOEXEC/);
    expect(calls[5]).toMatch(/SYNC_FILE_RANGE_WAIT_BEFORE\|SYNC_FILE_RANGE_WRITE\|SYNC_FILE_RANGE_WAIT_AFTER/);
    expect(calls[7]).toMatch(/fallocate\(\d+(<[^>]*>)?, 0, 0, 8192\)/);
    expect(calls[10]).toMatch(/LOCK_EX\|LOCK_NB/);
    // The table says the same thing the trace shows.
    const table = hs.capabilitiesSync().calls;
    expect(table.fullFsync.syscall).toMatch(/^fsync\(2\)/);
    expect(table.barrierFsync.syscall).toMatch(/^fdatasync\(2\)/);
    expect(table.preallocate.syscall).toMatch(/^fallocate\(2\)/);
    expect(table.replaceFile.syscall).toBe('rename(2)');
  });

  it('(the helper that reads the traces joins a call another thread interrupted into one line)', () => {
    const log = ['12 mmap(NULL, 12288, PROT_READ, MAP_SHARED, 17</f>, 0 <unfinished ...>', '13 msync(0x7f00, 10, MS_SYNC) = 0', '12 <... mmap resumed>) = 0x7f00', '13 +++ exited with 0 +++'].join('\n');
    expect(joinedStraceLines(log)).toEqual(['mmap(NULL, 12288, PROT_READ, MAP_SHARED, 17</f>, 0) = 0x7f00', 'msync(0x7f00, 10, MS_SYNC) = 0', '+++ exited with 0 +++']);
  });

  it('mapFile is mmap(MAP_SHARED, PROT_READ|PROT_WRITE) from the page below the offset; msync is msync(MS_SYNC) of the pages of the range, in both forms; unmapFile is munmap', () => {
    const file = path.join(dir, 'mapped.bin');
    fs.writeFileSync(file, Buffer.alloc(3 * 4096));
    const log = path.join(dir, 'strace-mapped.log');
    const script = `
      const hs = require(${JSON.stringify(path.resolve(__dirname, '..'))});
      const fd = require('node:fs').openSync(${JSON.stringify(file)}, 'r+');
      const map = hs.mapFileSync(fd, { offset: 100 });
      map.fill(1);
      hs.msyncSync(map, { offset: 5000, length: 10 });
      hs.msync(map).then(() => hs.unmapFile(map));`;
    execFileSync('strace', ['-f', '-qq', '-y', '-o', log, '-e', 'trace=mmap,msync,munmap', process.execPath, '-e', script], {
      env: { ...process.env, ...straceEngineEnv },
    });
    const lines = joinedStraceLines(fs.readFileSync(log, 'utf8'));
    const mmap = lines.find((line) => line.startsWith('mmap(') && line.includes(`<${file}>`));
    expect(mmap, lines.join('\n')).toMatch(new RegExp(`^mmap\\(NULL, 12288, PROT_READ\\|PROT_WRITE, MAP_SHARED, \\d+<${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}>, 0\\) = (0x[0-9a-f]+)$`));
    const base = BigInt(/= (0x[0-9a-f]+)$/.exec(mmap!)![1]);
    const at = (offset: number): string => `0x${(base + BigInt(offset)).toString(16)}`;
    const calls = lines;
    expect(lines.filter((line) => /^msync.* = -1/.test(line))).toEqual([]);
    // The range [100 + 5000, +10) starts on the second page: msync from there, 5100 - 4096 + 10 bytes.
    expect(calls).toContainEqual(expect.stringMatching(new RegExp(`^msync\\(${at(4096)}, 1014, MS_SYNC\\)\\s+= 0$`)));
    // The whole view (the Promise form, on a flush thread): from the first page, where the view starts 100 bytes in.
    expect(calls).toContainEqual(expect.stringMatching(new RegExp(`^msync\\(${at(0)}, 12288, MS_SYNC\\)\\s+= 0$`)));
    expect(calls).toContainEqual(expect.stringMatching(new RegExp(`^munmap\\(${at(0)}, 12288\\)\\s+= 0$`)));
    const table = hs.capabilitiesSync().calls;
    expect(table.mapFile.syscall).toMatch(/mmap\(2\) MAP_SHARED/);
    expect(table.msync).toMatchObject({ supported: true, durable: true, syscall: expect.stringMatching(/^msync\(2\) MS_SYNC/) });
  });

  it('fsyncDir opens the directory O_DIRECTORY and fsyncs it', () => {
    const log = path.join(dir, 'strace-dir.log');
    const script = `require(${JSON.stringify(path.resolve(__dirname, '..'))}).fsyncDirSync(${JSON.stringify(dir)})`;
    execFileSync('strace', ['-f', '-qq', '-o', log, '-P', dir, '-e', 'trace=openat,fsync,close', process.execPath, '-e', script], { env: { ...process.env, ...straceEngineEnv } });
    const lines = fs.readFileSync(log, 'utf8').split('\n').map((line) => line.replace(/^\d+\s+/, '')).filter(Boolean);
    const open = lines.findIndex((line) => /^openat\(AT_FDCWD, "[^"]*", O_RDONLY\|/.test(line)
      && line.includes('O_DIRECTORY') && line.includes('O_CLOEXEC') && !line.includes('O_NONBLOCK'));
    expect(open).toBeGreaterThanOrEqual(0);
    const fd = /= (\d+)$/.exec(lines[open])![1];
    expect(lines.slice(open + 1)).toEqual(expect.arrayContaining([expect.stringMatching(new RegExp(`^fsync\\(${fd}(<[^>]*>)?\\)\\s+= 0`))]));
  });
});
