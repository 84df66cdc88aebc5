/**
 * The crashtest examples (examples/crashtest/) as a benchmark: each example, and the negative
 * control of each one that must survive, run through `hardsync crashtest` for --runs runs (200
 * by default), with the rate at which each was caught losing acknowledged data. The figures in
 * bench/README.md ("crashtest on real programs") come from
 *
 *   node dist/bench/crashtest/examples.js --runs 200
 *
 * test/crashtest-examples.test.ts runs the same table with fewer runs. Exit 1 when an example
 * did not do what it is there to show.
 * @module
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { numberValue, parseOrHelp, stringValue, type CommandSpec } from '../measure/args';
import { UsageError } from '../measure/schema';
import { replayCut, type RunOutcome } from './campaign';
import { PACKAGE_ROOT } from './simulator';

/** What an example must show: it survives every run, it is caught, or whatever crashtest finds (reported, not required). */
export type ExampleVerdict = 'survives' | 'caught' | 'report';

/** One line of the table. */
export interface ExampleCase {
  name: string;
  /** The script under examples/crashtest/, and its arguments. */
  script: string;
  args?: string[];
  /** --expect's value. */
  expect: string;
  /** Run with --lie (the disk ignores flushes). */
  lie?: boolean;
  verdict: ExampleVerdict;
  /** For a negative control: the example it is the control of. */
  controlOf?: string;
  what: string;
}

/** Every example and control, in the order the table shows them. */
export const EXAMPLES: readonly ExampleCase[] = [
  { name: 'rename-no-fsync', script: 'rename-no-fsync.mjs', expect: 'files', verdict: 'caught', what: 'fs.writeFile + rename, no fsync at all' },
  { name: 'write-file-atomic', script: 'write-file-atomic.mjs', expect: 'files', verdict: 'report', what: 'the write-file-atomic package (fsyncs the file, not the directory)' },
  { name: 'hardsync-atomic', script: 'hardsync-atomic.mjs', expect: 'files', verdict: 'survives', what: "hardsync's writeFileAtomic" },
  { name: 'hardsync-atomic --lie', script: 'hardsync-atomic.mjs', expect: 'files', lie: true, verdict: 'caught', controlOf: 'hardsync-atomic', what: 'the same on a disk that ignores every flush' },
  { name: 'durable-log', script: 'durable-log.mjs', expect: 'durable-log', verdict: 'survives', what: 'DurableLog, 4 producers (fdatasync)' },
  { name: 'durable-log --no-flush', script: 'durable-log.mjs', args: ['--no-flush'], expect: 'durable-log', verdict: 'caught', controlOf: 'durable-log', what: "the same with flush: 'none'" },
  { name: 'durable-log --lie', script: 'durable-log.mjs', expect: 'durable-log', lie: true, verdict: 'caught', controlOf: 'durable-log', what: 'the same on a disk that ignores every flush' },
  { name: 'durable-log --dsync', script: 'durable-log.mjs', args: ['--dsync'], expect: 'durable-log', verdict: 'survives', what: "DurableLog with flush: 'dsync' (O_DSYNC segments; a torn write is durable in part)" },
  { name: 'durable-log --dsync --lie', script: 'durable-log.mjs', args: ['--dsync'], expect: 'durable-log', lie: true, verdict: 'caught', controlOf: 'durable-log --dsync', what: 'the same on a disk that ignores every flush' },
];

/** One example's outcome: crashtest's JSON report, boiled down. */
export interface ExampleResult {
  name: string;
  verdict: ExampleVerdict;
  exitCode: number | null;
  runs: number;
  failed: number;
  /** Runs that had at least one acknowledgement before their cut (only those can lose one). */
  runsWithAck: number;
  firstFailingSeed: number | null;
  /** Its cut point, as `--cut-at` takes it. */
  firstFailingCut: string | null;
  firstProblem: string | null;
  /** Failed / runs per cut point kind. */
  byKind: Record<string, { runs: number; failed: number }>;
  seconds: number;
  /** Did it show what it is there to show. */
  asExpected: boolean;
  error: string | null;
}

const CLI = path.join(PACKAGE_ROOT, 'dist', 'bench', 'cli.js');

/** Runs one example through `hardsync crashtest`. */
export async function runExample(example: ExampleCase, runs: number, seed: number, timeoutSeconds = 60): Promise<ExampleResult> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hardsync-crashtest-example-'));
  const json = path.join(dir, 'report.json');
  const args = [
    CLI, 'crashtest', '--expect', example.expect, '--runs', String(runs), '--seed', String(seed), '--timeout', String(timeoutSeconds), '--json', json,
    ...(example.lie ? ['--lie'] : []), '--', process.execPath, path.join(PACKAGE_ROOT, 'examples', 'crashtest', example.script), ...(example.args ?? []),
  ];
  const started = Date.now();
  try {
    const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      child.stderr.on('data', (c) => (err += c));
      child.on('error', reject);
      child.on('close', (exit) => resolve({ code: exit, stderr: err }));
    });
    const report = fs.existsSync(json) ? JSON.parse(fs.readFileSync(json, 'utf8')) : null;
    const results: RunOutcome[] = report?.results ?? [];
    const byKind: ExampleResult['byKind'] = {};
    for (const r of results) {
      const k = (byKind[r.cut.kind] ??= { runs: 0, failed: 0 });
      k.runs++;
      if (!r.passed) k.failed++;
    }
    const failed = results.filter((r) => !r.passed);
    const asExpected = code !== null && code <= 1 && (example.verdict === 'survives' ? code === 0 : example.verdict === 'caught' ? code === 1 : true);
    return {
      name: example.name, verdict: example.verdict, exitCode: code, runs: results.length, failed: failed.length,
      runsWithAck: results.filter((r) => r.acks > 0).length, firstFailingSeed: failed[0]?.seed ?? null,
      firstFailingCut: failed[0] ? replayCut(failed[0].cut, failed[0].landed) : null, firstProblem: failed[0]?.problems[0] ?? null,
      byKind, seconds: Math.round((Date.now() - started) / 100) / 10, asExpected,
      error: code !== null && code > 1 ? (report?.error ?? stderr.trim().split('\n').slice(-3).join(' ')) : null,
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function percent(part: number, whole: number): string {
  return whole === 0 ? '-' : `${((100 * part) / whole).toFixed(1)}%`;
}

/** The results as a Markdown table (bench/README.md's). */
export function renderExamples(results: readonly ExampleResult[]): string {
  const lines = [
    '| example | must | runs | caught losing acknowledged data | runs with an ack before the cut | per cut point (op / flush / write / time) | first failing seed | s |',
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const r of results) {
    const kinds = ['op', 'flush', 'write', 'time'].map((k) => (r.byKind[k] ? `${r.byKind[k].failed}/${r.byKind[k].runs}` : '-')).join(' / ');
    const caught = r.error ? `error: ${r.error}` : `${r.failed} (${percent(r.failed, r.runs)})`;
    lines.push(`| ${r.name} | ${r.verdict === 'report' ? '(report)' : r.verdict}${r.asExpected ? '' : ' **NOT MET**'} | ${r.runs} | ${caught} | ${r.runsWithAck} | ${kinds} | ${r.firstFailingSeed ?? '-'} | ${r.seconds} |`);
  }
  return `${lines.join('\n')}\n`;
}

const SPEC: CommandSpec = {
  name: '',
  program: 'node dist/bench/crashtest/examples.js',
  args: '',
  summary: 'Runs every crashtest example and negative control (examples/crashtest/) for --runs runs each\nand prints how often each was caught losing acknowledged data.',
  options: {
    runs: { type: 'string', value: 'N', help: 'runs per example (default 200)' },
    seed: { type: 'string', value: 'S', help: 'the campaign seed of every example (default 1)' },
    only: { type: 'string', value: 'NAME', help: 'one example of the table' },
    json: { type: 'string', value: 'FILE', help: 'the results as JSON' },
  },
};

async function main(): Promise<void> {
  let runs: number;
  let seed: number;
  let only: string | undefined;
  let json: string | undefined;
  try {
    const parsed = parseOrHelp(SPEC, process.argv.slice(2));
    if (!parsed) return;
    runs = numberValue(parsed, 'runs', 200, 1, 100_000, true);
    seed = numberValue(parsed, 'seed', 1, 0, 2 ** 32 - 1, true);
    only = stringValue(parsed, 'only');
    json = stringValue(parsed, 'json');
    if (only !== undefined && !EXAMPLES.some((e) => e.name === only)) throw new UsageError(`--only: no example "${only}"; they are: ${EXAMPLES.map((e) => e.name).join(', ')}`);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exitCode = 2;
    return;
  }
  const results: ExampleResult[] = [];
  for (const example of EXAMPLES.filter((e) => only === undefined || e.name === only)) {
    process.stderr.write(`${example.name}: ${runs} runs...\n`);
    results.push(await runExample(example, runs, seed));
  }
  const load = os.loadavg().map((l) => l.toFixed(2)).join(', ');
  process.stdout.write(`crashtest examples, ${runs} runs each, seed ${seed}; load average ${load}\n\n${renderExamples(results)}`);
  for (const r of results) if (r.firstProblem) process.stdout.write(`\n${r.name}, first failure (seed ${r.firstFailingSeed}, --cut-at ${r.firstFailingCut}): ${r.firstProblem}`);
  process.stdout.write('\n');
  if (json !== undefined) fs.writeFileSync(json, `${JSON.stringify({ runs, seed, loadavg: os.loadavg(), results }, null, 1)}\n`);
  if (results.some((r) => !r.asExpected)) process.exitCode = 1;
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
