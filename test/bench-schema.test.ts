import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readBenchFile, SCHEMA, SCHEMA_V1, UsageError, validateBenchFile, writeBenchFile, type BenchFile } from '../dist/bench/measure/schema.js';
import { compareFiles, renderCompare } from '../dist/bench/measure/compare.js';
import { runCli } from './fixtures/bench/run-cli';
import { tempDir } from './helpers/tmp';

const fixtures = path.join(__dirname, 'fixtures', 'bench');

describe('bench JSON schema', () => {
  it('round-trips a result file unchanged', () => {
    const doc = readBenchFile(path.join(fixtures, 'a.json'));
    expect(doc.schema).toBe(SCHEMA_V1);
    const file = path.join(tempDir('hs-schema-'), 'out.json');
    writeBenchFile(file, doc);
    expect(readBenchFile(file)).toEqual(doc);
    expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toEqual(JSON.parse(fs.readFileSync(path.join(fixtures, 'a.json'), 'utf8')));
    fs.rmSync(path.dirname(file), { recursive: true });
  });

  it('refuses an unknown schema version with a clear error', () => {
    expect(() => readBenchFile(path.join(fixtures, 'future-schema.json'))).toThrow(/unknown schema version "hardsync-bench\/3"; this hardsync reads "hardsync-bench\/2" and "hardsync-bench\/1"/);
    expect(() => readBenchFile(path.join(fixtures, 'no-schema.json'))).toThrow(/unknown schema version none/);
    expect(() => validateBenchFile([], 'x')).toThrow(UsageError);
  });

  it('refuses rows missing required fields', () => {
    const doc = JSON.parse(fs.readFileSync(path.join(fixtures, 'a.json'), 'utf8'));
    delete doc.results[1].latencyUs.p99;
    expect(() => validateBenchFile(doc, 'broken')).toThrow(/results\[1\]\.latencyUs\.p99/);
    const doc2 = JSON.parse(fs.readFileSync(path.join(fixtures, 'a.json'), 'utf8'));
    doc2.results[0].size = '8k';
    expect(() => validateBenchFile(doc2, 'broken')).toThrow(/results\[0\]\.size/);
  });

  it('compare refuses a file of another schema with exit code 2', async () => {
    const run = await runCli(['compare', path.join(fixtures, 'a.json'), path.join(fixtures, 'future-schema.json')]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/future-schema\.json: unknown schema version "hardsync-bench\/3"/);
    expect(run.stdout).toBe('');
  });
});

describe('hardsync compare of hardsync-bench/1 files (no rounds)', () => {
  it('puts them side by side with point ratios, marked untested, and says why', () => {
    const files = ['a.json', 'b.json'].map((name) => ({ name, doc: readBenchFile(path.join(fixtures, name)) }));
    const text = renderCompare(files);
    const lines = text.split('\n');
    const after = (label: string): string[] => lines.slice(lines.findIndex((l) => l.startsWith(label)), lines.findIndex((l) => l.startsWith(label)) + 2);
    // b's fdatasync: p50 50 us vs 100 (0.50x), 20000 ops/s vs 10000 (2.00x); figures rounded as bench rounds them
    expect(after('write+fdatasync')[0]).toMatch(/\s1\s+10k\s+100us\s/);
    expect(after('write+fdatasync')[1]).toMatch(/^\s+2\s+2\.00x untested\s+0\.50x untested/);
    // fsync only in a; fullFsync only in b; direct n/a in a
    expect(after('write+fsync')[1]).toMatch(/2\s+-\s+-\s+-$/);
    expect(after('write+fullFsync')[0]).toMatch(/1\s+-\s+-\s+-$/);
    expect(after('O_DIRECT alone')[0]).toMatch(/1\s+n\/a\s+n\/a\s+n\/a$/);
    expect(text).toMatch(/1: a \[linux\/ext4\]/);
    expect(text).toMatch(/2: b \[darwin\/apfs\]/);
    expect(text).toMatch(/WARNING: a hardsync-bench\/1 file has no rounds: its ratios are point figures, untested/);
  });

  it('prints the same table from the CLI', async () => {
    const run = await runCli(['compare', path.join(fixtures, 'a.json'), path.join(fixtures, 'b.json')]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/2\.00x untested\s+0\.50x untested/);
  });
});

/**
 * A hardsync-bench/2 document made from fixture a.json: every supported row gets `rounds`
 * per-round figures, each round's ops/s = the row's ops/s * factor(method) * jitter[round]
 * and latencies divided by the same (so a factor of 2 makes the method twice as fast).
 */
function v2From(file: string, factor: (method: string) => number, jitter: number[], settings: Partial<NonNullable<BenchFile['settings']>> = {}): BenchFile {
  const doc = JSON.parse(fs.readFileSync(path.join(fixtures, file), 'utf8'));
  doc.schema = SCHEMA;
  doc.settings = { quick: false, secondsPerCase: 1, rounds: jitter.length, threads: 1, js: false, untilStable: false, maxDurationSeconds: null, methods: null, sizes: null, modes: null, writesPerSync: null, ...settings };
  for (const r of doc.results) {
    if (r.supported === false) continue;
    const f = factor(r.method);
    const est = (value: number, higherIsFaster: boolean) => {
      const rounds = jitter.map((j) => (higherIsFaster ? value * f * j : value / (f * j)));
      const v = higherIsFaster ? value * f : value / f;
      return { value: v, low: v * 0.95, high: v * 1.05, halfWidthPct: 5, rounds };
    };
    r.estimates = { opsPerSec: est(r.opsPerSec, true), p50: est(r.latencyUs.p50, false), p99: est(r.latencyUs.p99, false) };
    r.opsPerSec *= f;
    r.latencyUs.p50 /= f;
    r.latencyUs.p99 /= f;
    r.rounds = jitter.length;
  }
  return validateBenchFile(doc, file);
}

const JITTER_A = [1, 1.03, 0.98, 1.01, 0.97, 1.02, 0.99, 1.04];
const JITTER_B = [0.99, 1.02, 1.01, 0.97, 1.03, 0.98, 1.0, 1.02];

describe('hardsync compare with rounds (hardsync-bench/2)', () => {
  it('calls a real difference faster or slower, with the ratio interval, and noise "~"', () => {
    const base = v2From('a.json', () => 1, JITTER_A);
    // fdatasync twice as fast, write 9% faster (within the 10% noise threshold), fsync the same.
    const other = v2From('a.json', (m) => (m === 'fdatasync' ? 2 : m === 'write' ? 1.09 : 1), JITTER_B);
    const slower = v2From('a.json', (m) => (m === 'fdatasync' ? 0.5 : 1), JITTER_B);
    const report = compareFiles([{ name: 'base.json', doc: base }, { name: 'other.json', doc: other }, { name: 'slower.json', doc: slower }]);
    const byMethod = (method: string) => report.cases.find((c) => c.method === method)!;
    const fdatasync = byMethod('fdatasync');
    expect(fdatasync.files[1]!.against!.map((f) => f.verdict)).toEqual(['faster', 'faster', 'faster']);
    expect(fdatasync.files[2]!.against!.map((f) => f.verdict)).toEqual(['slower', 'slower', 'slower']);
    const ops = fdatasync.files[1]!.against![0];
    expect(ops.ratio).toBeCloseTo(2, 9);
    expect(ops.low!).toBeLessThan(2);
    expect(ops.high!).toBeGreaterThan(2);
    expect(ops.low!).toBeGreaterThan(1.8);
    expect(ops.p!).toBeLessThan(0.001);
    // write: a significant 9% shift, but inside the noise threshold: not called
    expect(byMethod('write').files[1]!.against!.map((f) => f.verdict)).toEqual(['same', 'same', 'same']);
    expect(byMethod('fsync').files[1]!.against!.map((f) => f.verdict)).toEqual(['same', 'same', 'same']);
    expect(report.summary[0]).toMatchObject({ faster: 3, slower: 0 });
    expect(report.summary[1]).toMatchObject({ faster: 0, slower: 3 });
    // with no noise threshold, the consistent 9% of write is called (it is beyond both runs' spread of 1.07x)
    const strict = compareFiles([{ name: 'base.json', doc: base }, { name: 'other.json', doc: other }], 0);
    expect(strict.cases.find((c) => c.method === 'write')!.files[1]!.against![0].verdict).toBe('faster');
    const text = renderCompare([{ name: 'base.json', doc: base }, { name: 'other.json', doc: other }]);
    expect(text).toMatch(/2\.00x \[1\.\d\d-2\.\d\d\] FASTER/);
    expect(text).toMatch(/~ \[/);
    expect(text).toMatch(/file 2 against file 1: 3 figures faster, 0 slower/);
  });

  it("never calls a difference smaller than either run's own round-to-round spread", () => {
    // Both runs' rounds spread 2x (the machine moved that much within each run); file 2 is 1.5x
    // faster in every round position: significant, outside the noise threshold, but not beyond
    // what each run did on its own.
    const wide = [1, 1.9, 1.3, 1.6, 1.15, 2.05, 1.45, 1.75];
    const base = v2From('a.json', () => 1, wide);
    const other = v2From('a.json', (m) => (m === 'fdatasync' ? 1.5 : m === 'fsync' ? 3 : 1), wide);
    const report = compareFiles([{ name: 'base.json', doc: base }, { name: 'other.json', doc: other }]);
    const fdatasync = report.cases.find((c) => c.method === 'fdatasync')!.files[1]!.against![0];
    expect(fdatasync.p!).toBeLessThan(0.05);
    expect(fdatasync.spread!).toBeGreaterThan(2);
    expect(fdatasync.verdict).toBe('same');
    // 3x is beyond the 2x spread: called
    expect(report.cases.find((c) => c.method === 'fsync')!.files[1]!.against![0].verdict).toBe('faster');
    expect(renderCompare([{ name: 'base.json', doc: base }, { name: 'other.json', doc: other }])).toMatch(/~ \[\d\.\d\d-\d\.\d\d\] <spread 2\.\dx/);
  });

  it('warns when the files differ in settings that change the figures, or have too few rounds', () => {
    const base = v2From('a.json', () => 1, JITTER_A);
    const quick = v2From('a.json', () => 1, [1, 1.1, 0.9], { quick: true, secondsPerCase: 0.3 });
    const report = compareFiles([{ name: 'base.json', doc: base }, { name: 'quick.json', doc: quick }]);
    expect(report.warnings.join('\n')).toMatch(/file 2 differs from file 1 in settings that change the figures: quick default length vs --quick; seconds per case 1 vs 0\.3; rounds 8 vs 3/);
    expect(report.warnings.join('\n')).toMatch(/file 2 has 3 rounds per case: with so few, no difference can be significant/);
    const mixed = compareFiles([{ name: 'base.json', doc: base }, { name: 'a.json', doc: readBenchFile(path.join(fixtures, 'a.json')) }]);
    expect(mixed.warnings.join('\n')).toMatch(/schema hardsync-bench\/2 vs hardsync-bench\/1/);
    expect(mixed.cases.find((c) => c.method === 'fdatasync')!.files[1]!.against!.every((f) => f.verdict === 'untested')).toBe(true);
  });

  it('warns when the machine was busy differently during the files (load, other CPU, other I/O)', () => {
    const conditions = (otherCpuPct: number, load: number, otherWriteBytes: number) => ({
      loadAverage: [load, load] as [number, number], cpus: 2, otherCpuPct, stealPct: 0, seconds: 60,
      device: { name: 'vda', readBytes: 0, writeBytes: otherWriteBytes, ownWriteBytes: 0, flushes: 0, ownFlushes: 0, otherWriteBytes },
    });
    const stability = (c: ReturnType<typeof conditions>) => ({ limitPct: 10, roundsRatioLimit: 1.5, cases: 0, unstableCases: 0, causes: [], conditions: c, untilStable: null });
    const quiet = { ...v2From('a.json', () => 1, JITTER_A), stability: stability(conditions(5, 0.5, 0)) };
    const busy = { ...v2From('a.json', () => 1, JITTER_B), stability: stability(conditions(90, 5, 600e6)) };
    const alike = { ...v2From('a.json', () => 1, JITTER_B), stability: stability(conditions(8, 0.6, 1e6)) };
    const warnings = compareFiles([{ name: 'quiet', doc: quiet }, { name: 'busy', doc: busy }, { name: 'alike', doc: alike }]).warnings.join('\n');
    expect(warnings).toMatch(/the machine was busy differently: other processes used 5% of the CPU during file 1 and 90% during file 2; the load average per CPU was 0\.3 during file 1 and 2\.5 during file 2; other I\/O on the device ran at 0\.0 MB\/s during file 1 and 10\.0 MB\/s during file 2/);
    expect(warnings).not.toMatch(/during file 3/);
  });

  it('--json writes the comparison for scripts; --json - prints only it', async () => {
    const dir = tempDir('hs-cmp-');
    const a = path.join(dir, 'base.json');
    const b = path.join(dir, 'other.json');
    writeBenchFile(a, v2From('a.json', () => 1, JITTER_A));
    writeBenchFile(b, v2From('a.json', (m) => (m === 'fdatasync' ? 2 : 1), JITTER_B));
    const run = await runCli(['compare', a, b, '--json', '-']);
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout);
    expect(report.schema).toBe('hardsync-compare/1');
    expect(report.files.map((f: { name: string }) => f.name)).toEqual([a, b]);
    expect(report.cases.find((c: { method: string }) => c.method === 'fdatasync').files[1].against[0].verdict).toBe('faster');
    const toFile = await runCli(['compare', a, b, '--json', path.join(dir, 'cmp.json'), '--noise', '5']);
    expect(toFile.code).toBe(0);
    expect(toFile.stdout).toMatch(/FASTER/);
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'cmp.json'), 'utf8')).noiseThreshold).toBe(0.05);
    fs.rmSync(dir, { recursive: true });
  });
});
