#!/usr/bin/env node
/**
 * The `hardsync` command: bench, compare, pg, check, powercheck, crashtest. Options are parsed by Node's
 * util.parseArgs from one declaration per command (bench/measure/args.ts), which also gives
 * each command's --help. A wrong option fails with exit code 2 and a clear message, before
 * any I/O. Exit codes: 0 ok, 1 check failed (or a run failed), 2 usage error or refused path,
 * 3 check uncertain.
 * @module
 */
import fs from 'node:fs';
import path from 'node:path';
import { capabilitiesSync } from '../lib/index';
import { checkOutputPath, closest, listValue, numberValue, parseOrHelp, stringValue, type CommandSpec, type ParsedArgs } from './measure/args';
import { CHECK_MAX_DURATION, CHECK_ROUNDS, ETCD_THRESHOLD_MS, judgeCheck, passCaveat, renderCheck, runCheck } from './measure/check';
import { compareFiles, DEFAULT_NOISE, renderCompare } from './measure/compare';
import { isMemoryFilesystem, packageVersion, probeEnv } from './measure/env';
import { renderHtml } from './measure/html';
import { installCleanup, makeScratch, removeScratch } from './measure/lifecycle';
import { METHOD_IDS, methodLabel, MODES, type Mode } from './measure/methods';
import { chooseWalSyncMethod, runPg, walSyncLines } from './measure/pg';
import { clearProgress, progressBar } from './measure/progress';
import { baselineFor, formatSize, parseSize, renderBenchReport, reportHeader, reportTail, tableStart, wrapText } from './measure/report';
import { summaryLines, summaryOf } from './measure/summary';
import { tableLayout, tableRow } from './measure/table';
import { DEFAULT_MAX_SAMPLES_PER_ROUND, MAX_ROUNDS, planSuite, plausibilityWarnings, runSuite, UNSTABLE_HALF_WIDTH_PCT, type SuiteChoice } from './measure/run';
import { readBenchFile, SCHEMA, UsageError, writeBenchFile, type BenchFile, type BenchResult, type CheckVerdict } from './measure/schema';
import { powercheck, powercheckCommandName } from './powercheck/cli';
import { crashtest } from './crashtest/cli';

/** Default rounds per case, and seconds per case over all of them. */
export const DEFAULT_ROUNDS = 8;
export const DEFAULT_SECONDS_PER_CASE = 1;
/** --quick: rounds and seconds per case. */
export const QUICK_ROUNDS = 3;
export const QUICK_SECONDS_PER_CASE = 0.3;
/** Default --max-duration of bench --until-stable, seconds. */
export const BENCH_MAX_DURATION = 180;

/**
 * The width text output fits in: COLUMNS when set (as ls and most tools honour it), else the
 * terminal's, else 80 (a pipe, a file, a CI log).
 */
export function outputWidth(env: NodeJS.ProcessEnv = process.env, stdout: { isTTY?: boolean; columns?: number } = process.stdout): number {
  const fromEnv = Number(env.COLUMNS);
  if (Number.isInteger(fromEnv) && fromEnv > 0) return Math.max(40, fromEnv);
  return stdout.isTTY && stdout.columns ? Math.max(40, stdout.columns) : 80;
}

const COMMANDS: Record<'bench' | 'compare' | 'pg' | 'check', CommandSpec> = {
  bench: {
    name: 'bench',
    args: '[dir]',
    summary: `Measures every durability call this OS offers against page-cache writes, in a temporary
directory in dir's filesystem (default: the current directory's), in interleaved rounds;
each figure comes with its 95% confidence interval and the rounds' spread, and cases whose
figures are not stable are marked, with the likely causes measured during the run.`,
    options: {
      duration: { type: 'string', value: 'S', help: `seconds per case, split over the rounds (default ${DEFAULT_SECONDS_PER_CASE})` },
      rounds: { type: 'string', value: 'N', help: `interleaved rounds per case, 2 to ${MAX_ROUNDS} (default ${DEFAULT_ROUNDS})` },
      quick: { type: 'boolean', help: `a short run: ${QUICK_ROUNDS} rounds, ${QUICK_SECONDS_PER_CASE} s per case (wide intervals)` },
      'until-stable': { type: 'boolean', help: 'after the planned rounds, add rounds to unstable cases until\nthey are stable or --max-duration is spent' },
      'max-duration': { type: 'string', value: 'S', help: `time budget of the whole run with --until-stable (default ${BENCH_MAX_DURATION})` },
      sizes: { type: 'string', value: '512,4k,8k,64k,1m', help: 'write sizes (bytes; k = KiB, m = MiB)' },
      methods: { type: 'string', value: 'a,b,...', help: `any of: ${wrapText(METHOD_IDS.join(', '), 58)}` },
      modes: { type: 'string', value: 'overwrite,append,new', help: 'where the writes go' },
      'writes-per-sync': { type: 'string', value: 'N[,M]', help: 'writes per flush (amortized flush when > 1)' },
      threads: { type: 'string', value: 'N', help: 'concurrent writers, one file each (default 1)' },
      js: { type: 'boolean', help: "run the loop in JavaScript through hardsync's API" },
      json: { type: 'string', value: 'FILE', help: `write the results (schema ${SCHEMA}, bench/SCHEMA.md)` },
      html: { type: 'string', value: 'FILE', help: 'write a self-contained HTML report' },
      wide: { type: 'boolean', help: 'every column (p90, p99.9, max, MB/s, rounds, intervals of ops/s);\nlines as wide as they need' },
    },
    footer: `The report starts with the answer: what a durable write costs here against a page-cache
write, per size, and the cheapest durable method. On a terminal a progress bar runs while it
measures; on a pipe each row is printed as its case ends.

exit codes: 0 ok, 1 the run failed, 2 usage error or refused path`,
  },
  compare: {
    name: 'compare',
    args: 'BASE.json OTHER.json ...',
    summary: `Compares result files against the first (the baseline): for each case in both, the
ratio of ops/s, p50 and p99 with its 95% interval, and a verdict: faster, slower, or no
significant difference (a Mann-Whitney U test on the rounds, the interval, and a noise
threshold). Warns when the files' settings differ. Reads hardsync-bench/1 and /2 files.`,
    options: {
      noise: { type: 'string', value: 'PCT', help: `differences within +-PCT% are never called (default ${DEFAULT_NOISE * 100})` },
      json: { type: 'string', value: 'FILE', help: 'write the comparison as JSON (- for stdout)' },
      html: { type: 'string', value: 'FILE', help: 'write it as a self-contained HTML report' },
    },
    footer: 'exit codes: 0 ok, 2 usage error (fewer than two files) or unreadable file',
  },
  pg: {
    name: 'pg',
    args: '[dir]',
    summary: `PostgreSQL's pg_test_fsync: the same five sections in its order and wording, the same
output format, and pg_test_fsync's options. Lines whose rate did not hold over the test are
marked "unstable". Ends with the wal_sync_method it would choose here, and why.`,
    options: {
      filename: { type: 'string', short: 'f', value: 'FILE', help: 'the test file (default: pg_test_fsync.out in a temporary\ndirectory in dir); created, written, removed; never an existing file' },
      'secs-per-test': { type: 'string', short: 's', value: 'N', help: 'seconds per test (default 5, like pg_test_fsync)' },
      duration: { type: 'string', value: 'S', help: 'the same, in fractional seconds' },
      json: { type: 'string', value: 'FILE', help: `write the results (schema ${SCHEMA})` },
    },
    footer: 'exit codes: 0 ok, 1 the run failed, 2 usage error or refused path',
  },
  check: {
    name: 'check',
    args: '[dir]',
    summary: `etcd's disk check: 2300-byte writes + fdatasync to preallocated files, 22 MiB in
${CHECK_ROUNDS} rounds; the p99 with its 95% interval against the threshold (etcd: 10 ms).
PASS when the whole interval is under it, FAIL when none of it is, UNCERTAIN when it
straddles it; while uncertain it keeps sampling, up to --max-duration. NOT-DURABLE when
the directory is on a filesystem in memory (tmpfs, ramfs) or the flush is not durable on
this OS: nothing measured there speaks for a disk. A PASS with flushes too fast for a
device says so (a volatile cache may acknowledge them: hardsync powercheck tells).`,
    options: {
      'threshold-ms': { type: 'string', value: 'MS', help: `the threshold (default ${ETCD_THRESHOLD_MS})` },
      'max-duration': { type: 'string', value: 'S', help: `time budget, extra rounds included (default ${CHECK_MAX_DURATION})` },
      input: { type: 'string', value: 'FILE', help: 'judge a saved check result instead of measuring' },
      json: { type: 'string', value: 'FILE', help: `write the result (schema ${SCHEMA})` },
    },
    footer: 'exit codes: 0 PASS, 1 FAIL (or the run failed), 2 usage error or refused path, 3 UNCERTAIN, 4 NOT-DURABLE (memory filesystem, or a flush not durable on this OS)',
  },
};

/** The global usage text (hardsync --help). */
export const USAGE = `usage: hardsync <command> [options]

commands:
  bench [dir]          what a durable write costs here against a page-cache
                       write, each figure with its 95% interval (no arguments
                       needed)
  compare A.json B.json ...
                       compare result files: ratios, intervals, faster /
                       slower / no significant difference
  pg [dir | -f FILE]   PostgreSQL's pg_test_fsync: its sections, options and
                       format; then the wal_sync_method to choose
  check [dir]          etcd's disk check: fdatasync p99 under 10 ms? PASS,
                       FAIL, UNCERTAIN, or NOT-DURABLE on a memory filesystem
  powercheck listen|run|verify
                       a power-loss check with a witness on a second machine
  crashtest [options] -- CMD...
                       run your program on a power-cut simulator: does what
                       it acknowledged survive the cuts?

hardsync <command> --help    that command's options
hardsync --version, -v       the version

exit codes: 0 ok, 1 check failed or the run failed, 2 usage error or refused
path, 3 check uncertain, 4 check on a filesystem that cannot be durable
(memory); powercheck verify: 0 honest, 1 lied, 2 could not check;
crashtest: 0 every run passed, 1 a run failed, 2 cannot test
`;

const COMMAND_NAMES = ['bench', 'compare', 'pg', 'check', 'powercheck', 'crashtest'];

/** The suite choice from bench's options. */
export function suiteChoice(parsed: ParsedArgs): SuiteChoice {
  const choice: SuiteChoice = {};
  const methods = listValue(parsed, 'methods');
  if (methods) {
    for (const m of methods) {
      if (!METHOD_IDS.includes(m)) {
        const near = closest(m, METHOD_IDS);
        throw new UsageError(`unknown method "${m}"${near ? ` (did you mean "${near}"?)` : ''}; methods: ${METHOD_IDS.join(', ')}`);
      }
    }
    choice.methods = methods;
  }
  const sizes = listValue(parsed, 'sizes');
  if (sizes) {
    choice.sizes = sizes.map((s) => {
      const bytes = parseSize(s);
      if (!Number.isInteger(bytes) || bytes < 1 || bytes > 64 << 20) throw new UsageError(`--sizes: "${s}" is not a size from 1 to 64m`);
      return bytes;
    });
  }
  const modes = listValue(parsed, 'modes');
  if (modes) {
    for (const m of modes) if (!MODES.includes(m as Mode)) throw new UsageError(`unknown mode "${m}"; modes: ${MODES.join(', ')}`);
    choice.modes = modes as Mode[];
  }
  const wps = listValue(parsed, 'writes-per-sync');
  if (wps) {
    choice.writesPerSync = wps.map((w) => {
      const n = Number(w);
      if (!Number.isInteger(n) || n < 1 || n > 4096) throw new UsageError(`--writes-per-sync: "${w}" is not an integer from 1 to 4096`);
      return n;
    });
  }
  return choice;
}

function oneDirectory(parsed: ParsedArgs, command: string): string {
  if (parsed.positionals.length > 1) throw new UsageError(`${command} takes at most one directory, got ${parsed.positionals.length} arguments`);
  return parsed.positionals[0] ?? process.cwd();
}

function round1(value: number): number {
  return Math.round(value * 10) / 10;
}

// ---------------------------------------------------------------------------------------------
// Commands

async function bench(argv: string[]): Promise<number> {
  const parsed = parseOrHelp(COMMANDS.bench, argv);
  if (!parsed) return 0;
  const dir = oneDirectory(parsed, 'bench');
  const quick = parsed.values.quick === true;
  const seconds = numberValue(parsed, 'duration', quick ? QUICK_SECONDS_PER_CASE : DEFAULT_SECONDS_PER_CASE, 0.001, 3600, false);
  const rounds = numberValue(parsed, 'rounds', quick ? QUICK_ROUNDS : DEFAULT_ROUNDS, 2, MAX_ROUNDS, true);
  const threads = numberValue(parsed, 'threads', 1, 1, 64, true);
  const untilStable = parsed.values['until-stable'] === true;
  if (parsed.values['max-duration'] !== undefined && !untilStable) throw new UsageError('--max-duration bounds --until-stable: give both, or neither');
  const maxDuration = numberValue(parsed, 'max-duration', BENCH_MAX_DURATION, 1, 86400, false);
  const js = parsed.values.js === true;
  if (js && threads > 1) throw new UsageError('--js runs one thread; drop --threads or --js');
  const choice = suiteChoice(parsed);
  const cases = planSuite(choice);
  const json = stringValue(parsed, 'json');
  const html = stringValue(parsed, 'html');
  checkOutputPath('json', json);
  checkOutputPath('html', html);
  const scratch = makeScratch(dir);
  const started = Date.now();
  const caps = capabilitiesSync(scratch);
  const env = probeEnv(scratch, ['hardsync', 'bench', ...argv].join(' '));
  env.directory = path.resolve(dir);
  const wide = parsed.values.wide === true;
  const width = outputWidth();
  // On a terminal a progress bar, then the whole report, the answer first. Anywhere else (a
  // pipe, a CI log, a file) the table is printed as it is measured, so a killed run keeps
  // what it had: the header first, a row as each case ends, then the answer and the rest.
  const stream = !process.stdout.isTTY;
  const layout = tableLayout(cases.map((c) => ({ method: c.method.id, label: methodLabel(c.method, caps), mode: c.method.sequence ? 'new' : c.mode, size: c.size, writesPerSync: c.writesPerSync })), width, wide);
  const streamed: BenchResult[] = [];
  if (stream) {
    const settings = { rounds, secondsPerCase: seconds } as BenchFile['settings'];
    process.stdout.write(`${[...reportHeader({ env, settings }, width), '', ...tableStart(layout, UNSTABLE_HALF_WIDTH_PCT, width)].join('\n')}\n`);
  }
  const outcome = await runSuite(cases, {
    scratch, seconds, rounds, threads, js, caps, device: env.device.name, maxSamplesPerRound: DEFAULT_MAX_SAMPLES_PER_ROUND,
    untilStableDeadline: untilStable ? started + maxDuration * 1000 : null, onProgress: progressBar(),
    onCaseDone: stream ? (_i, r) => {
      streamed.push(r);
      process.stdout.write(`${tableRow(layout, r, baselineFor(streamed, r))}\n`);
    } : undefined,
  });
  clearProgress();
  removeScratch();
  env.seconds = round1((Date.now() - started) / 1000);
  const doc: BenchFile = {
    schema: SCHEMA, kind: 'bench', env,
    settings: {
      quick, secondsPerCase: seconds, rounds, threads, js, untilStable, maxDurationSeconds: untilStable ? maxDuration : null,
      methods: choice.methods ?? null, sizes: choice.sizes ?? null, modes: choice.modes ?? null, writesPerSync: choice.writesPerSync ?? null,
    },
    results: outcome.results,
    stability: outcome.stability,
    // On a memory filesystem there is no device to be implausibly fast: the summary says memory.
    warnings: isMemoryFilesystem(env.filesystem.type) ? [] : plausibilityWarnings(outcome.results, env),
  };
  doc.summary = summaryOf(doc);
  if (stream) {
    // The header and the rows are out already: the answer, then the rest.
    process.stdout.write(`${['', ...summaryLines(doc.summary, doc, width), ...reportTail(doc, width, layout.byId)].join('\n')}\n`);
  } else {
    process.stdout.write(renderBenchReport(doc, { width, wide }));
  }
  if (json !== undefined) writeBenchFile(json, doc);
  if (html !== undefined) fs.writeFileSync(html, renderHtml([{ name: 'bench', doc }]));
  return 0;
}

async function pg(argv: string[]): Promise<number> {
  const parsed = parseOrHelp(COMMANDS.pg, argv);
  if (!parsed) return 0;
  const filename = stringValue(parsed, 'filename');
  if (filename !== undefined && parsed.positionals.length > 0) throw new UsageError('pg takes a directory or -f FILE, not both');
  if (filename !== undefined && fs.existsSync(filename)) throw new UsageError(`-f ${filename}: the file exists; pg writes 16 MB into its test file and removes it, so give a name that does not exist`);
  const dir = filename !== undefined ? path.dirname(path.resolve(filename)) : oneDirectory(parsed, 'pg');
  const seconds = parsed.values.duration !== undefined
    ? numberValue(parsed, 'duration', 5, 0.001, 3600, false)
    : numberValue(parsed, 'secs-per-test', 5, 1, 3600, true);
  const json = stringValue(parsed, 'json');
  checkOutputPath('json', json);
  const scratch = makeScratch(dir);
  const started = Date.now();
  const caps = capabilitiesSync(scratch);
  const env = probeEnv(scratch, ['hardsync', 'pg', ...argv].join(' '));
  env.directory = path.resolve(dir);
  let results: BenchResult[];
  try {
    results = await runPg(scratch, seconds, caps, (text) => process.stdout.write(text), filename !== undefined ? path.resolve(filename) : undefined);
  } finally {
    // Like pg_test_fsync: the test file goes when the run ends.
    if (filename !== undefined) fs.rmSync(filename, { force: true });
  }
  removeScratch();
  env.seconds = round1((Date.now() - started) / 1000);
  const memory = isMemoryFilesystem(env.filesystem.type);
  const choice = chooseWalSyncMethod(results, caps, memory);
  process.stdout.write(walSyncLines(choice, results.filter((r) => r.stability?.unstable).length, outputWidth()));
  const doc: BenchFile = { schema: SCHEMA, kind: 'pg', env, results, warnings: memory ? [] : plausibilityWarnings(results, env), pg: { walSyncMethod: choice.method, why: choice.why } };
  if (json !== undefined) writeBenchFile(json, doc);
  return 0;
}

/** The exit code of each check verdict (documented in --help and README). */
export const CHECK_EXIT: Record<CheckVerdict, number> = { PASS: 0, FAIL: 1, UNCERTAIN: 3, 'NOT-DURABLE': 4 };

async function check(argv: string[]): Promise<number> {
  const parsed = parseOrHelp(COMMANDS.check, argv);
  if (!parsed) return 0;
  const thresholdMs = numberValue(parsed, 'threshold-ms', ETCD_THRESHOLD_MS, 0, 1e6, false);
  const maxDuration = numberValue(parsed, 'max-duration', CHECK_MAX_DURATION, 1, 86400, false);
  const json = stringValue(parsed, 'json');
  checkOutputPath('json', json);
  let doc: BenchFile;
  const input = stringValue(parsed, 'input');
  if (input !== undefined) {
    if (parsed.positionals.length > 0) throw new UsageError('check --input takes no directory');
    doc = readBenchFile(input);
    if (doc.kind !== 'check' || doc.results.length !== 1 || !doc.results[0].supported) {
      throw new UsageError(`${input}: not a hardsync check result (kind "${doc.kind}")`);
    }
  } else {
    const dir = oneDirectory(parsed, 'check');
    const scratch = makeScratch(dir);
    const started = Date.now();
    const caps = capabilitiesSync(scratch);
    const env = probeEnv(scratch, ['hardsync', 'check', ...argv].join(' '));
    env.directory = path.resolve(dir);
    const bar = process.stderr.isTTY;
    const result = await runCheck(scratch, caps, {
      thresholdMs, maxDurationSeconds: maxDuration,
      onProgress: bar ? (round, v, elapsed) => {
        process.stderr.write(`\r\x1b[2Kround ${round} (${CHECK_ROUNDS} planned), ${Math.round(elapsed)}s of at most ${maxDuration}s${v ? `: ${v} so far` : ''}`);
      } : undefined,
    });
    if (bar) process.stderr.write('\r\x1b[2K');
    removeScratch();
    env.seconds = round1((Date.now() - started) / 1000);
    doc = { schema: SCHEMA, kind: 'check', env, results: [result], warnings: isMemoryFilesystem(env.filesystem.type) ? [] : plausibilityWarnings([result], env) };
  }
  const judged = judgeCheck(doc, thresholdMs);
  const caveat = judged.verdict === 'PASS' ? passCaveat(doc) : null;
  doc.check = {
    thresholdUs: thresholdMs * 1000, p99Us: judged.p99Us, pass: judged.verdict === 'PASS', bytes: (doc.results[0].ops ?? 0) * doc.results[0].size,
    blockSize: doc.results[0].size, verdict: judged.verdict,
    ...(judged.notDurable !== null ? { notDurable: judged.notDurable } : {}),
    ...(caveat !== null ? { caveat } : {}),
    ...(judged.lowUs !== null && judged.highUs !== null ? { p99LowUs: judged.lowUs, p99HighUs: judged.highUs } : {}),
    ...(doc.results[0].rounds ? { rounds: doc.results[0].rounds } : {}),
  };
  process.stdout.write(renderCheck(doc, thresholdMs, outputWidth()));
  if (json !== undefined) writeBenchFile(json, doc);
  return CHECK_EXIT[judged.verdict];
}

function compare(argv: string[]): number {
  const parsed = parseOrHelp(COMMANDS.compare, argv);
  if (!parsed) return 0;
  if (parsed.positionals.length < 2) {
    throw new UsageError(`compare needs at least two result files (the first is the baseline), got ${parsed.positionals.length === 0 ? 'none' : `only ${parsed.positionals[0]}`}`);
  }
  const noise = numberValue(parsed, 'noise', DEFAULT_NOISE * 100, 0, 1000, false) / 100;
  const json = stringValue(parsed, 'json');
  const html = stringValue(parsed, 'html');
  checkOutputPath('json', json, true);
  checkOutputPath('html', html);
  const files = parsed.positionals.map((name) => ({ name, doc: readBenchFile(name) }));
  if (json !== undefined) {
    const text = `${JSON.stringify(compareFiles(files, noise), null, 1)}\n`;
    if (json === '-') process.stdout.write(text);
    else fs.writeFileSync(json, text);
  }
  if (json !== '-') process.stdout.write(renderCompare(files, noise));
  if (html !== undefined) fs.writeFileSync(html, renderHtml(files));
  return 0;
}

/** One line, no raw newline, the code said once: "ENOENT: no such file ..." not "ENOENT: ENOENT: ...". */
export function errorLine(error: unknown): string {
  const e = error as NodeJS.ErrnoException;
  const message = String(e?.message ?? error).replace(/\s*\n\s*/g, ' ').trim();
  return e?.code && !message.startsWith(e.code) && !(error instanceof UsageError) ? `${e.code}: ${message}` : message;
}

/** Runs the CLI with `argv` (without node and the script) and resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'bench': return await bench(rest);
      case 'compare': return compare(rest);
      case 'pg': return await pg(rest);
      case 'check': return await check(rest);
      case 'powercheck': return await powercheck(rest);
      case 'crashtest': return await crashtest(rest);
      case undefined:
        // No command is a usage error: the usage goes where errors go, and the exit code says so.
        process.stderr.write(USAGE);
        return 2;
      case 'help': case '--help': case '-h':
        process.stdout.write(USAGE);
        return 0;
      case '--version': case '-v': case '-V': case 'version':
        process.stdout.write(`hardsync ${packageVersion()}\n`);
        return 0;
      default: {
        const near = closest(command.replace(/^-+/, ''), command.startsWith('-') ? ['help', 'version'] : COMMAND_NAMES);
        throw new UsageError(`unknown ${command.startsWith('-') ? 'option' : 'command'} "${command}"${near ? `; did you mean "${command.startsWith('-') ? `--${near}` : near}"?` : ''}`);
      }
    }
  } catch (error) {
    clearProgress();
    removeScratch();
    if (error instanceof UsageError) {
      const sub = command === 'powercheck' ? powercheckCommandName(rest) : command;
      const hint = command === undefined || !COMMAND_NAMES.includes(command) ? 'hardsync --help' : `hardsync ${sub} --help`;
      process.stderr.write(`hardsync: ${errorLine(error)}\n(${hint} for usage)\n`);
      return 2;
    }
    process.stderr.write(`hardsync: ${errorLine(error)}\n`);
    return 1;
  }
}

if (require.main === module) {
  installCleanup();
  // A reader that goes away (`hardsync bench | head`) ends the run quietly, as SIGPIPE ends
  // other tools (Node ignores the signal, so the write fails with EPIPE instead).
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
    removeScratch();
    process.exit(141);
  });
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}

export { formatSize };
