// The report's answer and its figures: the summary, intervals a person can read (never a
// percentage over 100%, never a percentile interval outside what was measured), a table that
// fits its width, and the verdicts of check and pg that must never bless memory. Rounds
// recorded on this machine's disk under load (test/fixtures/bench/recorded-rounds.json) are
// replayed through the suite, so the checks see real, badly behaved rounds.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { capabilitiesSync } from '../dist/lib/index.js';
import { judgeCheck, passCaveat } from '../dist/bench/measure/check.js';
import { chooseWalSyncMethod, pgStability } from '../dist/bench/measure/pg.js';
import { renderBenchReport } from '../dist/bench/measure/report.js';
import { planSuite, runSuite, type BenchCase } from '../dist/bench/measure/run.js';
import { readBenchFile, type BenchFile, type BenchResult } from '../dist/bench/measure/schema.js';
import { minSamplesFor, roundsInterval } from '../dist/bench/measure/stats.js';
import { summaryOf } from '../dist/bench/measure/summary.js';
import { outputWidth } from '../dist/bench/cli.js';
import { tempDir } from './helpers/tmp';

const fixtures = path.join(__dirname, 'fixtures', 'bench');
const recorded = JSON.parse(fs.readFileSync(path.join(fixtures, 'recorded-rounds.json'), 'utf8')) as {
  rounds: { method: string; ops: number; busyNs: number; samplesNs: number[] }[];
};

/** The suite's rows from the recorded rounds, replayed in the order they were measured. */
async function replayed(): Promise<BenchFile> {
  const scratch = tempDir('hs-report-');
  const caps = capabilitiesSync(scratch);
  const queue = new Map<string, typeof recorded.rounds>();
  for (const r of recorded.rounds) queue.set(r.method, [...(queue.get(r.method) ?? []), r]);
  const cases = planSuite({ methods: [...queue.keys()], sizes: [8192] });
  const loop = async (_spec: unknown, c: BenchCase) => {
    const r = (queue.get(c.method.id) as typeof recorded.rounds).shift()!;
    return { samplesNs: Float64Array.from(r.samplesNs), ops: r.ops, busyNs: r.busyNs, wallNs: r.busyNs };
  };
  const { results, stability } = await runSuite(cases, { scratch, seconds: 0.3, rounds: 3, threads: 1, js: false, maxSamplesPerRound: 400, caps, device: null, loop });
  fs.rmSync(scratch, { recursive: true, force: true });
  const env = readBenchFile(path.join(fixtures, 'v2-ext4-a.json')).env;
  return { schema: 'hardsync-bench/2', kind: 'bench', env, results, stability, warnings: [], settings: {
    quick: true, secondsPerCase: 0.3, rounds: 3, threads: 1, js: false, untilStable: false, maxDurationSeconds: null, methods: null, sizes: null, modes: null, writesPerSync: null,
  } };
}

/** Every percentage printed in a text: the numbers before a "%". */
function percentages(text: string): number[] {
  return [...text.matchAll(/(\d+(?:\.\d+)?)\s?%/g)].map((m) => Number(m[1]));
}

describe('intervals a person can read, on recorded rounds', () => {
  it('keeps every percentile interval inside the range of operations measured', async () => {
    const doc = await replayed();
    let checked = 0;
    for (const r of doc.results.filter((x) => x.supported)) {
      const l = r.latencyUs as NonNullable<BenchResult['latencyUs']>;
      for (const key of ['p50', 'p99'] as const) {
        const e = r.estimates![key];
        expect(e.low, `${r.method} ${key}`).toBeGreaterThanOrEqual(l.min);
        expect(e.high, `${r.method} ${key}`).toBeLessThanOrEqual(l.max);
        checked++;
      }
    }
    expect(checked).toBe(8);
  });

  it('prints no percentage over 100% and says in words what the rounds cannot pin down', async () => {
    const doc = await replayed();
    for (const width of [80, 100]) {
      const text = renderBenchReport(doc, { width });
      for (const pct of percentages(text)) expect(pct).toBeLessThanOrEqual(100);
      for (const line of text.split('\n')) expect(line.length, line).toBeLessThanOrEqual(width);
      // 54, 8 and 77 fsyncs in the three rounds: far too few for a p99
      expect(text).toMatch(/fsync overwrite 8k p99 [\d.]+ ms: 8 flushes per round, too few for a\s+p99\s+\(at least\s+368\)/);
    }
    const wide = renderBenchReport(doc, { width: 80, wide: true });
    for (const pct of percentages(wide)) expect(pct).toBeLessThanOrEqual(100);
    // the old fixtures (written before this report) too: no "+-17794%"
    for (const name of ['v2-ext4-a.json', 'v2-ext4-b.json', 'v2-apfs-quick.json']) {
      const old = renderBenchReport(readBenchFile(path.join(fixtures, name)), { width: 80 });
      for (const pct of percentages(old)) expect(pct, name).toBeLessThanOrEqual(100);
      for (const line of old.split('\n')) expect(line.length, `${name}: ${line}`).toBeLessThanOrEqual(80);
    }
  });

  it('a round needs enough operations for its percentile, and an interval is clamped to the measured range', () => {
    expect([50, 90, 99, 99.9].map(minSamplesFor)).toEqual([6, 36, 368, 3688]);
    // three rounds whose p99 disagree wildly: the log-scale margin would reach below the fastest operation
    const free = roundsInterval(1454, [8, 1454, 2492]);
    expect(free.low).toBeLessThan(71);
    const clamped = roundsInterval(1454, [8, 1454, 2492], { min: 71, max: 9000 });
    expect(clamped.low).toBe(71);
    expect(clamped.high).toBe(9000);
  });
});

describe('the answer first', () => {
  it('states the 8k durable-vs-page-cache ratio and the cheapest durable method in the first ten lines', () => {
    const doc = readBenchFile(path.join(fixtures, 'v2-ext4-a.json'));
    const s = summaryOf(doc);
    expect(s.memory).toBe(false);
    const eightK = s.sizes[0];
    expect(eightK.size).toBe(8192);
    expect(eightK.mode).toBe('overwrite');
    // every durable row at 8k overwrite is ranked, cheapest first, whatever its method id
    const durable = doc.results.filter((r) => r.size === 8192 && r.mode === 'overwrite' && r.writesPerSync === 1 && r.durable && r.supported);
    expect(eightK.ranking.map((m) => m.method).sort()).toEqual(durable.map((r) => r.method).sort());
    const p50s = eightK.ranking.map((m) => m.p50Us.value);
    expect(p50s).toEqual([...p50s].sort((a, b) => a - b));
    expect(eightK.cheapest?.method).toBe(eightK.ranking[0].method);
    const base = doc.results.find((r) => r.method === 'write' && r.size === 8192 && r.mode === 'overwrite')!;
    const cheapest = doc.results.find((r) => r.method === eightK.cheapest?.method && r.size === 8192 && r.mode === 'overwrite' && r.writesPerSync === 1)!;
    expect(eightK.cheapest?.timesPageCache?.value).toBeCloseTo(cheapest.latencyUs!.p50 / base.latencyUs!.p50, 6);
    expect(s.batching.map((b) => `${b.method} x${b.writesPerSync}`)).toEqual(['fdatasync x8', 'fsync x8']);
    const text = renderBenchReport(doc, { width: 100 });
    const first = text.split('\n').slice(0, 10).join('\n');
    expect(first).toMatch(new RegExp(`At 8k \\(overwrite\\), a durable write costs ${Math.round(eightK.cheapest!.timesPageCache!.value)}x`));
    expect(first).toMatch(/Cheapest durable:\s+sync_file_range\+fdatasync, p50 123 us/);
    expect(text).toMatch(/Next: hardsync check .*hardsync pg/s);
  });

  it('says memory and ranks nothing on tmpfs', () => {
    const doc = readBenchFile(path.join(fixtures, 'v2-ext4-a.json'));
    doc.env.filesystem.type = 'tmpfs';
    doc.env.directory = '/dev/shm';
    doc.warnings = [];
    const s = summaryOf(doc);
    expect(s.memory).toBe(true);
    expect(s.sizes.every((x) => x.ranking.length === 0 && x.cheapest === null)).toBe(true);
    expect(s.batching).toEqual([]);
    const first = renderBenchReport(doc, { width: 80 }).split('\n').slice(0, 6).join(' ');
    expect(first).toMatch(/\/dev\/shm is on tmpfs, a filesystem in memory: nothing written here survives power\s+loss/);
    expect(first).not.toMatch(/powercheck|Cheapest/);
  });
});

describe('check and pg never bless memory', () => {
  const pass = readBenchFile(path.join(fixtures, 'check-pass.json'));

  it('check: NOT-DURABLE on a memory filesystem or a flush that is not durable; PASS carries the implausibly-fast caveat', () => {
    expect(judgeCheck(pass, 10).verdict).toBe('PASS');
    const memory = { ...pass, env: { ...pass.env, directory: '/dev/shm', filesystem: { ...pass.env.filesystem, type: 'ramfs' } } };
    expect(judgeCheck(memory, 10)).toMatchObject({ verdict: 'NOT-DURABLE', notDurable: expect.stringMatching(/ramfs, a filesystem in memory/) });
    const notDurable = { ...pass, results: [{ ...pass.results[0], durable: false }] };
    expect(judgeCheck(notDurable, 10).notDurable).toMatch(/not durable on/);
    expect(passCaveat(pass)).toBeNull();
    expect(passCaveat({ warnings: [{ method: 'fdatasync', mode: 'overwrite', size: 2300, message: 'durable writes implausibly fast for the device: ...' }] })).toMatch(/hardsync powercheck/);
  });

  it('pg: chooses a durable wal_sync_method, the default unless another beats it by more than 10%, none on memory', () => {
    const caps = capabilitiesSync();
    const row = (method: string, writes: number, ops: number): BenchResult => ({
      method: `pg-${method}`, label: method, mode: 'overwrite', size: 8192, writesPerSync: writes, threads: 1, runner: 'native', durable: true,
      supported: true, ops: 1, opsPerSec: ops, usPerOp: 1e6 / ops, latencyUs: null, mbPerSec: null, syscalls: [],
    });
    const rows = [row('open_datasync', 1, 1050), row('fdatasync', 1, 1000), row('fsync', 1, 900), row('open_datasync', 2, 520), row('fdatasync', 2, 990), row('fsync', 2, 880)];
    const choice = chooseWalSyncMethod(rows, caps, false);
    if (caps.platform === 'linux') {
      expect(choice.method).toBe('fdatasync');
      expect(choice.why).toMatch(/PostgreSQL's default here/);
      const faster = chooseWalSyncMethod([...rows.slice(0, 2), row('fsync', 1, 2000), ...rows.slice(3, 5), row('fsync', 2, 1900)], caps, false);
      expect(faster.method).toBe('fsync');
    }
    expect(chooseWalSyncMethod(rows, caps, true)).toMatchObject({ method: null, why: expect.stringMatching(/memory/) });
  });

  it('pg: a test whose rate did not hold over its run is unstable', () => {
    expect(pgStability(new Float64Array(1000).fill(100_000)).unstable).toBe(false);
    const slowing = Float64Array.from({ length: 1000 }, (_, i) => (i < 500 ? 100_000 : 400_000));
    expect(pgStability(slowing)).toMatchObject({ unstable: true, reasons: expect.arrayContaining([expect.stringMatching(/5 parts ran from/)]) });
  });
});

describe('the width of the output', () => {
  it('is COLUMNS when set, else the terminal\'s, else 80', () => {
    expect(outputWidth({ COLUMNS: '100' }, { isTTY: false })).toBe(100);
    expect(outputWidth({}, { isTTY: true, columns: 132 })).toBe(132);
    expect(outputWidth({}, { isTTY: false })).toBe(80);
    expect(outputWidth({ COLUMNS: 'wide' }, { isTTY: false })).toBe(80);
  });
});
