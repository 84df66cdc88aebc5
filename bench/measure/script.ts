/**
 * The scaffold of the standalone benchmark scripts (`node dist/bench/patterns.js`,
 * `node dist/bench/log-open.js`): their options parsed by util.parseArgs from one declaration
 * (bench/measure/args.ts, as the `hardsync` commands are), a scratch directory that is removed
 * however the run ends, and the entry point that turns a failure into an exit code.
 * @module
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { numberValue, parseOrHelp, stringValue, type CommandSpec, type OptionSpec, type ParsedArgs } from './args';
import { UsageError } from './schema';

/** The options every script has: where it writes, how many rounds, where the JSON goes. */
export function scriptOptions(defaultRounds: number): Record<string, OptionSpec> {
  return {
    dir: { type: 'string', value: 'DIR', help: `where the files are made (default ${os.tmpdir()})` },
    rounds: { type: 'string', value: 'N', help: `interleaved rounds, after one uncounted warm-up (default ${defaultRounds})` },
    json: { type: 'string', value: 'FILE', help: 'the results as JSON' },
  };
}

/** A script's common options, parsed. */
export interface ScriptArgs {
  dir: string;
  rounds: number;
  json?: string;
  /** Everything parsed, for the script's own options. */
  parsed: ParsedArgs;
}

/**
 * Parses a script's arguments (`spec.options` should include scriptOptions()). --help prints
 * the usage and exits 0; a wrong argument prints why and exits 2.
 */
export function scriptArgs(spec: CommandSpec, argv: readonly string[], defaultRounds: number): ScriptArgs {
  return usageChecked(spec, () => {
    const parsed = parseOrHelp(spec, argv);
    if (!parsed) process.exit(0);
    if (parsed.positionals.length > 0) throw new UsageError(`unexpected argument "${parsed.positionals[0]}"`);
    return {
      dir: stringValue(parsed, 'dir') ?? os.tmpdir(),
      rounds: numberValue(parsed, 'rounds', defaultRounds, 1, 100_000, true),
      json: stringValue(parsed, 'json'),
      parsed,
    };
  });
}

/**
 * Runs a script's checks of its own options: a UsageError they throw is printed with the
 * pointer to --help and ends the process with exit code 2, as for the common options.
 */
export function usageChecked<T>(spec: CommandSpec, check: () => T): T {
  try {
    return check();
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`${error.message}\n(${spec.program ?? 'hardsync'} --help for usage)\n`);
    process.exit(2);
  }
}

/** Runs `body` in a fresh directory `<dir>/<prefix>XXXXXX`, removed afterwards whatever happens. */
export async function inScratchDir<T>(dir: string, prefix: string, body: (root: string) => Promise<T>): Promise<T> {
  const root = await fs.promises.mkdtemp(path.join(dir, prefix));
  try {
    return await body(root);
  } finally {
    await fs.promises.rm(root, { recursive: true, force: true });
  }
}

/** The entry point: runs `main`; a failure is printed and ends the process with exit code 1. */
export function runScript(main: () => Promise<void>): void {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}

/** A copy of `items` in a random order (Fisher-Yates): each round's order of the contenders. */
export function shuffle<T>(items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}
