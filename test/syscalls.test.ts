// Each name calls the syscall capabilities() says it does: the calls are recorded with strace
// (-P: only syscalls touching the test file) and compared with the table.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as hs from '../dist/lib/index.js';
import { hasStrace, straceEngineEnv } from './helpers/strace';
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
