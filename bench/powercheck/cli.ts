/**
 * `hardsync powercheck listen | run | verify`: the power-loss check's commands (see
 * bench/powercheck/PROTOCOL.md and the README).
 * @module
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { checkOutputPath, numberValue, optionalNumber, parseOrHelp, stringValue, type CommandSpec, type ParsedArgs } from '../measure/args';
import { setInterruptHandler } from '../measure/lifecycle';
import { UsageError } from '../measure/schema';
import { WitnessHandshakeError, WitnessRefusal, WitnessUnreachable } from './client';
import { DEFAULT_PORT, isPowerOfTwo, isTestId, MAX_BLOCK_SIZE, METHODS, MIN_BLOCK_SIZE, parseAddress, parseSizeWithUnits, PROTOCOL, type Method } from './protocol';
import { PowercheckUsageError, runPowercheck, type RunResult } from './run';
import { clientSecret, readSecretFile, SECRET_ENV, SECRET_FILE_NAME, SecretError } from './secret';
import { renderVerify, VERDICT_EXIT, verifyPowercheck } from './verify';
import { Witness, WITNESS_DEFAULTS } from './witness';

const EXIT_CODES = 'exit codes: 0 ok, 1 the run failed, 2 usage error, a wrong secret, or the witness refused or could not be reached';

/** How a client command gets the witness's secret (the same text in run's and verify's help). */
const CLIENT_SECRET_HELP = `The witness's secret (listen printed it at its first start; it is in the file
"${SECRET_FILE_NAME}" of the witness's --state directory) comes from --secret-file FILE (a
file only you can read: chmod 600) or from $${SECRET_ENV}. It never crosses
the network: each connection proves it knows it (HMAC challenge-response).`;

const SECRET_FILE_OPTION = { type: 'string', value: 'FILE', help: `the witness's secret (mode 600); default $${SECRET_ENV}` } as const;

const MIB = 1024 * 1024;

/** The three subcommands' declarations. */
export const POWERCHECK_COMMANDS: Record<'listen' | 'run' | 'verify', CommandSpec> = {
  listen: {
    name: 'powercheck listen',
    args: '',
    summary: `The witness of a power-loss check: run it on a machine that keeps its power; it records
what the tested machine announces.

It listens on 127.0.0.1 (this machine only) unless --host says otherwise: for a machine
under test to reach it, give the address it reaches the witness at (or 0.0.0.0 / :: for
every interface).

Only clients that know its secret are served. At its first start it makes one (256
random bits), keeps it in DIR/${SECRET_FILE_NAME} (mode 600; DIR is made mode 700) and prints
it once. Give it to run and verify on the machine under test, in a file only you can
read (--secret-file FILE) or in $${SECRET_ENV}. Or choose it yourself:
--secret-file FILE or $${SECRET_ENV} here too (16 printable characters or more).
A secret file, or a DIR, that other users could read or change is refused.`,
    options: {
      port: { type: 'string', value: 'N', help: `TCP port (default ${DEFAULT_PORT}; 0: any free one)` },
      host: { type: 'string', value: 'ADDR', help: `address to listen on (default ${WITNESS_DEFAULTS.host}: this machine only)` },
      state: { type: 'string', value: 'DIR', help: 'its durable state and secret (default ./hardsync-witness)' },
      'secret-file': { type: 'string', value: 'FILE', help: `the secret to require (mode 600); default $${SECRET_ENV}, else DIR/${SECRET_FILE_NAME}` },
      timeout: { type: 'string', value: 'S', help: `close a connection idle for S s (default ${WITNESS_DEFAULTS.idleTimeoutMs / 1000})` },
      'max-connections': { type: 'string', value: 'N', help: `connections at once (default ${WITNESS_DEFAULTS.maxConnections}); more get "ERR busy"` },
      'max-per-address': { type: 'string', value: 'N', help: `connections at once from one address (default ${WITNESS_DEFAULTS.maxConnectionsPerAddress})` },
      'max-tests': { type: 'string', value: 'N', help: `tests kept (default ${WITNESS_DEFAULTS.maxTests}); more get "ERR full"` },
      'max-state': { type: 'string', value: 'SIZE', help: `state size (default ${WITNESS_DEFAULTS.maxStateBytes / MIB}m; about 80 B per block written); beyond: "ERR full"` },
    },
    footer: EXIT_CODES,
  },
  run: {
    name: 'powercheck run',
    args: '--witness HOST[:PORT] --file PATH',
    summary: `On the machine under test: write and flush random blocks of PATH, announcing each to the
witness, until the power is cut.

${CLIENT_SECRET_HELP}`,
    options: {
      witness: { type: 'string', value: 'HOST[:PORT]', help: 'the witness (required)' },
      'secret-file': SECRET_FILE_OPTION,
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
    summary: `After the reboot: did every acknowledged write survive?

The file's header names its test. When the header (or the whole file) is gone, the witness
says which test wrote that path: the last one of this host that did not end cleanly. If it
cannot tell (no such test, or runs that overlapped), verify names the candidates: pick one
with --test.

${CLIENT_SECRET_HELP}`,
    options: {
      witness: { type: 'string', value: 'HOST[:PORT]', help: 'the witness (required)' },
      'secret-file': SECRET_FILE_OPTION,
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

  machine A (the witness, keeps its power):
    hardsync powercheck listen --host A_ADDRESS --state DIR
      (its first start prints its secret; it stays in DIR/${SECRET_FILE_NAME})
  machine B (under test), with the secret in a file only you can read:
    hardsync powercheck run --witness A_ADDRESS --secret-file FILE --file PATH
    ... cut the power, reboot ...
    hardsync powercheck verify --witness A_ADDRESS --secret-file FILE --file PATH

  (or the secret in $${SECRET_ENV} instead of --secret-file)

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
    if (error instanceof PowercheckUsageError || error instanceof SecretError) throw new UsageError(error.message);
    if (error instanceof WitnessRefusal || error instanceof WitnessUnreachable || error instanceof WitnessHandshakeError) {
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

/** The secret a client command was given, or a usage error saying how to give it. */
function requiredSecret(parsed: ParsedArgs, command: string): string {
  const secret = clientSecret(stringValue(parsed, 'secret-file'));
  if (secret === undefined) {
    throw new UsageError(`powercheck ${command} needs the witness's secret: --secret-file FILE or $${SECRET_ENV} (the witness printed it at its first start; it is in the file "${SECRET_FILE_NAME}" of its --state directory)`);
  }
  return secret;
}

async function listen(argv: string[]): Promise<number> {
  const parsed = parse(POWERCHECK_COMMANDS.listen, argv);
  if (!parsed) return 0;
  const port = numberValue(parsed, 'port', DEFAULT_PORT, 0, 65535, true);
  const idleSeconds = numberValue(parsed, 'timeout', WITNESS_DEFAULTS.idleTimeoutMs / 1000, 0.1, 86400, false);
  const maxConnections = numberValue(parsed, 'max-connections', WITNESS_DEFAULTS.maxConnections, 1, 100_000, true);
  const maxConnectionsPerAddress = numberValue(parsed, 'max-per-address', WITNESS_DEFAULTS.maxConnectionsPerAddress, 1, 100_000, true);
  const maxTests = numberValue(parsed, 'max-tests', WITNESS_DEFAULTS.maxTests, 1, 10_000_000, true);
  const maxStateBytes = sizeOption(parsed, 'max-state', `${WITNESS_DEFAULTS.maxStateBytes / MIB}m`);
  const host = stringValue(parsed, 'host') ?? WITNESS_DEFAULTS.host;
  const stateDir = path.resolve(stringValue(parsed, 'state') ?? 'hardsync-witness');
  // Given by the user (file, then environment), or the state directory's own (see Witness.start).
  const secretFile = stringValue(parsed, 'secret-file');
  const secret = secretFile !== undefined ? readSecretFile(secretFile) : clientSecret(undefined);
  let witness: Witness;
  try {
    witness = await Witness.start({ stateDir, secret, port, host, idleTimeoutMs: idleSeconds * 1000, maxConnections, maxConnectionsPerAddress, maxTests, maxStateBytes, log: timestamped });
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
  const kept = witness.secret;
  if (kept.created) {
    process.stdout.write(
      `new secret, printed only this once (it stays in ${kept.file}):\n  ${kept.secret}\n` +
        `give it to run and verify on the machine under test: in a file only you can read (--secret-file FILE) or in $${SECRET_ENV}\n`,
    );
  } else {
    process.stdout.write(`secret: ${kept.file === null ? (secretFile !== undefined ? `from ${path.resolve(secretFile)}` : `from $${SECRET_ENV}`) : `the one in ${kept.file}`}\n`);
  }
  if (net.isIP(address.host) !== 0 && /^(127\.|::1$|::ffff:127\.)/.test(address.host)) {
    timestamped(`listening on a loopback address: only this machine can reach the witness (--host ADDR for others)`);
  }
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
  const secret = requiredSecret(parsed, 'run');
  const controller = new AbortController();
  setInterruptHandler(() => controller.abort());
  let progress: NodeJS.Timeout | undefined;
  let latest = { writes: 0, ms: 0 };
  let result: RunResult;
  try {
    result = await runPowercheck({
      witness, secret, file, size, blockSize, method, replace: parsed.values.replace === true, maxWrites,
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
  const secret = requiredSecret(parsed, 'verify');
  const report = await verifyPowercheck({ witness, secret, file, test, timeoutMs: timeoutS * 1000 });
  if (json !== undefined) writeJson(json, report);
  if (json !== '-') process.stdout.write(renderVerify(report));
  return VERDICT_EXIT[report.verdict];
}
