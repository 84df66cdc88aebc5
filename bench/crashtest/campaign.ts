/**
 * The crashtest campaign: one run without a cut first (the calibration: does the workload work,
 * does the check pass, how many operations, flushes and writes does it make), then `runs` runs
 * each cut at a point drawn from its seed, rebooted, and checked.
 *
 * One run: the directory is emptied (in the backing tree, while the power is off) and the
 * simulator rebooted onto it; the setup command, if any, runs and its result is made durable (a
 * clean shutdown); the cut is armed; the workload runs until the power fails under it (it is
 * killed at that moment, as the power would), until it exits (the power is then cut after it),
 * or until the timeout (a hang: a failed run); the simulator reboots onto the durable state; the
 * checks judge it against the acknowledgements recorded before the cut.
 * @module
 */
import fs from 'node:fs';
import path from 'node:path';
import { CRASHTEST_ENV, readAcknowledgementsSync, type Acknowledgement } from '../../lib/crashtest';
import { runExpectation, type Expectation } from './checkers';
import { describeFinished, GroupProcess, killAllNow, type Finished } from './processes';
import { mix, rng } from './seeded';
import { buildPowercut, flushCount, PowercutFs, userAllowOther, type BuildLog, type PowercutStatus } from './simulator';

/** Where a run's power cut is placed; `exit` (after the workload ended) is only ever given (`--cut-at exit`), never drawn. */
export type CutKind = 'op' | 'flush' | 'write' | 'time' | 'exit';
/** Every kind a run's cut is drawn from, in the order they are described. */
export const CUT_KINDS: readonly CutKind[] = ['op', 'flush', 'write', 'time'];

/**
 * A cut point: before the `at`-th operation, after the `at`-th flush, in the middle of the `at`-th
 * write, `at` ms after the start, or (`exit`) once the workload has ended.
 */
export interface CutPoint {
  kind: CutKind;
  at: number;
}

/** What the run without a cut measured. */
export interface Calibration {
  /** Filesystem operations, flushes (fsync, fdatasync, O_DSYNC writes, directory fsyncs) and write requests it made. */
  ops: number;
  flushes: number;
  writes: number;
  /** From its start to its exit. */
  ms: number;
  /** From its start to its first filesystem operation (the start-up of its runtime, in which a cut finds nothing). */
  firstOpMs: number;
  /** Acknowledgements (and intend() announcements) it recorded. */
  acks: number;
  intents: number;
}

/** How the run's power cut came about. */
export type Landing = 'cut' | 'after-exit' | 'hang';

/** One run's outcome. */
export interface RunOutcome {
  run: number;
  seed: number;
  cut: CutPoint;
  /** `cut`: at the drawn point; `after-exit`: the workload ended first, and the power was cut after it; `hang`: it reached neither within the timeout. */
  landed: Landing;
  /** How the workload ended (killed at the cut: SIGKILL). */
  exit: Finished;
  /** Acknowledgements recorded before the cut. */
  acks: number;
  passed: boolean;
  problems: string[];
  ms: number;
}

/** What the campaign reports as it goes (the CLI's progress line and messages). */
export type CampaignEvent =
  | { type: 'log'; message: string }
  | { type: 'calibrated'; calibration: Calibration }
  | { type: 'run'; outcome: RunOutcome; done: number; failed: number };

export interface CampaignOptions {
  /** The workload's argv (no shell). */
  workload: string[];
  /** Where the workload, setup and check run (their working directory). */
  cwd: string;
  /** A shell command run before each run (and the calibration), its result made durable. */
  setup?: string;
  /** A shell command judging the survivors: exit 0 passes. */
  check?: string;
  /** Built-in checks. */
  expect: Expectation[];
  runs: number;
  seed: number;
  /** The cut point kinds to draw from (those the calibration saw none of are left out). */
  kinds: readonly CutKind[];
  /** Every run cuts here instead of at a drawn point (`--cut-at`: an exact replay). */
  cutAt?: CutPoint;
  /** Per process (workload, setup, check): longer is a hang. */
  timeoutMs: number;
  /** Keep the surviving files of the first failing run (or of the last run, when none fails) in this new directory. */
  keep?: string;
  /** The simulated disk ignores flushes (a negative control for the workload's own checks). */
  lie: boolean;
  /** Files through the page cache (`-o mmap`): for workloads that map files shared. */
  mmap: boolean;
  /** The environment the commands get, before crashtest's own variables. */
  env: NodeJS.ProcessEnv;
  /** Aborting it (Ctrl-C) stops the campaign after cleaning up; the report says interrupted. */
  signal?: AbortSignal;
  onEvent?: (event: CampaignEvent) => void;
}

export interface CampaignReport {
  calibration: Calibration;
  outcomes: RunOutcome[];
  failed: number;
  interrupted: boolean;
  /** Where --keep put the files, if anywhere. */
  kept: string | null;
  /** The kinds actually drawn from. */
  kinds: CutKind[];
  binary: string;
  allowOther: boolean;
  warnings: string[];
  elapsedMs: number;
}

/** The campaign cannot run: a usage or environment problem, or a workload/check that fails without any cut (exit 2). */
export class CampaignError extends Error {}

/** The seed of run `run` of a campaign seeded `seed`: run 0 uses the campaign's own, so `--seed S --runs 1` replays the run of seed S. */
export function runSeed(seed: number, run: number): number {
  return run === 0 ? seed >>> 0 : mix(seed, run);
}

/** The kinds a calibration allows: a kind the workload never made (no flush, no write) has no point to cut at. */
export function usableKinds(kinds: readonly CutKind[], calibration: Calibration): CutKind[] {
  return kinds.filter((kind) => countOf(kind, calibration) > 0);
}

function countOf(kind: CutKind, c: Calibration): number {
  return kind === 'op' ? c.ops : kind === 'flush' ? c.flushes : kind === 'write' ? c.writes : kind === 'time' ? c.ms : 0;
}

/**
 * The cut point of the run seeded `seed`: a kind, then a point spread evenly over what the
 * calibration run made of it (for a time, over the span from its first filesystem operation to
 * its exit).
 */
export function drawCut(seed: number, kinds: readonly CutKind[], calibration: Calibration): CutPoint {
  const random = rng(seed);
  const kind = kinds[Math.floor(random() * kinds.length)];
  if (kind === 'time') {
    const from = Math.min(calibration.firstOpMs, calibration.ms);
    return { kind, at: from + Math.floor(random() * (calibration.ms - from)) };
  }
  return { kind, at: 1 + Math.floor(random() * countOf(kind, calibration)) };
}

/** Parses `op:17`, `flush:3`, `write:5`, `time:120` (ms) or `exit`; null if it is none of them. */
export function parseCutPoint(text: string): CutPoint | null {
  if (text === 'exit') return { kind: 'exit', at: 0 };
  const m = /^(op|flush|write|time):(0|[1-9][0-9]{0,11})$/.exec(text);
  if (!m || (m[1] !== 'time' && m[2] === '0')) return null;
  return { kind: m[1] as CutKind, at: Number(m[2]) };
}

/** "before operation 17", "after flush 3", "in the middle of write 5", "at 120 ms", "after the workload ended". */
export function describeCut(cut: CutPoint): string {
  switch (cut.kind) {
    case 'op': return `before operation ${cut.at}`;
    case 'flush': return `after flush ${cut.at}`;
    case 'write': return `in the middle of write ${cut.at}`;
    case 'time': return `at ${cut.at} ms`;
    case 'exit': return 'after the workload ended';
  }
}

/** The `--cut-at` value that replays a run: its cut point, or `exit` when the workload ended before it. */
export function replayCut(cut: CutPoint, landed: Landing): string {
  return landed === 'after-exit' || cut.kind === 'exit' ? 'exit' : `${cut.kind}:${cut.at}`;
}

/** The short form a checker gets in HARDSYNC_CRASHTEST_CUT: "op 17", "flush 3", "write 5", "time 120ms", or "exit". */
function cutVariable(cut: CutPoint, landed: Landing): string {
  if (landed !== 'cut') return landed === 'hang' ? 'timeout' : 'exit';
  return cut.kind === 'time' ? `time ${cut.at}ms` : `${cut.kind} ${cut.at}`;
}

/** The last `lines` lines of a process's output, indented, for a message. */
export function outputTail(text: string, lines = 12): string {
  const all = text.trimEnd().split('\n');
  const shown = all.slice(-lines).map((l) => `    ${l.length > 200 ? `${l.slice(0, 200)}...` : l}`);
  return shown.length === 0 || text.trim() === '' ? '' : `\n${all.length > lines ? '    ...\n' : ''}${shown.join('\n')}`;
}

const DATA = 'data';

/** Runs a campaign; cleans up every mount, process and temporary file however it ends. */
export async function runCampaign(options: CampaignOptions): Promise<CampaignReport> {
  const started = Date.now();
  const log: BuildLog = (message) => options.onEvent?.({ type: 'log', message });
  const binary = buildPowercut(log);
  const allowOther = process.getuid?.() !== 0 && userAllowOther();
  const campaign = new Campaign(options);
  let pfs: PowercutFs;
  try {
    pfs = await PowercutFs.mount({ binary, lie: options.lie, mmap: options.mmap, allowOther, onCut: () => campaign.powerFailed() });
  } catch (error) {
    throw new CampaignError(`cannot mount the power-cut simulator: ${(error as Error).message}`);
  }
  campaign.attach(pfs);
  const emergency = () => campaign.cleanupNow();
  process.on('exit', emergency);
  try {
    const report = await campaign.run();
    return { ...report, binary, allowOther, elapsedMs: Date.now() - started };
  } finally {
    await campaign.cleanup();
    process.off('exit', emergency);
  }
}

class Interrupted extends Error {}

/** One run's process and how its wait ends. */
interface Running {
  process: GroupProcess;
  cutNotice: () => void;
}

class Campaign {
  private pfs!: PowercutFs;
  private work = '';
  private ackFd = -1;
  private running: Running | null = null;
  /** What the workload wrote in its last run. */
  private lastOutput = '';
  private readonly aborted: Promise<'aborted'>;

  constructor(private readonly options: CampaignOptions) {
    this.aborted = new Promise((resolve) => {
      if (options.signal?.aborted) resolve('aborted');
      options.signal?.addEventListener('abort', () => resolve('aborted'), { once: true });
    });
  }

  attach(pfs: PowercutFs): void {
    this.pfs = pfs;
    this.work = path.join(pfs.base, 'work');
    fs.mkdirSync(this.work);
    this.ackFd = fs.openSync(pfs.ackFile, 'a');
  }

  /**
   * The daemon said the power failed: end the workload now, as the power would. The notice of a
   * cut crashtest made itself (before a reboot) can arrive once the next run has started: only
   * the status says whether the power is off now.
   */
  powerFailed(): void {
    if (this.running && this.pfs.status().state === 'cut') this.running.cutNotice();
  }

  private get dataDir(): string {
    return path.join(this.pfs.mountpoint, DATA);
  }

  private env(extra: Record<string, string>): NodeJS.ProcessEnv {
    return { ...this.options.env, [CRASHTEST_ENV.dir]: this.dataDir, ...extra };
  }

  private checkAbort(): void {
    if (this.options.signal?.aborted) throw new Interrupted();
  }

  /** An empty directory as the durable starting state, after the setup command if there is one. */
  private async freshState(run: string, seed: number): Promise<void> {
    if (this.pfs.status().state !== 'cut') this.pfs.cut();
    const durable = path.join(this.pfs.backing, DATA);
    fs.rmSync(durable, { recursive: true, force: true });
    fs.mkdirSync(durable, { mode: 0o755 });
    this.pfs.reboot();
    if (this.options.setup !== undefined) {
      const setup = GroupProcess.shell(this.options.setup, { cwd: this.options.cwd, env: this.env({ [CRASHTEST_ENV.run]: run, [CRASHTEST_ENV.seed]: String(seed) }) });
      const { finished, timedOut } = await this.waitAbortable(setup);
      if (timedOut || finished.code !== 0) {
        throw new CampaignError(`the setup command ${timedOut ? `did not finish within ${this.options.timeoutMs / 1000} s` : `failed (${describeFinished(finished)})`}${outputTail(setup.output)}`);
      }
      this.pfs.sync();
    }
  }

  /** Has the daemon kill `child`'s group if crashtest dies before it could (null: the group is gone). */
  private guard(child: GroupProcess | null): void {
    if (child === null) this.pfs.guardGroup(null);
    else if (child.pid !== undefined) this.pfs.guardGroup(child.pid);
  }

  /** Waits for a process (with the timeout), or for Ctrl-C (then kills it and throws Interrupted). */
  private async waitAbortable(child: GroupProcess): Promise<{ finished: Finished; timedOut: boolean }> {
    this.guard(child);
    try {
      const outcome = await Promise.race([child.waitOrKill(this.options.timeoutMs), this.aborted]);
      if (outcome === 'aborted') {
        await child.kill();
        throw new Interrupted();
      }
      return outcome;
    } finally {
      this.guard(null);
    }
  }

  /**
   * Runs the workload once on a fresh state, the cut armed (or none, for the calibration). Returns
   * how it ended and the simulator's status at the end, the power off.
   */
  private async runWorkload(run: string, seed: number, cut: CutPoint | null, acksFile: string): Promise<{ exit: Finished; landed: Landing; status: PowercutStatus; ms: number; firstOpMs: number }> {
    await this.freshState(run, seed);
    this.pfs.reset();
    fs.rmSync(acksFile, { force: true });
    this.pfs.recordAcks(acksFile);
    if (cut?.kind === 'op') this.pfs.arm(cut.at);
    if (cut?.kind === 'flush') this.pfs.armFlush(cut.at);
    if (cut?.kind === 'write') this.pfs.armWrite(cut.at);
    let noticed!: () => void;
    const cutNotice = new Promise<'cut'>((resolve) => {
      noticed = () => resolve('cut');
    });
    const started = Date.now();
    const child = GroupProcess.start(this.options.workload, {
      cwd: this.options.cwd,
      extraFd: this.ackFd,
      env: this.env({
        [CRASHTEST_ENV.ackFd]: '3',
        [CRASHTEST_ENV.ackPath]: this.pfs.ackFile,
        [CRASHTEST_ENV.seed]: String(seed),
        [CRASHTEST_ENV.run]: run,
      }),
    });
    this.running = { process: child, cutNotice: noticed };
    this.guard(child);
    const timer = cut?.kind === 'time' ? setTimeout(() => this.pfs.cut(), cut.at) : undefined;
    // The calibration notes when the first operation came (the status is read without one).
    let firstOpMs = -1;
    const watch = cut === null ? setInterval(() => {
      if (firstOpMs < 0 && this.pfs.status().ops > 0) firstOpMs = Date.now() - started;
    }, 2) : undefined;
    let timeout: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timeout = setTimeout(() => resolve('timeout'), this.options.timeoutMs);
    });
    let outcome: 'cut' | 'timeout' | 'aborted' | Finished;
    try {
      outcome = await Promise.race([child.exited, cutNotice, timedOut, this.aborted]);
    } finally {
      clearTimeout(timer);
      clearTimeout(timeout);
      clearInterval(watch);
    }
    // The power is off from here on whatever happened: the workload dies with it.
    const exit = await child.kill();
    this.guard(null);
    this.running = null;
    this.lastOutput = child.output;
    const ms = Date.now() - started;
    if (outcome === 'aborted') throw new Interrupted();
    // The status decides, not the order the two notices arrived in: a workload that died of the
    // cut's I/O errors may be seen exiting before the daemon's "cut" line is read.
    const status = this.pfs.status();
    let landed: Landing = 'cut';
    if (status.state !== 'cut') {
      landed = outcome === 'timeout' ? 'hang' : 'after-exit';
      // The calibration ends with a clean shutdown instead (its caller's sync).
      if (cut !== null) this.pfs.cut();
    }
    return { exit, landed, status, ms, firstOpMs: firstOpMs < 0 ? ms : firstOpMs };
  }

  /** Runs the built-in and the user's checks on the rebooted state; the problems they found. */
  private async check(run: string, seed: number, cutText: string, acksFile: string): Promise<{ problems: string[]; acks: Acknowledgement[] }> {
    const problems: string[] = [];
    let acks: Acknowledgement[] = [];
    try {
      acks = readAcknowledgementsSync(acksFile);
    } catch (error) {
      problems.push(`the acknowledgements cannot be read: ${(error as Error).message}`);
    }
    for (const expectation of this.options.expect) {
      try {
        problems.push(...(await runExpectation(expectation, this.dataDir, acks)));
      } catch (error) {
        problems.push(`--expect ${expectation.kind}: ${(error as Error).message}`);
      }
    }
    const checkLog = path.join(this.work, 'check.log');
    fs.rmSync(checkLog, { force: true });
    if (this.options.check !== undefined) {
      const checker = GroupProcess.shell(this.options.check, {
        cwd: this.options.cwd,
        env: this.env({ [CRASHTEST_ENV.acks]: acksFile, [CRASHTEST_ENV.seed]: String(seed), [CRASHTEST_ENV.run]: run, [CRASHTEST_ENV.cut]: cutText }),
      });
      const { finished, timedOut } = await this.waitAbortable(checker);
      fs.writeFileSync(checkLog, checker.output);
      if (timedOut) problems.push(`the check did not finish within ${this.options.timeoutMs / 1000} s${outputTail(checker.output)}`);
      else if (finished.code !== 0) problems.push(`the check failed (${describeFinished(finished)})${outputTail(checker.output)}`);
    }
    return { problems, acks };
  }

  async run(): Promise<Omit<CampaignReport, 'binary' | 'allowOther' | 'elapsedMs'>> {
    const { options } = this;
    const warnings: string[] = [];
    const outcomes: RunOutcome[] = [];
    let kept: string | null = null;
    let failed = 0;
    let calibration: Calibration = { ops: 0, flushes: 0, writes: 0, ms: 0, firstOpMs: 0, acks: 0, intents: 0 };
    let kinds: CutKind[] = [];
    try {
      // The calibration: no cut; then a clean shutdown (everything durable), where every check must pass.
      const calibrationAcks = path.join(this.work, 'acks-calibration.jsonl');
      const dry = await this.runWorkload('calibration', options.seed, null, calibrationAcks);
      if (dry.landed === 'hang') throw new CampaignError(`the workload did not finish within ${options.timeoutMs / 1000} s without any power cut (give --timeout, or make it end)${outputTail(this.lastOutput)}`);
      if (dry.exit.code !== 0) throw new CampaignError(`the workload fails without any power cut (${describeFinished(dry.exit)})${outputTail(this.lastOutput)}`);
      this.pfs.recordAcks(null);
      this.pfs.sync();
      this.pfs.reboot();
      const checked = await this.check('calibration', options.seed, 'none', calibrationAcks);
      const { status } = dry;
      calibration = {
        ops: status.ops, flushes: flushCount(status), writes: status.writes, ms: dry.ms, firstOpMs: dry.firstOpMs,
        acks: checked.acks.filter((a) => a.op === 'ack').length, intents: checked.acks.filter((a) => a.op === 'intend').length,
      };
      if (checked.problems.length > 0) throw new CampaignError(`the check fails without any power cut, so it cannot tell a loss:\n  ${checked.problems.join('\n  ')}`);
      if (calibration.ops === 0) throw new CampaignError(`the workload made no filesystem operation in ${CRASHTEST_ENV.dir} (${this.dataDir}): there is nothing to cut`);
      if (calibration.acks === 0 && options.expect.length > 0) warnings.push('the workload acknowledged nothing in the run without a cut: the built-in checks verify acknowledgements only (see acknowledge() in hardsync/crashtest)');
      kinds = options.cutAt ? [options.cutAt.kind] : usableKinds(options.kinds, calibration);
      if (kinds.length === 0) throw new CampaignError(`the workload made no ${options.kinds.join(' and no ')}: none of the cut points asked for (--cut ${options.kinds.join(',')}) exists in it`);
      options.onEvent?.({ type: 'calibrated', calibration });

      for (let run = 0; run < options.runs; run++) {
        this.checkAbort();
        const seed = runSeed(options.seed, run);
        const cut = options.cutAt ?? drawCut(seed, kinds, calibration);
        const acksFile = path.join(this.work, 'acks.jsonl');
        const result = await this.runWorkload(String(run), seed, cut, acksFile);
        const workloadOutput = this.lastOutput;
        this.pfs.recordAcks(null);
        this.pfs.reboot();
        const survivors = path.join(this.work, 'survivors');
        fs.rmSync(survivors, { recursive: true, force: true });
        if (options.keep !== undefined && kept === null) fs.cpSync(path.join(this.pfs.backing, DATA), survivors, { recursive: true, verbatimSymlinks: true });
        const { problems, acks } = await this.check(String(run), seed, cutVariable(cut, result.landed), acksFile);
        if (result.landed === 'hang') problems.unshift(`the workload hung: it neither finished nor reached its cut point within ${options.timeoutMs / 1000} s${outputTail(workloadOutput)}`);
        else if (result.landed === 'after-exit' && result.exit.code !== 0) problems.unshift(`the workload failed before the power cut (${describeFinished(result.exit)})${outputTail(workloadOutput)}`);
        if (result.status.backingErrors > 0 || result.status.unmodelled > 0) {
          problems.push(`the simulator met ${result.status.backingErrors} backing errors and ${result.status.unmodelled} cases outside its model: this run proves nothing (${this.pfs.log.trim().split('\n').slice(-3).join('; ')})`);
        }
        const outcome: RunOutcome = {
          run, seed, cut, landed: result.landed, exit: result.exit, acks: acks.filter((a) => a.op === 'ack').length,
          passed: problems.length === 0, problems, ms: result.ms,
        };
        outcomes.push(outcome);
        if (!outcome.passed) failed++;
        if (options.keep !== undefined && kept === null && (!outcome.passed || run === options.runs - 1)) {
          kept = keepRun(options.keep, survivors, acksFile, workloadOutput, path.join(this.work, 'check.log'), outcome);
        }
        options.onEvent?.({ type: 'run', outcome, done: run + 1, failed });
      }
      return { calibration, outcomes, failed, interrupted: false, kept, kinds, warnings };
    } catch (error) {
      if (error instanceof Interrupted) return { calibration, outcomes, failed, interrupted: true, kept, kinds, warnings };
      throw error;
    }
  }

  /** Ends everything: the workload, the mount, the temporary directory. */
  async cleanup(): Promise<void> {
    if (this.running) await this.running.process.kill();
    this.running = null;
    if (this.ackFd >= 0) fs.closeSync(this.ackFd);
    this.ackFd = -1;
    await this.pfs?.unmount();
  }

  /** The same from an `exit` handler, synchronously. */
  cleanupNow(): void {
    killAllNow();
    this.pfs?.unmountNow();
  }
}

/** Copies a run's files and logs into a new directory `dir`; returns it. */
function keepRun(dir: string, survivors: string, acksFile: string, workloadOutput: string, checkLog: string, outcome: RunOutcome): string {
  fs.mkdirSync(dir, { recursive: false });
  if (fs.existsSync(survivors)) fs.cpSync(survivors, path.join(dir, 'files'), { recursive: true, verbatimSymlinks: true });
  else fs.mkdirSync(path.join(dir, 'files'));
  if (fs.existsSync(acksFile)) fs.copyFileSync(acksFile, path.join(dir, 'acks.jsonl'));
  fs.writeFileSync(path.join(dir, 'workload.log'), workloadOutput);
  if (fs.existsSync(checkLog)) fs.copyFileSync(checkLog, path.join(dir, 'check.log'));
  fs.writeFileSync(path.join(dir, 'run.json'), `${JSON.stringify(outcome, null, 1)}\n`);
  return dir;
}
