// allocAligned: the memory really is aligned (an O_DIRECT write proves it, where an unaligned
// Buffer fails with EINVAL), it is zero-filled, and it is garbage-collected.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as hs from '../dist/lib/index.js';
import { diskTempDir, filesystemType } from './helpers/tmp';

let dir: string;
let cleanup: () => void;
beforeAll(() => {
  ({ dir, cleanup } = diskTempDir());
});
afterAll(() => cleanup());

describe('allocAligned', () => {
  it.each([1, 8, 512, 4096, 65536, 1 << 20])('aligns to %i and zero-fills', (alignment) => {
    for (const size of [0, 1, 4095, 4096, 100_000]) {
      const buffer = hs.allocAligned(size, alignment);
      expect(buffer).toBeInstanceOf(Buffer);
      expect(buffer.length).toBe(size);
      expect(hs.isAligned(buffer, alignment)).toBe(true);
      expect(buffer.every((byte) => byte === 0)).toBe(true);
    }
  });

  it('defaults to the platform direct-I/O alignment', () => {
    const buffer = hs.allocAligned(4096);
    const { memory } = hs.dioAlignmentSync(dir);
    expect(hs.isAligned(buffer, Math.max(memory, 512))).toBe(true);
  });

  it('isAligned sees an offset view as unaligned', () => {
    const buffer = hs.allocAligned(8192, 4096);
    expect(hs.isAligned(buffer.subarray(1), 2)).toBe(false);
    expect(hs.isAligned(buffer.subarray(4096), 4096)).toBe(true);
  });
});

describe('O_DIRECT writes on a disk filesystem (ext4 under /tmp)', () => {
  it('enforces the alignment where the filesystem states it (ext4 here)', async () => {
    const { source } = await hs.dioAlignment(path.join(dir));
    const probe = path.join(dir, 'probe-file');
    fs.writeFileSync(probe, '');
    const type = filesystemType(dir);
    if (type === 'ext4' || type === 'xfs') expect((await hs.dioAlignment(probe)).source).toBe('statx(STATX_DIOALIGN)');
    expect(source).toMatch(/\S/);
  });

  it('succeed with an allocAligned buffer and fail with EINVAL for an unaligned one', async () => {
    const { memory, offset } = await hs.dioAlignment(dir);
    const block = Math.max(memory, offset, 4096);
    const file = path.join(dir, 'direct.bin');
    const fd = await hs.open(file, { write: true, create: true, direct: true });
    try {
      const aligned = hs.allocAligned(block * 4, block);
      aligned.fill(0x42);
      expect(await hs.writeDurable(fd, aligned, 0, { flush: 'data' })).toBe(block * 4);
      expect(hs.writeDurableSync(fd, aligned.subarray(0, block), block * 4, { flush: 'none' })).toBe(block);

      // The same bytes one byte off an aligned address: a filesystem that states its rules
      // (statx STATX_DIOALIGN: ext4, xfs) refuses them. btrfs states none and quietly falls
      // back to buffered I/O for misaligned direct writes, so there the write succeeds.
      const enforced = (await hs.dioAlignment(fd)).source === 'statx(STATX_DIOALIGN)';
      const backing = hs.allocAligned(block * 2, block);
      const unaligned = backing.subarray(1, 1 + block);
      expect(hs.isAligned(unaligned, memory)).toBe(false);
      if (enforced) {
        expect(() => hs.writeDurableSync(fd, unaligned, 0)).toThrow(expect.objectContaining({ code: 'EINVAL', syscall: 'pwrite' }));
        await expect(hs.writeDurable(fd, unaligned, 0)).rejects.toMatchObject({ code: 'EINVAL', bytesWritten: 0 });
        // The Promise form copies the bytes first; the copy keeps the source's misalignment,
        // so it fails exactly as the sync form does, at every offset.
        for (const skew of [1, 8, 16, 64, 256, memory - 1]) {
          const view = backing.subarray(skew, skew + block);
          await expect(hs.writeDurable(fd, view, 0), `skew ${skew}`).rejects.toMatchObject({ code: 'EINVAL' });
        }
        // An aligned buffer at an unaligned file offset fails the same way.
        expect(() => hs.writeDurableSync(fd, aligned.subarray(0, block), 1)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
      }
    } finally {
      fs.closeSync(fd);
    }
    const back = fs.readFileSync(file);
    expect(back.length).toBe(block * 5);
    expect(back.every((byte) => byte === 0x42)).toBe(true);
  });
});

describe('garbage collection', () => {
  it('frees aligned buffers once unreachable (child process with --expose-gc)', () => {
    const script = `
      const hs = require(${JSON.stringify(path.resolve(__dirname, '..'))});
      const registry = new FinalizationRegistry(() => { collected++; });
      let collected = 0;
      const mb = () => process.memoryUsage().arrayBuffers / 1048576;
      gc(); const before = mb();
      let during = 0;
      (function () {
        const held = [];
        for (let i = 0; i < 256; i++) { const b = hs.allocAligned(1 << 20, 4096); b[0] = 1; registry.register(b, i); held.push(b); }
        during = mb();
      })();
      setTimeout(() => {
        gc();
        setTimeout(() => {
          gc();
          console.log(JSON.stringify({ before, during, after: mb(), collected }));
        }, 50);
      }, 50);
    `;
    const out = JSON.parse(execFileSync(process.execPath, ['--expose-gc', '-e', script], { encoding: 'utf8' }));
    expect(out.during - out.before).toBeGreaterThan(200);
    expect(out.after - out.before).toBeLessThan(16);
    expect(out.collected).toBeGreaterThan(200);
  });
});
