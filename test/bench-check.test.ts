import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readBenchFile, SCHEMA, writeBenchFile, type BenchFile } from '../dist/bench/measure/schema.js';
import { PowercutFs, powercutUnavailable } from './helpers/powercut';
import { runCli } from './fixtures/bench/run-cli';
import { tempDir } from './helpers/tmp';

const fixtures = path.join(__dirname, 'fixtures', 'bench');

describe('hardsync check', () => {
  it('exits 0 for a result whose p99 is under 10 ms', async () => {
    const run = await runCli(['check', '--input', path.join(fixtures, 'check-pass.json')]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/p99 9\.00 ms < 10 ms threshold: PASS \(a hardsync-bench\/1 result: no interval\)/);
  });

  it('exits 1 for a result whose p99 is over 10 ms', async () => {
    const run = await runCli(['check', '--input', path.join(fixtures, 'check-fail.json')]);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/p99 12\.0 ms >= 10 ms threshold: FAIL/);
  });

  it('applies --threshold-ms', async () => {
    expect((await runCli(['check', '--input', path.join(fixtures, 'check-fail.json'), '--threshold-ms', '15'])).code).toBe(0);
    expect((await runCli(['check', '--input', path.join(fixtures, 'check-pass.json'), '--threshold-ms', '5'])).code).toBe(1);
  });

  it('refuses a result file that is not a check (exit 2)', async () => {
    const run = await runCli(['check', '--input', path.join(fixtures, 'a.json')]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/not a hardsync check result/);
  });

  it('measures the etcd recipe and writes the same schema', async () => {
    const dir = tempDir('hs-check-');
    const json = path.join(dir, 'check.json');
    // A threshold of 1000 s cannot fail; a threshold of 0 cannot pass: both verdicts from a live run.
    // --max-duration large: rounds are never cut short by time on a loaded machine, so all 22 MiB run.
    const pass = await runCli(['check', dir, '--json', json, '--threshold-ms', '1000000', '--max-duration', '86400']);
    expect(pass.stderr).toBe('');
    expect(pass.code).toBe(0);
    const doc = readBenchFile(json);
    expect(doc.kind).toBe('check');
    // 22 MiB in 10 rounds of whole 2300-byte writes
    expect(doc.results[0]).toMatchObject({ size: 2300, ops: 10 * Math.floor((22 * 1024 * 1024) / 10 / 2300), method: 'fdatasync', rounds: 10 });
    expect(doc.check).toMatchObject({ pass: true, verdict: 'PASS', rounds: 10 });
    expect(doc.check!.p99LowUs!).toBeLessThanOrEqual(doc.check!.p99Us);
    expect(doc.check!.p99HighUs!).toBeGreaterThanOrEqual(doc.check!.p99Us);
    expect(doc.results[0].estimates!.p99.rounds).toHaveLength(10);
    expect((await runCli(['check', '--input', json, '--threshold-ms', '0'])).code).toBe(1);
    expect(fs.readdirSync(dir)).toEqual(['check.json']);
    fs.rmSync(dir, { recursive: true });
  });

  it('judges by the interval: UNCERTAIN (exit 3) when it straddles the threshold, PASS or FAIL only when all of it is on one side', async () => {
    const dir = tempDir('hs-check-');
    const doc = JSON.parse(fs.readFileSync(path.join(fixtures, 'check-pass.json'), 'utf8')) as BenchFile;
    doc.schema = SCHEMA;
    const r = doc.results[0];
    (r.latencyUs as NonNullable<typeof r.latencyUs>).p99 = 9000;
    r.estimates = {
      opsPerSec: { value: 1000, low: 900, high: 1100, halfWidthPct: 10, rounds: [900, 1100] },
      p50: { value: 500, low: 450, high: 550, halfWidthPct: 10, rounds: [450, 550] },
      p99: { value: 9000, low: 8000, high: 11000, halfWidthPct: 22, rounds: [8000, 11000] },
    };
    const file = path.join(dir, 'straddles.json');
    writeBenchFile(file, doc);
    const uncertain = await runCli(['check', '--input', file]);
    expect(uncertain.code).toBe(3);
    expect(uncertain.stdout).toMatch(/p99 9\.00 ms \(95% interval 8\.00-11\.0 ms, straddles the 10 ms threshold\): UNCERTAIN/);
    // The same interval against 12 ms: all under it; against 7.5 ms: all over it.
    expect((await runCli(['check', '--input', file, '--threshold-ms', '12'])).code).toBe(0);
    const fail = await runCli(['check', '--input', file, '--threshold-ms', '7.5']);
    expect(fail.code).toBe(1);
    expect(fail.stdout).toMatch(/all at or over the 7\.5 ms threshold\): FAIL/);
    fs.rmSync(dir, { recursive: true });
  });

  it('never says PASS on tmpfs: memory, NOT-DURABLE, exit 4, in the text and the JSON', async () => {
    if (!fs.existsSync('/dev/shm')) return;
    const dir = tempDir('hs-check-', '/dev/shm');
    const run = await runCli(['check', dir, '--json', path.join(dir, 'c.json')]);
    expect(run.stdout).not.toMatch(/PASS/);
    expect(run.stdout).toMatch(/NOT-DURABLE: .* is on tmpfs, a filesystem in memory:\s+nothing written\s+there survives power loss/);
    expect(run.code).toBe(4);
    const check = readBenchFile(path.join(dir, 'c.json')).check;
    expect(check?.verdict).toBe('NOT-DURABLE');
    expect(check?.pass).toBe(false);
    expect(check?.notDurable).toMatch(/memory/);
    // a saved result is judged the same way
    const again = await runCli(['check', '--input', path.join(dir, 'c.json')]);
    expect(again.code).toBe(4);
    fs.rmSync(dir, { recursive: true });
  });
});

const powercut = powercutUnavailable();
describe.skipIf(powercut !== undefined)('hardsync check on a slow disk (the power-cut simulator with a flush delay)', () => {
  it('says FAIL when every flush takes 20 ms, within its time budget', async () => {
    const pfs = await PowercutFs.mount({ delayMs: 20 });
    try {
      const run = await runCli(['check', pfs.mountpoint, '--max-duration', '6', '--json', path.join(os.tmpdir(), `hs-check-slow-${process.pid}.json`)]);
      expect(run.stdout).toMatch(/all at or over the 10 ms threshold\): FAIL$/m);
      expect(run.code).toBe(1);
      const doc = readBenchFile(path.join(os.tmpdir(), `hs-check-slow-${process.pid}.json`));
      expect(doc.check!.p99LowUs!).toBeGreaterThanOrEqual(10_000);
      expect(doc.results[0].latencyUs!.min).toBeGreaterThanOrEqual(20_000);
      fs.rmSync(path.join(os.tmpdir(), `hs-check-slow-${process.pid}.json`));
    } finally {
      await pfs.unmount();
    }
  });
});
