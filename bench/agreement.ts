/**
 * hardsync against its reference benchmarks, on one directory, in one run, interleaved:
 * fio with etcd's recipe vs `hardsync check` (write+fdatasync 2300 B p50 / p99), and
 * PostgreSQL's pg_test_fsync vs `hardsync pg` (ops/s per test). Prints the side-by-side table
 * with each ratio and whether it is within 20 %.
 *
 * Usage: node dist/bench/peers.js [DIR] [--rounds N] [--secs S]
 * Needs fio and pg_test_fsync (Debian: fio, postgresql-15).
 * @module
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { numberValue, parseOrHelp, type CommandSpec } from './measure/args';
import { UsageError } from './measure/schema';
import { median } from './measure/stats';

const PG_TEST_FSYNC = process.env.PG_TEST_FSYNC ?? '/usr/lib/postgresql/15/bin/pg_test_fsync';
const CLI = path.join(__dirname, 'cli.js');

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

function fioEtcd(dir: string): { p50: number; p99: number } {
  const text = execFileSync('fio', ['--rw=write', '--ioengine=sync', '--fdatasync=1', `--directory=${dir}`, '--size=22m', '--bs=2300',
    '--name=etcd', '--output-format=json'], { encoding: 'utf8' });
  for (const f of fs.readdirSync(dir)) if (f.startsWith('etcd.')) fs.rmSync(path.join(dir, f));
  const job = JSON.parse(text).jobs[0];
  const p = job.sync.lat_ns.percentile;
  return { p50: p['50.000000'] / 1e3, p99: p['99.000000'] / 1e3 };
}

function hardsyncCheck(dir: string): { p50: number; p99: number } {
  const json = path.join(os.tmpdir(), `hardsync-peers-${process.pid}.json`);
  spawnSync(process.execPath, [CLI, 'check', dir, '--json', json], { stdio: 'ignore' });
  const doc = JSON.parse(fs.readFileSync(json, 'utf8'));
  fs.rmSync(json);
  return { p50: doc.results[0].latencyUs.p50, p99: doc.results[0].latencyUs.p99 };
}

function pgTestFsync(dir: string, secs: number): Map<string, number> {
  const file = path.join(dir, 'pg_test_fsync.out');
  const text = execFileSync(PG_TEST_FSYNC, ['-s', String(secs), '-f', file], { encoding: 'utf8' });
  fs.rmSync(file, { force: true });
  return parsePgOutput(text);
}

function hardsyncPg(dir: string, secs: number): Map<string, number> {
  const text = execFileSync(process.execPath, [CLI, 'pg', dir, '-s', String(secs)], { encoding: 'utf8' });
  return parsePgOutput(text);
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

const SPEC: CommandSpec = {
  program: 'node dist/bench/peers.js',
  name: '',
  args: '[DIR]',
  summary: 'fio (etcd recipe) against `hardsync check`, pg_test_fsync against `hardsync pg`, on DIR\n(default: the current directory), interleaved rounds.',
  options: {
    rounds: { type: 'string', value: 'N', help: 'rounds (default 3)' },
    secs: { type: 'string', value: 'S', help: 'seconds per pg_test_fsync test (default 2)' },
  },
};

function main(): void {
  let dir: string;
  let rounds: number;
  let secs: number;
  try {
    const parsed = parseOrHelp(SPEC, process.argv.slice(2));
    if (!parsed) return;
    if (parsed.positionals.length > 1) throw new UsageError(`one directory at most, got ${parsed.positionals.length} arguments`);
    dir = parsed.positionals[0] ?? process.cwd();
    rounds = numberValue(parsed, 'rounds', 3, 1, 1000, true);
    secs = numberValue(parsed, 'secs', 2, 1, 3600, true);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`${error.message}\n(${SPEC.program} --help for usage)\n`);
    process.exitCode = 2;
    return;
  }
  fs.mkdirSync(dir, { recursive: true });
  const fio: { p50: number; p99: number }[] = [];
  const ours: { p50: number; p99: number }[] = [];
  const pgRuns: Map<string, number>[] = [];
  const ourPg: Map<string, number>[] = [];
  for (let round = 0; round < rounds; round++) {
    // Alternate which goes first, so a drift in the machine favours neither.
    const steps = [() => fio.push(fioEtcd(dir)), () => ours.push(hardsyncCheck(dir)), () => pgRuns.push(pgTestFsync(dir, secs)), () => ourPg.push(hardsyncPg(dir, secs))];
    if (round % 2 === 1) steps.reverse();
    for (const step of steps) {
      settle(dir);
      step();
    }
    process.stderr.write(`round ${round + 1}/${rounds} done\n`);
  }
  const rows: string[][] = [];
  const verdict = (a: number, b: number): string => `${(b / a).toFixed(2)}x ${Math.abs(b / a - 1) <= 0.2 ? 'yes' : 'NO'}`;
  const spread = (values: number[], digits: number): string =>
    `${Math.min(...values).toFixed(digits)}-${Math.max(...values).toFixed(digits)}`;
  // The median of per-round ratios: each round's two runs are minutes apart at most, so a
  // slow drift of the machine cancels out of it.
  const paired = (a: number[], b: number[]): string => median(b.map((v, i) => v / a[i])).toFixed(2) + 'x';
  for (const key of ['p50', 'p99'] as const) {
    const a = fio.map((r) => r[key]);
    const b = ours.map((r) => r[key]);
    rows.push([`etcd recipe, 2300 B write+fdatasync ${key} (us)`, median(a).toFixed(1), spread(a, 0), median(b).toFixed(1), spread(b, 0), verdict(median(a), median(b)), paired(a, b)]);
  }
  for (const key of pgRuns[0].keys()) {
    const a = pgRuns.map((m) => m.get(key) ?? NaN);
    const b = ourPg.map((m) => m.get(key) ?? NaN);
    rows.push([`pg_test_fsync ${key} (ops/s)`, median(a).toFixed(0), spread(a, 0), median(b).toFixed(0), spread(b, 0), verdict(median(a), median(b)), paired(a, b)]);
  }
  const header = ['figure (median of rounds)', 'peer', 'peer range', 'hardsync', 'hardsync range', 'ratio, within 20%', 'median of per-round ratios'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ')} |`;
  process.stdout.write(`${[line(header), `|${widths.map((w, i) => (i === 0 ? '-' : '') + '-'.repeat(w) + (i === 0 ? '-' : ':')).join('|')}|`, ...rows.map(line)].join('\n')}\n`);
  process.stdout.write(`\n${rounds} rounds, ${secs} s per pg test, directory ${dir}\n`);
}

if (require.main === module) main();
