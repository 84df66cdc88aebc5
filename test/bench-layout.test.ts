/**
 * Where the benchmark's writes go and how many are in flight: --pattern, --seed, --file-size,
 * --iodepth, and the native loop's fields behind them (pattern, seed, startOffset, reuseFiles,
 * sampleFlushOnly, depth, depthVia). The syscalls are read with strace where that is cheap.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { capabilitiesSync } from '../dist/lib/index.js';
import { native } from '../dist/lib/native.js';
import { layoutChoice, suiteChoice } from '../dist/bench/cli.js';
import { planSuite, specOf } from '../dist/bench/measure/run.js';
import { readBenchFile } from '../dist/bench/measure/schema.js';
import { runCli } from './fixtures/bench/run-cli';
import { hasStrace, parseStrace, type Syscall } from './helpers/strace';
import { tempDir } from './helpers/tmp';

const dir = tempDir('hs-layout-');
const NATIVE = path.join(__dirname, '..', 'dist', 'lib', 'native.js');
const DATA = native.flushKinds.data;

const spec = (file: string, extra: Record<string, unknown> = {}) => ({
  files: [file], directory: path.dirname(file), sequence: 0, flush: 0, placement: 2, dsync: false, sync: false, direct: false,
  fsyncDirectory: false, syncFileRangeFlags: 0, size: 4096, writesPerOp: 1, alignment: 4096, regionBytes: 64 * 4096, prefillBytes: 0,
  seconds: 60, maxSamples: 20, ...extra,
});

interface LoopRun {
  result: { ops: number; busyNs: number; wallNs: number; samplesNs: number[]; depthVia?: string; depthViaReason?: string };
  calls: Syscall[];
}

/** Runs the native loop in a child process under strace (trace: the syscalls named), with `extra` strace arguments. */
function tracedLoop(loopSpec: object, trace: string, extra: string[] = [], env: NodeJS.ProcessEnv = {}): LoopRun {
  const log = path.join(dir, `strace-${process.hrtime.bigint()}.log`);
  const script = `require(${JSON.stringify(NATIVE)}).native.benchLoop(JSON.parse(process.argv[1])).then(
    (r) => process.stdout.write(JSON.stringify({ ...r, samplesNs: Array.from(r.samplesNs) })),
    (e) => { console.error(e); process.exit(1); })`;
  const run = spawnSync('strace', ['-f', '-y', '-qq', '-o', log, '-e', `trace=${trace}`, ...extra, process.execPath, '-e', script, JSON.stringify(loopSpec)], {
    encoding: 'utf8', env: { ...process.env, ...env },
  });
  expect(run.status, run.stderr).toBe(0);
  const calls = parseStrace(fs.readFileSync(log, 'utf8'));
  fs.rmSync(log);
  return { result: JSON.parse(run.stdout), calls };
}

/** The offsets of the pwrite64 calls on `file`, in order. */
function offsetsOn(calls: Syscall[], file: string): number[] {
  return calls.filter((c) => c.name === 'pwrite64' && c.args.includes(`<${file}>`)).map((c) => Number(/, (\d+)$/.exec(c.args)?.[1]));
}

describe('native loop: layout fields', () => {
  it('refuses a bad value of every layout field, and every combination the loop cannot run', () => {
    const file = path.join(dir, 'refused');
    const bad: Record<string, unknown>[] = [
      { pattern: 2 }, { pattern: -1 }, { pattern: '1' }, { seed: -1 }, { seed: 2 ** 32 }, { seed: 1.5 }, { startOffset: -1 },
      { startOffset: 64 * 4096 }, { reuseFiles: 1 }, { sampleFlushOnly: 'yes' }, { depth: 0 }, { depth: 65 }, { depth: 1.5 },
      { depthVia: 2 }, { depth: null },
      // random offsets need a region that stays; a flush-only sample needs a flush; depth one file, one write, no append
      { pattern: 1, placement: 1 }, { pattern: 1, sequence: 4 }, { startOffset: 4096, sequence: 5 },
      { sampleFlushOnly: true, flush: 0 }, { sampleFlushOnly: true, flush: DATA, sequence: 1 }, { sampleFlushOnly: true, flush: DATA, depth: 2 },
      { depth: 2, files: [file, `${file}2`] }, { depth: 2, writesPerOp: 2 }, { depth: 2, placement: 1 }, { depth: 2, sampleEvery: 2 },
      { depth: 2, sequence: 2 },
    ];
    for (const fields of bad) {
      let error: unknown;
      try {
        void native.benchLoop(spec(file, fields) as never);
      } catch (e) {
        error = e;
      }
      expect(error, JSON.stringify(fields)).toBeInstanceOf(Error);
      expect(['ERR_INVALID_ARG_TYPE', 'ERR_OUT_OF_RANGE'], JSON.stringify(fields)).toContain((error as { code: string }).code);
    }
    expect(fs.existsSync(file)).toBe(false);
  });

  it('reuseFiles leaves the file as it is; without it the file is prepared again', async () => {
    const file = path.join(dir, 'reused');
    const marker = Buffer.from('end of an earlier run');
    fs.writeFileSync(file, Buffer.concat([Buffer.alloc(1 << 20), marker]));
    await native.benchLoop(spec(file, { reuseFiles: true, flush: DATA, maxSamples: 5 }) as never);
    expect(fs.statSync(file).size).toBe((1 << 20) + marker.length);
    expect(fs.readFileSync(file).subarray(1 << 20).equals(marker)).toBe(true);
    await native.benchLoop(spec(file, { maxSamples: 5 }) as never);
    expect(fs.statSync(file).size).toBe(64 * 4096);
  });

  it('iodepth through threads: N threads write and flush the one file, ops as asked', async () => {
    const file = path.join(dir, 'depth-threads');
    const result = await native.benchLoop(spec(file, { flush: DATA, depth: 3, depthVia: 0, maxSamples: 30 }) as never) as { ops: number; depthVia?: string };
    expect(result.ops).toBe(30);
    expect(result.depthVia).toBe('threads');
  });

  it('iodepth through the kernel queue falls back to threads, saying why, when there is none', async () => {
    const file = path.join(dir, 'depth-fallback');
    const script = `require(${JSON.stringify(NATIVE)}).native.benchLoop(JSON.parse(process.argv[1])).then((r) => process.stdout.write(JSON.stringify({ ops: r.ops, depthVia: r.depthVia, depthViaReason: r.depthViaReason })))`;
    const run = spawnSync(process.execPath, ['-e', script, JSON.stringify(spec(file, { flush: DATA, depth: 4, depthVia: 1, maxSamples: 12 }))], {
      encoding: 'utf8', env: { ...process.env, HARDSYNC_IO_URING_PROBE: 'fail' },
    });
    expect(run.status, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout);
    expect(result).toMatchObject({ ops: 12, depthVia: 'threads' });
    expect(result.depthViaReason).toMatch(/forced to fail|kernel queue/);
  });
});

describe.skipIf(!hasStrace)('native loop: the syscalls of each layout (strace)', () => {
  it('random offsets: multiples of the operation inside the region, the same for a seed, another order for another seed', () => {
    const file = path.join(dir, 'random');
    const loop = (seed: number) => offsetsOn(tracedLoop(spec(file, { pattern: 1, seed, maxSamples: 200 }), 'pwrite64', ['-P', file]).calls, file);
    const first = loop(7);
    expect(first).toHaveLength(200);
    for (const offset of first) {
      expect(offset % 4096).toBe(0);
      expect(offset).toBeLessThan(64 * 4096);
    }
    // 200 draws over 64 slots: most slots are hit, and few draws are the slot after the last one
    expect(new Set(first).size).toBeGreaterThan(48);
    expect(first.filter((o, i) => i > 0 && o === first[i - 1] + 4096).length).toBeLessThan(20);
    expect(loop(7)).toEqual(first);
    expect(loop(8)).not.toEqual(first);
  });

  it('sequential offsets start at startOffset and wrap to the region start', () => {
    const file = path.join(dir, 'start');
    const run = tracedLoop(spec(file, { regionBytes: 8 * 4096, startOffset: 5 * 4096, maxSamples: 6 }), 'pwrite64', ['-P', file]);
    expect(offsetsOn(run.calls, file)).toEqual([5, 6, 7, 0, 1, 2].map((slot) => slot * 4096));
  });

  it('sampleFlushOnly: a sample is the flush alone, while ops/s still counts the write', () => {
    // On tmpfs a flush is nearly free; every write is delayed 200 ms by strace.
    const shm = fs.existsSync('/dev/shm') ? tempDir('hs-layout-', '/dev/shm') : dir;
    const file = path.join(shm, 'flush-only');
    const delayed = ['-P', file, '-e', 'inject=pwrite64:delay_exit=200000'];
    const flushOnly = tracedLoop(spec(file, { flush: DATA, sampleFlushOnly: true, maxSamples: 3 }), 'pwrite64', delayed).result;
    expect(flushOnly.samplesNs).toHaveLength(3);
    for (const ns of flushOnly.samplesNs) expect(ns).toBeLessThan(200e6);
    expect(flushOnly.busyNs).toBeGreaterThanOrEqual(3 * 200e6);
    const whole = tracedLoop(spec(file, { flush: DATA, maxSamples: 3 }), 'pwrite64', delayed).result;
    for (const ns of whole.samplesNs) expect(ns).toBeGreaterThanOrEqual(200e6);
    // and the delayed flush is in the sample
    const slowFlush = tracedLoop(spec(file, { flush: DATA, sampleFlushOnly: true, maxSamples: 3 }), 'fdatasync', ['-P', file, '-e', 'inject=fdatasync:delay_exit=200000']).result;
    for (const ns of slowFlush.samplesNs) expect(ns).toBeGreaterThanOrEqual(200e6);
  });

  it('iodepth through threads: the writes and flushes come from N threads on one file', () => {
    const file = path.join(dir, 'threads-traced');
    const { result, calls } = tracedLoop(spec(file, { flush: DATA, depth: 3, depthVia: 0, maxSamples: 60 }), 'pwrite64,fdatasync', ['-P', file]);
    expect(result).toMatchObject({ ops: 60, depthVia: 'threads' });
    const writes = calls.filter((c) => c.name === 'pwrite64');
    expect(writes).toHaveLength(60);
    expect(calls.filter((c) => c.name === 'fdatasync')).toHaveLength(60);
    expect(new Set(writes.map((c) => c.pid)).size).toBe(3);
    // the threads take the next sequential offset each: every slot once, none twice
    expect([...offsetsOn(calls, file)].sort((a, b) => a - b)).toEqual(Array.from({ length: 60 }, (_, i) => i * 4096));
  });

  it('iodepth through the kernel queue: linked requests in io_uring, no blocking write or flush', () => {
    const file = path.join(dir, 'queued');
    const { result, calls } = tracedLoop(spec(file, { flush: DATA, depth: 4, depthVia: 1, maxSamples: 40 }), 'pwrite64,fdatasync,io_uring_enter');
    expect(result.ops).toBe(40);
    if (capabilitiesSync(dir).engine.name !== 'io_uring' && result.depthVia !== 'io_uring') {
      expect(result.depthViaReason).toBeTruthy();
      return;
    }
    expect(result.depthVia).toBe('io_uring');
    expect(calls.filter((c) => c.name === 'io_uring_enter').length).toBeGreaterThan(0);
    expect(calls.filter((c) => (c.name === 'pwrite64' || c.name === 'fdatasync') && c.args.includes(`<${file}>`))).toEqual([]);
  });
});

describe('hardsync bench --pattern, --seed, --file-size, --iodepth', () => {
  it('refuses bad values and impossible combinations (exit 2) before any I/O', async () => {
    // Every refusal through the function bench calls, in this process ...
    const refused: Record<string, string | boolean>[] = [
      { pattern: 'zigzag' }, { pattern: 'seq', seed: '3' }, { pattern: 'rand', seed: '-1' }, { pattern: 'rand', seed: '4294967296' },
      { 'file-size': '0' }, { 'file-size': 'lots' }, { 'file-size': '2048g' }, { 'file-size': '4k', sizes: '8k' },
      { iodepth: '0' }, { iodepth: '65' }, { iodepth: '1.5' }, { iodepth: '2', threads: '2' }, { iodepth: '2', js: true },
      { pattern: 'rand', js: true }, { pattern: 'rand', modes: 'append', methods: 'write,fdatasync' }, { iodepth: '4', modes: 'new,append' },
      { iodepth: '2', methods: 'mmap-msync' },
    ];
    const choose = (values: Record<string, string | boolean>) => {
      const parsed = { values, positionals: [] };
      return layoutChoice(parsed, planSuite(suiteChoice(parsed)), Number(values.threads ?? 1), values.js === true);
    };
    for (const values of refused) {
      let error: unknown;
      try {
        choose(values);
      } catch (e) {
        error = e;
      }
      // cli.js's own module instance of UsageError: its code tells it apart
      expect((error as { code?: string } | undefined)?.code, JSON.stringify(values)).toBe('ERR_HARDSYNC_USAGE');
    }
    expect(choose({ pattern: 'rand', seed: '9', 'file-size': '1g', iodepth: '64' })).toEqual({ pattern: 'rand', seed: 9, fileBytes: 2 ** 30, iodepth: 64 });
    expect(choose({})).toEqual({ pattern: 'seq', seed: 1, fileBytes: null, iodepth: 1 });
    // ... and the exit code through the command, once per option
    const target = tempDir('hs-layout-cli-');
    for (const args of [['--pattern', 'zigzag'], ['--file-size', '4k', '--sizes', '8k'], ['--iodepth', '2', '--threads', '2']]) {
      const run = await runCli(['bench', target, ...args]);
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.stderr, args.join(' ')).toMatch(/^hardsync: /);
    }
    expect(fs.readdirSync(target)).toEqual([]);
  });

  it('leaves the default suite as it was: no layout field in any case spec', () => {
    const caps = capabilitiesSync(dir);
    for (const c of planSuite({})) {
      const s = specOf(c, dir, { seconds: 1, rounds: 2, threads: 1, maxSamplesPerRound: 100, caps }) as unknown as Record<string, unknown>;
      for (const key of ['pattern', 'seed', 'startOffset', 'reuseFiles', 'sampleFlushOnly', 'depth', 'depthVia']) expect(s[key], `${c.method.id} ${key}`).toBeUndefined();
      const opBytes = c.size * c.writesPerSync;
      if (s.sequence === 0) expect(s.regionBytes).toBe(c.mode === 'append' ? Math.max(64 << 20, opBytes) : Math.max(4 << 20, 2 * opBytes));
    }
  });

  it('runs overwrite cases at random offsets of --file-size with N in flight, says how, and marks the rest n/a', async () => {
    const target = tempDir('hs-layout-cli-');
    const json = path.join(target, 'r.json');
    const run = await runCli(['bench', target, '--methods', 'write,fdatasync,sfr-fdatasync,node-fdatasync', '--modes', 'overwrite,append', '--pattern', 'rand',
      '--seed', '9', '--file-size', '1m', '--iodepth', '3', '--rounds', '2', '--duration', '0.1', '--json', json]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const doc = readBenchFile(json);
    expect(doc.settings).toMatchObject({ pattern: 'rand', seed: 9, fileBytes: 1 << 20, iodepth: 3 });
    const row = (method: string, mode: string) => doc.results.find((r) => r.method === method && r.mode === mode)!;
    const queue = capabilitiesSync(target).engine.name === 'io_uring';
    for (const method of ['write', 'fdatasync']) {
      const r = row(method, 'overwrite');
      expect(r).toMatchObject({ supported: true, pattern: 'rand', fileBytes: 1 << 20, iodepth: 3, depthVia: queue ? 'io_uring' : 'threads' });
      expect(r.syscalls.join(' ')).toMatch(/random 8192-B-aligned offset of a 1 MiB file, seed 9/);
      const l = r.latencyUs!;
      expect(l.p95).toBeGreaterThanOrEqual(l.p90);
      expect(l.p95).toBeLessThanOrEqual(l.p99);
    }
    // sync_file_range has no linked form in io_uring: threads, with the reason
    expect(row('sfr-fdatasync', 'overwrite')).toMatchObject({ supported: true, iodepth: 3 });
    expect(row('sfr-fdatasync', 'overwrite').depthVia).toMatch(queue ? /^threads \(sync_file_range/ : /^threads/);
    expect(row('node-fdatasync', 'overwrite')).toMatchObject({ supported: false, reason: expect.stringMatching(/JavaScript loop/) });
    for (const method of ['write', 'fdatasync']) expect(row(method, 'append')).toMatchObject({ supported: false, reason: expect.stringMatching(/grows at its end/) });
    expect(fs.readdirSync(target)).toEqual(['r.json']);
  });
});
