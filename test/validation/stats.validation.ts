// The benchmark of the benchmark: does `hardsync compare`
// know noise from difference, and does `hardsync check` never flip, on this machine?
//
//   A/A: pairs of default `hardsync bench` runs on the same directory; compare must find no
//        significant difference for at least 90% of the figures it compares (false alarms).
//   A/B: pairs of default runs on the power-cut simulator, without and with a flush delay of
//        HARDSYNC_VALIDATE_DELAY_US (300 and 500) microseconds: every flushing case must be
//        called slower (ops/s and p50; p99 reported), the page-cache cases never different.
//   check: HARDSYNC_VALIDATE_CHECKS (10) `hardsync check` runs on /tmp never answer both PASS
//        and FAIL (UNCERTAIN is allowed).
//
// Each run's wall time and peak RSS are recorded. Results: bench/results/stats-validation.json
// and the tables printed; bench/README.md quotes them with this command:
//   npm run bench:validate            (HARDSYNC_VALIDATE_PAIRS=3 by default)
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compareFiles, type CompareReport } from '../../dist/bench/measure/compare.js';
import { readBenchFile, type BenchFile } from '../../dist/bench/measure/schema.js';
import { PowercutFs, powercutUnavailable } from '../helpers/powercut';

const CLI = path.join(__dirname, '..', '..', 'dist', 'bench', 'cli.js');
const PAIRS = Number(process.env.HARDSYNC_VALIDATE_PAIRS ?? 3);
const DELAYS_US = (process.env.HARDSYNC_VALIDATE_DELAY_US ?? '300,500').split(',').map(Number);
const CHECKS = Number(process.env.HARDSYNC_VALIDATE_CHECKS ?? 10);
const OUT = path.join(__dirname, '..', '..', 'bench', 'results', 'stats-validation.json');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'hs-validate-'));
const results: Record<string, unknown> = { date: new Date().toISOString(), pairs: PAIRS, delaysUs: DELAYS_US, loadAverageAtStart: os.loadavg()[0] };

afterAll(() => {
  fs.writeFileSync(OUT, `${JSON.stringify(results, null, 1)}\n`);
  // HARDSYNC_VALIDATE_KEEP=1 keeps every run's JSON for a closer look.
  if (process.env.HARDSYNC_VALIDATE_KEEP) console.log(`run files kept in ${work}`);
  else fs.rmSync(work, { recursive: true, force: true });
});

/** One CLI run under GNU time: exit code, wall seconds, peak RSS in MB. */
function timedRun(args: string[]): { code: number; seconds: number; rssMb: number; stdout: string } {
  const timeFile = path.join(work, `time-${process.hrtime.bigint()}`);
  let code = 0;
  let stdout = '';
  try {
    stdout = execFileSync('/usr/bin/time', ['-f', '%e %M', '-o', timeFile, process.execPath, CLI, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 64 << 20 });
  } catch (error) {
    const e = error as { status: number; stdout: string };
    code = e.status;
    stdout = e.stdout;
  }
  const [seconds, kb] = fs.readFileSync(timeFile, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
  return { code, seconds, rssMb: Math.round(kb / 1024), stdout };
}

function bench(dir: string, name: string): { doc: BenchFile; seconds: number; rssMb: number } {
  const json = path.join(work, `${name}.json`);
  const run = timedRun(['bench', dir, '--json', json]);
  if (run.code !== 0) throw new Error(`bench ${name} exited ${run.code}`);
  return { doc: readBenchFile(json), seconds: run.seconds, rssMb: run.rssMb };
}

type Tally = { faster: number; slower: number; same: number; untested: number };

function tally(report: CompareReport, pick: (method: string) => boolean, figures = ['opsPerSec', 'p50', 'p99']): Tally {
  const t = { faster: 0, slower: 0, same: 0, untested: 0 };
  for (const c of report.cases) {
    if (!pick(c.method)) continue;
    for (const f of c.files[1]?.against ?? []) if (figures.includes(f.figure)) t[f.verdict]++;
  }
  return t;
}

// The methods whose every operation waits for a flush the simulator delays (fsync, fdatasync,
// O_DSYNC / O_SYNC writes, directory fsync). The simulator's syncfs and sync_file_range make
// nothing durable and are not delayed.
const SIM_FLUSHING = new Set(['fdatasync', 'fsync', 'fullFsync', 'barrierFsync', 'dsync', 'osync', 'direct-dsync', 'sfr-fdatasync', 'dir-fsync', 'atomic-replace', 'node-fdatasync', 'node-fsync']);

describe('A/A: two default runs on the same directory', () => {
  it(`finds no significant difference for at least 90% of the figures (${PAIRS} pairs)`, () => {
    const dir = path.join(work, 'aa');
    fs.mkdirSync(dir);
    const pairs = [];
    for (let i = 0; i < PAIRS; i++) {
      const a = bench(dir, `aa-${i}-a`);
      const b = bench(dir, `aa-${i}-b`);
      const report = compareFiles([{ name: 'a', doc: a.doc }, { name: 'b', doc: b.doc }]);
      const t = tally(report, () => true);
      const compared = t.faster + t.slower + t.same;
      const unstable = [a, b].map((r) => r.doc.stability?.unstableCases ?? 0);
      pairs.push({ ...t, compared, falseAlarmPct: Math.round(((t.faster + t.slower) / compared) * 1000) / 10, seconds: [a.seconds, b.seconds], rssMb: [a.rssMb, b.rssMb], unstableCases: unstable, causes: [a, b].map((r) => r.doc.stability?.causes ?? []) });
      console.log(`A/A pair ${i + 1}: ${t.faster + t.slower} of ${compared} figures called different (${t.faster} faster, ${t.slower} slower); runs ${a.seconds} s / ${b.seconds} s, ${a.rssMb} / ${b.rssMb} MB; unstable cases ${unstable.join(' / ')}`);
    }
    results.aa = pairs;
    const alarms = pairs.reduce((s, p) => s + p.faster + p.slower, 0);
    const compared = pairs.reduce((s, p) => s + p.compared, 0);
    console.log(`A/A: ${alarms} false alarms in ${compared} figures (${((alarms / compared) * 100).toFixed(1)}%)`);
    expect(alarms / compared).toBeLessThanOrEqual(0.1);
  });
});

const simUnavailable = powercutUnavailable();
describe.skipIf(simUnavailable !== undefined)('A/B: the simulator without and with a flush delay', () => {
  it.each(DELAYS_US)(`calls every flushing case slower and no page-cache case different (%i us, ${PAIRS} pairs)`, async (DELAY_US) => {
    const pfs = await PowercutFs.mount();
    const pairs = [];
    try {
      for (let i = 0; i < PAIRS; i++) {
        pfs.delayMicros(0);
        const a = bench(pfs.mountpoint, `ab${DELAY_US}-${i}-a`);
        pfs.delayMicros(DELAY_US);
        const b = bench(pfs.mountpoint, `ab${DELAY_US}-${i}-b`);
        pfs.delayMicros(0);
        const report = compareFiles([{ name: 'no delay', doc: a.doc }, { name: 'delay', doc: b.doc }]);
        const flushing = report.cases.filter((c) => SIM_FLUSHING.has(c.method) && c.files[1]?.against);
        const missed = flushing.flatMap((c) => c.files[1]!.against!.filter((f) => f.figure !== 'p99' && f.verdict !== 'slower').map((f) => `${c.label} ${c.mode} ${c.size} ${f.figure} ${f.verdict} (${f.ratio.toFixed(2)}x)`));
        const p99 = tally(report, (m) => SIM_FLUSHING.has(m), ['p99']);
        const pageCache = report.cases.filter((c) => c.method === 'write' && c.files[1]?.against);
        const pageCacheCalled = pageCache.flatMap((c) => c.files[1]!.against!.filter((f) => f.verdict !== 'same').map((f) => `${c.mode} ${c.size} ${f.figure} ${f.verdict} (${f.ratio.toFixed(2)}x)`));
        pairs.push({ flushingCases: flushing.length, missed, p99Slower: p99.slower, p99Compared: p99.slower + p99.same + p99.faster, pageCacheFigures: pageCache.length * 3, pageCacheCalled, seconds: [a.seconds, b.seconds], rssMb: [a.rssMb, b.rssMb] });
        console.log(`A/B ${DELAY_US} us pair ${i + 1}: ${flushing.length} flushing cases, missed (ops/s, p50): ${missed.length ? missed.join('; ') : 'none'}; p99 slower in ${p99.slower} of ${p99.slower + p99.same + p99.faster}; page cache called different: ${pageCacheCalled.length ? pageCacheCalled.join('; ') : 'never'}; runs ${a.seconds} / ${b.seconds} s`);
      }
    } finally {
      results[`ab${DELAY_US}us`] = pairs;
      await pfs.unmount();
    }
    expect(pairs.flatMap((p) => p.missed)).toEqual([]);
    expect(pairs.flatMap((p) => p.pageCacheCalled)).toEqual([]);
  });
});

describe('check does not flip', () => {
  it(`never answers both PASS and FAIL in ${CHECKS} runs on /tmp`, () => {
    const dir = path.join(work, 'check');
    fs.mkdirSync(dir);
    const runs = [];
    for (let i = 0; i < CHECKS; i++) {
      const json = path.join(work, `check-${i}.json`);
      const run = timedRun(['check', dir, '--json', json]);
      const doc = readBenchFile(json);
      const c = doc.check!;
      runs.push({ verdict: c.verdict, exit: run.code, p99Ms: c.p99Us / 1000, lowMs: (c.p99LowUs ?? NaN) / 1000, highMs: (c.p99HighUs ?? NaN) / 1000, rounds: c.rounds, seconds: run.seconds });
      console.log(`check ${i + 1}: ${c.verdict} (exit ${run.code}), p99 ${(c.p99Us / 1000).toFixed(2)} ms [${((c.p99LowUs ?? 0) / 1000).toFixed(2)}-${((c.p99HighUs ?? 0) / 1000).toFixed(2)}], ${c.rounds} rounds, ${run.seconds} s`);
    }
    results.check = runs;
    const verdicts = new Set(runs.map((r) => r.verdict));
    expect(verdicts.has('PASS') && verdicts.has('FAIL')).toBe(false);
  });
});
