// Every primitive on a real filesystem (ext4 under /tmp), sync and async, with what it did
// checked from outside the call: bytes read back, sizes and blocks from fstat, open flags from
// /proc/self/fdinfo, and (test/syscalls.test.ts) the syscalls themselves under strace.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as hs from '../dist/lib/index.js';
import { diskTempDir, fdFlags, filesystemType } from './helpers/tmp';

const linux = hs.platform === 'linux';
let dir: string;
let cleanup: () => void;

beforeAll(() => {
  ({ dir, cleanup } = diskTempDir());
});
afterAll(() => cleanup());

function freshFile(name: string, content = 'hello'): { file: string; fd: number } {
  const file = path.join(dir, name);
  fs.writeFileSync(file, content);
  return { file, fd: fs.openSync(file, 'r+') };
}

describe('test set-up', () => {
  it('runs on a disk filesystem, not tmpfs', () => {
    const type = filesystemType(dir);
    expect(type).toBeDefined();
    expect(type).not.toBe('tmpfs');
  });
});

describe.each([
  ['fsync', hs.fsync, hs.fsyncSync],
  ['fdatasync', hs.fdatasync, hs.fdatasyncSync],
  ['fullFsync', hs.fullFsync, hs.fullFsyncSync],
  ['barrierFsync', hs.barrierFsync, hs.barrierFsyncSync],
  ['syncfs', hs.syncfs, hs.syncfsSync],
] as const)('%s', (name, asyncCall, syncCall) => {
  const capability = hs.capabilitiesSync().calls[name];

  it('flushes a written file (sync and Promise forms), or says it is unsupported', async () => {
    const { file, fd } = freshFile(`${name}.txt`);
    try {
      fs.writeSync(fd, 'written before the flush', 0);
      if (capability.supported) {
        expect(syncCall(fd)).toBeUndefined();
        const promise = asyncCall(fd);
        expect(promise).toBeInstanceOf(Promise);
        await expect(promise).resolves.toBeUndefined();
        expect(fs.readFileSync(file, 'utf8')).toBe('written before the flush');
      } else {
        expect(() => syncCall(fd)).toThrow(expect.objectContaining({ code: 'ERR_HARDSYNC_UNSUPPORTED' }));
        await expect(asyncCall(fd)).rejects.toMatchObject({ code: 'ERR_HARDSYNC_UNSUPPORTED' });
      }
    } finally {
      fs.closeSync(fd);
    }
  });

  it('works on a FileHandle.fd', async () => {
    const { file, fd } = freshFile(`${name}-fh.txt`);
    fs.closeSync(fd);
    const handle = await fs.promises.open(file, 'r+');
    try {
      await handle.write('via FileHandle', 0);
      if (capability.supported) await expect(asyncCall(handle.fd)).resolves.toBeUndefined();
    } finally {
      await handle.close();
    }
  });

  it('reports a closed fd as EBADF with the real syscall name', async () => {
    if (!capability.supported) return;
    const { fd } = freshFile(`${name}-closed.txt`);
    fs.closeSync(fd);
    const expected = { code: 'EBADF', errno: -9, syscall: name === 'fullFsync' ? 'fsync' : name === 'barrierFsync' ? 'fdatasync' : name };
    if (!linux) delete (expected as { syscall?: string }).syscall;
    expect(() => syncCall(fd)).toThrow(expect.objectContaining(expected));
    await expect(asyncCall(fd)).rejects.toMatchObject(expected);
  });
});

describe('syncFileRange', () => {
  const supported = hs.capabilitiesSync().calls.syncFileRange.supported;
  const { SYNC_FILE_RANGE_WAIT_BEFORE, SYNC_FILE_RANGE_WRITE, SYNC_FILE_RANGE_WAIT_AFTER } = hs.constants;

  it('starts and waits for writeback of a range', async () => {
    const { file, fd } = freshFile('sfr.txt', '');
    try {
      fs.writeSync(fd, Buffer.alloc(64 * 1024, 1), 0);
      const all = SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER;
      if (supported) {
        expect(all).toBe(7);
        hs.syncFileRangeSync(fd, 0, 0, all);
        await hs.syncFileRange(fd, 4096, 8192, SYNC_FILE_RANGE_WRITE);
        expect(fs.statSync(file).size).toBe(64 * 1024);
      } else {
        expect(() => hs.syncFileRangeSync(fd, 0, 0, 0)).toThrow(expect.objectContaining({ code: 'ERR_HARDSYNC_UNSUPPORTED' }));
      }
    } finally {
      fs.closeSync(fd);
    }
  });

  it('rejects flags outside the three SYNC_FILE_RANGE_* bits before any I/O', () => {
    expect(() => hs.syncFileRangeSync(0, 0, 0, 8)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
  });
});

describe('fsyncDir', () => {
  it('fsyncs a directory, sync and async, and names the path on failure', async () => {
    if (!hs.capabilitiesSync().calls.fsyncDir.supported) {
      await expect(hs.fsyncDir(dir)).rejects.toMatchObject({ code: 'ERR_HARDSYNC_UNSUPPORTED' });
      return;
    }
    hs.fsyncDirSync(dir);
    await hs.fsyncDir(dir);
    await hs.fsyncDir(new URL(`file://${dir}`));
    await hs.fsyncDir(Buffer.from(dir));
    const missing = path.join(dir, 'no-such-dir');
    expect(() => hs.fsyncDirSync(missing)).toThrow(expect.objectContaining({ code: 'ENOENT', syscall: 'open', path: missing }));
    const notDir = freshFile('plain-file');
    fs.closeSync(notDir.fd);
    await expect(hs.fsyncDir(notDir.file)).rejects.toMatchObject({ code: 'ENOTDIR', syscall: 'open', path: notDir.file });
  });
});

describe('open', () => {
  it('returns a plain fd node:fs can use, opened O_CLOEXEC', async () => {
    const file = path.join(dir, 'open-plain.txt');
    const fd = await hs.open(file, { write: true, create: true, mode: 0o640 });
    try {
      expect(Number.isInteger(fd)).toBe(true);
      fs.writeSync(fd, 'abc');
      expect(fs.readFileSync(file, 'utf8')).toBe('abc');
      expect(fs.statSync(file).mode & 0o777).toBe(0o640 & ~process.umask());
      if (linux) expect(fdFlags(fd) & hs.constants.O_CLOEXEC).toBe(hs.constants.O_CLOEXEC);
    } finally {
      fs.closeSync(fd);
    }
  });

  it.each([
    ['dsync', 'O_DSYNC'],
    ['sync', 'O_SYNC'],
    ['direct', 'O_DIRECT'],
    ['append', 'O_APPEND'],
  ] as const)('sets %s as %s', (option, flag) => {
    const file = path.join(dir, `open-${option}.bin`);
    const fd = hs.openSync(file, { write: true, create: true, [option]: true });
    try {
      if (linux) expect(fdFlags(fd) & hs.constants[flag]).toBe(hs.constants[flag]);
    } finally {
      fs.closeSync(fd);
    }
  });

  it('defaults to read-only and honours truncate and exclusive', async () => {
    const { file, fd: first } = freshFile('open-modes.txt', 'old content');
    fs.closeSync(first);
    const readOnly = hs.openSync(file);
    try {
      expect(() => fs.writeSync(readOnly, 'x')).toThrow(expect.objectContaining({ code: 'EBADF' }));
      if (linux) expect(fdFlags(readOnly) & 3).toBe(hs.constants.O_RDONLY);
    } finally {
      fs.closeSync(readOnly);
    }
    fs.closeSync(hs.openSync(file, { write: true, truncate: true }));
    expect(fs.readFileSync(file, 'utf8')).toBe('');
    await expect(hs.open(file, { write: true, create: true, exclusive: true })).rejects.toMatchObject({
      code: 'EEXIST', syscall: 'open', path: file, message: `EEXIST: file already exists, open '${file}'`,
    });
  });

  it('refuses to follow a symlink with nofollow', () => {
    const target = freshFile('open-target.txt');
    fs.closeSync(target.fd);
    const link = path.join(dir, 'open-link');
    fs.symlinkSync(target.file, link);
    expect(() => hs.openSync(link, { nofollow: true })).toThrow(expect.objectContaining({ code: 'ELOOP', path: link }));
    fs.closeSync(hs.openSync(link));
  });

  it('closes nothing it did not open', () => {
    const { fd } = freshFile('open-keep.txt');
    expect(() => hs.openSync(path.join(dir, 'missing', 'x'))).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    expect(fs.fstatSync(fd).isFile()).toBe(true);
    fs.closeSync(fd);
  });
});

describe('preallocate', () => {
  it('reserves blocks and extends the size, sync and async', async () => {
    const { file, fd } = freshFile('prealloc.bin', '');
    try {
      hs.preallocateSync(fd, 0, 1 << 20);
      let stat = fs.fstatSync(fd);
      expect(stat.size).toBe(1 << 20);
      expect(stat.blocks * 512).toBeGreaterThanOrEqual(1 << 20);
      await hs.preallocate(fd, 1 << 20, 1 << 20);
      stat = fs.statSync(file);
      expect(stat.size).toBe(2 << 20);
      expect(stat.blocks * 512).toBeGreaterThanOrEqual(2 << 20);
      await hs.preallocate(fd, 0, 4096); // inside the file: nothing changes
      expect(fs.fstatSync(fd).size).toBe(2 << 20);
    } finally {
      fs.closeSync(fd);
    }
  });

  it('fails with EBADF on a read-only fd', () => {
    const { file, fd } = freshFile('prealloc-ro.bin');
    fs.closeSync(fd);
    const readOnly = fs.openSync(file, 'r');
    try {
      expect(() => hs.preallocateSync(readOnly, 0, 4096)).toThrow(expect.objectContaining({ code: 'EBADF' }));
    } finally {
      fs.closeSync(readOnly);
    }
  });
});

describe('writeDurable', () => {
  it('writes every byte at the position, flushes, and returns the byte count', async () => {
    const { file, fd } = freshFile('wd.bin', '');
    try {
      const data = Buffer.alloc(3 * 1024 * 1024 + 17);
      for (let i = 0; i < data.length; i++) data[i] = (i * 7) & 0xff;
      expect(await hs.writeDurable(fd, data, 0)).toBe(data.length);
      expect(hs.writeDurableSync(fd, Buffer.from('tail'), data.length, { flush: 'full' })).toBe(4);
      const back = fs.readFileSync(file);
      expect(back.subarray(0, data.length).equals(data)).toBe(true);
      expect(back.subarray(data.length).toString()).toBe('tail');
    } finally {
      fs.closeSync(fd);
    }
  });

  it.each(['none', 'data', 'full', 'fsync', 'barrier'] as const)('takes flush %s', async (flush) => {
    const { file, fd } = freshFile(`wd-${flush}.bin`, '');
    try {
      expect(await hs.writeDurable(fd, new Uint16Array([0x4142, 0x4344]), 0, { flush })).toBe(4);
      expect(hs.writeDurableSync(fd, new DataView(Buffer.from('xyz').buffer, 0, 3), 4, { flush })).toBe(3);
      expect(fs.readFileSync(file).length).toBe(7);
    } finally {
      fs.closeSync(fd);
    }
  });

  it('writes at the current position (O_APPEND) when position is null', async () => {
    const file = path.join(dir, 'wd-append.log');
    const fd = hs.openSync(file, { write: true, create: true, append: true });
    try {
      await hs.writeDurable(fd, Buffer.from('one\n'), null);
      hs.writeDurableSync(fd, Buffer.from('two\n'), null);
      await hs.writeDurable(fd, Buffer.from('three\n'), undefined as unknown as null);
      expect(fs.readFileSync(file, 'utf8')).toBe('one\ntwo\nthree\n');
    } finally {
      fs.closeSync(fd);
    }
  });

  it('lets the caller reuse the buffer as soon as the Promise form returns', async () => {
    const { file, fd } = freshFile('wd-reuse.bin', '');
    try {
      const data = Buffer.alloc(1 << 20, 0x61);
      const pending = hs.writeDurable(fd, data, 0);
      data.fill(0x62);
      await pending;
      expect(fs.readFileSync(file).every((byte) => byte === 0x61)).toBe(true);
    } finally {
      fs.closeSync(fd);
    }
  });

  it('reports a write to a read-only fd with bytesWritten 0', async () => {
    const { file, fd } = freshFile('wd-ro.bin');
    fs.closeSync(fd);
    const readOnly = fs.openSync(file, 'r');
    try {
      await expect(hs.writeDurable(readOnly, Buffer.from('x'), 0)).rejects.toMatchObject({ code: 'EBADF', syscall: linux ? 'pwrite' : expect.any(String), bytesWritten: 0 });
    } finally {
      fs.closeSync(readOnly);
    }
  });
});

describe('replaceFile', () => {
  it('replaces the target in one step and names both paths on failure', async () => {
    const from = freshFile('replace-new.txt', 'new');
    const to = freshFile('replace-old.txt', 'old');
    fs.closeSync(from.fd);
    fs.closeSync(to.fd);
    await hs.replaceFile(from.file, to.file);
    expect(fs.readFileSync(to.file, 'utf8')).toBe('new');
    expect(fs.existsSync(from.file)).toBe(false);
    const missing = path.join(dir, 'replace-missing');
    expect(() => hs.replaceFileSync(missing, to.file)).toThrow(expect.objectContaining({
      code: 'ENOENT', path: missing, dest: to.file,
      message: `ENOENT: no such file or directory, ${linux ? 'rename' : 'MoveFileExW'} '${missing}' -> '${to.file}'`,
    }));
  });
});

describe('lockFile', () => {
  it('excludes a second open of the same file until unlocked', async () => {
    const { file, fd } = freshFile('lock.bin');
    const other = fs.openSync(file, 'r+');
    try {
      await hs.lockFile(fd);
      expect(() => hs.lockFileSync(other)).toThrow(expect.objectContaining({ code: linux ? 'EAGAIN' : expect.any(String) }));
      await hs.unlockFile(fd);
      hs.lockFileSync(other, { shared: true });
      hs.lockFileSync(fd, { shared: true });
      hs.unlockFileSync(other);
      hs.unlockFileSync(fd);
    } finally {
      fs.closeSync(other);
      fs.closeSync(fd);
    }
  });

  it('waits for the lock with wait: true', async () => {
    const { file, fd } = freshFile('lock-wait.bin');
    const other = fs.openSync(file, 'r+');
    try {
      hs.lockFileSync(fd);
      let acquired = false;
      const waiting = hs.lockFile(other, { wait: true }).then(() => {
        acquired = true;
      });
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(acquired).toBe(false);
      hs.unlockFileSync(fd);
      await waiting;
      expect(acquired).toBe(true);
    } finally {
      fs.closeSync(other);
      fs.closeSync(fd);
    }
  });
});

describe('dioAlignment', () => {
  it('reads statx(STATX_DIOALIGN) on ext4, for a path and an fd', async () => {
    const { file, fd } = freshFile('dio.bin');
    try {
      const byPath = await hs.dioAlignment(dir);
      const byFd = hs.dioAlignmentSync(fd);
      for (const result of [byPath, byFd]) {
        expect(result.memory).toBeGreaterThan(0);
        expect(result.offset).toBeGreaterThan(0);
        expect(result.memory & (result.memory - 1)).toBe(0);
        expect(result.offset & (result.offset - 1)).toBe(0);
        expect(result.source).toMatch(/\S/);
      }
      // statx answers for regular files; for a directory the block device's figure stands in.
      if (linux && ['ext4', 'xfs'].includes(filesystemType(dir) ?? '')) expect(byFd.source).toBe('statx(STATX_DIOALIGN)');
      expect({ memory: byPath.memory, offset: byPath.offset }).toEqual({ memory: byFd.memory, offset: byFd.offset });
      await expect(hs.dioAlignment(path.join(file, 'x'))).rejects.toMatchObject({ code: 'ENOTDIR' });
    } finally {
      fs.closeSync(fd);
    }
  });
});

describe('capabilities', () => {
  it('lists every call with a syscall, for the OS and for a probed path', async () => {
    const table = hs.capabilitiesSync();
    expect(table.platform).toBe(hs.platform);
    const names = ['fsync', 'fdatasync', 'fullFsync', 'barrierFsync', 'syncFileRange', 'syncfs', 'fsyncDir', 'open',
      'openDsync', 'openSync', 'openDirect', 'preallocate', 'writeDurable', 'replaceFile', 'dioAlignment', 'lockFile',
      'mapFile', 'msync', 'mapSync'];
    expect(Object.keys(table.calls).sort()).toEqual([...names].sort());
    for (const name of names) expect(table.calls[name as keyof typeof table.calls].syscall).toMatch(/\S/);
    const probed = await hs.capabilities(dir);
    expect(probed.path).toBe(dir);
    const sample = freshFile('cap-sample.bin');
    expect(probed.dioAlignment).toEqual(hs.dioAlignmentSync(sample.fd));
    fs.closeSync(sample.fd);
    expect(probed.calls.openDirect.supported).toBe(table.calls.openDirect.supported);
    expect(fs.readdirSync(dir).filter((name) => name.startsWith('.hardsync-probe'))).toEqual([]);
  });

  it('is what the calls really do: every call it says is supported succeeds here', async () => {
    const { calls } = await hs.capabilities(dir);
    const { fd } = freshFile('cap-truth.bin');
    try {
      expect(calls.openDirect.supported).toBe(true);
      fs.closeSync(hs.openSync(path.join(dir, 'cap-direct.bin'), { write: true, create: true, direct: true }));
      fs.closeSync(hs.openSync(path.join(dir, 'cap-dsync.bin'), { write: true, create: true, dsync: true }));
      for (const [name, call] of [['fsync', hs.fsyncSync], ['fdatasync', hs.fdatasyncSync], ['fullFsync', hs.fullFsyncSync],
        ['barrierFsync', hs.barrierFsyncSync], ['syncfs', hs.syncfsSync]] as const) {
        if (calls[name].supported) call(fd);
        else expect(() => call(fd)).toThrow(expect.objectContaining({ code: 'ERR_HARDSYNC_UNSUPPORTED' }));
      }
      fs.writeSync(fd, 'x', 0);
      const mapped = hs.mapFileSync(fd);
      hs.msyncSync(mapped);
      hs.unmapFile(mapped);
      if (calls.mapSync.supported) hs.unmapFile(hs.mapFileSync(fd, { sync: true }));
      else expect(() => hs.mapFileSync(fd, { sync: true })).toThrow(expect.objectContaining({ code: 'ERR_HARDSYNC_UNSUPPORTED' }));
    } finally {
      fs.closeSync(fd);
    }
  });

  it('exposes this platform\'s constants, 0 where absent', () => {
    expect(Object.isFrozen(hs.constants)).toBe(true);
    if (linux) {
      expect(hs.constants.O_DSYNC).toBe(0o10000);
      expect(hs.constants.O_DIRECT).toBe(0o40000);
      expect(hs.constants.SYNC_FILE_RANGE_WRITE).toBe(2);
      expect(hs.constants.F_FULLFSYNC).toBe(0);
    }
  });
});
