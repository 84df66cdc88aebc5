// The benchmark's "implausibly fast" warning (bench/measure/run.ts plausibilityWarnings): a
// durable figure no real device can reach is flagged, with the reason, and points at
// `hardsync powercheck`, the test that settles it; a plausible one is not flagged.
import { describe, expect, it } from 'vitest';
import { plausibilityWarnings } from '../dist/bench/measure/run.js';
import type { BenchEnv, BenchResult } from '../dist/bench/measure/schema.js';
import fixture from './fixtures/bench/a.json';

const baseEnv = fixture.env as unknown as BenchEnv;
const baseResults = fixture.results as unknown as BenchResult[];

/**
 * The fixture's results with fdatasync's p50 set to `us` (and fsync's to 5 ms, plausible
 * everywhere), on a device described by `device`.
 */
function run(us: number, device: Partial<BenchEnv['device']> = {}) {
  const p50: Record<string, number> = { fdatasync: us, fsync: 5000 };
  const results = baseResults.map((r) =>
    r.method in p50 && r.latencyUs ? { ...r, latencyUs: { ...r.latencyUs, p50: p50[r.method] } } : r,
  );
  const env = { ...baseEnv, device: { ...baseEnv.device, rotational: false, writeCache: null, ...device } };
  return plausibilityWarnings(results, env);
}

describe('implausibly fast durable writes', () => {
  it('a flush within 5x of a page-cache write is flagged: nothing reached a device', () => {
    const [warning, ...rest] = run(3);
    expect(rest).toEqual([]);
    expect(warning.method).toBe('fdatasync');
    expect(warning.message).toMatch(/implausibly fast/);
    expect(warning.message).toMatch(/within 5x of a plain page-cache write/);
    expect(warning.message).toMatch(/`hardsync powercheck`/);
  });

  it('an SSD flush under 100 us is flagged; one of 150 us is not', () => {
    expect(run(40)[0].message).toMatch(/an SSD without power-loss protection/);
    expect(run(150)).toEqual([]);
  });

  it('a rotational device needs milliseconds: 1 ms is flagged, 3 ms is not', () => {
    expect(run(1000, { rotational: true })[0].message).toMatch(/rotational/);
    expect(run(3000, { rotational: true })).toEqual([]);
  });

  it('says what a "write back" or "write through" cache means', () => {
    expect(run(40, { writeCache: 'write back' })[0].message).toMatch(/"write back", so it does send flushes/);
    expect(run(40, { writeCache: 'write through' })[0].message).toMatch(/sends NO flush to the device/);
  });
});
