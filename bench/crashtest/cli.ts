/**
 * `hardsync crashtest [options] -- <workload...>`: runs any program on the power-cut simulator,
 * cuts the power at seeded points, and checks that what it acknowledged survived (README:
 * "Does your program keep its promises?"). The campaign itself is campaign.ts.
 * @module
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { listValue, numberValue, parseOrHelp, stringValue, checkOutputPath, type CommandSpec } from '../measure/args';
import { packageVersion } from '../measure/env';
import { setInterruptHandler } from '../measure/lifecycle';
import { UsageError } from '../measure/schema';
import { EXPECTATIONS, parseExpectation, type Expectation } from './checkers';
import { CampaignError, CUT_KINDS, describeCut, parseCutPoint, replayCut, runCampaign, type CampaignEvent, type CampaignReport, type CutKind, type CutPoint, type RunOutcome } from './campaign';
import { mountUnavailable, SimulatorUnavailable } from './simulator';

/** The JSON report's schema name. */
export const CRASHTEST_SCHEMA = 'hardsync-crashtest/1';
const DEFAULT_RUNS = 100;
const DEFAULT_TIMEOUT_S = 60;
/** Failing runs printed as they happen; the others are counted. */
const PRINTED_FAILURES = 10;

/** `hardsync crashtest`'s declaration (options, --help). */
export const CRASHTEST_COMMAND: CommandSpec = {
  name: 'crashtest',
  args: '(--check CMD | --expect KIND) -- <workload command...>',
  summary: `Runs the workload on a power-cut simulator (a FUSE filesystem that keeps only what was
flushed), in the directory named by $HARDSYNC_CRASHTEST_DIR, cuts the power at a point drawn
from a seed (before the Nth filesystem operation, right after the Nth flush, in the middle of
the Nth write, or N ms in), kills it there, reboots (everything not flushed is lost), and checks
the surviving files against what it acknowledged before the cut (acknowledge() from
'hardsync/crashtest', or JSON lines written to the fd in $HARDSYNC_CRASHTEST_ACK_FD).
A run without a cut comes first: the workload must exit 0 and the check must pass there.`,
  options: {
    check: { type: 'string', value: 'CMD', help: 'a shell command that judges a run (exit 0: passed); it gets\n$HARDSYNC_CRASHTEST_DIR, $HARDSYNC_CRASHTEST_ACKS (the acknowledgements\nfile), $HARDSYNC_CRASHTEST_SEED and $HARDSYNC_CRASHTEST_CUT' },
    expect: { type: 'string', value: 'KIND', help: 'built-in checks, comma-separated: files (each acknowledged key is a\nfile holding its value), durable-log[=SUBDIR] (a DurableLog keeps\nevery acknowledged LSN)' },
    setup: { type: 'string', value: 'CMD', help: 'a shell command that prepares the directory before each run; its\nresult is made durable (a clean shutdown) before the workload starts' },
    runs: { type: 'string', value: 'N', help: `runs with a power cut (default ${DEFAULT_RUNS})` },
    seed: { type: 'string', value: 'S', help: 'the campaign seed, 0 to 4294967295 (default: random); run 0 uses S\nitself, so --seed S --runs 1 replays the run of seed S' },
    cut: { type: 'string', value: 'KINDS', help: `cut points to draw from: ${CUT_KINDS.join(',')} (default: all)` },
    'cut-at': { type: 'string', value: 'KIND:N', help: 'cut every run at this point instead (op:N, flush:N, write:N, time:MS,\nor exit: once the workload ended): the replay of one run' },
    timeout: { type: 'string', value: 'S', help: `seconds each command may take; a workload that neither exits nor\nreaches its cut point by then is a failed run (default ${DEFAULT_TIMEOUT_S})` },
    keep: { type: 'boolean', help: 'keep the surviving files, acknowledgements and output of the first\nfailing run (or of the last run) in ./hardsync-crashtest-SEED' },
    lie: { type: 'boolean', help: 'the simulated disk ignores every flush: your negative control (a\ncheck that still passes cannot see a loss)' },
    mmap: { type: 'boolean', help: 'files through the page cache, for workloads that mmap them shared' },
    json: { type: 'string', value: 'FILE', help: `write the report as JSON (${CRASHTEST_SCHEMA}; - for stdout)` },
  },
  footer: `exit codes: 0 every run passed, 1 a run failed (its seed and how to replay it are
printed), 2 usage error, an environment that cannot host the simulator (no FUSE, not allowed
to mount, no compiler or libfuse3 headers for its first build), or a workload or check that
fails without any power cut; 130 interrupted (Ctrl-C; 143 SIGTERM)`,
};

/** Everything before the first `--` is crashtest's; everything after it is the workload. */
function splitWorkload(argv: readonly string[]): { own: string[]; workload: string[] } {
  const at = argv.indexOf('--');
  return at < 0 ? { own: [...argv], workload: [] } : { own: argv.slice(0, at), workload: argv.slice(at + 1) };
}

/** A word as the shell reads it back. */
function shellQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

interface Settings {
  workload: string[];
  check?: string;
  expect: Expectation[];
  expectText?: string;
  setup?: string;
  runs: number;
  seed: number;
  seedGiven: boolean;
  kinds: CutKind[];
  kindsText?: string;
  cutAt?: CutPoint;
  timeoutS: number;
  keep: boolean;
  lie: boolean;
  mmap: boolean;
  json?: string;
}

/** The command line that replays run `o` alone, at the same cut point, and keeps its files. */
export function replayCommand(s: Settings, o: RunOutcome): string {
  const words = ['hardsync', 'crashtest', '--seed', String(o.seed), '--cut-at', replayCut(o.cut, o.landed), '--runs', '1', '--keep'];
  if (s.check !== undefined) words.push('--check', s.check);
  if (s.expectText !== undefined) words.push('--expect', s.expectText);
  if (s.setup !== undefined) words.push('--setup', s.setup);
  if (s.timeoutS !== DEFAULT_TIMEOUT_S) words.push('--timeout', String(s.timeoutS));
  if (s.lie) words.push('--lie');
  if (s.mmap) words.push('--mmap');
  return [...words, '--', ...s.workload].map(shellQuote).join(' ');
}

function parseSettings(argv: readonly string[]): Settings | null {
  const { own, workload } = splitWorkload(argv);
  const parsed = parseOrHelp(CRASHTEST_COMMAND, own);
  if (!parsed) return null;
  if (parsed.positionals.length > 0) {
    throw new UsageError(`put the workload after "--": hardsync crashtest [options] -- ${parsed.positionals.map(shellQuote).join(' ')}`);
  }
  if (workload.length === 0) throw new UsageError('no workload: give its command after "--" (hardsync crashtest --expect files -- node app.js)');
  const check = stringValue(parsed, 'check');
  if (check !== undefined && check.trim() === '') throw new UsageError('--check needs a command');
  const setup = stringValue(parsed, 'setup');
  if (setup !== undefined && setup.trim() === '') throw new UsageError('--setup needs a command');
  const expectText = stringValue(parsed, 'expect');
  const expect = (listValue(parsed, 'expect') ?? []).map((item) => {
    const e = parseExpectation(item);
    if (!e) throw new UsageError(`--expect: "${item}" is not one of ${EXPECTATIONS.join(', ')} (durable-log=SUBDIR for a log in a subdirectory of the run's directory)`);
    return e;
  });
  if (check === undefined && expect.length === 0) {
    throw new UsageError('nothing would judge the runs: give --check CMD (your own check) or --expect files / --expect durable-log');
  }
  const kindsText = stringValue(parsed, 'cut');
  const kinds = (listValue(parsed, 'cut') ?? [...CUT_KINDS]).map((k) => {
    if (!(CUT_KINDS as readonly string[]).includes(k)) throw new UsageError(`--cut: "${k}" is not a cut point; they are ${CUT_KINDS.join(', ')}`);
    return k as CutKind;
  });
  const cutAtText = stringValue(parsed, 'cut-at');
  const cutAt = cutAtText === undefined ? undefined : parseCutPoint(cutAtText);
  if (cutAt === null) throw new UsageError(`--cut-at: "${cutAtText}" is not op:N, flush:N, write:N (N from 1), time:MS or exit`);
  if (cutAt && kindsText !== undefined) throw new UsageError('--cut-at fixes the cut point: --cut has nothing to choose');
  const seedGiven = parsed.values.seed !== undefined;
  const seed = seedGiven ? numberValue(parsed, 'seed', 0, 0, 2 ** 32 - 1, true) : (Math.random() * 2 ** 32) >>> 0;
  const json = stringValue(parsed, 'json');
  checkOutputPath('json', json, true);
  return {
    workload, check, expect, expectText, setup, seed, seedGiven, kinds: [...new Set(kinds)], kindsText, cutAt,
    runs: numberValue(parsed, 'runs', DEFAULT_RUNS, 1, 1_000_000, true),
    timeoutS: numberValue(parsed, 'timeout', DEFAULT_TIMEOUT_S, 0.1, 86400, false),
    keep: parsed.values.keep === true, lie: parsed.values.lie === true, mmap: parsed.values.mmap === true, json,
  };
}

/** A directory name for --keep that does not exist yet. */
function keepDirectory(seed: number): string {
  const base = path.resolve(`hardsync-crashtest-${seed}`);
  for (let n = 1; ; n++) {
    const dir = n === 1 ? base : `${base}-${n}`;
    if (!fs.existsSync(dir)) return dir;
  }
}

/** The progress line on a terminal's stderr: drawn, cleared before any other output. */
class ProgressLine {
  private drawn = false;
  private readonly enabled = process.stderr.isTTY === true;

  draw(text: string): void {
    if (!this.enabled) return;
    process.stderr.write(`\r\x1b[2K${text.slice(0, (process.stderr.columns || 80) - 1)}`);
    this.drawn = true;
  }

  clear(): void {
    if (!this.drawn) return;
    process.stderr.write('\r\x1b[2K');
    this.drawn = false;
  }
}

function seconds(ms: number): string {
  const s = Math.round(ms / 1000);
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

/** "1 run", "3 runs". */
function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

function percent(part: number, whole: number): string {
  return whole === 0 ? '0%' : `${((100 * part) / whole).toFixed(1)}%`;
}

const KIND_WORDS: Record<CutKind, string> = { op: 'before an operation', flush: 'after a flush', write: 'in the middle of a write', time: 'at a time', exit: 'after the workload ended' };

function describeFailure(o: RunOutcome): string {
  const where = o.landed === 'cut' || o.cut.kind === 'exit' ? `cut ${describeCut(o.cut)}` : o.landed === 'hang' ? `to be cut ${describeCut(o.cut)}` : `cut after the workload ended (drawn: ${describeCut(o.cut)})`;
  return `FAIL run ${o.run} (seed ${o.seed}), ${where}:\n  ${o.problems.join('\n  ')}\n`;
}

/** The text report's summary (the failing runs are printed as they happen). */
function renderSummary(s: Settings, report: CampaignReport): string {
  const { calibration: c, outcomes } = report;
  const lines: string[] = [];
  const done = outcomes.length;
  const byKind = [...CUT_KINDS, 'exit' as const].filter((k) => report.kinds.includes(k)).map((k) => {
    const runs = outcomes.filter((o) => o.cut.kind === k);
    return `${KIND_WORDS[k]} ${runs.filter((o) => !o.passed).length}/${runs.length}`;
  });
  const afterExit = outcomes.filter((o) => o.landed === 'after-exit').length;
  const withAck = outcomes.filter((o) => o.acks > 0).length;
  if (report.interrupted) lines.push(`interrupted after ${done} of ${count(s.runs, 'run')}; everything it had mounted, started and written is gone`);
  if (report.failed > 0) {
    lines.push(`${report.failed} of ${count(done, 'run')} failed (${percent(report.failed, done)}): acknowledged data lost, or the check failed`);
  } else if (done > 0) {
    lines.push(`PASS: all ${done} runs kept what was acknowledged${s.lie ? ' (with --lie: the check did not catch a disk that ignores flushes)' : ''}`);
  }
  if (done > 0) {
    lines.push(`  failed per cut point: ${byKind.join(', ')}`);
    lines.push(`  ${count(withAck, 'run')} had an acknowledgement before the cut; ${afterExit} cut after the workload had ended`);
  }
  const first = outcomes.find((o) => !o.passed);
  if (first) {
    lines.push(`first failure: run ${first.run}, seed ${first.seed}. Replay it alone and keep its files with:`);
    lines.push(`  ${replayCommand(s, first)}`);
    if (!s.cutAt) lines.push(`  (or without --cut-at: the seed draws the same cut point while the run without a cut makes the same ${count(c.ops, 'operation')}, ${c.flushes} flush${c.flushes === 1 ? '' : 'es'} and ${count(c.writes, 'write')})`);
  }
  if (report.kept) lines.push(`kept: ${report.kept} (files/: what survived the cut; acks.jsonl; workload.log; run.json)`);
  return `${lines.join('\n')}\n`;
}

function jsonReport(s: Settings, argv: readonly string[], report: CampaignReport | null, exitCode: number, error?: string): object {
  const first = report?.outcomes.find((o) => !o.passed);
  return {
    schema: CRASHTEST_SCHEMA,
    command: ['hardsync', 'crashtest', ...argv],
    workload: s.workload,
    check: s.check ?? null,
    expect: s.expectText ?? null,
    setup: s.setup ?? null,
    seed: s.seed,
    runsRequested: s.runs,
    runs: report?.outcomes.length ?? 0,
    failed: report?.failed ?? 0,
    interrupted: report?.interrupted ?? false,
    exitCode,
    error: error ?? null,
    lie: s.lie,
    mmap: s.mmap,
    timeoutSeconds: s.timeoutS,
    calibration: report?.calibration ?? null,
    cutKinds: report?.kinds ?? [],
    cutAt: s.cutAt ?? null,
    firstFailure: first ? { run: first.run, seed: first.seed, cut: first.cut, landed: first.landed, problems: first.problems, replay: replayCommand(s, first) } : null,
    kept: report?.kept ?? null,
    warnings: report?.warnings ?? [],
    results: report?.outcomes ?? [],
    environment: {
      hardsync: packageVersion(), node: process.version, platform: process.platform, kernel: os.release(),
      user: process.getuid?.() === 0 ? 'root' : `uid ${process.getuid?.()}`, allowOther: report?.allowOther ?? false,
      simulator: report?.binary ?? null, loadavg: os.loadavg().map((l) => Math.round(l * 100) / 100), elapsedMs: report?.elapsedMs ?? 0,
    },
  };
}

/** Runs `hardsync crashtest`; resolves to the exit code. */
export async function crashtest(argv: string[]): Promise<number> {
  const s = parseSettings(argv);
  if (!s) return 0;
  const toStdout = s.json === '-';
  const out = (text: string) => (toStdout ? process.stderr : process.stdout).write(text);
  const progress = new ProgressLine();
  const say = (text: string) => {
    progress.clear();
    out(text);
  };
  const writeJson = (report: CampaignReport | null, code: number, error?: string) => {
    if (s.json === undefined) return;
    const text = `${JSON.stringify(jsonReport(s, argv, report, code, error), null, 1)}\n`;
    if (toStdout) process.stdout.write(text);
    else fs.writeFileSync(s.json, text);
  };
  const unavailable = mountUnavailable();
  if (unavailable) {
    process.stderr.write(`hardsync crashtest: cannot run here: ${unavailable}\n`);
    writeJson(null, 2, unavailable);
    return 2;
  }
  const controller = new AbortController();
  let stoppedBy: NodeJS.Signals = 'SIGINT';
  setInterruptHandler((signal) => {
    stoppedBy = signal;
    controller.abort();
  });
  const started = Date.now();
  let printed = 0;
  const onEvent = (event: CampaignEvent) => {
    if (event.type === 'log') {
      progress.clear();
      process.stderr.write(`hardsync crashtest: ${event.message}\n`);
    } else if (event.type === 'calibrated') {
      const c = event.calibration;
      say(`calibration (no cut): ${c.ops} operations, ${c.flushes} flushes, ${c.writes} writes, ${c.acks} acknowledgements; ${c.ms} ms, the first operation at ${c.firstOpMs} ms\n`);
    } else {
      const { outcome, done, failed } = event;
      if (!outcome.passed && printed < PRINTED_FAILURES) {
        say(describeFailure(outcome));
        if (++printed === PRINTED_FAILURES) say(`(further failures are counted, not printed${s.json !== undefined ? '; all are in the JSON report' : ''})\n`);
      }
      const elapsed = Date.now() - started;
      const left = done < s.runs ? `, ~${seconds((elapsed / done) * (s.runs - done))} left` : '';
      progress.draw(`crashtest: run ${done}/${s.runs}, ${failed} failed, ${seconds(elapsed)}${left}`);
    }
  };
  say(`hardsync crashtest: ${count(s.runs, 'run')} of ${s.workload.map(shellQuote).join(' ')}, seed ${s.seed}${s.lie ? ', the disk ignoring flushes (--lie)' : ''}\n`);
  let report: CampaignReport;
  try {
    report = await runCampaign({
      workload: s.workload, cwd: process.cwd(), setup: s.setup, check: s.check, expect: s.expect, runs: s.runs, seed: s.seed,
      kinds: s.kinds, cutAt: s.cutAt, timeoutMs: s.timeoutS * 1000, keep: s.keep ? keepDirectory(s.seed) : undefined, lie: s.lie, mmap: s.mmap,
      env: process.env, signal: controller.signal, onEvent,
    });
  } catch (error) {
    progress.clear();
    // Exit 1 is kept for a run that failed its check: anything else that stops crashtest (the
    // simulator refusing, a workload that cannot run, an error of crashtest's own) is "cannot test".
    const known = error instanceof CampaignError || error instanceof SimulatorUnavailable;
    const message = known ? (error as Error).message : `stopped by an error of its own: ${(error as Error)?.stack ?? String(error)}`;
    process.stderr.write(`hardsync crashtest: ${message}\n`);
    writeJson(null, 2, message);
    return 2;
  } finally {
    setInterruptHandler(null);
  }
  progress.clear();
  for (const warning of report.warnings) process.stderr.write(`hardsync crashtest: warning: ${warning}\n`);
  const code = report.interrupted ? 128 + (os.constants.signals[stoppedBy] ?? 2) : report.failed > 0 ? 1 : 0;
  out(renderSummary(s, report));
  writeJson(report, code);
  return code;
}
