import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { native } from '../dist/lib/native.js';
import { tempDir } from './helpers/tmp';

const dir = tempDir('hs-loop-');

const spec = () => ({
  files: [path.join(dir, 'f')], directory: dir, sequence: 0, flush: 1, placement: 0, dsync: false, sync: false, direct: false,
  fsyncDirectory: false, syncFileRangeFlags: 0, size: 4096, writesPerOp: 2, alignment: 4096, regionBytes: 1 << 20, prefillBytes: 0, seconds: 0.02, maxSamples: 50,
});

describe('native benchmark loop', () => {
  it('returns one latency per operation, bounded by maxSamples', async () => {
    const result = await native.benchLoop({ ...spec(), seconds: 60 });
    expect(result.ops).toBe(50);
    expect(result.samplesNs).toBeInstanceOf(Float64Array);
    expect(result.samplesNs.length).toBe(50);
    expect(Array.from(result.samplesNs).every((ns) => ns > 0)).toBe(true);
    const sum = Array.from(result.samplesNs).reduce((a, b) => a + b, 0);
    expect(result.busyNs).toBeCloseTo(sum, 0);
    // overwrite mode: the prefilled region stays as big as it was
    expect(fs.statSync(path.join(dir, 'f')).size).toBe(1 << 20);
  });

  it('writes prefillBytes before timing and still overwrites only the region', async () => {
    const file = path.join(dir, 'prefilled');
    const result = await native.benchLoop({ ...spec(), files: [file], regionBytes: 8192, prefillBytes: 3 << 20, maxSamples: 20, seconds: 60 });
    expect(result.ops).toBe(20);
    expect(fs.statSync(file).size).toBe(3 << 20);
  });

  it('with sampleEvery N, times one operation in N and counts every one', async () => {
    const file = path.join(dir, 'sampled');
    // 5 samples, 4 operations per sample: the run ends on the 5th timed operation, after 1 + 4 * 4
    const result = await native.benchLoop({ ...spec(), files: [file], flush: 0, regionBytes: 8192, maxSamples: 5, seconds: 60, sampleEvery: 4 } as never);
    expect(result.ops).toBe(17);
    expect(result.samplesNs.length).toBe(5);
    expect(Array.from(result.samplesNs).every((ns) => ns > 0)).toBe(true);
    // busyNs is the loop's elapsed time then: at least the timed operations, at most the wall time
    const sum = Array.from(result.samplesNs).reduce((a, b) => a + b, 0);
    expect(result.busyNs).toBeGreaterThanOrEqual(sum);
    expect(result.busyNs).toBeLessThanOrEqual(result.wallNs);
    // the deadline is checked after each timed operation only
    const timed = await native.benchLoop({ ...spec(), files: [file], flush: 0, regionBytes: 8192, maxSamples: 1000, seconds: 0, sampleEvery: 3 } as never);
    expect(timed.ops).toBe(1);
    // absent or undefined: every operation is timed
    const every = await native.benchLoop({ ...spec(), files: [file], maxSamples: 6, seconds: 60, sampleEvery: undefined } as never);
    expect(every.ops).toBe(6);
    expect(every.samplesNs.length).toBe(6);
  });

  it('splits the samples over threads, one file each', async () => {
    const files = [0, 1, 2].map((i) => path.join(dir, `t${i}`));
    const result = await native.benchLoop({ ...spec(), files, maxSamples: 30, seconds: 60 });
    expect(result.ops).toBe(30);
    for (const f of files) expect(fs.existsSync(f)).toBe(true);
  });

  it('append grows the file and wraps at regionBytes; new-file removes its file', async () => {
    const file = path.join(dir, 'append');
    await native.benchLoop({ ...spec(), files: [file], placement: 1, regionBytes: 8192 * 3, maxSamples: 4, seconds: 60 });
    // 4 ops of 8 KiB with a 24 KiB limit: 3 fill it, the 4th starts again at 0
    expect(fs.statSync(file).size).toBe(8192);
    const fresh = path.join(dir, 'fresh');
    await native.benchLoop({ ...spec(), files: [fresh], sequence: 4, fsyncDirectory: true, maxSamples: 3, seconds: 60 });
    expect(fs.existsSync(`${fresh}.new`)).toBe(false);
  });

  it('mapped (mmap-msync) runs over the prefilled region, which keeps its size and content; not with append', async () => {
    const file = path.join(dir, 'mapped');
    const result = await native.benchLoop({ ...spec(), files: [file], sequence: 6, flush: 0, regionBytes: 8192 * 3, maxSamples: 5, seconds: 60 });
    expect(result.ops).toBe(5);
    const stored = fs.readFileSync(file);
    expect(stored.length).toBe(8192 * 3);
    // The prefill and the stores are the same 4 KiB pattern: every block holds it.
    for (let at = 4096; at < stored.length; at += 4096) expect(stored.subarray(at, at + 4096).equals(stored.subarray(0, 4096))).toBe(true);
    expect(() => native.benchLoop({ ...spec(), files: [file], sequence: 6, placement: 1 })).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
  });

  it('rejects with a node:fs-style error naming the file', async () => {
    await expect(native.benchLoop({ ...spec(), files: [path.join(dir, 'no', 'such', 'dir')] })).rejects.toMatchObject({
      code: 'ENOENT', syscall: 'open', path: path.join(dir, 'no', 'such', 'dir'),
    });
  });

  it('refuses any malformed spec with a TypeError or RangeError, never a crash', () => {
    const bad: [string, unknown][] = [
      ['files', []], ['files', 'x'], ['files', [1]], ['files', ['']], ['files', new Array(65).fill('x')], ['directory', 7],
      ['sequence', 7], ['sequence', -1], ['flush', 9], ['placement', 3], ['dsync', 1], ['size', 0], ['size', 2 ** 27],
      ['size', 1.5], ['writesPerOp', 0], ['writesPerOp', 5000], ['alignment', 3], ['alignment', 0], ['regionBytes', 100],
      ['regionBytes', -1], ['prefillBytes', -1], ['prefillBytes', 'x'], ['seconds', Number.NaN], ['seconds', -1], ['maxSamples', 0], ['maxSamples', 2 ** 25], ['syncFileRangeFlags', -1],
      ['sampleEvery', 0], ['sampleEvery', 2 ** 16 + 1], ['sampleEvery', 1.5], ['sampleEvery', '2'], ['sampleEvery', null], ['sampleEvery', Number.NaN],
    ];
    for (const [key, value] of bad) {
      let error: unknown;
      try {
        void native.benchLoop({ ...spec(), [key]: value } as never);
      } catch (e) {
        error = e;
      }
      expect(error, `${key}=${String(value)}`).toBeInstanceOf(Error);
      expect(['ERR_INVALID_ARG_TYPE', 'ERR_OUT_OF_RANGE']).toContain((error as { code: string }).code);
    }
    expect(() => native.benchLoop(undefined as never)).toThrow(TypeError);
    const getter = { ...spec() };
    Object.defineProperty(getter, 'size', { get() { throw new Error('boom'); }, enumerable: true });
    expect(() => native.benchLoop(getter)).toThrow('boom');
  });
});
