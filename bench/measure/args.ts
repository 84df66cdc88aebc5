/**
 * Command-line parsing for the `hardsync` commands, on Node's util.parseArgs: each command
 * declares its options once, and the same declaration gives the parser, the command's own
 * --help text, and the suggestion for a mistyped option (`--size` -> `--sizes`). Every
 * refusal is a UsageError (exit code 2) raised before any I/O.
 * @module
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { wrapText } from './text';
import { UsageError } from './schema';

/** One option of a command. */
export interface OptionSpec {
  /** 'string' takes a value ("--json FILE" or "--json=FILE"); 'boolean' is a flag. */
  type: 'string' | 'boolean';
  /** A one-letter alias ("-s"). */
  short?: string;
  /** The value's placeholder in the help text ("FILE", "N", "S"). */
  value?: string;
  /** The help line. */
  help: string;
}

/** A command: its options, the words of its usage, and what it does. */
export interface CommandSpec {
  /** "bench", "powercheck run", ... */
  name: string;
  /** What follows the name in the usage line ("[dir]", "A.json B.json ..."). */
  args: string;
  /** One paragraph: what the command does. */
  summary: string;
  options: Record<string, OptionSpec>;
  /** Lines after the options (exit codes, notes). */
  footer?: string;
  /** What the usage line starts with: "hardsync" (the default) or "node dist/bench/patterns.js". */
  program?: string;
}

/** The option every command has. */
export const HELP_OPTION: Record<string, OptionSpec> = { help: { type: 'boolean', short: 'h', help: 'this help' } };

/** Parsed arguments. */
export interface ParsedArgs {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

/** Levenshtein distance, for suggestions. */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length];
}

/** The closest of `names` to `typed`, if close enough to be a likely typo (or a prefix). */
export function closest(typed: string, names: readonly string[]): string | null {
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const name of names) {
    const d = name.startsWith(typed) || typed.startsWith(name) ? Math.min(1, distance(typed, name)) : distance(typed, name);
    if (d < bestDistance) {
      best = name;
      bestDistance = d;
    }
  }
  return best !== null && bestDistance <= Math.max(2, Math.floor(typed.length / 3)) ? best : null;
}

/** Parses `argv` for `spec`; throws a UsageError with a suggestion for an unknown option. */
export function parseCommand(spec: CommandSpec, argv: readonly string[]): ParsedArgs {
  const options = { ...spec.options, ...HELP_OPTION };
  const who = spec.name || (spec.program ?? 'hardsync');
  const config = Object.fromEntries(Object.entries(options).map(([name, o]) => [name, o.short ? { type: o.type, short: o.short } : { type: o.type }]));
  try {
    const { values, positionals } = parseArgs({ args: [...argv], options: config, allowPositionals: true, strict: true });
    return { values: values as ParsedArgs['values'], positionals };
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    const option = /'(-[^' ]+)/.exec(e.message)?.[1];
    if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && option) {
      const typed = option.replace(/^--?/, '').replace(/=.*/, '');
      const suggestion = closest(typed, Object.keys(options));
      throw new UsageError(`${who}: unknown option ${option}${suggestion ? `; did you mean --${suggestion}?` : ''}`);
    }
    if (e.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && option) {
      const name = option.replace(/^--?/, '');
      const long = Object.entries(options).find(([n, o]) => n === name || o.short === name)?.[0] ?? name;
      if (options[long]?.type === 'boolean') throw new UsageError(`${who}: option --${long} takes no value`);
      const looksLikeOption = /ambiguous/.test(e.message);
      throw new UsageError(`${who}: option --${long} needs a value${looksLikeOption ? ` (one that starts with "-" is written --${long}=VALUE)` : ''}`);
    }
    throw new UsageError(`${who}: ${e.message.replace(/\s*\n\s*/g, ' ')}`);
  }
}

/**
 * Parses `argv` for `spec`, or prints the command's help and returns null when --help (-h) was
 * given: every command's entry starts `const parsed = parseOrHelp(spec, argv); if (!parsed) return 0;`.
 */
export function parseOrHelp(spec: CommandSpec, argv: readonly string[]): ParsedArgs | null {
  const parsed = parseCommand(spec, argv);
  if (parsed.values.help) {
    process.stdout.write(commandUsage(spec));
    return null;
  }
  return parsed;
}

/** The width --help fits in: a terminal of 80 columns, or a pipe. */
const HELP_WIDTH = 80;

/** The help text of one command, from its declaration, every line within 80 columns. */
export function commandUsage(spec: CommandSpec): string {
  const options = { ...spec.options, ...HELP_OPTION };
  const left = (name: string, o: OptionSpec): string => `${o.short ? `-${o.short}, ` : ''}--${name}${o.value ? ` ${o.value}` : ''}`;
  const width = Math.max(...Object.entries(options).map(([n, o]) => left(n, o).length)) + 2;
  // The declarations break their lines for reading in the source: the help rewraps them.
  const rewrap = (text: string, room: number): string[] => wrapText(text.replace(/\s*\n\s*/g, ' '), room).split('\n');
  const lines = [`usage: ${spec.program ?? 'hardsync'}${spec.name ? ` ${spec.name}` : ''}${spec.args ? ` ${spec.args}` : ''} [options]`, '', ...rewrap(spec.summary, HELP_WIDTH - 2).map((l) => `  ${l}`), '', 'options:'];
  for (const [name, o] of Object.entries(options)) {
    const help = rewrap(o.help, Math.max(30, HELP_WIDTH - 2 - width));
    lines.push(`  ${left(name, o).padEnd(width)}${help[0]}`);
    for (const more of help.slice(1)) lines.push(`  ${' '.repeat(width)}${more}`);
  }
  if (spec.footer) lines.push('', ...spec.footer.split('\n\n').flatMap((paragraph, i) => [...(i > 0 ? [''] : []), ...rewrap(paragraph, HELP_WIDTH)]));
  return `${lines.join('\n')}\n`;
}

/** A number option, checked against its range. */
export function numberValue(parsed: ParsedArgs, name: string, fallback: number, min: number, max: number, integer: boolean): number {
  const raw = parsed.values[name];
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (typeof raw !== 'string' || raw.trim() === '' || !Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
    throw new UsageError(`--${name} must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}, got ${String(raw)}`);
  }
  return value;
}

/** A number option that may be absent. */
export function optionalNumber(parsed: ParsedArgs, name: string, min: number, max: number, integer: boolean): number | undefined {
  return parsed.values[name] === undefined ? undefined : numberValue(parsed, name, 0, min, max, integer);
}

/** A comma-separated list option. */
export function listValue(parsed: ParsedArgs, name: string): string[] | undefined {
  const raw = parsed.values[name];
  if (raw === undefined) return undefined;
  const items = String(raw).split(',').map((s) => s.trim()).filter(Boolean);
  if (items.length === 0) throw new UsageError(`--${name} needs at least one value`);
  return items;
}

/** A string option's value, or undefined. */
export function stringValue(parsed: ParsedArgs, name: string): string | undefined {
  const raw = parsed.values[name];
  return typeof raw === 'string' ? raw : undefined;
}

/**
 * Checks, before any measuring, that an output file can be written: its directory exists, is
 * a directory and is writable, and the path is not a directory. "-" (standard output) passes
 * where `dashIsStdout`.
 */
export function checkOutputPath(option: string, file: string | undefined, dashIsStdout = false): void {
  if (file === undefined) return;
  if (file === '-' && dashIsStdout) return;
  if (file === '') throw new UsageError(`--${option} needs a file name`);
  const dir = path.dirname(path.resolve(file));
  let stat: fs.Stats;
  try {
    stat = fs.statSync(dir);
  } catch {
    throw new UsageError(`--${option} ${file}: the directory ${dir} does not exist`);
  }
  if (!stat.isDirectory()) throw new UsageError(`--${option} ${file}: ${dir} is not a directory`);
  try {
    fs.accessSync(dir, fs.constants.W_OK);
  } catch {
    throw new UsageError(`--${option} ${file}: cannot write in ${dir}`);
  }
  try {
    if (fs.statSync(file).isDirectory()) throw new UsageError(`--${option} ${file}: is a directory`);
  } catch (error) {
    if (error instanceof UsageError) throw error;
    // does not exist yet: fine
  }
}
