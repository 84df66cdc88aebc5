// bench/stores.ts (npm run bench:stores): its refusals, and the goal verdict it prints, on a
// hand-made results document (no measuring: the benchmark itself takes minutes).
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { goalVerdicts, type StoresDocument } from '../bench/stores';

const CLI = path.join(__dirname, '..', 'dist', 'bench', 'stores.js');

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], (error, stdout, stderr) => resolve({ code: error ? (error.code as number) : 0, stdout, stderr }));
  });
}

function row(store: string, writers: number, acksPerSec: number, p50Us: number, p99Us: number) {
  return { store, writers, acksPerSec, p50Us, p99Us, p999Us: p99Us * 2, rounds: [] };
}

function doc(results: StoresDocument['results']): StoresDocument {
  const names = [...new Set(results.map((r) => r.store))];
  return {
    schema: 'hardsync-stores/1',
    date: '2026-12-02T00:00:00.000Z',
    system: { node: 'v20', platform: 'linux-x64', kernel: 'k', cpus: 2, dir: '/tmp', fs: 'ext4' },
    rounds: 3,
    seconds: 2,
    recordBytes: 256,
    logOptions: null,
    maxInFlightSupported: false,
    stores: names.map((name) => ({ name, describe: name, proof: name.startsWith('lmdb') ? 'unhostable' : 'proven' })),
    results,
  };
}

describe('bench:stores goal verdicts', () => {
  const results = [
    row('log', 16, 30_000, 500, 9_000),
    row('log-dsync', 16, 20_000, 400, 8_000),
    row('sqlite-batch', 16, 9_000, 800, 10_000),
    row('lmdb-sync', 16, 12_000, 700, 9_500),
    row('log', 1, 900, 420, 2_000),
    row('fs', 1, 950, 400, 2_100),
    row('level', 1, 800, 450, 1_000),
  ];

  it('ranks only proven peers: 30000 / 9000 = 3.33x with a better p99 holds', () => {
    const sixteen = goalVerdicts(doc(results), (p) => p === 'proven').find((v) => v.writers === 16)!;
    expect(sixteen).toMatchObject({ writers: 16, log: 'log', peer: 'sqlite-batch', holds: true });
    expect(sixteen.ratio).toBeCloseTo(30_000 / 9_000);
  });

  it('counting the unhostable lmdb row, 30000 / 12000 = 2.5x does not hold', () => {
    const sixteen = goalVerdicts(doc(results), () => true).find((v) => v.writers === 16)!;
    expect(sixteen).toMatchObject({ peer: 'lmdb-sync', holds: false });
  });

  it('at 1 writer compares the lowest p50s: 420 us against node:fs 400 us does not hold', () => {
    const one = goalVerdicts(doc(results), (p) => p === 'proven').find((v) => v.writers === 1)!;
    expect(one).toMatchObject({ writers: 1, log: 'log', peer: 'fs', holds: false });
  });

  it('a worse p99 fails the goal even at 3x the acks', () => {
    const worse = [row('log', 256, 90_000, 2_000, 50_000), row('sqlite-batch', 256, 20_000, 6_000, 40_000)];
    expect(goalVerdicts(doc(worse), (p) => p === 'proven')[0]).toMatchObject({ holds: false });
  });
});

describe('bench:stores command line', () => {
  it('--help lists every store and option', async () => {
    const { code, stdout } = await run(['--help']);
    expect(code).toBe(0);
    for (const word of ['--writers', '--log-options', '--report', 'sqlite-batch', 'lmdb-flushed', 'level', 'fs']) expect(stdout).toContain(word);
  });

  it.each([
    [['--writers', '0'], /--writers: 0/],
    [['--stores', 'redis'], /unknown store redis/],
    [['--log-options', '{nope'], /--log-options: not JSON/],
    [['--log-options', '[1]'], /must be a JSON object/],
    [['--stores', 'log-opts'], /needs --log-options/],
    [['--rounds', '0'], /--rounds must be/],
    [['--sekonds', '1'], /did you mean --seconds/],
  ])('refuses %j with exit code 2 before measuring', async (args, message) => {
    const { code, stderr } = await run(args);
    expect(code).toBe(2);
    expect(stderr).toMatch(message);
  });

  it('--report re-prints a results file with the verdicts', async () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'hardsync-stores-test-')), 'r.json');
    fs.writeFileSync(file, JSON.stringify(doc([row('log', 16, 30_000, 500, 9_000), row('sqlite-batch', 16, 9_000, 800, 10_000)])));
    const { code, stdout } = await run(['--report', file]);
    fs.rmSync(path.dirname(file), { recursive: true });
    expect(code).toBe(0);
    expect(stdout).toMatch(/\|\s+16 \| log\s+\|\s+30,000 \|/);
    expect(stdout).toMatch(/16 writers: log 3\.33x sqlite-batch's acks\/s .*HOLDS/);
  });
});
