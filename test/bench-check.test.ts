import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readBenchFile } from '../dist/bench/engine/schema.js';
import { runCli } from './fixtures/bench/run-cli';

const fixtures = path.join(__dirname, 'fixtures', 'bench');

describe('hardsync check', () => {
  it('exits 0 for a result whose p99 is under 10 ms', async () => {
    const run = await runCli(['check', '--input', path.join(fixtures, 'check-pass.json')]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/p99 9\.000 ms < 10 ms threshold: PASS/);
  });

  it('exits 1 for a result whose p99 is over 10 ms', async () => {
    const run = await runCli(['check', '--input', path.join(fixtures, 'check-fail.json')]);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/p99 12\.000 ms >= 10 ms threshold: FAIL/);
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
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hs-check-'));
    const json = path.join(dir, 'check.json');
    // A threshold of 1000 s cannot fail; a threshold of 0 cannot pass: both verdicts from a live run.
    const pass = await runCli(['check', dir, '--json', json, '--threshold-ms', '1000000']);
    expect(pass.stderr).toBe('');
    expect(pass.code).toBe(0);
    const doc = readBenchFile(json);
    expect(doc.kind).toBe('check');
    expect(doc.results[0]).toMatchObject({ size: 2300, ops: Math.floor((22 * 1024 * 1024) / 2300), method: 'fdatasync' });
    expect(doc.check?.pass).toBe(true);
    expect((await runCli(['check', '--input', json, '--threshold-ms', '0'])).code).toBe(1);
    expect(fs.readdirSync(dir)).toEqual(['check.json']);
    fs.rmSync(dir, { recursive: true });
  });
});
