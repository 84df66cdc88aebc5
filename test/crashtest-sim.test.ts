// What the power-cut simulator (powercut/README.md) gives `hardsync crashtest` beyond the model
// the other power-cut tests check: the acknowledgements file, the cut points after a flush and
// in the middle of a write, the notice of a cut, and a build without warnings.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import * as hs from '../dist/lib/index.js';
import { PowercutFs, powercutUnavailable } from './helpers/powercut';
import { tempDir } from './helpers/tmp';

const unavailable = powercutUnavailable();
if (unavailable) console.warn(`[powercut] skipped: ${unavailable}`);

const { O_WRONLY, O_DSYNC, O_SYNC } = fs.constants;

describe.skipIf(unavailable !== undefined)('powercut-fs for crashtest', () => {
  let pfs: PowercutFs;
  let counter = 0;

  beforeAll(async () => {
    pfs = await PowercutFs.mount();
  });
  afterAll(async () => {
    await pfs?.unmount();
  });
  afterEach(() => {
    const status = pfs.status();
    expect(status.backingErrors, pfs.log).toBe(0);
    expect(status.unmodelled, pfs.log).toBe(0);
    pfs.disarm();
    pfs.recordAcks(null);
    pfs.reboot();
  });

  /** A fresh, durable directory holding `a` with `content`, durable too. */
  function freshFile(content: string | Buffer): string {
    const dir = path.join(pfs.mountpoint, `t${++counter}`);
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'a'), content);
    pfs.sync();
    return path.join(dir, 'a');
  }

  describe('the acknowledgements file', () => {
    it('records each write before it returns, is no operation, and fails with EIO once the power is cut', () => {
      const acks = path.join(tempDir(), 'acks.jsonl');
      const fd = fs.openSync(pfs.ackFile, 'a');
      try {
        // Nowhere to record yet: refused, so a harness that forgot cannot lose acknowledgements.
        expect(() => fs.writeSync(fd, 'early\n')).toThrow(expect.objectContaining({ code: 'ENXIO' }));
        pfs.recordAcks(acks);
        pfs.reset();
        pfs.arm(1);
        fs.writeSync(fd, 'one\n');
        expect(fs.readFileSync(acks, 'utf8')).toBe('one\n');
        fs.writeSync(fd, 'two\n');
        // Neither write counted as an operation, nor consumed the armed cut.
        expect(pfs.status()).toMatchObject({ ops: 0, acks: 2, armed: 1, state: 'running' });
        pfs.cut();
        expect(() => fs.writeSync(fd, 'after the cut\n')).toThrow(expect.objectContaining({ code: 'EIO' }));
        expect(fs.readFileSync(acks, 'utf8')).toBe('one\ntwo\n');
        pfs.reboot();
        // The file is outside the model: its descriptor outlives a reboot, and appends go on.
        fs.writeSync(fd, 'three\n');
        expect(fs.readFileSync(acks, 'utf8')).toBe('one\ntwo\nthree\n');
        pfs.recordAcks(null);
        expect(() => fs.writeSync(fd, 'nowhere\n')).toThrow(expect.objectContaining({ code: 'ENXIO' }));
      } finally {
        fs.closeSync(fd);
      }
    });

    it('is hidden, cannot be made, moved or removed, and belongs to the user who mounted', () => {
      expect(fs.readdirSync(pfs.mountpoint)).not.toContain('.powercut-acks');
      const st = fs.statSync(pfs.ackFile);
      expect({ ino: st.ino, mode: st.mode & 0o777, uid: st.uid, size: st.size }).toEqual({ ino: 3, mode: 0o600, uid: process.getuid!(), size: 0 });
      expect(() => fs.unlinkSync(pfs.ackFile)).toThrow(expect.objectContaining({ code: 'EPERM' }));
      expect(() => fs.renameSync(pfs.ackFile, path.join(pfs.mountpoint, 'x'))).toThrow(expect.objectContaining({ code: 'EPERM' }));
      fs.writeFileSync(path.join(pfs.mountpoint, 'y'), 'y');
      expect(() => fs.renameSync(path.join(pfs.mountpoint, 'y'), pfs.ackFile)).toThrow(expect.objectContaining({ code: 'EPERM' }));
      expect(() => fs.mkdirSync(pfs.ackFile)).toThrow(expect.objectContaining({ code: 'EEXIST' }));
    });
  });

  describe('cut points', () => {
    it('arm-flush N: the N-th flush (fsync, fdatasync, O_DSYNC write, directory fsync) returns and is durable; the next operation fails', () => {
      for (const kind of ['fsync', 'fdatasync', 'dsync', 'dir'] as const) {
        const file = freshFile('old');
        const fd = fs.openSync(file, O_WRONLY);
        pfs.armFlush(2);
        fs.writeSync(fd, 'v1', 0);
        hs.fsyncSync(fd); // flush 1
        expect(pfs.status()).toMatchObject({ state: 'running', armedFlush: 1 });
        const fresh = path.join(path.dirname(file), 'fresh');
        if (kind === 'dir') {
          fs.writeFileSync(fresh, 'new name');
          hs.fsyncDirSync(path.dirname(file)); // flush 2: the new name is durable, its data is not
        } else if (kind === 'dsync') {
          const dsync = fs.openSync(file, O_WRONLY | O_DSYNC);
          fs.writeSync(dsync, 'v2', 0); // flush 2
          expect(() => fs.closeSync(dsync)).toThrow(expect.objectContaining({ code: 'EIO' }));
        } else {
          fs.writeSync(fd, 'v2', 0);
          if (kind === 'fsync') hs.fsyncSync(fd); // flush 2
          else hs.fdatasyncSync(fd);
        }
        expect(pfs.status().state, kind).toBe('cut');
        expect(() => fs.writeSync(fd, 'v3', 0), kind).toThrow(expect.objectContaining({ code: 'EIO' }));
        expect(() => fs.closeSync(fd)).toThrow(expect.objectContaining({ code: 'EIO' }));
        pfs.reboot();
        expect(fs.readFileSync(file, 'utf8'), kind).toBe(kind === 'dir' ? 'v1d' : 'v2d');
        if (kind === 'dir') expect(fs.readFileSync(fresh, 'utf8')).toBe('');
      }
    });

    it('arm-write N: the N-th write is cut in the middle; on an O_DSYNC or O_SYNC file its first whole sectors are durable', () => {
      const cases = [
        { flags: O_WRONLY, size: 8192, durable: 0 },
        { flags: O_WRONLY | O_DSYNC, size: 8192, durable: 4096 },
        { flags: O_WRONLY | O_SYNC, size: 3000, durable: 1024 },
        { flags: O_WRONLY | O_DSYNC, size: 1500, durable: 512 },
        { flags: O_WRONLY | O_DSYNC, size: 1000, durable: 0 },
      ];
      for (const { flags, size, durable } of cases) {
        const file = freshFile(Buffer.alloc(8192, 'a'));
        const fd = fs.openSync(file, flags);
        pfs.reset();
        pfs.armWrite(2);
        fs.writeSync(fd, Buffer.alloc(10, 'c'), 0, 10, 8192); // write 1, whole
        expect(() => fs.writeSync(fd, Buffer.alloc(size, 'b'), 0, size, 0)).toThrow(expect.objectContaining({ code: 'EIO' }));
        expect(pfs.status()).toMatchObject({ state: 'cut', writes: 2, armedWrite: 0 });
        try {
          fs.closeSync(fd);
        } catch {
          // EIO: the power is off
        }
        pfs.reboot();
        const expected = Buffer.alloc(8192, 'a');
        expected.fill('b', 0, durable);
        // The whole write 1 is durable only on a synchronous file (whose every write flushes).
        const sync = (flags & O_DSYNC) !== 0;
        const got = fs.readFileSync(file);
        expect(got.length, `size ${size} flags ${flags}`).toBe(sync ? 8202 : 8192);
        expect(got.subarray(0, 8192).equals(expected), `size ${size} flags ${flags}`).toBe(true);
      }
    });

    it('malformed arm commands are refused and change nothing', () => {
      for (const bad of ['arm-flush 0', 'arm-write x', 'arm-flush', 'arm +5', 'arm 5 ', 'arm-write -1', 'arm-later 3']) {
        expect(() => pfs.command(bad), bad).toThrow(expect.objectContaining({ code: 'EINVAL' }));
      }
      expect(pfs.status()).toMatchObject({ armed: 0, armedFlush: 0, armedWrite: 0 });
    });
  });

  it('the mount option notify tells of each power failure once, on stdout', async () => {
    let notices = 0;
    const own = await PowercutFs.mount({ onCut: () => notices++ });
    try {
      const file = path.join(own.mountpoint, 'x');
      fs.writeFileSync(file, 'x');
      own.arm(1);
      expect(() => fs.readFileSync(file)).toThrow(expect.objectContaining({ code: 'EIO' }));
      await vi.waitFor(() => expect(notices).toBe(1), { timeout: 10_000 });
      own.cut(); // already cut: no second notice
      own.reboot();
      own.cut();
      await vi.waitFor(() => expect(notices).toBe(2), { timeout: 10_000 });
      own.reboot(); // cuts nothing: the power was off already
      own.reboot(); // cuts: a reboot is a power failure first
      await vi.waitFor(() => expect(notices).toBe(3), { timeout: 10_000 });
      expect(own.status().cuts).toBe(3);
    } finally {
      await own.unmount();
    }
  });
});

describe.skipIf(process.platform !== 'linux')('powercut-fs build', () => {
  it('compiles without a warning (-Wall -Wextra -Werror)', async () => {
    const out = path.join(tempDir(), 'powercut-fs');
    // Not spawnSync: a compile on a loaded machine would block this worker's messages to vitest.
    const stderr = await new Promise<string>((resolve, reject) => {
      execFile('sh', [path.join(__dirname, '..', 'powercut', 'build.sh'), out], { encoding: 'utf8', env: { ...process.env, CFLAGS: '-Werror' } }, (error, _stdout, err) => {
        if (error) reject(new Error(`build.sh failed: ${err}`));
        else resolve(err);
      });
    });
    expect(stderr).toBe('');
    expect(fs.statSync(out).mode & 0o111).not.toBe(0);
  }, 300_000); // a compile, on a machine other jobs may load
});
