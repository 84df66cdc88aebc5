/**
 * `hardsync powercheck listen | run | verify`: the power-loss check's commands (see
 * bench/powercheck/PROTOCOL.md and the README).
 * @module
 */
import fs from 'node:fs';
import path from 'node:path';
import { checkOutputPath, numberValue, optionalNumber, parseOrHelp, stringValue, type CommandSpec, type ParsedArgs } from '../measure/args';
import { setInterruptHandler } from '../measure/lifecycle';
import { UsageError } from '../measure/schema';
import { WitnessRefusal, WitnessUnreachable } from './client';
import { DEFAULT_PORT, isPowerOfTwo, isTestId, MAX_BLOCK_SIZE, METHODS, MIN_BLOCK_SIZE, parseAddress, parseSizeWithUnits, PROTOCOL, type Method } from './protocol';
import { PowercheckUsageError, runPowercheck, type RunResult } from './run';
import { renderVerify, VERDICT_EXIT, verifyPowercheck } from './verify';
import { Witness } from './witness';

const EXIT_CODES = 'exit codes: 0 ok, 1 the run failed, 2 usage error or the witness refused or could not be reached';

/** The three subcommands' declarations. */
export const POWERCHECK_COMMANDS: Record<'listen' | 'run' | 'verify', CommandSpec> = {
  listen: {
    name: 'powercheck listen',
    args: '',
    summary: 'The witness of a power-loss check: run it on a machine that keeps its power; it records\nwhat the tested machine announces.',
    options: {
      port: { type: 'string', value: 'N', help: `TCP port (default ${DEFAULT_PORT}; 0: any free one)` },
      host: { type: 'string', value: 'ADDR', help: 'address to listen on (default: every interface)' },
      state: { type: 'string', value: 'DIR', help: 'its durable state (default ./hardsync-witness)' },
      timeout: { type: 'string', value: 'S', help: 'close a connection idle for S s (default 120)' },
    },
    footer: EXIT_CODES,
  },
  run: {
    name: 'powercheck run',
    args: '--witness HOST[:PORT] --file PATH',
    summary: 'On the machine under test: write and flush random blocks of PATH, announcing each to the\nwitness, until the power is cut.',
    options: {
      witness: { type: 'string', value: 'HOST[:PORT]', help: 'the witness (required)' },
      file: { type: 'string', value: 'PATH', help: 'the file to write (required)' },
      size: { type: 'string', value: 'SIZE', help: 'file size (default 1g; k, m, g, t = powers of 1024)' },
      'block-size': { type: 'string', value: 'SIZE', help: 'default 4k (a power of two, 512 to 1m)' },
      method: { type: 'string', value: 'M', help: 'data (fdatasync, default), full (fullFsync), dsync (O_DSYNC),\ndirect-dsync (O_DIRECT|O_DSYNC)' },
      duration: { type: 'string', value: 'S', help: 'stop after S seconds (default: never)' },
      writes: { type: 'string', value: 'N', help: 'stop after N writes (default: never)' },
      replace: { type: 'boolean', help: 'replace an existing powercheck file at PATH' },
      reconnect: { type: 'string', value: 'S', help: 'keep trying a lost witness for S s (default 60)' },
      timeout: { type: 'string', value: 'S', help: 'wait at most S s for the witness to answer (default 30)' },
      json: { type: 'string', value: 'FILE', help: 'the summary as JSON (- for stdout)' },
    },
    footer: EXIT_CODES,
  },
  verify: {
    name: 'powercheck verify',
    args: '--witness HOST[:PORT] --file PATH',
    summary: 'After the reboot: did every acknowledged write survive?',
    options: {
      witness: { type: 'string', value: 'HOST[:PORT]', help: 'the witness (required)' },
      file: { type: 'string', value: 'PATH', help: 'the file the run wrote (required)' },
      test: { type: 'string', value: 'ID', help: "the test to check when the file's header is gone" },
      timeout: { type: 'string', value: 'S', help: 'wait at most S s for the witness to answer (default 30)' },
      json: { type: 'string', value: 'FILE', help: 'the report as JSON (- for stdout)' },
    },
    footer: 'exit codes: 0 honest, 1 lied, 2 could not check (or a usage error)',
  },
};

/** The command whose --help a usage error points to: "powercheck run" for `powercheck run ...`, else "powercheck". */
export function powercheckCommandName(argv: readonly string[]): string {
  const sub = argv[0];
  return sub !== undefined && Object.hasOwn(POWERCHECK_COMMANDS, sub) ? `powercheck ${sub}` : 'powercheck';
}

/** `hardsync powercheck --help`. */
export const POWERCHECK_USAGE = `usage: hardsync powercheck listen|run|verify [options]

  A power-loss check against a witness on a second machine (README: "Does your disk keep its
  promise?").

  hardsync powercheck listen                                  on the witness machine
  hardsync powercheck run --witness HOST[:PORT] --file PATH   on the machine under test
  hardsync powercheck verify --witness HOST[:PORT] --file PATH    after the power cut

hardsync powercheck <listen|run|verify> --help for each one's options.
`;

function requiredOption(parsed: ParsedArgs, name: string, command: string): string {
  const value = stringValue(parsed, name);
  if (value === undefined || value.length === 0) throw new UsageError(`powercheck ${command} needs --${name}`);
  return value;
}

function witnessOption(parsed: ParsedArgs, command: string): { host: string; port: number } {
  const text = requiredOption(parsed, 'witness', command);
  const address = parseAddress(text);
  if (!address) throw new UsageError(`--witness must be HOST, HOST:PORT or [IPv6]:PORT, got "${text}"`);
  return address;
}

function sizeOption(parsed: ParsedArgs, name: string, fallback: string): number {
  const raw = stringValue(parsed, name) ?? fallback;
  const bytes = parseSizeWithUnits(raw);
  if (!Number.isSafeInteger(bytes) || bytes < 1) throw new UsageError(`--${name} must be a size such as 4k, 64m or 1g, got "${raw}"`);
  return bytes;
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

/** Runs `hardsync powercheck ...` and resolves to the exit code. */
export async function powercheck(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  try {
    switch (sub) {
      case 'listen': return await listen(rest);
      case 'run': return await run(rest);
      case 'verify': return await verify(rest);
      case undefined: case 'help': case '--help': case '-h':
        process.stdout.write(POWERCHECK_USAGE);
        return 0;
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

/** parseOrHelp, and no positional argument (the file is --file). */
function parse(spec: CommandSpec, argv: string[]): ParsedArgs | null {
  const parsed = parseOrHelp(spec, argv);
  if (parsed && parsed.positionals.length > 0) throw new UsageError(`${spec.name} takes no positional argument${spec.name === 'powercheck listen' ? '' : ' (use --file)'}`);
  return parsed;
}

async function listen(argv: string[]): Promise<number> {
  const parsed = parse(POWERCHECK_COMMANDS.listen, argv);
  if (!parsed) return 0;
  const port = numberValue(parsed, 'port', DEFAULT_PORT, 0, 65535, true);
  const idleSeconds = numberValue(parsed, 'timeout', 120, 0.1, 86400, false);
  const host = stringValue(parsed, 'host');
  const stateDir = path.resolve(stringValue(parsed, 'state') ?? 'hardsync-witness');
  let witness: Witness;
  try {
    witness = await Witness.start({ stateDir, port, host, idleTimeoutMs: idleSeconds * 1000, log: timestamped });
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
    setInterruptHandler((signal) => {
      timestamped(`${signal}: closing`);
      witness.close().then(() => resolve(0), () => resolve(1));
    });
    witness.onFailure(() => {
      setInterruptHandler(null);
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

async function run(argv: string[]): Promise<number> {
  const parsed = parse(POWERCHECK_COMMANDS.run, argv);
  if (!parsed) return 0;
  const witness = witnessOption(parsed, 'run');
  const file = requiredOption(parsed, 'file', 'run');
  const size = sizeOption(parsed, 'size', '1g');
  const blockSize = sizeOption(parsed, 'block-size', '4k');
  if (!isPowerOfTwo(blockSize) || blockSize < MIN_BLOCK_SIZE || blockSize > MAX_BLOCK_SIZE) throw new UsageError(`--block-size must be a power of two from 512 to 1m, got ${blockSize}`);
  const method = (stringValue(parsed, 'method') ?? 'data') as Method;
  if (!METHODS.includes(method)) throw new UsageError(`unknown method "${method}"; methods: ${METHODS.join(', ')}`);
  const durationS = optionalNumber(parsed, 'duration', 0.001, 1e9, false);
  const maxWrites = optionalNumber(parsed, 'writes', 1, Number.MAX_SAFE_INTEGER, true);
  const reconnectS = numberValue(parsed, 'reconnect', 60, 0, 86400, false);
  const timeoutS = numberValue(parsed, 'timeout', 30, 0.1, 86400, false);
  const json = stringValue(parsed, 'json');
  checkOutputPath('json', json, true);
  const controller = new AbortController();
  setInterruptHandler(() => controller.abort());
  let progress: NodeJS.Timeout | undefined;
  let latest = { writes: 0, ms: 0 };
  let result: RunResult;
  try {
    result = await runPowercheck({
      witness, file, size, blockSize, method, replace: parsed.values.replace === true, maxWrites,
      durationMs: durationS === undefined ? undefined : durationS * 1000,
      reconnectMs: reconnectS * 1000, timeoutMs: timeoutS * 1000, signal: controller.signal,
      log: (line) => {
        if (progress) process.stderr.write('\r\x1b[2K');
        process.stderr.write(`hardsync powercheck: ${line}\n`);
      },
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
              process.stderr.write(`\r\x1b[2K${latest.writes} durable writes, ${rate.toFixed(0)} writes/s`);
            }, 500);
          }
        },
      },
    });
  } finally {
    if (progress) {
      clearInterval(progress);
      process.stderr.write('\r\x1b[2K');
    }
    setInterruptHandler(null);
  }
  if (json !== undefined) writeJson(json, result);
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

async function verify(argv: string[]): Promise<number> {
  const parsed = parse(POWERCHECK_COMMANDS.verify, argv);
  if (!parsed) return 0;
  const witness = witnessOption(parsed, 'verify');
  const file = requiredOption(parsed, 'file', 'verify');
  const test = stringValue(parsed, 'test');
  if (test !== undefined && !isTestId(test)) throw new UsageError(`--test must be a test id (16 hex digits), got "${test}"`);
  const timeoutS = numberValue(parsed, 'timeout', 30, 0.1, 86400, false);
  const json = stringValue(parsed, 'json');
  checkOutputPath('json', json, true);
  const report = await verifyPowercheck({ witness, file, test, timeoutMs: timeoutS * 1000 });
  if (json !== undefined) writeJson(json, report);
  if (json !== '-') process.stdout.write(renderVerify(report));
  return VERDICT_EXIT[report.verdict];
}
