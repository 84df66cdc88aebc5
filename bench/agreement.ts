/**
 * Does hardsync give the figures of the tools users trust, on the same pattern? Runs, on one
 * directory, pairs back to back: `hardsync check` then fio with etcd's recipe (fdatasync p50,
 * p99 and operations per second), and `hardsync pg` then PostgreSQL's pg_test_fsync (ops/s of
 * every line). For each figure it reports the median of the per-pair ratios (hardsync / peer:
 * the two runs of a pair are seconds apart, so a slow drift of the machine cancels out of
 * it) with their spread, against the goal: within 10% on p50 and ops/s, 25% on p99.
 *
 * Usage: node dist/bench/agreement.js [DIR] [--pairs N] [--secs S] [--only check|pg] [--json FILE]
 * Needs fio and pg_test_fsync (Debian: fio, postgresql-15).
 * @module
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ETCD_BLOCK, fioEtcdArgs } from './measure/check';
import { checkOutputPath, numberValue, parseOrHelp, stringValue, type CommandSpec } from './measure/args';
import { UsageError } from './measure/schema';
import { median } from './measure/stats';

const PG_TEST_FSYNC = process.env.PG_TEST_FSYNC ?? '/usr/lib/postgresql/15/bin/pg_test_fsync';
const CLI = path.join(__dirname, 'cli.js');

/** How close a hardsync figure must be to its peer's: |ratio - 1| at most this. */
export const GOALS = Object.freeze({ p50: 0.1, p99: 0.25, opsPerSec: 0.1 });

/** pg_test_fsync's output as "section/label" -> ops/s (n/a lines omitted). */
export function parsePgOutput(text: string): Map<string, number> {
  const out = new Map<string, number>();
  let section = 0;
  for (const line of text.split('\n')) {
    if (/^(Compare|Test if|Non-sync)/.test(line)) section++;
    const match = /^ {8}(.{30})\s*([\d.]+) ops\/sec/.exec(line);
    if (match) out.set(`${section}/${match[1].trim()}`, Number(match[2]));
  }
  return out;
}

/** The figures of one etcd-recipe run: fdatasync p50 and p99 in microseconds, operations per second. */
export interface EtcdFigures {
  p50: number;
  p99: number;
  opsPerSec: number;
}

/** fio's JSON output -> the etcd figures: its "sync" percentiles, and its write IOPS (writes over the job's runtime). */
export function parseFioJson(text: string): EtcdFigures {
  const job = JSON.parse(text).jobs[0];
  const p = job.sync.lat_ns.percentile;
  return { p50: p['50.000000'] / 1e3, p99: p['99.000000'] / 1e3, opsPerSec: job.write.iops };
}

function run(command: string, args: string[]): string {
  const result = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (result.error) throw result.error;
  // hardsync check exits 1 (FAIL) or 3 (UNCERTAIN) with its figures written: only a usage
  // error (2) or a signal means no figures.
  if (result.status === null || result.status === 2 || (command !== process.execPath && result.status !== 0)) {
    throw new Error(`${path.basename(command)} ${args.join(' ')} failed (${result.status ?? result.signal}): ${result.stderr.trim()}`);
  }
  return result.stdout;
}

function removeFioFiles(dir: string): void {
  for (const f of fs.readdirSync(dir)) if (f.startsWith('etcd.')) fs.rmSync(path.join(dir, f), { force: true });
}

function fioEtcd(dir: string): EtcdFigures {
  removeFioFiles(dir);
  const text = run('fio', [...fioEtcdArgs(dir), '--output-format=json']);
  removeFioFiles(dir);
  return parseFioJson(text);
}

function hardsyncCheck(dir: string): EtcdFigures {
  const json = path.join(os.tmpdir(), `hardsync-agreement-${process.pid}.json`);
  // A threshold no disk reaches and no time limit: every round runs in full, and an
  // uncertain verdict never adds rounds that fio would not run.
  run(process.execPath, [CLI, 'check', dir, '--json', json, '--threshold-ms', String(1e6), '--max-duration', '86400']);
  const doc = JSON.parse(fs.readFileSync(json, 'utf8'));
  fs.rmSync(json);
  const r = doc.results[0];
  return { p50: r.latencyUs.p50, p99: r.latencyUs.p99, opsPerSec: r.opsPerSec };
}

function pgTestFsync(dir: string, secs: number): Map<string, number> {
  const file = path.join(dir, 'pg_test_fsync.out');
  const text = run(PG_TEST_FSYNC, ['-s', String(secs), '-f', file]);
  fs.rmSync(file, { force: true });
  return parsePgOutput(text);
}

function hardsyncPg(dir: string, secs: number): Map<string, number> {
  return parsePgOutput(run(process.execPath, [CLI, 'pg', dir, '-s', String(secs)]));
}

/**
 * Lets the previous tool's aftermath finish before the next one starts: every tool deletes a
 * file at its end (fio and check 22 MiB, pg_test_fsync 16 MB), and with the `discard` mount
 * option or delayed writeback that work would land in whichever run comes next.
 */
function settle(dir: string): void {
  spawnSync('sync', ['-f', dir], { stdio: 'ignore' });
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2000);
}

/** One compared figure over the pairs. */
export interface Agreement {
  figure: string;
  /** The goal: |median ratio - 1| at most this. */
  goal: number;
  peer: number[];
  hardsync: number[];
  /** hardsync / peer, pair by pair. */
  ratios: number[];
  medianRatio: number;
  within: boolean;
}

/** Compares paired figures: the median of the per-pair ratios against the goal. */
export function agreement(figure: string, goal: number, peer: number[], hardsync: number[]): Agreement {
  const ratios = hardsync.map((v, i) => v / peer[i]).filter(Number.isFinite);
  const medianRatio = ratios.length > 0 ? median(ratios) : NaN;
  return { figure, goal, peer, hardsync, ratios, medianRatio, within: Math.abs(medianRatio - 1) <= goal + 1e-9 };
}

/** The table of agreements, in Markdown (the form bench/README.md quotes). */
export function renderAgreements(rows: readonly Agreement[]): string {
  const fixed = (v: number): string => (v >= 100 ? v.toFixed(0) : v.toFixed(1));
  const cells = rows.map((r) => [
    r.figure, fixed(median(r.peer)), fixed(median(r.hardsync)), `${r.medianRatio.toFixed(2)}x`,
    `${Math.min(...r.ratios).toFixed(2)}-${Math.max(...r.ratios).toFixed(2)}`, `${(r.goal * 100).toFixed(0)}% ${r.within ? 'yes' : 'NO'}`,
  ]);
  const header = ['figure', 'peer (median)', 'hardsync (median)', 'median of pair ratios', 'pair ratios', 'within goal'];
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]): string => `| ${c.map((x, i) => (i === 0 ? x.padEnd(widths[i]) : x.padStart(widths[i]))).join(' | ')} |`;
  return [line(header), `|${widths.map((w, i) => (i === 0 ? `-${'-'.repeat(w)}-` : `${'-'.repeat(w + 1)}:`)).join('|')}|`, ...cells.map(line)].join('\n') + '\n';
}

const SPEC: CommandSpec = {
  program: 'node dist/bench/agreement.js',
  name: '',
  args: '[DIR]',
  summary: `hardsync check against fio's etcd recipe, and hardsync pg against
pg_test_fsync, in pairs run back to back (hardsync, then the peer) on DIR
(default /tmp); prints the median of the per-pair ratios of each figure, their
spread, and whether it is within the goal (10% on p50 and ops/s, 25% on p99).`,
  options: {
    pairs: { type: 'string', value: 'N', help: 'pairs of each comparison (default 5)' },
    secs: { type: 'string', value: 'S', help: 'seconds per pg_test_fsync test (default 2)' },
    only: { type: 'string', value: 'check|pg', help: 'run one of the two comparisons' },
    json: { type: 'string', value: 'FILE', help: 'also write every figure and ratio as JSON' },
  },
  footer: 'exit codes: 0 every figure within its goal, 1 some not or a tool failed,\n2 usage error',
};

function loadAverage(): string {
  return os.loadavg().map((l) => l.toFixed(2)).join(' ');
}

function main(argv: string[]): number {
  const parsed = parseOrHelp(SPEC, argv);
  if (!parsed) return 0;
  if (parsed.positionals.length > 1) throw new UsageError(`one directory at most, got ${parsed.positionals.length} arguments`);
  const dir = path.resolve(parsed.positionals[0] ?? '/tmp');
  const pairs = numberValue(parsed, 'pairs', 5, 1, 1000, true);
  const secs = numberValue(parsed, 'secs', 2, 1, 3600, true);
  const only = stringValue(parsed, 'only');
  if (only !== undefined && only !== 'check' && only !== 'pg') throw new UsageError(`--only must be check or pg, got "${only}"`);
  const json = stringValue(parsed, 'json');
  checkOutputPath('json', json);
  if (!fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory()) throw new UsageError(`${dir} is not a directory`);

  const started = new Date();
  const loadBefore = loadAverage();
  const etcd: { hardsync: EtcdFigures; peer: EtcdFigures }[] = [];
  const pg: { hardsync: Map<string, number>; peer: Map<string, number> }[] = [];
  for (let pair = 0; pair < pairs; pair++) {
    if (only !== 'pg') {
      settle(dir);
      const hardsync = hardsyncCheck(dir);
      settle(dir);
      etcd.push({ hardsync, peer: fioEtcd(dir) });
    }
    if (only !== 'check') {
      settle(dir);
      const hardsync = hardsyncPg(dir, secs);
      settle(dir);
      pg.push({ hardsync, peer: pgTestFsync(dir, secs) });
    }
    process.stderr.write(`pair ${pair + 1}/${pairs} done (load average ${loadAverage()})\n`);
  }

  const rows: Agreement[] = [];
  const label = `etcd recipe (${ETCD_BLOCK} B write, fdatasync):`;
  for (const [key, name] of [['p50', 'fdatasync p50 (us)'], ['p99', 'fdatasync p99 (us)'], ['opsPerSec', 'ops/s']] as const) {
    if (etcd.length > 0) rows.push(agreement(`${label} ${name}`, GOALS[key], etcd.map((e) => e.peer[key]), etcd.map((e) => e.hardsync[key])));
  }
  for (const key of pg[0]?.peer.keys() ?? []) {
    rows.push(agreement(`pg_test_fsync ${key} (ops/s)`, GOALS.opsPerSec, pg.map((p) => p.peer.get(key) ?? NaN), pg.map((p) => p.hardsync.get(key) ?? NaN)));
  }
  const loadAfter = loadAverage();
  process.stdout.write(renderAgreements(rows));
  process.stdout.write(`\n${pairs} pairs (hardsync, then the peer)${only === 'check' ? '' : `, ${secs} s per pg test`}, directory ${dir}; load average ${loadBefore} before, ${loadAfter} after\n`);
  if (json !== undefined) {
    const doc = { command: ['node', 'dist/bench/agreement.js', ...argv].join(' '), directory: dir, startedAt: started.toISOString(), loadAverage: { before: loadBefore, after: loadAfter }, pairs, secsPerPgTest: secs, rows };
    fs.writeFileSync(json, `${JSON.stringify(doc, null, 1)}\n`);
  }
  return rows.every((r) => r.within) ? 0 : 1;
}

if (require.main === module) {
  try {
    process.exitCode = main(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`agreement: ${(error as Error).message}\n${error instanceof UsageError ? `(${SPEC.program} --help for usage)\n` : ''}`);
    process.exitCode = error instanceof UsageError ? 2 : 1;
  }
}
