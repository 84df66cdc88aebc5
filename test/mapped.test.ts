// mapFile / msync / unmapFile on a real disk (ext4 under /tmp here): what a store through the
// map does to the file, the ranges refused (nothing mapped past the end of the file), what
// unmapping and garbage collection release, and every misuse failing with a node-shaped error
// instead of a crash. Durability across power cuts: test/powercut-mapped.test.ts; the syscalls
// made: test/syscalls.test.ts; hostile arguments: test/fuzz.test.ts.
import { constants as bufferConstants } from 'node:buffer';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as hs from '../dist/lib/index.js';
import { diskTempDir } from './helpers/tmp';

let dir: string;
let cleanup: () => void;
let counter = 0;
beforeAll(() => {
  ({ dir, cleanup } = diskTempDir('hardsync-mapped-'));
});
afterAll(() => cleanup());

const linux = hs.platform === 'linux';
const root = path.resolve(__dirname, '..');

/** A new file of `size` bytes, each byte its offset mod 251, open read-write. */
function fileOf(size: number): { file: string; fd: number } {
  const file = path.join(dir, `f${++counter}`);
  const bytes = Buffer.alloc(size);
  for (let i = 0; i < size; i++) bytes[i] = i % 251;
  fs.writeFileSync(file, bytes);
  return { file, fd: fs.openSync(file, 'r+') };
}

/** How many mappings of `file` this process has (Linux: /proc/self/maps). */
function mappingsOf(file: string): number {
  return fs.readFileSync('/proc/self/maps', 'utf8').split('\n').filter((line) => line.endsWith(file) || line.endsWith(`${file} (deleted)`)).length;
}

/** What calling `call` threw (or undefined). */
function thrown(call: () => unknown): (Error & { code?: string; syscall?: string }) | undefined {
  try {
    call();
  } catch (error) {
    return error as Error & { code?: string };
  }
  return undefined;
}

describe('mapFile: a Buffer over the file', () => {
  it('a store through the map is in the file, and a write to the file shows in the map (both forms)', async () => {
    const { file, fd } = fileOf(20000);
    const sync = hs.mapFileSync(fd);
    const promised = await hs.mapFile(fd, { offset: 8192, length: 100 });
    expect(Buffer.isBuffer(sync)).toBe(true);
    expect(sync.length).toBe(20000);
    expect(promised.length).toBe(100);
    expect(sync[300]).toBe(300 % 251);
    sync.write('through the map', 10);
    promised.write('second map', 0);
    hs.msyncSync(sync);
    await hs.msync(promised);
    const read = fs.readFileSync(file);
    expect(read.subarray(10, 25).toString()).toBe('through the map');
    expect(read.subarray(8192, 8202).toString()).toBe('second map');
    // one page cache: the two maps and the file agree
    expect(sync.subarray(8192, 8202).toString()).toBe('second map');
    fs.writeSync(fd, 'written', 8200);
    expect(promised.subarray(8, 15).toString()).toBe('written');
    hs.unmapFile(sync);
    hs.unmapFile(promised);
    fs.closeSync(fd);
  });

  it('starts at any offset: the Buffer\'s first byte is the file\'s byte at offset', () => {
    const { fd } = fileOf(200_000);
    for (const offset of [0, 1, 4095, 4096, 5000, 65535, 65537, 131072 + 3]) {
      const view = hs.mapFileSync(fd, { offset, length: 64 });
      expect(view.length).toBe(64);
      expect(view.byteOffset).toBe(0);
      expect([...view.subarray(0, 4)], `offset ${offset}`).toEqual([0, 1, 2, 3].map((i) => (offset + i) % 251));
      hs.unmapFile(view);
    }
    fs.closeSync(fd);
  });

  it('maps up to the end of the file by default, and from offset to the end', () => {
    const { fd } = fileOf(10_000);
    const rest = hs.mapFileSync(fd, { offset: 9999 });
    expect(rest.length).toBe(1);
    expect(rest[0]).toBe(9999 % 251);
    hs.unmapFile(rest);
    fs.closeSync(fd);
  });

  it('refuses a range past the end of the file, or an empty file, with ERR_OUT_OF_RANGE, mapping nothing', async () => {
    const { file, fd } = fileOf(10_000);
    const before = linux ? mappingsOf(file) : 0;
    const past = thrown(() => hs.mapFileSync(fd, { offset: 9000, length: 1001 }));
    expect(past).toBeInstanceOf(RangeError);
    expect(past).toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    expect(past!.message).toMatch(/^The value of "length" is out of range\. It must be <= 1000 \(the file's size past "offset"; .*grow the file first.*\)\. Received 1001$/);
    await expect(hs.mapFile(fd, { offset: 10_000 })).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE', message: expect.stringMatching(/"offset" .* must be < 10000 .*Received 10000$/) });
    await expect(hs.mapFile(fd, { offset: 2 ** 40 })).rejects.toThrow(/Received 1_099_511_627_776$/);
    const empty = fs.openSync(path.join(dir, `empty${++counter}`), 'w+');
    expect(thrown(() => hs.mapFileSync(empty))).toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    fs.closeSync(empty);
    if (linux) expect(mappingsOf(file)).toBe(before);
    fs.closeSync(fd);
  });

  it('a region longer than a Buffer can be is node\'s ERR_BUFFER_TOO_LARGE, mapping nothing', async () => {
    const file = path.join(dir, `huge${++counter}`);
    const fd = fs.openSync(file, 'w+');
    const size = 5 * 2 ** 30; // sparse
    fs.ftruncateSync(fd, size);
    if (size > bufferConstants.MAX_LENGTH) {
      expect(thrown(() => hs.mapFileSync(fd))).toMatchObject({ code: 'ERR_BUFFER_TOO_LARGE' });
      await expect(hs.mapFile(fd)).rejects.toMatchObject({ code: 'ERR_BUFFER_TOO_LARGE' });
      expect(thrown(() => hs.mapFileSync(fd, { length: size }))).toMatchObject({ code: 'ERR_OUT_OF_RANGE', message: expect.stringContaining('"options.length"') });
    } else {
      hs.unmapFile(hs.mapFileSync(fd));
    }
    if (linux) expect(mappingsOf(file)).toBe(0);
    fs.closeSync(fd);
    fs.rmSync(file);
  });

  it('growing is explicit: grow the file, then map the new part', async () => {
    const { fd } = fileOf(4096);
    expect(thrown(() => hs.mapFileSync(fd, { offset: 4096, length: 4096 }))).toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    await hs.preallocate(fd, 4096, 4096);
    const grown = hs.mapFileSync(fd, { offset: 4096, length: 4096 });
    expect(grown.every((byte) => byte === 0)).toBe(true);
    grown.fill(7);
    hs.msyncSync(grown);
    hs.unmapFile(grown);
    expect(fs.fstatSync(fd).size).toBe(8192);
    fs.closeSync(fd);
  });

  it('needs an fd open for reading and writing: read-only or write-only is EACCES, mapping nothing', () => {
    const { file } = fileOf(4096);
    const { O_RDONLY, O_WRONLY, O_APPEND } = fs.constants;
    for (const flags of [O_RDONLY, O_WRONLY, O_WRONLY | O_APPEND]) {
      const fd = fs.openSync(file, flags);
      expect(thrown(() => hs.mapFileSync(fd)), String(flags)).toMatchObject({ code: 'EACCES', syscall: 'mmap' });
      fs.closeSync(fd);
    }
    if (linux) expect(mappingsOf(file)).toBe(0);
  });

  it('fails like node:fs on what is not a mappable file', async () => {
    const closed = fs.openSync(path.join(dir, `closed${++counter}`), 'w+');
    fs.closeSync(closed);
    expect(thrown(() => hs.mapFileSync(closed))).toMatchObject({ code: 'EBADF', syscall: 'fstat', errno: expect.any(Number) });
    await expect(hs.mapFile(closed)).rejects.toMatchObject({ code: 'EBADF', syscall: 'fstat' });
    const directory = fs.openSync(dir, 'r');
    expect(thrown(() => hs.mapFileSync(directory))?.code).toMatch(/^(ERR_OUT_OF_RANGE|ENODEV|EACCES)$/);
    fs.closeSync(directory);
  });

  it('validates its arguments before any I/O, in node:fs\'s words', async () => {
    const { fd } = fileOf(4096);
    expect(thrown(() => hs.mapFileSync(-1))).toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    expect(thrown(() => hs.mapFileSync('3' as unknown as number))).toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    expect(thrown(() => hs.mapFileSync(fd, 5 as never))).toMatchObject({ code: 'ERR_INVALID_ARG_TYPE', message: expect.stringContaining('"options"') });
    expect(thrown(() => hs.mapFileSync(fd, { offset: -1 }))).toMatchObject({ code: 'ERR_OUT_OF_RANGE', message: expect.stringContaining('"options.offset"') });
    expect(thrown(() => hs.mapFileSync(fd, { offset: 1.5 }))).toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    expect(thrown(() => hs.mapFileSync(fd, { length: 0 }))).toMatchObject({ code: 'ERR_OUT_OF_RANGE', message: expect.stringContaining('"options.length"') });
    expect(thrown(() => hs.mapFileSync(fd, { length: '1' as unknown as number }))).toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    expect(thrown(() => hs.mapFileSync(fd, { sync: 1 as unknown as boolean }))).toMatchObject({ code: 'ERR_INVALID_ARG_TYPE', message: expect.stringContaining('"options.sync"') });
    await expect(hs.mapFile(fd, { length: -5 })).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    fs.closeSync(fd);
  });

  it('MAP_SYNC (sync: true) is refused with ERR_HARDSYNC_UNSUPPORTED where capabilities(path) says so, never ignored', async () => {
    const { fd } = fileOf(4096);
    const caps = hs.capabilitiesSync(dir);
    const asked = thrown(() => hs.unmapFile(hs.mapFileSync(fd, { sync: true })));
    if (caps.calls.mapSync.supported) {
      expect(asked).toBeUndefined();
    } else {
      expect(asked).toMatchObject({ code: 'ERR_HARDSYNC_UNSUPPORTED', message: expect.stringContaining('MAP_SYNC') });
      await expect(hs.mapFile(fd, { sync: true })).rejects.toMatchObject({ code: 'ERR_HARDSYNC_UNSUPPORTED' });
      // What the OS table says without a path, and why this filesystem refuses it.
      expect(hs.capabilitiesSync().calls.mapSync.supported).toBe(linux);
      if (linux) expect(caps.calls.mapSync.reason).toMatch(/DAX/);
    }
    // The plain mapping and msync work here, and the table says so.
    expect(caps.calls.mapFile).toMatchObject({ supported: true });
    expect(caps.calls.msync).toMatchObject({ supported: true, durable: true });
    fs.closeSync(fd);
  });
});

describe('msync: the range, durable', () => {
  it('takes the whole view, a range of it, or any view of the mapping\'s ArrayBuffer', async () => {
    const { fd } = fileOf(3 * 4096 + 100);
    const map = hs.mapFileSync(fd, { offset: 100 });
    map.fill(1);
    hs.msyncSync(map);
    await hs.msync(map, { offset: 5000 });
    await hs.msync(map, { offset: 4000, length: 200 });
    hs.msyncSync(map, { length: 0 });
    hs.msyncSync(map, { offset: map.length });
    const sub = map.subarray(4096, 8192);
    await hs.msync(sub, { offset: 10, length: 10 });
    hs.msyncSync(new DataView(map.buffer, 17, 40));
    hs.msyncSync(new Float64Array(map.buffer, 8, 16), { offset: 8, length: 64 });
    hs.msyncSync(Buffer.from(map.buffer)); // a Buffer over the same ArrayBuffer
    hs.unmapFile(map);
    fs.closeSync(fd);
  });

  it('refuses a range outside the view (ERR_OUT_OF_RANGE) and whatever is not a live mapping (ERR_INVALID_ARG_TYPE)', async () => {
    const { fd } = fileOf(8192);
    const map = hs.mapFileSync(fd);
    const sub = map.subarray(0, 100);
    expect(thrown(() => hs.msyncSync(sub, { offset: 101 }))).toMatchObject({ code: 'ERR_OUT_OF_RANGE', message: expect.stringContaining('"options.offset"') });
    expect(thrown(() => hs.msyncSync(sub, { offset: 50, length: 51 }))).toMatchObject({ code: 'ERR_OUT_OF_RANGE', message: expect.stringContaining('"options.length"') });
    await expect(hs.msync(sub, { length: -1 })).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    expect(thrown(() => hs.msyncSync('map' as unknown as Buffer))).toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    for (const other of [Buffer.alloc(8192), Buffer.from(map), new Uint8Array(new SharedArrayBuffer(16)), structuredClone(map)]) {
      expect(thrown(() => hs.msyncSync(other)), String(other.constructor.name)).toMatchObject({ code: 'ERR_INVALID_ARG_TYPE', message: expect.stringContaining('mapFile') });
      expect(thrown(() => hs.unmapFile(other))).toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
      // refused, and left as it was: a plain buffer is never detached
      expect(other.byteLength).toBeGreaterThan(0);
    }
    hs.unmapFile(map);
    fs.closeSync(fd);
  });

  it('works after the fd is closed: the mapping holds the file', async () => {
    const { file, fd } = fileOf(4096);
    const map = hs.mapFileSync(fd);
    fs.closeSync(fd);
    map.write('after close');
    await hs.msync(map);
    expect(fs.readFileSync(file).subarray(0, 11).toString()).toBe('after close');
    hs.unmapFile(map);
  });

  it('runs on the engine, not on the event loop: timers run while an msync is in flight', async () => {
    const { fd } = fileOf(1 << 20);
    const map = hs.mapFileSync(fd);
    let turns = 0;
    const ticking = setInterval(() => turns++, 0);
    try {
      for (let i = 0; i < 20 && turns === 0; i++) {
        map.fill(i);
        await hs.msync(map);
      }
    } finally {
      clearInterval(ticking);
    }
    expect(turns).toBeGreaterThan(0);
    hs.unmapFile(map);
    fs.closeSync(fd);
  });
});

describe('unmapFile: detached at once, unmapped at once', () => {
  it('every view of the mapping reads as empty and throws on access; msync and a second unmap are refused', () => {
    const { file, fd } = fileOf(8192);
    const map = hs.mapFileSync(fd);
    const sub = map.subarray(10, 20);
    const view = new DataView(map.buffer);
    const again = Buffer.from(map.buffer, 100, 10);
    if (linux) expect(mappingsOf(file)).toBe(1);
    hs.unmapFile(sub);
    if (linux) expect(mappingsOf(file)).toBe(0);
    for (const each of [map, sub, again]) {
      expect(each.length).toBe(0);
      expect(each[0]).toBeUndefined();
      expect(() => each.readUInt8(0)).toThrow(RangeError);
    }
    expect(() => view.getUint8(0)).toThrow(TypeError);
    map[0] = 1; // a store to a detached view is dropped, not a crash
    expect(thrown(() => hs.msyncSync(map))).toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    expect(thrown(() => hs.unmapFile(again))).toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    expect(thrown(() => hs.unmapFile(map, 1 as never))).toMatchObject({ code: 'ERR_INVALID_ARG_TYPE', message: expect.stringContaining('unmapFile(view) unmaps at once') });
    fs.closeSync(fd);
  });

  it('an unmap during an msync: the msync completes on the still-mapped memory, then the memory goes', async () => {
    const { file, fd } = fileOf(1 << 20);
    const map = hs.mapFileSync(fd);
    map.fill(9);
    const pending = hs.msync(map);
    hs.unmapFile(map);
    expect(map.length).toBe(0);
    await pending;
    if (linux) expect(mappingsOf(file)).toBe(0);
    expect(fs.readFileSync(file).every((byte) => byte === 9)).toBe(true);
    fs.closeSync(fd);
  });

  it.skipIf(!linux)('a mapping never unmapped is released when garbage-collected', () => {
    const { file } = fileOf(8192);
    const script = `
      const hs = require(${JSON.stringify(root)});
      const fs = require('node:fs');
      const file = ${JSON.stringify(file)};
      const count = () => fs.readFileSync('/proc/self/maps', 'utf8').split('\\n').filter((l) => l.endsWith(file)).length;
      // Made and dropped in a frame of its own, gone before the collections (a suspended
      // frame could still hold the last one).
      async function mapAndDrop() {
        const fd = fs.openSync(file, 'r+');
        const kept = [];
        for (let i = 0; i < 200; i++) kept.push(hs.mapFileSync(fd, { offset: i }));
        for (let i = 0; i < 50; i++) kept.push(await hs.mapFile(fd));
        for (const map of kept) if (map.length === 8192) map[0] = 1;
        kept[249][1] = 2;
        fs.closeSync(fd);
        return count();
      }
      (async () => {
        const before = await mapAndDrop();
        let after = before;
        for (let round = 0; round < 100 && after > 0; round++) {
          global.gc();
          await new Promise((resolve) => setImmediate(resolve));
          after = count();
        }
        console.log(JSON.stringify({ before, after }));
      })();`;
    const run = spawnSync(process.execPath, ['--expose-gc', '-e', script], { encoding: 'utf8', timeout: 60_000 });
    expect(run.status, run.stderr).toBe(0);
    const { before, after } = JSON.parse(run.stdout) as { before: number; after: number };
    expect(before).toBe(250);
    expect(after).toBe(0);
    // what the collected mappings stored is in the file (the page cache): byte 0 from an offset-0 map, byte 1 from a whole one
    expect([...fs.readFileSync(file).subarray(0, 2)]).toEqual([1, 2]);
  });

  it.skipIf(!linux)('a worker\'s mappings are released when it exits', async () => {
    const { file } = fileOf(8192);
    const worker = new Worker(
      `const hs = require(${JSON.stringify(root)});
       const fs = require('node:fs');
       const fd = fs.openSync(${JSON.stringify(file)}, 'r+');
       globalThis.kept = [hs.mapFileSync(fd), hs.mapFileSync(fd, { offset: 4096 })];
       globalThis.kept[0].write('from a worker');
       hs.msyncSync(globalThis.kept[0]);
       const { parentPort } = require('node:worker_threads');
       // Listening keeps the worker alive (its mappings with it) until it is terminated below;
       // a worker whose script ended would exit on its own, racing the count.
       parentPort.on('message', () => {});
       parentPort.postMessage('mapped');`,
      { eval: true },
    );
    await new Promise<void>((resolve, reject) => {
      worker.once('message', () => resolve());
      worker.once('error', reject);
    });
    expect(mappingsOf(file)).toBe(2);
    await worker.terminate();
    expect(mappingsOf(file)).toBe(0);
    expect(fs.readFileSync(file).subarray(0, 13).toString()).toBe('from a worker');
  });
});
