// The rounds of a suite and its stability logic, driven by a synthetic timed loop (so the
// verdicts do not depend on this machine's disk or load): intervals from the rounds, unstable
// cases, --until-stable adding rounds only to unstable cases, and its time budget.
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { capabilitiesSync } from '../dist/lib/index.js';
import { MAX_ROUNDS, planSuite, runSuite, type BenchCase, type RunOptions } from '../dist/bench/measure/run.js';
import { tempDir } from './helpers/tmp';

const scratch = tempDir('hs-rounds-');
const caps = capabilitiesSync(scratch);

/** A loop whose round r of method m has every latency equal to latency(m, r) microseconds. */
function syntheticLoop(latency: (method: string, round: number) => number) {
  const rounds = new Map<string, number>();
  const calls: string[] = [];
  const loop = async (_spec: unknown, c: BenchCase) => {
    const r = rounds.get(c.method.id) ?? 0;
    rounds.set(c.method.id, r + 1);
    calls.push(c.method.id);
    const ops = 200;
    const ns = latency(c.method.id, r) * 1000;
    // Latencies spread a little inside the round, as real ones are.
    const samples = Float64Array.from({ length: ops }, (_, i) => ns * (0.95 + (0.1 * i) / ops));
    return { samplesNs: samples, ops, busyNs: samples.reduce((a, b) => a + b, 0), wallNs: 0 };
  };
  return { loop, calls, rounds };
}

function options(loop: RunOptions['loop'], extra: Partial<RunOptions> = {}): RunOptions {
  return { scratch, seconds: 0.01, rounds: 4, threads: 1, js: false, maxSamplesPerRound: 1000, caps, device: null, loop, ...extra };
}

const cases = planSuite({ methods: ['write', 'fdatasync', 'fsync'], sizes: [8192] });

describe('rounds and intervals', () => {
  it('interleaves the rounds, gives each figure an interval and the rounds, and marks unstable cases', async () => {
    // write: steady; fdatasync: alternates 1x and 3x (rounds disagree); fsync: steady.
    const { loop, calls } = syntheticLoop((m, r) => (m === 'fdatasync' ? (r % 2 ? 300 : 100) : m === 'write' ? 2 : 500));
    const { results, stability } = await runSuite(cases, options(loop));
    expect(calls).toEqual(['write', 'fdatasync', 'fsync', 'write', 'fdatasync', 'fsync', 'write', 'fdatasync', 'fsync', 'write', 'fdatasync', 'fsync']);
    for (const r of results) {
      expect(r.rounds).toBe(4);
      for (const key of ['opsPerSec', 'p50', 'p99'] as const) {
        const e = r.estimates![key];
        expect(e.rounds).toHaveLength(4);
        expect(e.low).toBeLessThanOrEqual(e.value);
        expect(e.high).toBeGreaterThanOrEqual(e.value);
      }
    }
    const [write, fdatasync, fsync] = results;
    expect(write.stability?.unstable).toBe(false);
    expect(fsync.stability?.unstable).toBe(false);
    expect(fdatasync.stability?.unstable).toBe(true);
    expect(fdatasync.stability?.reasons.join(' ')).toMatch(/rounds disagree: ops\/s from .* \(3\.0x\)/);
    expect(fdatasync.stability?.reasons.join(' ')).toMatch(/p50 interval [\d.]+ us-[\d.]+ us reaches more than 10% from the figure/);
    expect(stability).toMatchObject({ cases: 3, unstableCases: 1, limitPct: 10, untilStable: null });
    expect(fs.readdirSync(scratch)).toEqual([]);
  });

  it('--until-stable adds rounds to unstable cases only, and stops when they are stable', async () => {
    // fdatasync's first two rounds disagree (100 vs 125 us), every later one is 110 us: more
    // rounds narrow its interval until it is within +-10%.
    const { loop, rounds } = syntheticLoop((m, r) => (m === 'fdatasync' ? (r === 0 ? 100 : r === 1 ? 125 : 110) : 50));
    const { results, stability } = await runSuite(cases, options(loop, { rounds: 2, untilStableDeadline: Date.now() + 600_000 }));
    expect(rounds.get('write')).toBe(2);
    expect(rounds.get('fsync')).toBe(2);
    expect(rounds.get('fdatasync')).toBeGreaterThan(2);
    expect(results[1].rounds).toBe(rounds.get('fdatasync'));
    expect(results.every((r) => !r.stability?.unstable)).toBe(true);
    expect(stability.untilStable).toEqual({ addedRounds: (rounds.get('fdatasync') as number) - 2, stillUnstable: [], budgetSpent: false });
  });

  it('says which cases stayed unstable: at the round limit, or when the time budget is spent', async () => {
    const forever = syntheticLoop((m, r) => (m === 'fdatasync' ? (r % 2 ? 300 : 100) : 50));
    const capped = await runSuite(cases, options(forever.loop, { rounds: 2, untilStableDeadline: Date.now() + 600_000 }));
    expect(forever.rounds.get('fdatasync')).toBe(MAX_ROUNDS);
    expect(capped.stability.untilStable).toMatchObject({ stillUnstable: ['write+fdatasync overwrite 8k'], budgetSpent: false });

    const late = syntheticLoop((m, r) => (m === 'fdatasync' ? (r % 2 ? 300 : 100) : 50));
    const spent = await runSuite(cases, options(late.loop, { rounds: 2, untilStableDeadline: Date.now() - 1 }));
    expect(late.rounds.get('fdatasync')).toBe(2);
    expect(spent.stability.untilStable).toEqual({ addedRounds: 0, stillUnstable: ['write+fdatasync overwrite 8k'], budgetSpent: true });
  });

  it('refuses fewer than two rounds: one round has no interval', async () => {
    await expect(runSuite(cases, options(syntheticLoop(() => 1).loop, { rounds: 1 }))).rejects.toThrow(RangeError);
  });
});
