#!/usr/bin/env node
/**
 * The `hardsync` command: bench, compare, pg, check, powercheck. No CLI framework: the options are few
 * and a wrong one must fail with exit code 2 and a clear message, before any I/O.
 * Exit codes: 0 ok, 1 check failed (or a run failed), 2 usage error or refused path.
 * @module
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { capabilitiesSync, type Capabilities } from '../lib/index';
import { renderCheck, runCheck, verdict, ETCD_THRESHOLD_MS } from './engine/check';
import { renderCompare } from './engine/compare';
import { probeEnv } from './engine/env';
import { renderHtml } from './engine/html';
import { METHOD_IDS, MODES, type Mode } from './engine/methods';
import { runPg } from './engine/pg';
import { formatSize, parseSize, renderBenchReport } from './engine/report';
import { DEFAULT_MAX_SAMPLES_PER_ROUND, planSuite, plausibilityWarnings, runSuite, type SuiteChoice } from './engine/run';
import { readBenchFile, SCHEMA, UsageError, writeBenchFile, type BenchFile } from './engine/schema';
import { WitnessRefusal, WitnessUnreachable } from './powercheck/client';
import { DEFAULT_PORT, isPowerOfTwo, isTestId, MAX_BLOCK_SIZE, METHODS, MIN_BLOCK_SIZE, parseAddress, parseSizeWithUnits, PROTOCOL, type Method } from './powercheck/protocol';
import { PowercheckUsageError, runPowercheck, type RunResult } from './powercheck/run';
import { renderVerify, VERDICT_EXIT, verifyPowercheck } from './powercheck/verify';
import { Witness } from './powercheck/witness';

/** Breaks a comma-separated list into lines of at most `width` characters. */
function wrap(text: string, width: number, indent: string): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line.length > 0 && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line.length > 0 ? `${line} ${word}` : word;
    }
  }
  lines.push(line);
  return lines.join(`\n${indent}`);
}

/** The usage text (also printed for --help). */
export const USAGE = `usage: hardsync <command> [options]

  hardsync bench [dir]           measure flushes against page-cache writes (default: a
                                 temporary directory in the current directory's filesystem)
      --duration S               seconds per case, split over the rounds (default 1)
      --rounds N                 interleaved rounds (default 2)
      --sizes 512,4k,8k,64k,1m   write sizes (bytes; k = KiB, m = MiB)
      --methods a,b,...          any of: ${wrap(METHOD_IDS.join(', '), 55, '                                 ')}
      --modes overwrite,append,new
      --writes-per-sync N[,M]    writes per flush (amortized flush when > 1)
      --threads N                concurrent writers, one file each (default 1)
      --js                       run the loop in JavaScript through hardsync's API
      --json FILE                write the results (schema ${SCHEMA})
      --html FILE                write a self-contained HTML report with latency CDFs
      --quick                    a short run (0.25 s per case, one round)
  hardsync compare A.json B.json ...   side by side, with ratios to the first file
      --html FILE                the same as an HTML chart
  hardsync pg [dir]              PostgreSQL's pg_test_fsync, same sections and format
      -s, --secs-per-test N      seconds per test (default 5, like pg_test_fsync)
      --duration S               the same, in fractional seconds
      --json FILE
  hardsync check [dir]           etcd's disk check: 2300 B writes + fdatasync, 22 MiB;
                                 exit 0 when the p99 is under 10 ms, 1 when not
      --threshold-ms MS          another threshold (default ${ETCD_THRESHOLD_MS})
      --input FILE               judge a saved check result instead of measuring
      --json FILE
  hardsync powercheck listen     the witness of a power-loss check: run it on a machine that
                                 keeps its power; it records what the tested machine announces
      --port N                   TCP port (default ${DEFAULT_PORT}; 0: any free one)
      --host ADDR                address to listen on (default: every interface)
      --state DIR                its durable state (default ./hardsync-witness)
      --timeout S                close a connection idle for S s (default 120)
  hardsync powercheck run --witness HOST[:PORT] --file PATH
                                 on the machine under test: write and flush random blocks of
                                 PATH, announcing each to the witness, until the power is cut
      --size SIZE                file size (default 1g; k, m, g, t = powers of 1024)
      --block-size SIZE          default 4k (a power of two, 512 to 1m)
      --method M                 data (fdatasync, default), full (fullFsync), dsync (O_DSYNC),
                                 direct-dsync (O_DIRECT|O_DSYNC)
      --duration S, --writes N   stop after S seconds or N writes (default: never)
      --replace                  replace an existing powercheck file at PATH
      --reconnect S              keep trying a lost witness for S s (default 60)
      --json FILE                the summary as JSON (- for stdout)
  hardsync powercheck verify --witness HOST[:PORT] --file PATH
                                 after the reboot: did every acknowledged write survive?
      --test ID                  the test to check when the file's header is gone
      --json FILE                the report as JSON (- for stdout)

exit codes: 0 ok, 1 check failed or the run failed, 2 usage error or refused path;
powercheck verify: 0 honest, 1 lied, 2 could not check
`;

interface Parsed {
  positional: string[];
  options: Map<string, string | true>;
}

const VALUE_OPTIONS = new Set([
  'duration', 'rounds', 'sizes', 'methods', 'modes', 'writes-per-sync', 'threads', 'json', 'html', 'secs-per-test', 'threshold-ms', 'input',
  'port', 'host', 'state', 'timeout', 'witness', 'file', 'size', 'block-size', 'method', 'writes', 'reconnect', 'test',
]);
const FLAG_OPTIONS = new Set(['quick', 'js', 'help', 'replace']);

/** Splits argv into positionals and --options (values as "--x v" or "--x=v"). */
export function parseArgs(argv: readonly string[], allowed: readonly string[]): Parsed {
  const positional: string[] = [];
  const options = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      positional.push(arg);
      continue;
    }
    let name = arg.replace(/^--?/, '');
    let value: string | undefined;
    const eq = name.indexOf('=');
    if (eq >= 0) {
      value = name.slice(eq + 1);
      name = name.slice(0, eq);
    }
    if (name === 's') name = 'secs-per-test';
    if (name === 'h') name = 'help';
    if (!allowed.includes(name) || (!VALUE_OPTIONS.has(name) && !FLAG_OPTIONS.has(name))) throw new UsageError(`unknown option ${arg}`);
    if (FLAG_OPTIONS.has(name)) {
      if (value !== undefined) throw new UsageError(`option --${name} takes no value`);
      options.set(name, true);
    } else {
      if (value === undefined) {
        value = argv[++i];
        if (value === undefined) throw new UsageError(`option --${name} needs a value`);
      }
      options.set(name, value);
    }
  }
  return { positional, options };
}

function numberOption(parsed: Parsed, name: string, fallback: number, min: number, max: number, integer: boolean): number {
  const raw = parsed.options.get(name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (raw === true || !Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
    throw new UsageError(`--${name} must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}, got ${String(raw)}`);
  }
  return value;
}

function listOption(parsed: Parsed, name: string): string[] | undefined {
  const raw = parsed.options.get(name);
  if (raw === undefined) return undefined;
  const items = String(raw).split(',').map((s) => s.trim()).filter(Boolean);
  if (items.length === 0) throw new UsageError(`--${name} needs at least one value`);
  return items;
}

/** The suite choice from bench's options. */
export function suiteChoice(parsed: Parsed): SuiteChoice {
  const choice: SuiteChoice = {};
  const methods = listOption(parsed, 'methods');
  if (methods) {
    for (const m of methods) if (!METHOD_IDS.includes(m)) throw new UsageError(`unknown method "${m}"; methods: ${METHOD_IDS.join(', ')}`);
    choice.methods = methods;
  }
  const sizes = listOption(parsed, 'sizes');
  if (sizes) {
    choice.sizes = sizes.map((s) => {
      const bytes = parseSize(s);
      if (!Number.isInteger(bytes) || bytes < 1 || bytes > 64 << 20) throw new UsageError(`--sizes: "${s}" is not a size from 1 to 64m`);
      return bytes;
    });
  }
  const modes = listOption(parsed, 'modes');
  if (modes) {
    for (const m of modes) if (!MODES.includes(m as Mode)) throw new UsageError(`unknown mode "${m}"; modes: ${MODES.join(', ')}`);
    choice.modes = modes as Mode[];
  }
  const wps = listOption(parsed, 'writes-per-sync');
  if (wps) {
    choice.writesPerSync = wps.map((w) => {
      const n = Number(w);
      if (!Number.isInteger(n) || n < 1 || n > 4096) throw new UsageError(`--writes-per-sync: "${w}" is not an integer from 1 to 4096`);
      return n;
    });
  }
  return choice;
}

// ---------------------------------------------------------------------------------------------
// The scratch directory, and its removal on every way out

let scratchDir: string | null = null;
/** A command that stops gracefully on a signal (powercheck listen and run) sets this. */
let interruptHandler: ((signal: NodeJS.Signals) => void) | null = null;

function removeScratch(): void {
  if (scratchDir === null) return;
  const dir = scratchDir;
  scratchDir = null;
  // maxRetries: a native loop still running may create a file while the tree is removed.
  fs.rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 20 });
}

function installCleanup(): void {
  process.on('exit', removeScratch);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      if (interruptHandler) {
        // The first signal asks the command to stop; a second one ends the process at once.
        const handler = interruptHandler;
        interruptHandler = null;
        handler(signal);
        return;
      }
      const dir = scratchDir;
      removeScratch();
      if (process.stdout.isTTY) process.stdout.write('\n');
      process.stderr.write(`hardsync: interrupted (${signal})${dir ? `; removed ${dir}` : ''}\n`);
      process.exit(signal === 'SIGINT' ? 130 : signal === 'SIGTERM' ? 143 : 129);
    });
  }
}

/**
 * Checks that `dir` is a directory in which a file can be created, and makes the scratch
 * directory there. Refuses a block device (hardsync writes files, never raw devices).
 */
export function makeScratch(dir: string): string {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(dir);
  } catch (error) {
    throw new UsageError(`cannot use ${dir}: ${(error as Error).message}`);
  }
  if (stat.isBlockDevice() || stat.isCharacterDevice()) {
    throw new UsageError(`refusing ${dir}: it is a ${stat.isBlockDevice() ? 'block' : 'character'} device. hardsync writes files and never a raw device; give a directory on a filesystem mounted from it`);
  }
  if (!stat.isDirectory()) throw new UsageError(`refusing ${dir}: not a directory`);
  let scratch: string;
  try {
    scratch = fs.mkdtempSync(path.join(dir, '.hardsync-bench-'));
  } catch (error) {
    throw new UsageError(`refusing ${dir}: cannot create a file there: ${(error as Error).message}`);
  }
  scratchDir = scratch;
  try {
    fs.closeSync(fs.openSync(path.join(scratch, 'probe'), 'wx', 0o600));
    fs.unlinkSync(path.join(scratch, 'probe'));
  } catch (error) {
    removeScratch();
    throw new UsageError(`refusing ${dir}: cannot create a file there: ${(error as Error).message}`);
  }
  return scratch;
}

function probeCaps(scratch: string): Capabilities {
  return capabilitiesSync(scratch);
}

function progressBar(): ((done: number, total: number, what: string) => void) | undefined {
  if (!process.stdout.isTTY) return undefined;
  const columns = process.stdout.columns || 80;
  return (done, total, what) => {
    const width = 30;
    const filled = Math.round((done / total) * width);
    const line = `[${'#'.repeat(filled)}${' '.repeat(width - filled)}] ${done}/${total} ${what}`;
    process.stdout.write(`\r${line.slice(0, columns - 1).padEnd(columns - 1)}`);
    if (done === total) process.stdout.write(`\r${' '.repeat(columns - 1)}\r`);
  };
}

function writeOutputs(parsed: Parsed, doc: BenchFile, name: string): void {
  const json = parsed.options.get('json');
  if (typeof json === 'string') writeBenchFile(json, doc);
  const html = parsed.options.get('html');
  if (typeof html === 'string') fs.writeFileSync(html, renderHtml([{ name, doc }]));
}

// ---------------------------------------------------------------------------------------------
// Commands

async function bench(argv: string[]): Promise<number> {
  const parsed = parseArgs(argv, ['duration', 'rounds', 'sizes', 'methods', 'modes', 'writes-per-sync', 'threads', 'json', 'html', 'quick', 'js', 'help']);
  if (parsed.options.has('help')) return help();
  if (parsed.positional.length > 1) throw new UsageError('bench takes at most one directory');
  const quick = parsed.options.has('quick');
  const seconds = numberOption(parsed, 'duration', quick ? 0.25 : 1, 0.001, 3600, false);
  const rounds = numberOption(parsed, 'rounds', quick ? 1 : 2, 1, 100, true);
  const threads = numberOption(parsed, 'threads', 1, 1, 64, true);
  const js = parsed.options.has('js');
  if (js && threads > 1) throw new UsageError('--js runs one thread; drop --threads or --js');
  const cases = planSuite(suiteChoice(parsed));
  const dir = parsed.positional[0] ?? process.cwd();
  const scratch = makeScratch(dir);
  const started = Date.now();
  const caps = probeCaps(scratch);
  const env = probeEnv(scratch, ['hardsync', 'bench', ...argv].join(' '));
  env.directory = path.resolve(dir);
  const results = await runSuite(cases, {
    scratch, seconds, rounds, threads, js, caps, maxSamplesPerRound: DEFAULT_MAX_SAMPLES_PER_ROUND, onProgress: progressBar(),
  });
  removeScratch();
  env.seconds = round1((Date.now() - started) / 1000);
  const doc: BenchFile = { schema: SCHEMA, kind: 'bench', env, results, warnings: plausibilityWarnings(results, env) };
  process.stdout.write(renderBenchReport(doc));
  writeOutputs(parsed, doc, 'bench');
  return 0;
}

async function pg(argv: string[]): Promise<number> {
  const parsed = parseArgs(argv, ['secs-per-test', 'duration', 'json', 'help']);
  if (parsed.options.has('help')) return help();
  if (parsed.positional.length > 1) throw new UsageError('pg takes at most one directory');
  const seconds = parsed.options.has('duration')
    ? numberOption(parsed, 'duration', 5, 0.001, 3600, false)
    : numberOption(parsed, 'secs-per-test', 5, 1, 3600, true);
  const dir = parsed.positional[0] ?? process.cwd();
  const scratch = makeScratch(dir);
  const started = Date.now();
  const caps = probeCaps(scratch);
  const env = probeEnv(scratch, ['hardsync', 'pg', ...argv].join(' '));
  env.directory = path.resolve(dir);
  const results = await runPg(scratch, seconds, caps, (text) => process.stdout.write(text));
  removeScratch();
  env.seconds = round1((Date.now() - started) / 1000);
  const doc: BenchFile = { schema: SCHEMA, kind: 'pg', env, results, warnings: plausibilityWarnings(results, env) };
  const json = parsed.options.get('json');
  if (typeof json === 'string') writeBenchFile(json, doc);
  return 0;
}

async function check(argv: string[]): Promise<number> {
  const parsed = parseArgs(argv, ['threshold-ms', 'input', 'json', 'help']);
  if (parsed.options.has('help')) return help();
  if (parsed.positional.length > 1) throw new UsageError('check takes at most one directory');
  const thresholdMs = numberOption(parsed, 'threshold-ms', ETCD_THRESHOLD_MS, 0, 1e6, false);
  let doc: BenchFile;
  const input = parsed.options.get('input');
  if (typeof input === 'string') {
    if (parsed.positional.length > 0) throw new UsageError('check --input takes no directory');
    doc = readBenchFile(input);
    if (doc.kind !== 'check' || doc.results.length !== 1 || !doc.results[0].supported) {
      throw new UsageError(`${input}: not a hardsync check result (kind "${doc.kind}")`);
    }
  } else {
    const dir = parsed.positional[0] ?? process.cwd();
    const scratch = makeScratch(dir);
    const started = Date.now();
    const caps = probeCaps(scratch);
    const env = probeEnv(scratch, ['hardsync', 'check', ...argv].join(' '));
    env.directory = path.resolve(dir);
    const result = await runCheck(scratch, caps);
    removeScratch();
    env.seconds = round1((Date.now() - started) / 1000);
    doc = { schema: SCHEMA, kind: 'check', env, results: [result], warnings: plausibilityWarnings([result], env) };
  }
  const { p99Us, pass } = verdict(doc.results[0], thresholdMs);
  doc.check = { thresholdUs: thresholdMs * 1000, p99Us, pass, bytes: (doc.results[0].ops ?? 0) * doc.results[0].size, blockSize: doc.results[0].size };
  process.stdout.write(renderCheck(doc, thresholdMs));
  const json = parsed.options.get('json');
  if (typeof json === 'string') writeBenchFile(json, doc);
  return pass ? 0 : 1;
}

function compare(argv: string[]): number {
  const parsed = parseArgs(argv, ['html', 'help']);
  if (parsed.options.has('help')) return help();
  if (parsed.positional.length === 0) throw new UsageError('compare needs at least one result file');
  const files = parsed.positional.map((name) => ({ name, doc: readBenchFile(name) }));
  process.stdout.write(renderCompare(files));
  const html = parsed.options.get('html');
  if (typeof html === 'string') fs.writeFileSync(html, renderHtml(files));
  return 0;
}

// ---------------------------------------------------------------------------------------------
// powercheck

function requiredOption(parsed: Parsed, name: string, command: string): string {
  const value = parsed.options.get(name);
  if (typeof value !== 'string' || value.length === 0) throw new UsageError(`powercheck ${command} needs --${name}`);
  return value;
}

function witnessOption(parsed: Parsed, command: string): { host: string; port: number } {
  const text = requiredOption(parsed, 'witness', command);
  const address = parseAddress(text);
  if (!address) throw new UsageError(`--witness must be HOST, HOST:PORT or [IPv6]:PORT, got "${text}"`);
  return address;
}

function sizeOption(parsed: Parsed, name: string, fallback: string): number {
  const raw = parsed.options.get(name) ?? fallback;
  const bytes = typeof raw === 'string' ? parseSizeWithUnits(raw) : NaN;
  if (!Number.isSafeInteger(bytes) || bytes < 1) throw new UsageError(`--${name} must be a size such as 4k, 64m or 1g, got "${String(raw)}"`);
  return bytes;
}

function optionalNumber(parsed: Parsed, name: string, min: number, max: number, integer: boolean): number | undefined {
  return parsed.options.has(name) ? numberOption(parsed, name, 0, min, max, integer) : undefined;
}

/** Writes `doc` as JSON to FILE, or to stdout for "-". */
function writeJson(target: string, doc: unknown): void {
  const text = `${JSON.stringify(doc, null, 2)}\n`;
  if (target === '-') process.stdout.write(text);
  else fs.writeFileSync(target, text);
}

function timestamped(line: string): void {
  process.stderr.write(`${new Date().toISOString()} ${line}\n`);
}

async function powercheck(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  try {
    switch (sub) {
      case 'listen': return await powercheckListen(rest);
      case 'run': return await powercheckRun(rest);
      case 'verify': return await powercheckVerify(rest);
      case undefined: case 'help': case '--help': case '-h': return help();
      default: throw new UsageError(`unknown powercheck command "${sub}"; use listen, run or verify`);
    }
  } catch (error) {
    if (error instanceof PowercheckUsageError) throw new UsageError(error.message);
    if (error instanceof WitnessRefusal || error instanceof WitnessUnreachable) {
      process.stderr.write(`hardsync: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
}

async function powercheckListen(argv: string[]): Promise<number> {
  const parsed = parseArgs(argv, ['port', 'host', 'state', 'timeout', 'help']);
  if (parsed.options.has('help')) return help();
  if (parsed.positional.length > 0) throw new UsageError('powercheck listen takes no positional argument');
  const port = numberOption(parsed, 'port', DEFAULT_PORT, 0, 65535, true);
  const idleSeconds = numberOption(parsed, 'timeout', 120, 0.1, 86400, false);
  const host = parsed.options.get('host');
  const stateDir = path.resolve(String(parsed.options.get('state') ?? 'hardsync-witness'));
  let witness: Witness;
  try {
    witness = await Witness.start({ stateDir, port, host: typeof host === 'string' ? host : undefined, idleTimeoutMs: idleSeconds * 1000, log: timestamped });
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    if (e.code === 'EADDRINUSE') throw new UsageError(`port ${port} is in use (another witness?)`);
    if (e.code === 'EADDRNOTAVAIL') throw new UsageError(`cannot listen on ${String(host)}: not an address of this machine`);
    if (e.code === 'ERR_HARDSYNC_LOG_LOCKED') throw new UsageError(`another witness is using the state directory ${stateDir}`);
    if (['EACCES', 'EPERM', 'ENOTDIR', 'EEXIST', 'EROFS'].includes(e.code ?? '')) throw new UsageError(`cannot use ${stateDir} as the state directory: ${e.message}`);
    throw error;
  }
  const address = witness.address();
  const shown = address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
  process.stdout.write(`hardsync powercheck witness listening on ${shown} (${PROTOCOL}), state ${stateDir}\n`);
  return new Promise<number>((resolve) => {
    interruptHandler = (signal) => {
      timestamped(`${signal}: closing`);
      witness.close().then(() => resolve(0), () => resolve(1));
    };
    witness.onFailure(() => {
      interruptHandler = null;
      witness.close().finally(() => resolve(1));
    });
  });
}

const STOP_REASONS: Record<RunResult['stop'], string> = {
  writes: '--writes reached',
  duration: '--duration reached',
  interrupted: 'interrupted',
  'io-error': 'I/O error',
};

async function powercheckRun(argv: string[]): Promise<number> {
  const parsed = parseArgs(argv, ['witness', 'file', 'size', 'block-size', 'method', 'duration', 'writes', 'replace', 'reconnect', 'timeout', 'json', 'help']);
  if (parsed.options.has('help')) return help();
  if (parsed.positional.length > 0) throw new UsageError('powercheck run takes no positional argument (use --file)');
  const witness = witnessOption(parsed, 'run');
  const file = requiredOption(parsed, 'file', 'run');
  const size = sizeOption(parsed, 'size', '1g');
  const blockSize = sizeOption(parsed, 'block-size', '4k');
  if (!isPowerOfTwo(blockSize) || blockSize < MIN_BLOCK_SIZE || blockSize > MAX_BLOCK_SIZE) throw new UsageError(`--block-size must be a power of two from 512 to 1m, got ${blockSize}`);
  const method = String(parsed.options.get('method') ?? 'data') as Method;
  if (!METHODS.includes(method)) throw new UsageError(`unknown method "${method}"; methods: ${METHODS.join(', ')}`);
  const durationS = optionalNumber(parsed, 'duration', 0.001, 1e9, false);
  const maxWrites = optionalNumber(parsed, 'writes', 1, Number.MAX_SAFE_INTEGER, true);
  const reconnectS = numberOption(parsed, 'reconnect', 60, 0, 86400, false);
  const timeoutS = numberOption(parsed, 'timeout', 30, 0.1, 86400, false);
  const json = parsed.options.get('json');
  const controller = new AbortController();
  interruptHandler = () => controller.abort();
  let progress: NodeJS.Timeout | undefined;
  let latest = { writes: 0, ms: 0 };
  let result: RunResult;
  try {
    result = await runPowercheck({
      witness, file, size, blockSize, method, replace: parsed.options.has('replace'), maxWrites,
      durationMs: durationS === undefined ? undefined : durationS * 1000,
      reconnectMs: reconnectS * 1000, timeoutMs: timeoutS * 1000, signal: controller.signal,
      log: (line) => process.stderr.write(`hardsync powercheck: ${line}\n`),
      onProgress: (writes, ms) => {
        latest = { writes, ms };
      },
      hooks: {
        afterReady: () => {
          process.stderr.write('hardsync powercheck: writing until the power is cut (Ctrl-C stops)\n');
          // The live count only on a terminal: a pipe or a log file gets the summary alone.
          if (process.stderr.isTTY) {
            progress = setInterval(() => {
              const rate = latest.ms > 0 ? (latest.writes / latest.ms) * 1000 : 0;
              process.stderr.write(`\r${latest.writes} durable writes, ${rate.toFixed(0)} writes/s   `);
            }, 500);
          }
        },
      },
    });
  } finally {
    if (progress) {
      clearInterval(progress);
      process.stderr.write('\n');
    }
    interruptHandler = null;
  }
  if (typeof json === 'string') writeJson(json, result);
  if (json !== '-') {
    process.stdout.write(
      `test ${result.test}: ${result.writes} writes acknowledged durable in ${result.seconds} s (${result.writesPerSecond} writes/s), ` +
        `${result.blocks} blocks of ${result.blockSize} B, ${result.calls}; stopped: ${STOP_REASONS[result.stop]}\n`,
    );
  }
  if (result.stop === 'io-error') {
    const e = result.error!;
    process.stderr.write(
      `hardsync powercheck: write ${e.seq} to block ${e.block} failed: ${e.message}; stopped. ` +
        `(After a real power cut this process would be gone.) After the reboot: ` +
        `hardsync powercheck verify --witness ${result.witness} --file ${result.file}\n`,
    );
    return 1;
  }
  return 0;
}

async function powercheckVerify(argv: string[]): Promise<number> {
  const parsed = parseArgs(argv, ['witness', 'file', 'test', 'timeout', 'json', 'help']);
  if (parsed.options.has('help')) return help();
  if (parsed.positional.length > 0) throw new UsageError('powercheck verify takes no positional argument (use --file)');
  const witness = witnessOption(parsed, 'verify');
  const file = requiredOption(parsed, 'file', 'verify');
  const test = parsed.options.get('test');
  if (test !== undefined && (typeof test !== 'string' || !isTestId(test))) throw new UsageError(`--test must be a test id (16 hex digits), got "${String(test)}"`);
  const timeoutS = numberOption(parsed, 'timeout', 30, 0.1, 86400, false);
  const report = await verifyPowercheck({ witness, file, test: test as string | undefined, timeoutMs: timeoutS * 1000 });
  const json = parsed.options.get('json');
  if (typeof json === 'string') writeJson(json, report);
  if (json !== '-') process.stdout.write(renderVerify(report));
  return VERDICT_EXIT[report.verdict];
}

function help(): number {
  process.stdout.write(USAGE);
  return 0;
}

function round1(value: number): number {
  return Math.round(value * 10) / 10;
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
      case undefined: case 'help': case '--help': case '-h': return help();
      default: throw new UsageError(`unknown command "${command}"`);
    }
  } catch (error) {
    removeScratch();
    if (error instanceof UsageError) {
      process.stderr.write(`hardsync: ${error.message}\n${command === undefined ? '' : `(hardsync --help for usage)\n`}`);
      return 2;
    }
    const e = error as NodeJS.ErrnoException;
    process.stderr.write(`hardsync: ${e.code ? `${e.code}: ` : ''}${e.message}\n`);
    return 1;
  }
}

if (require.main === module) {
  installCleanup();
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}

export { formatSize };
