// The power-cut simulator's model (powercut/README.md), one rule at a time: what a
// flush makes durable, what a cut loses, and that the harness's switch and audit work.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as hs from '../dist/lib/index.js';
import { PowercutFs, powercutUnavailable } from './helpers/powercut';
import { rng } from './helpers/seeded.cjs';

const unavailable = powercutUnavailable();
if (unavailable) console.warn(`[powercut] skipped: ${unavailable}`);

const C = hs.constants;

describe.skipIf(unavailable !== undefined)('powercut-fs model', () => {
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
    pfs.reboot(); // a test that forgot to reboot leaves nothing behind for the next one
  });

  /** A fresh, durable, empty directory on the mount. */
  function fresh(): string {
    const dir = path.join(pfs.mountpoint, `t${++counter}`);
    fs.mkdirSync(dir);
    pfs.sync();
    return dir;
  }

  function write(file: string, data: string, flags = 'w', mode = 0o644): number {
    const fd = fs.openSync(file, flags, mode);
    fs.writeSync(fd, data);
    return fd;
  }

  const read = (file: string) => fs.readFileSync(file, 'utf8');
  const exists = (file: string) => fs.existsSync(file);
  const modeOf = (file: string) => fs.statSync(file).mode & 0o7777;

  describe('file data', () => {
    it('a flush makes exactly the changed ranges durable: writes in the middle, punched holes and zeroed ranges', () => {
      const dir = fresh();
      const a = path.join(dir, 'a');
      const fd = write(a, 'abcdefghijklmnop');
      hs.fsyncSync(fd);
      hs.fsyncDirSync(dir);
      fs.writeSync(fd, 'XY', 4);
      fs.writeSync(fd, 'Z', 9);
      hs.fdatasyncSync(fd);
      execFileSync('fallocate', ['--punch-hole', '--offset', '12', '--length', '2', a]);
      execFileSync('fallocate', ['--zero-range', '--keep-size', '--offset', '1', '--length', '1', a]);
      hs.fdatasyncSync(fd);
      fs.writeSync(fd, 'lost', 0); // after the last flush
      fs.closeSync(fd);
      pfs.reboot();
      expect(read(a)).toBe('a\0cdXYghiZkl\0\0op');
    });

    it('a write with no flush is lost; after fsync it survives', () => {
      const dir = fresh();
      const a = path.join(dir, 'a');
      const fd = write(a, 'one');
      hs.fsyncSync(fd);
      hs.fsyncDirSync(dir);
      fs.writeSync(fd, 'two');
      fs.closeSync(fd);
      expect(read(a)).toBe('onetwo');
      pfs.reboot();
      expect(read(a)).toBe('one');
    });

    it('fdatasync makes data and size durable', () => {
      const dir = fresh();
      const a = path.join(dir, 'a');
      const fd = write(a, 'hello world');
      hs.fsyncDirSync(dir);
      hs.fdatasyncSync(fd);
      fs.ftruncateSync(fd, 5);
      pfs.reboot();
      expect(read(a)).toBe('hello world');
      const fd2 = fs.openSync(a, 'r+');
      fs.ftruncateSync(fd2, 5);
      fs.writeSync(fd2, 'XY', 0, 'latin1');
      hs.fdatasyncSync(fd2);
      pfs.reboot();
      expect(read(a)).toBe('XYllo');
    });

    it('close flushes nothing', () => {
      const dir = fresh();
      const a = path.join(dir, 'a');
      fs.closeSync(write(a, 'data'));
      hs.fsyncDirSync(dir);
      pfs.reboot();
      expect(read(a)).toBe('');
    });

    it('sync_file_range flushes nothing', () => {
      const dir = fresh();
      const a = path.join(dir, 'a');
      const fd = write(a, 'data');
      hs.fsyncDirSync(dir);
      hs.syncFileRangeSync(fd, 0, 0, C.SYNC_FILE_RANGE_WAIT_BEFORE | C.SYNC_FILE_RANGE_WRITE | C.SYNC_FILE_RANGE_WAIT_AFTER);
      fs.closeSync(fd);
      pfs.reboot();
      expect(read(a)).toBe('');
    });

    it('an O_DSYNC write is durable when it returns; an earlier plain write to the same file too', () => {
      const dir = fresh();
      const a = path.join(dir, 'a');
      fs.closeSync(write(a, ''));
      hs.fsyncDirSync(dir);
      const plain = fs.openSync(a, 'r+');
      fs.writeSync(plain, 'plain', 0);
      const dsync = hs.openSync(a, { write: true, dsync: true });
      fs.writeSync(dsync, '+dsync', 5);
      fs.writeSync(plain, '+lost', 11);
      pfs.reboot();
      // O_DSYNC flushes the file, not just the bytes of that write (as fdatasync would).
      expect(read(a)).toBe('plain+dsync');
    });

    it('an O_SYNC write also makes the mode durable; O_DSYNC and fdatasync do not', () => {
      const dir = fresh();
      const a = path.join(dir, 'a');
      const b = path.join(dir, 'b');
      fs.closeSync(write(a, '', 'w', 0o644));
      fs.closeSync(write(b, '', 'w', 0o644));
      hs.fsyncDirSync(dir);
      fs.chmodSync(a, 0o600);
      fs.chmodSync(b, 0o600);
      const fa = hs.openSync(a, { write: true, sync: true });
      fs.writeSync(fa, 'x');
      const fb = hs.openSync(b, { write: true, dsync: true });
      fs.writeSync(fb, 'x');
      hs.fdatasyncSync(fb);
      pfs.reboot();
      expect([read(a), modeOf(a)]).toEqual(['x', 0o600]);
      expect([read(b), modeOf(b)]).toEqual(['x', 0o644]);
    });

    it('preallocated space is durable after a flush; a sparse file reloads with its size', () => {
      const dir = fresh();
      const a = path.join(dir, 'a');
      const fd = write(a, '');
      hs.fsyncDirSync(dir);
      hs.preallocateSync(fd, 0, 64 * 1024 * 1024);
      fs.writeSync(fd, 'head', 0);
      fs.writeSync(fd, 'tail', 64 * 1024 * 1024 - 4);
      hs.fdatasyncSync(fd);
      pfs.reboot();
      expect(fs.statSync(a).size).toBe(64 * 1024 * 1024);
      const fd2 = fs.openSync(a, 'r');
      const buf = Buffer.alloc(8);
      fs.readSync(fd2, buf, 0, 4, 0);
      fs.readSync(fd2, buf, 4, 4, 64 * 1024 * 1024 - 4);
      fs.closeSync(fd2);
      expect(buf.toString()).toBe('headtail');
    });
  });

  describe('directory entries', () => {
    it('a new file needs its directory fsynced: file fsync alone loses it', () => {
      const dir = fresh();
      const a = path.join(dir, 'a');
      const fd = write(a, 'data');
      hs.fsyncSync(fd);
      pfs.reboot();
      expect(exists(a)).toBe(false);
    });

    it('a directory fsync alone keeps the name but not the unflushed data', () => {
      const dir = fresh();
      const a = path.join(dir, 'a');
      write(a, 'data');
      hs.fsyncDirSync(dir);
      pfs.reboot();
      expect(read(a)).toBe('');
    });

    it('a file flushed before its name became durable keeps that data', () => {
      const dir = fresh();
      const a = path.join(dir, 'a');
      const fd = write(a, 'data');
      hs.fsyncSync(fd);
      hs.fsyncDirSync(dir);
      pfs.reboot();
      expect(read(a)).toBe('data');
    });

    it('rename is durable only once the directory is fsynced', () => {
      const dir = fresh();
      const target = path.join(dir, 'target');
      const temp = path.join(dir, 'temp');
      fs.writeFileSync(target, 'old');
      pfs.sync();
      const fd = write(temp, 'new');
      hs.fsyncSync(fd);
      fs.closeSync(fd);
      fs.renameSync(temp, target);
      pfs.reboot();
      expect(read(target)).toBe('old');
      expect(exists(temp)).toBe(false);
      const fd2 = write(temp, 'new');
      hs.fsyncSync(fd2);
      fs.closeSync(fd2);
      fs.renameSync(temp, target);
      hs.fsyncDirSync(dir);
      pfs.reboot();
      expect(read(target)).toBe('new');
      expect(fs.readdirSync(dir)).toEqual(['target']);
    });

    it('unlink is durable only once the directory is fsynced', () => {
      const dir = fresh();
      const a = path.join(dir, 'a');
      fs.writeFileSync(a, 'data');
      pfs.sync();
      fs.unlinkSync(a);
      pfs.reboot();
      expect(read(a)).toBe('data');
      fs.unlinkSync(a);
      hs.fsyncDirSync(dir);
      pfs.reboot();
      expect(exists(a)).toBe(false);
    });

    it('an unlinked open file keeps its durable name until the directory fsync, and fsync still reaches it', () => {
      const dir = fresh();
      const a = path.join(dir, 'a');
      fs.writeFileSync(a, 'old');
      pfs.sync();
      const fd = fs.openSync(a, 'r+');
      fs.unlinkSync(a);
      fs.writeSync(fd, 'new', 0);
      hs.fsyncSync(fd);
      pfs.reboot();
      expect(read(a)).toBe('new');
    });

    it('hard links are durable per directory', () => {
      const dir = fresh();
      const sub = path.join(dir, 'sub');
      fs.mkdirSync(sub);
      const a = path.join(dir, 'a');
      fs.writeFileSync(a, 'data');
      pfs.sync();
      fs.linkSync(a, path.join(sub, 'b'));
      fs.linkSync(a, path.join(dir, 'c'));
      hs.fsyncDirSync(sub);
      pfs.reboot();
      expect(read(path.join(sub, 'b'))).toBe('data');
      expect(exists(path.join(dir, 'c'))).toBe(false);
      expect(fs.statSync(a).ino).toBe(fs.statSync(path.join(sub, 'b')).ino);
      expect(fs.statSync(a).nlink).toBe(2);
    });

    it('a file in a new directory needs both directories fsynced', () => {
      const dir = fresh();
      const sub = path.join(dir, 'sub');
      const a = path.join(sub, 'a');
      fs.mkdirSync(sub);
      const fd = write(a, 'data');
      hs.fsyncSync(fd);
      hs.fsyncDirSync(sub);
      pfs.reboot();
      expect(exists(sub)).toBe(false);
      fs.mkdirSync(sub);
      const fd2 = write(a, 'data');
      hs.fsyncSync(fd2);
      hs.fsyncDirSync(dir);
      pfs.reboot();
      expect(fs.readdirSync(sub)).toEqual([]);
      const fd3 = write(a, 'data');
      hs.fsyncSync(fd3);
      hs.fsyncDirSync(sub);
      hs.fsyncDirSync(dir);
      pfs.reboot();
      expect(read(a)).toBe('data');
    });

    it('a rename across directories made durable on the new side only leaves both names', () => {
      const dir = fresh();
      const from = path.join(dir, 'from');
      const to = path.join(dir, 'to');
      fs.mkdirSync(from);
      fs.mkdirSync(to);
      fs.writeFileSync(path.join(from, 'a'), 'data');
      pfs.sync();
      fs.renameSync(path.join(from, 'a'), path.join(to, 'a'));
      hs.fsyncDirSync(to);
      pfs.reboot();
      expect(read(path.join(from, 'a'))).toBe('data');
      expect(read(path.join(to, 'a'))).toBe('data');
      fs.unlinkSync(path.join(from, 'a'));
      hs.fsyncDirSync(from);
      pfs.reboot();
      expect(fs.readdirSync(from)).toEqual([]);
      expect(read(path.join(to, 'a'))).toBe('data');
    });

    it('a rename across directories made durable on the old side only loses the file', () => {
      const dir = fresh();
      const from = path.join(dir, 'from');
      const to = path.join(dir, 'to');
      fs.mkdirSync(from);
      fs.mkdirSync(to);
      fs.writeFileSync(path.join(from, 'a'), 'data');
      pfs.sync();
      fs.renameSync(path.join(from, 'a'), path.join(to, 'a'));
      hs.fsyncDirSync(from);
      pfs.reboot();
      expect(fs.readdirSync(from)).toEqual([]);
      expect(fs.readdirSync(to)).toEqual([]);
    });

    it('the same file can leave a directory and come back through later fsyncs', () => {
      const dir = fresh();
      const from = path.join(dir, 'from');
      const to = path.join(dir, 'to');
      fs.mkdirSync(from);
      fs.mkdirSync(to);
      fs.writeFileSync(path.join(from, 'a'), 'data');
      pfs.sync();
      fs.renameSync(path.join(from, 'a'), path.join(to, 'a'));
      hs.fsyncDirSync(from); // the durable name goes; the data waits in the unnamed store
      hs.fsyncDirSync(to); // and comes back under the new name
      pfs.reboot();
      expect(fs.readdirSync(from)).toEqual([]);
      expect(read(path.join(to, 'a'))).toBe('data');
    });

    it('a directory moves with its durable contents', () => {
      const dir = fresh();
      fs.mkdirSync(path.join(dir, 'p1'));
      fs.mkdirSync(path.join(dir, 'p2'));
      fs.mkdirSync(path.join(dir, 'p1', 'd'));
      fs.writeFileSync(path.join(dir, 'p1', 'd', 'f'), 'data');
      pfs.sync();
      fs.renameSync(path.join(dir, 'p1', 'd'), path.join(dir, 'p2', 'd'));
      hs.fsyncDirSync(path.join(dir, 'p2'));
      pfs.reboot();
      expect(fs.readdirSync(path.join(dir, 'p1'))).toEqual([]);
      expect(read(path.join(dir, 'p2', 'd', 'f'))).toBe('data');
    });

    it('a removed directory and its durable contents go once its parent is fsynced', () => {
      const dir = fresh();
      const sub = path.join(dir, 'sub');
      fs.mkdirSync(sub);
      fs.writeFileSync(path.join(sub, 'f'), 'data');
      pfs.sync();
      fs.unlinkSync(path.join(sub, 'f'));
      fs.rmdirSync(sub);
      hs.fsyncDirSync(dir);
      pfs.reboot();
      expect(fs.readdirSync(dir)).toEqual([]);
      expect(fs.readdirSync(path.join(pfs.backing, path.basename(dir)))).toEqual([]);
    });

    it('symlinks are durable with their directory', () => {
      const dir = fresh();
      fs.symlinkSync('target-name', path.join(dir, 'l1'));
      fs.symlinkSync('other', path.join(dir, 'l2'));
      hs.fsyncDirSync(dir);
      fs.unlinkSync(path.join(dir, 'l2'));
      pfs.reboot();
      expect(fs.readlinkSync(path.join(dir, 'l1'))).toBe('target-name');
      expect(fs.readlinkSync(path.join(dir, 'l2'))).toBe('other');
    });
  });

  describe('modes', () => {
    it('a file has its creation mode durably from the start; chmod needs fsync, fdatasync is not enough', () => {
      const dir = fresh();
      const a = path.join(dir, 'a');
      const fd = write(a, 'x', 'wx', 0o640);
      hs.fsyncDirSync(dir);
      fs.fchmodSync(fd, 0o600);
      hs.fdatasyncSync(fd);
      pfs.reboot();
      expect([read(a), modeOf(a)]).toEqual(['x', 0o640]);
      fs.chmodSync(a, 0o600);
      const fd2 = fs.openSync(a, 'r');
      hs.fsyncSync(fd2);
      pfs.reboot();
      expect(modeOf(a)).toBe(0o600);
    });

    it('a directory mode is durable with the directory fsync', () => {
      const dir = fresh();
      const sub = path.join(dir, 'sub');
      fs.mkdirSync(sub, 0o755);
      pfs.sync();
      fs.chmodSync(sub, 0o700);
      pfs.reboot();
      expect(modeOf(sub)).toBe(0o755);
      fs.chmodSync(sub, 0o700);
      hs.fsyncDirSync(sub);
      pfs.reboot();
      expect(modeOf(sub)).toBe(0o700);
    });
  });

  describe('the power switch', () => {
    it('after the cut every operation fails with EIO, also on descriptors opened before', () => {
      const dir = fresh();
      const a = path.join(dir, 'a');
      fs.writeFileSync(a, 'data');
      pfs.sync();
      const fd = fs.openSync(a, 'r+');
      pfs.cut();
      expect(pfs.status().state).toBe('cut');
      for (const attempt of [
        () => fs.statSync(a),
        () => fs.readdirSync(dir),
        () => fs.openSync(path.join(dir, 'b'), 'w'),
        () => fs.writeSync(fd, 'x'),
        () => fs.readSync(fd, Buffer.alloc(4)),
        () => hs.fsyncSync(fd),
        () => fs.renameSync(a, path.join(dir, 'c')),
      ]) {
        expect(attempt).toThrow(expect.objectContaining({ code: 'EIO' }));
      }
      pfs.reboot();
      // The descriptor belongs to the boot before: still dead. A new open sees the durable state.
      expect(() => fs.readSync(fd, Buffer.alloc(4))).toThrow(expect.objectContaining({ code: 'EIO' }));
      fs.closeSync(fd);
      expect(read(a)).toBe('data');
    });

    it('arm N cuts just before the N-th operation', () => {
      const dir = fresh();
      const a = path.join(dir, 'a');
      fs.writeFileSync(a, 'data');
      pfs.sync();
      const fd = fs.openSync(a, 'r+');
      const before = pfs.status().ops;
      fs.writeSync(fd, 'x', 0); // one write: one operation (direct I/O, no attribute lookups)
      expect(pfs.status().ops - before).toBe(1);
      pfs.arm(3);
      fs.writeSync(fd, 'y', 0);
      fs.writeSync(fd, 'z', 1);
      expect(() => fs.writeSync(fd, 'w', 2)).toThrow(expect.objectContaining({ code: 'EIO' }));
      expect(pfs.status()).toMatchObject({ state: 'cut', armed: 0 });
      // close(2) reaches the filesystem too (FUSE flush), and fails like everything else.
      expect(() => fs.closeSync(fd)).toThrow(expect.objectContaining({ code: 'EIO' }));
      pfs.reboot();
      expect(read(a)).toBe('data');
    });

    it('sync makes the whole live tree durable', () => {
      const dir = fresh();
      fs.mkdirSync(path.join(dir, 'x', 'y'), { recursive: true });
      fs.writeFileSync(path.join(dir, 'x', 'y', 'f'), 'deep');
      fs.writeFileSync(path.join(dir, 'g'), 'top');
      fs.chmodSync(path.join(dir, 'g'), 0o600);
      pfs.sync();
      pfs.reboot();
      expect(read(path.join(dir, 'x', 'y', 'f'))).toBe('deep');
      expect([read(path.join(dir, 'g')), modeOf(path.join(dir, 'g'))]).toEqual(['top', 0o600]);
    });

    it('the backing directory holds exactly the durable state; nothing unnamed survives a reboot', () => {
      const dir = fresh();
      const back = path.join(pfs.backing, path.basename(dir));
      const fd = write(path.join(dir, 'named'), 'v1');
      hs.fsyncSync(fd);
      hs.fsyncDirSync(dir);
      fs.writeSync(fd, '+v2');
      const orphan = write(path.join(dir, 'orphan'), 'flushed, never named');
      hs.fsyncSync(orphan);
      expect(fs.readdirSync(back)).toEqual(['named']);
      expect(fs.readFileSync(path.join(back, 'named'), 'utf8')).toBe('v1');
      expect(fs.readdirSync(path.join(pfs.backing, '.powercut-unnamed')).length).toBe(1);
      pfs.reboot();
      expect(fs.readdirSync(path.join(pfs.backing, '.powercut-unnamed'))).toEqual([]);
      expect(fs.readdirSync(dir)).toEqual(['named']);
    });

    it('the control file and the unnamed store are reserved names', () => {
      expect(() => fs.writeFileSync(path.join(pfs.mountpoint, '.powercut-unnamed'), 'x')).toThrow();
      expect(() => fs.unlinkSync(path.join(pfs.mountpoint, '.powercut'))).toThrow(expect.objectContaining({ code: 'EPERM' }));
      expect(fs.readdirSync(pfs.mountpoint)).not.toContain('.powercut');
      expect(() => pfs.command('no-such-command')).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    });
  });

  describe('a bad disk: lying and slow flushes', () => {
    it('lie on: fsync, fdatasync, O_DSYNC/O_SYNC writes and directory fsyncs succeed and make nothing durable', () => {
      const dir = fresh();
      const a = path.join(dir, 'a');
      fs.writeFileSync(a, 'old');
      pfs.sync();
      const lies = pfs.status().lies;
      pfs.setLie(true);
      try {
        expect(pfs.status().lie).toBe(true);
        const fd = fs.openSync(a, 'r+');
        fs.writeSync(fd, 'NEW', 0);
        hs.fsyncSync(fd);
        hs.fdatasyncSync(fd);
        fs.closeSync(fd);
        const dsync = hs.openSync(a, { write: true, dsync: true });
        fs.writeSync(dsync, 'DSYNC', 0);
        fs.closeSync(dsync);
        const osync = hs.openSync(a, { write: true, sync: true });
        fs.writeSync(osync, 'OSYNC', 0);
        fs.closeSync(osync);
        const b = path.join(dir, 'b');
        const fb = write(b, 'new file');
        hs.fsyncSync(fb);
        fs.closeSync(fb);
        hs.fsyncDirSync(dir);
        expect(read(a)).toBe('OSYNC'); // the live state is unaffected
        expect(pfs.status().lies - lies).toBe(6);
      } finally {
        pfs.setLie(false);
      }
      pfs.reboot();
      expect(read(a)).toBe('old');
      expect(exists(path.join(dir, 'b'))).toBe(false);
    });

    it('lie off: the next honest flush makes everything durable that the lies skipped', () => {
      const dir = fresh();
      const a = path.join(dir, 'a');
      const fd = write(a, 'lied');
      const lies = pfs.status().lies;
      pfs.setLie(true);
      hs.fsyncSync(fd);
      hs.fsyncDirSync(dir);
      pfs.setLie(false);
      expect(pfs.status()).toMatchObject({ lie: false, lies: lies + 2 });
      fs.writeSync(fd, '+honest');
      hs.fsyncSync(fd);
      hs.fsyncDirSync(dir);
      fs.closeSync(fd);
      pfs.reboot();
      expect(read(a)).toBe('lied+honest');
    });

    it('delay MS: a flush takes at least MS ms in the filesystem; delay 0 turns it off', () => {
      const dir = fresh();
      const a = path.join(dir, 'a');
      const fd = write(a, 'slow');
      const delayMs = 50;
      pfs.setDelay(delayMs);
      try {
        expect(pfs.status().delayMs).toBe(delayMs);
        // A lower bound only: sleeping guarantees it however loaded the machine is.
        for (const flush of [() => fs.fdatasyncSync(fd), () => fs.fsyncSync(fd), () => hs.fsyncDirSync(dir)]) {
          const started = process.hrtime.bigint();
          flush();
          expect(Number(process.hrtime.bigint() - started) / 1e6).toBeGreaterThanOrEqual(delayMs);
        }
        const dsync = hs.openSync(a, { write: true, dsync: true });
        const started = process.hrtime.bigint();
        fs.writeSync(dsync, 'SLOW', 0);
        expect(Number(process.hrtime.bigint() - started) / 1e6).toBeGreaterThanOrEqual(delayMs);
        fs.closeSync(dsync);
      } finally {
        pfs.setDelay(0);
      }
      expect(pfs.status().delayMs).toBe(0);
      fs.closeSync(fd);
      pfs.reboot();
      expect(read(a)).toBe('SLOW'); // delayed, not lost
    });

    it('delay-us US: every fdatasync takes at least US microseconds; delay MS is the same setting', () => {
      const dir = fresh();
      const fd = write(path.join(dir, 'a'), 'x');
      const delayUs = 400;
      pfs.delayMicros(delayUs);
      try {
        expect(pfs.status()).toMatchObject({ delayUs, delayMs: 0.4 });
        const before = pfs.status().fdatasyncs;
        const rounds = 20;
        for (let i = 0; i < rounds; i++) {
          fs.writeSync(fd, 'y');
          const started = process.hrtime.bigint();
          fs.fdatasyncSync(fd);
          // A lower bound only: the daemon's sleep cannot end before its deadline.
          expect(Number(process.hrtime.bigint() - started) / 1e3, `fdatasync ${i}`).toBeGreaterThanOrEqual(delayUs);
        }
        expect(pfs.status().fdatasyncs - before).toBe(rounds); // each one reached the daemon
        pfs.setDelay(2);
        expect(pfs.status()).toMatchObject({ delayUs: 2000, delayMs: 2 });
        pfs.delayMicros(1500);
        expect(pfs.status()).toMatchObject({ delayUs: 1500, delayMs: 1.5 });
        pfs.delayMicros(5);
        expect(pfs.status()).toMatchObject({ delayUs: 5, delayMs: 0.005 });
        pfs.delayMicros(60_000_000); // the maximum, 60 s, is accepted
        expect(pfs.status().delayUs).toBe(60_000_000);
      } finally {
        pfs.delayMicros(0);
      }
      expect(pfs.status()).toMatchObject({ delayUs: 0, delayMs: 0 });
      fs.closeSync(fd);
    });

    it('the daemon is single-threaded: delays of flushes from concurrent callers add up', async () => {
      expect(fs.readFileSync(`/proc/${pfs.pid}/status`, 'utf8')).toMatch(/^Threads:\s+1$/m);
      const dir = fresh();
      const files = await Promise.all([0, 1, 2, 3].map((i) => fs.promises.open(path.join(dir, `c${i}`), 'w')));
      const delayUs = 5000;
      const perCaller = 10;
      pfs.delayMicros(delayUs);
      try {
        const started = process.hrtime.bigint();
        // Four callers at once (node:fs promises run in libuv's four-thread pool).
        await Promise.all(files.map(async (file) => {
          for (let i = 0; i < perCaller; i++) await file.datasync();
        }));
        const elapsedUs = Number(process.hrtime.bigint() - started) / 1e3;
        // A lower bound only: served one at a time, the 40 sleeps cannot overlap.
        expect(elapsedUs).toBeGreaterThanOrEqual(files.length * perCaller * delayUs);
      } finally {
        pfs.delayMicros(0);
        await Promise.all(files.map((file) => file.close()));
      }
    });

    it('the daemon sleeps with no timer slack, so a delay of a few hundred microseconds is not rounded up', () => {
      // The default slack (50 us) lets the kernel end each sleep up to that late.
      expect(fs.readFileSync(`/proc/${pfs.pid}/timerslack_ns`, 'utf8').trim()).toBe('1');
    });

    it('refuses malformed lie and delay commands, and a refused one changes nothing', () => {
      const malformed = [
        'lie maybe',
        'delay', 'delay -1', 'delay 1.5', 'delay 60001', 'delay 12abc', 'delay 99999999999999999999', 'delay +5', 'delay  5',
        'delay-us', 'delay-us -1', 'delay-us 0.5', 'delay-us 400.0', 'delay-us 60000001', 'delay-us abc', 'delay-us 12abc',
        'delay-us 4e2', 'delay-us 0x10', 'delay-us +400', 'delay-us  400', 'delay-us 400 ', 'delay-us 99999999999999999999',
        'delay_us 400', 'delay-ms 4',
      ];
      for (const setting of [0, 123]) {
        pfs.delayMicros(setting);
        for (const line of malformed) {
          expect(() => pfs.command(line), line).toThrow(expect.objectContaining({ code: 'EINVAL' }));
        }
        expect(pfs.status()).toMatchObject({ lie: false, delayUs: setting, delayMs: setting / 1000 });
      }
      pfs.delayMicros(0);
    });

    it('the mount options lie and delay=MS set both from the start', async () => {
      const other = await PowercutFs.mount({ lie: true, delayMs: 20 });
      try {
        expect(other.status()).toMatchObject({ lie: true, delayMs: 20 });
        const a = path.join(other.mountpoint, 'a');
        const fd = write(a, 'never durable');
        const started = process.hrtime.bigint();
        fs.fdatasyncSync(fd);
        expect(Number(process.hrtime.bigint() - started) / 1e6).toBeGreaterThanOrEqual(20);
        hs.fsyncDirSync(other.mountpoint);
        fs.closeSync(fd);
        expect(other.status().lies).toBe(2);
        other.reboot();
        expect(exists(a)).toBe(false);
      } finally {
        await other.unmount();
      }
    });

    it('the mount option delay_us=US sets the delay in microseconds; a malformed one stops the mount', async () => {
      const delayUs = 2500; // not whole milliseconds
      const other = await PowercutFs.mount({ delayUs });
      try {
        expect(other.status()).toMatchObject({ delayUs, delayMs: 2.5 });
        const fd = write(path.join(other.mountpoint, 'a'), 'slow');
        for (let i = 0; i < 10; i++) {
          const started = process.hrtime.bigint();
          fs.fdatasyncSync(fd);
          expect(Number(process.hrtime.bigint() - started) / 1e3, `fdatasync ${i}`).toBeGreaterThanOrEqual(delayUs);
        }
        expect(other.status().fdatasyncs).toBe(10);
        fs.closeSync(fd);
      } finally {
        await other.unmount();
      }
      for (const bad of [-1, 1.5, 60_000_001]) {
        await expect(PowercutFs.mount({ delayUs: bad }), String(bad)).rejects.toThrow(/delay_us=.*must be 0\.\.60000000 microseconds/);
      }
      await expect(PowercutFs.mount({ delayMs: 1, delayUs: 1 })).rejects.toThrow(TypeError);
    });
  });

  describe('the secret audit', () => {
    const secret = Buffer.from('5ec7e7-bytes-nobody-else-may-read');
    afterEach(() => pfs.audit(null));

    it('a secret in a readable file is a live violation at once', () => {
      const dir = fresh();
      pfs.reset();
      pfs.audit(secret);
      const fd = write(path.join(dir, 's'), 'x', 'wx', 0o600);
      fs.writeSync(fd, secret);
      expect(pfs.status().violations).toEqual([]);
      fs.fchmodSync(fd, 0o640);
      expect(pfs.status().violations).toEqual([expect.stringMatching(/^live .*name=s mode=0640/)]);
      fs.closeSync(fd);
    });

    it('a durable secret under a mode that is not yet durable is a durable violation', () => {
      const dir = fresh();
      pfs.reset();
      pfs.audit(secret);
      const fd = write(path.join(dir, 's'), '', 'wx', 0o644);
      fs.fchmodSync(fd, 0o600);
      fs.writeSync(fd, secret);
      expect(pfs.status().violations).toEqual([]);
      hs.fdatasyncSync(fd);
      expect(pfs.status().violations).toEqual([expect.stringMatching(/^durable .*mode=0644/)]);
      fs.closeSync(fd);
    });

    it('fsync of data and mode together is one durable step', () => {
      const dir = fresh();
      pfs.reset();
      pfs.audit(secret);
      const fd = write(path.join(dir, 's'), '', 'wx', 0o644);
      fs.fchmodSync(fd, 0o600);
      fs.writeSync(fd, secret);
      hs.fsyncSync(fd);
      hs.fsyncDirSync(dir);
      expect(pfs.status().violations).toEqual([]);
      fs.closeSync(fd);
    });
  });
});

// ---------------------------------------------------------------------------------------------
// Differential test: random operation sequences run on the mount and on a small model of the
// same rules (written independently of the C), and the trees compared: the live one before
// every reboot, the durable one after. Directories that move are leaves moved between two
// fixed directories, so no sequence asks for a move into a directory's own subtree.

interface MNode {
  id: number;
  kind: 'file' | 'dir';
  mode: number;
  dmode: number;
  data: Buffer;
  ddata: Buffer;
  entries: Map<string, MNode>;
  dentries: Map<string, MNode>;
  dparent?: { dir: MNode; name: string };
  nlink: number;
}

class Model {
  private nextId = 1;
  root: MNode = this.node('dir', 0o755);

  node(kind: 'file' | 'dir', mode: number): MNode {
    return { id: this.nextId++, kind, mode, dmode: mode, data: Buffer.alloc(0), ddata: Buffer.alloc(0), entries: new Map(), dentries: new Map(), nlink: 1 };
  }

  lookup(parts: string[]): MNode | undefined {
    let n: MNode | undefined = this.root;
    for (const p of parts) n = n?.entries.get(p);
    return n;
  }

  fsyncFile(n: MNode, meta: boolean): void {
    n.ddata = Buffer.from(n.data);
    if (meta) n.dmode = n.mode;
  }

  fsyncDir(d: MNode): void {
    for (const [name, n] of d.entries) {
      // A directory has one durable name: giving it this one takes the old one away.
      if (n.kind === 'dir' && n.dparent && (n.dparent.dir !== d || n.dparent.name !== name)) {
        if (n.dparent.dir.dentries.get(n.dparent.name) === n) n.dparent.dir.dentries.delete(n.dparent.name);
      }
    }
    for (const [name, n] of d.dentries) if (n.kind === 'dir' && d.entries.get(name) !== n && n.dparent?.dir === d && n.dparent.name === name) n.dparent = undefined;
    d.dentries = new Map(d.entries);
    for (const [name, n] of d.entries) if (n.kind === 'dir') n.dparent = { dir: d, name };
    d.dmode = d.mode;
  }

  sync(): void {
    const walk = (d: MNode) => {
      this.fsyncDir(d);
      for (const n of d.entries.values()) n.kind === 'dir' ? walk(n) : this.fsyncFile(n, true);
    };
    walk(this.root);
  }

  reboot(): void {
    const seen = new Set<MNode>();
    const walk = (d: MNode) => {
      if (seen.has(d)) return;
      seen.add(d);
      d.mode = d.dmode;
      d.entries = new Map(d.dentries);
      for (const [name, n] of d.entries) {
        if (n.kind === 'dir') {
          n.dparent = { dir: d, name };
          walk(n);
        } else if (!seen.has(n)) {
          seen.add(n);
          n.data = Buffer.from(n.ddata);
          n.mode = n.dmode;
        }
      }
    };
    walk(this.root);
    for (const n of seen) if (n.kind === 'file') n.nlink = 0;
    for (const n of seen) for (const c of n.entries.values()) if (c.kind === 'file') c.nlink++;
  }

  /** The tree as a comparable value: names, kinds, modes, contents, and hard-link groups. */
  describe(which: 'live' | 'durable'): unknown {
    const ids = new Map<number, number>();
    const walk = (d: MNode): unknown =>
      Object.fromEntries(
        [...(which === 'live' ? d.entries : d.dentries)].sort(([a], [b]) => (a < b ? -1 : 1)).map(([name, n]) => {
          if (n.kind === 'dir') return [name, { mode: which === 'live' ? n.mode : n.dmode, dir: walk(n) }];
          if (!ids.has(n.id)) ids.set(n.id, ids.size);
          return [name, { mode: which === 'live' ? n.mode : n.dmode, data: (which === 'live' ? n.data : n.ddata).toString('hex'), link: ids.get(n.id) }];
        }),
      );
    return walk(this.root);
  }
}

function describeMount(dir: string): unknown {
  const ids = new Map<number, number>();
  const walk = (d: string): unknown =>
    Object.fromEntries(
      fs.readdirSync(d).sort().map((name) => {
        const full = path.join(d, name);
        const st = fs.lstatSync(full);
        if (st.isDirectory()) return [name, { mode: st.mode & 0o7777, dir: walk(full) }];
        if (!ids.has(st.ino)) ids.set(st.ino, ids.size);
        return [name, { mode: st.mode & 0o7777, data: fs.readFileSync(full).toString('hex'), link: ids.get(st.ino) }];
      }),
    );
  return walk(dir);
}

/** The first place where two tree descriptions differ, for a readable failure. */
function difference(actual: unknown, expected: unknown, where = '.'): string | undefined {
  if (JSON.stringify(actual) === JSON.stringify(expected)) return undefined;
  if (typeof actual !== 'object' || typeof expected !== 'object' || !actual || !expected) {
    return `${where}: mount has ${JSON.stringify(actual)}, model has ${JSON.stringify(expected)}`;
  }
  const a = actual as Record<string, unknown>;
  const e = expected as Record<string, unknown>;
  for (const key of new Set([...Object.keys(a), ...Object.keys(e)])) {
    const found = difference(a[key], e[key], `${where}/${key}`);
    if (found) return found;
  }
  return undefined;
}

describe.skipIf(unavailable !== undefined)('powercut-fs against a model', () => {
  let pfs: PowercutFs;
  beforeAll(async () => {
    pfs = await PowercutFs.mount();
  });
  afterAll(async () => {
    await pfs?.unmount();
  });

  const SEQUENCES = Number(process.env.HARDSYNC_POWERCUT_MODEL_SEQUENCES ?? 40);
  const baseSeed = Number(process.env.HARDSYNC_POWERCUT_SEED ?? (Math.random() * 2 ** 32) >>> 0) >>> 0;

  it(`${SEQUENCES} random sequences of 300 operations with reboots agree with the model (seed ${baseSeed})`, { timeout: 300_000 }, () => {
    for (let sequence = 0; sequence < SEQUENCES; sequence++) {
      const seed = (baseSeed + sequence * 7919) >>> 0;
      const random = rng(seed);
      const pick = <T>(items: T[]): T => items[Math.floor(random() * items.length)];
      const top = path.join(pfs.mountpoint, `model-${sequence}`);
      fs.mkdirSync(path.join(top, 'd1'), { recursive: true });
      fs.mkdirSync(path.join(top, 'd2'));
      pfs.sync();
      const model = new Model();
      model.root.entries.set('d1', model.node('dir', 0o755));
      model.root.entries.set('d2', model.node('dir', 0o755));
      model.sync();
      const log: string[] = [];
      const fail = (why: string) => {
        throw new Error(`sequence ${sequence} (seed ${seed}) ${why}\n${log.slice(-25).join('\n')}`);
      };

      const fixedDirs = [[], ['d1'], ['d2']] as string[][];
      const leafDirs = () => fixedDirs.slice(1).flatMap((p) => [...model.lookup(p)!.entries].filter(([, n]) => n.kind === 'dir').map(([name]) => [...p, name]));
      const dirs = () => [...fixedDirs, ...leafDirs()];
      const files = () => dirs().flatMap((p) => [...model.lookup(p)!.entries].filter(([, n]) => n.kind === 'file').map(([name]) => [...p, name]));
      const real = (p: string[]) => path.join(top, ...p);
      let unique = 0;
      // Few names, so renames often replace; a fresh one when a directory has them all.
      const freeName = (dir: string[], prefix: string) => {
        for (let attempt = 0; attempt < 12; attempt++) {
          const name = `${prefix}${Math.floor(random() * 6)}`;
          if (!model.lookup(dir)!.entries.has(name)) return name;
        }
        return `${prefix}x${unique++}`;
      };
      const bytes = () => Buffer.from(Array.from({ length: Math.floor(random() * 40) }, () => 97 + Math.floor(random() * 26)));

      for (let step = 0; step < 300; step++) {
        const all = files();
        const choice = random();
        try {
          if (choice < 0.12 || all.length === 0) {
            const dir = pick(dirs());
            const name = freeName(dir, 'f');
            const mode = pick([0o600, 0o644, 0o640]);
            log.push(`create ${[...dir, name].join('/')} ${mode.toString(8)}`);
            fs.closeSync(fs.openSync(real([...dir, name]), 'wx', mode));
            const n = model.node('file', mode);
            model.lookup(dir)!.entries.set(name, n);
          } else if (choice < 0.3) {
            const f = pick(all);
            const data = bytes();
            const n = model.lookup(f)!;
            const at = Math.floor(random() * (n.data.length + 5));
            const dsync = random() < 0.15;
            log.push(`write ${f.join('/')} @${at} ${data.length}${dsync ? ' dsync' : ''}`);
            const fd = dsync ? hs.openSync(real(f), { write: true, dsync: true }) : fs.openSync(real(f), 'r+');
            fs.writeSync(fd, data, 0, data.length, at);
            fs.closeSync(fd);
            // A zero-length write changes nothing, not even the size.
            const grown = Buffer.alloc(data.length === 0 ? n.data.length : Math.max(n.data.length, at + data.length));
            n.data.copy(grown);
            data.copy(grown, at);
            n.data = grown;
            // The kernel does not pass a zero-length write on, so it flushes nothing either.
            if (dsync && data.length > 0) model.fsyncFile(n, false);
          } else if (choice < 0.36) {
            const f = pick(all);
            const n = model.lookup(f)!;
            const len = Math.floor(random() * (n.data.length + 5));
            log.push(`truncate ${f.join('/')} ${len}`);
            fs.truncateSync(real(f), len);
            const next = Buffer.alloc(len);
            n.data.copy(next, 0, 0, Math.min(len, n.data.length));
            n.data = next;
          } else if (choice < 0.48) {
            const f = pick(all);
            const meta = random() < 0.5;
            log.push(`${meta ? 'fsync' : 'fdatasync'} ${f.join('/')}`);
            const fd = fs.openSync(real(f), 'r');
            meta ? hs.fsyncSync(fd) : hs.fdatasyncSync(fd);
            fs.closeSync(fd);
            model.fsyncFile(model.lookup(f)!, meta);
          } else if (choice < 0.6) {
            const dir = pick(dirs());
            log.push(`fsyncdir ${dir.join('/') || '.'}`);
            hs.fsyncDirSync(real(dir));
            model.fsyncDir(model.lookup(dir)!);
          } else if (choice < 0.7) {
            const f = pick(all);
            const toDir = pick(dirs());
            const toName = random() < 0.5 ? freeName(toDir, 'f') : pick([...model.lookup(toDir)!.entries].filter(([, n]) => n.kind === 'file').map(([name]) => name).concat([freeName(toDir, 'f')]));
            const to = [...toDir, toName];
            log.push(`rename ${f.join('/')} -> ${to.join('/')}`);
            fs.renameSync(real(f), real(to));
            const n = model.lookup(f)!;
            const target = model.lookup(to);
            if (target !== n) {
              model.lookup(f.slice(0, -1))!.entries.delete(f[f.length - 1]);
              if (target) target.nlink--;
              model.lookup(toDir)!.entries.set(toName, n);
            }
          } else if (choice < 0.76) {
            const f = pick(all);
            log.push(`unlink ${f.join('/')}`);
            fs.unlinkSync(real(f));
            model.lookup(f)!.nlink--;
            model.lookup(f.slice(0, -1))!.entries.delete(f[f.length - 1]);
          } else if (choice < 0.81) {
            const f = pick(all);
            const toDir = pick(dirs());
            const name = freeName(toDir, 'f');
            log.push(`link ${f.join('/')} -> ${[...toDir, name].join('/')}`);
            fs.linkSync(real(f), real([...toDir, name]));
            const n = model.lookup(f)!;
            n.nlink++;
            model.lookup(toDir)!.entries.set(name, n);
          } else if (choice < 0.86) {
            const f = pick(all);
            const mode = pick([0o600, 0o644, 0o640, 0o400]);
            log.push(`chmod ${f.join('/')} ${mode.toString(8)}`);
            fs.chmodSync(real(f), mode);
            model.lookup(f)!.mode = mode;
          } else if (choice < 0.9) {
            const parent = pick(fixedDirs.slice(1));
            const name = freeName(parent, 'sub');
            log.push(`mkdir ${[...parent, name].join('/')}`);
            fs.mkdirSync(real([...parent, name]), 0o755);
            model.lookup(parent)!.entries.set(name, model.node('dir', 0o755));
          } else if (choice < 0.93) {
            const leaves = leafDirs();
            if (leaves.length === 0) continue;
            const leaf = pick(leaves);
            const to = pick(fixedDirs.slice(1));
            const name = freeName(to, 'sub');
            log.push(`rename dir ${leaf.join('/')} -> ${[...to, name].join('/')}`);
            fs.renameSync(real(leaf), real([...to, name]));
            const n = model.lookup(leaf)!;
            model.lookup(leaf.slice(0, -1))!.entries.delete(leaf[leaf.length - 1]);
            model.lookup(to)!.entries.set(name, n);
          } else if (choice < 0.95) {
            const empty = leafDirs().filter((p) => model.lookup(p)!.entries.size === 0);
            if (empty.length === 0) continue;
            const leaf = pick(empty);
            log.push(`rmdir ${leaf.join('/')}`);
            fs.rmdirSync(real(leaf));
            model.lookup(leaf)!.nlink = 0;
            model.lookup(leaf.slice(0, -1))!.entries.delete(leaf[leaf.length - 1]);
          } else {
            log.push('reboot');
            const live = difference(describeMount(top), model.describe('live'));
            if (live) fail(`step ${step}: live tree before the reboot: ${live}`);
            pfs.reboot();
            model.reboot();
            const durable = difference(describeMount(top), model.describe('live'));
            if (durable) fail(`step ${step}: durable tree after the reboot: ${durable}`);
          }
        } catch (error) {
          if ((error as Error).message.startsWith('sequence ')) throw error;
          fail(`step ${step}: ${(error as Error).message}`);
        }
      }
      const live = difference(describeMount(top), model.describe('live'));
      if (live) fail(`at the end: live tree: ${live}`);
      pfs.reboot();
      model.reboot();
      const durable = difference(describeMount(top), model.describe('live'));
      if (durable) fail(`final reboot: durable tree: ${durable}`);
      const status = pfs.status();
      expect(status.backingErrors, pfs.log).toBe(0);
      expect(status.unmodelled, pfs.log).toBe(0);
      fs.rmSync(top, { recursive: true });
      pfs.sync();
    }
  });
});
