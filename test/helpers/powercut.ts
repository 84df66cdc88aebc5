/**
 * The power-cut harness: mounts powercut-fs (powercut/, through the shipped
 * bench/crashtest/simulator.ts), drives a workload process (test/fixtures/powercut/worker.cjs)
 * on it, cuts the power at a random point of the running workload, reboots, and checks an
 * invariant on what survived.
 *
 * The cut point is a count of filesystem operations, not a delay: the daemon fails the K-th
 * operation after `arm K` and every one after it. The daemon handles operations one at a time,
 * so every boundary between two of them is a possible cut point, and a seed replays a run
 * exactly, whatever the load on the machine.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import type { PowercutFs } from '../../dist/bench/crashtest/simulator.js';
import { mix } from './seeded.cjs';

// The simulator itself (building it, mounting it, its power switch) ships with the package for
// `hardsync crashtest`; the tests use that same code.
export { buildPowercut, PowercutFs, powercutUnavailable, type MountOptions, type PowercutStatus } from '../../dist/bench/crashtest/simulator.js';

const ROOT = path.resolve(__dirname, '..', '..');
const WORKER = path.join(ROOT, 'test', 'fixtures', 'powercut', 'worker.cjs');

/** Runs per scenario: HARDSYNC_POWERCUT_RUNS (thousands for a long campaign), else `fallback`. */
export function runsFromEnv(fallback: number): number {
  const value = Number(process.env.HARDSYNC_POWERCUT_RUNS ?? fallback);
  if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`HARDSYNC_POWERCUT_RUNS must be a positive integer, not ${process.env.HARDSYNC_POWERCUT_RUNS}`);
  return value;
}

/** Runs per negative control (which fail fast): HARDSYNC_POWERCUT_NEGATIVE_RUNS, else `fallback`. */
export function negativeRunsFromEnv(fallback: number): number {
  const value = Number(process.env.HARDSYNC_POWERCUT_NEGATIVE_RUNS ?? fallback);
  if (!Number.isSafeInteger(value) || value < 1) throw new RangeError('HARDSYNC_POWERCUT_NEGATIVE_RUNS must be a positive integer');
  return value;
}

/** The campaign seed: HARDSYNC_POWERCUT_SEED to replay one, else a fresh random one. */
export function seedFromEnv(): number {
  const given = process.env.HARDSYNC_POWERCUT_SEED;
  return given ? Number(given) >>> 0 : (Math.random() * 2 ** 32) >>> 0;
}

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
  op: unknown;
  /** A 'run' request's events as the worker streamed them (test/fixtures/powercut/worker.cjs). */
  events: WorkloadEvent[];
}

/** What {@link crashCampaign} drives: a workload process, or something that manages several. */
export interface Workload {
  request<T>(message: Record<string, unknown>, timeoutMs?: number): Promise<T>;
}

/** The long-lived workload process (one per campaign): JSON requests in, JSON replies out. */
export class WorkloadProcess implements Workload {
  private nextId = 1;
  private pending = new Map<number, Pending>();
  private stderr = '';

  private constructor(private readonly child: ChildProcess) {
    const lines = readline.createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      let reply: { id: number; ok: boolean; result?: unknown; error?: { code: string | null; message: string; stack?: string }; event?: WorkloadEvent };
      try {
        reply = JSON.parse(line);
      } catch {
        this.stderr += `(stdout) ${line}\n`;
        return;
      }
      const waiting = this.pending.get(reply.id);
      if (!waiting) return;
      if (reply.event) {
        waiting.events.push(reply.event);
        return;
      }
      this.pending.delete(reply.id);
      clearTimeout(waiting.timer);
      if (reply.ok) waiting.resolve(reply.result);
      else waiting.reject(Object.assign(new Error(reply.error?.stack ?? reply.error?.message ?? 'workload error'), { code: reply.error?.code }));
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString();
    });
    child.once('exit', (code, signal) => {
      for (const [, waiting] of this.pending) {
        clearTimeout(waiting.timer);
        const message = `workload process exited (${code ?? signal}): ${this.stderr}`;
        // A run whose process died (lmdb-js aborts on the I/O errors that follow a cut) still
        // reports what it acknowledged before: the events it streamed. crashCampaign then judges
        // the run as any other, and one that died before the cut as a failure.
        if (waiting.op === 'run') waiting.resolve({ steps: 0, events: waiting.events, error: { code: 'EXITED', message } });
        else waiting.reject(new Error(message));
      }
      this.pending.clear();
    });
  }

  static start(): WorkloadProcess {
    return new WorkloadProcess(spawn(process.execPath, [WORKER], { stdio: ['pipe', 'pipe', 'pipe'], cwd: os.tmpdir() }));
  }

  request<T>(message: Record<string, unknown>, timeoutMs = 30_000): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`workload did not answer ${JSON.stringify(message)} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject, timer, op: message.op, events: [] });
      this.child.stdin!.write(`${JSON.stringify({ id, ...message })}\n`);
    });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.kill('SIGKILL');
    await exited;
  }
}

/**
 * ['begin', x, ...] before an operation starts; ['done', x, ...] once it resolved; ['late', x, ...]
 * if it resolved only after the cut (workloads that watch the power switch; not an acknowledgement).
 */
export type WorkloadEvent = [kind: 'begin' | 'done' | 'late', ...rest: (string | number)[]];

interface RunReply {
  steps: number;
  events: WorkloadEvent[];
  error: { code: string | null; message: string } | null;
}

/** What a check sees of one run. */
export interface RunFacts<O> {
  events: WorkloadEvent[];
  observation: O;
  /** Secret-audit violations the daemon saw during this run (live or durable). */
  violations: string[];
}

export interface CampaignOptions<O> {
  /** A workload name of test/fixtures/powercut/workloads.cjs. */
  scenario: string;
  runs: number;
  seed: number;
  /** The invariant: a list of what is wrong with one run (empty: the run is fine). */
  check: (facts: RunFacts<O>) => string[];
  /** Parameters for the workload; a function gets the run's seed. */
  params?: (runSeed: number) => Record<string, unknown>;
  /** Before each run, with the run's parameters (e.g. to set the secret audit). */
  beforeRun?: (pfs: PowercutFs, params: Record<string, unknown>) => void;
  /** The cut point is drawn from the first `spanSteps` steps of the workload (default 4). */
  spanSteps?: number;
  /**
   * Consecutive runs on the same directory (default 1): the workload resumes after each
   * reboot, and each check sees the events of all the runs so far on that directory.
   */
  chain?: number;
}

export interface CampaignResult {
  scenario: string;
  seed: number;
  runs: number;
  /** Runs in which the invariant did not hold. */
  failedRuns: number;
  /** Runs in which at least one operation resolved before the cut. */
  runsWithAck: number;
  /** The first problems found, each with the run and its seed. */
  problems: string[];
  /** Filesystem operations a workload step takes (measured before the runs). */
  opsPerStep: number;
  /** Cut points drawn from 1..maxCutOps operations into the run. */
  maxCutOps: number;
  elapsedMs: number;
}


/**
 * Runs `runs` power cuts on one scenario: each run sets up a fresh directory, makes it durable,
 * arms a cut at a random operation, runs the workload until the cut stops it, reboots, has the
 * workload inspect what is left, and checks the invariant.
 */
export async function crashCampaign<O>(pfs: PowercutFs, worker: Workload, options: CampaignOptions<O>): Promise<CampaignResult> {
  const started = Date.now();
  const { scenario, runs, seed, check } = options;
  const spanSteps = options.spanSteps ?? 4;
  const paramsOf = (runSeed: number) => options.params?.(runSeed) ?? {};

  // How many operations a step takes, so the cut points cover the first steps evenly.
  const calibration = path.join(pfs.mountpoint, `${scenario}-calibration`);
  const calibrationParams = paramsOf(seed);
  pfs.audit(null);
  options.beforeRun?.(pfs, calibrationParams);
  await worker.request({ op: 'setup', scenario, dir: calibration, seed, params: calibrationParams });
  pfs.sync();
  const before = pfs.status().ops;
  const dry = await worker.request<RunReply>({ op: 'run', maxSteps: 10 });
  if (dry.error) throw new Error(`${scenario}: the workload fails without any power cut: ${dry.error.code} ${dry.error.message}`);
  const opsPerStep = (pfs.status().ops - before) / 10;
  await worker.request({ op: 'abandon' });
  fs.rmSync(calibration, { recursive: true, force: true });
  pfs.sync();
  const maxCutOps = Math.max(1, Math.round(opsPerStep * spanSteps));

  const chain = options.chain ?? 1;
  let failedRuns = 0;
  let runsWithAck = 0;
  const problems: string[] = [];
  let dir = '';
  let chainSeed = 0;
  let history: WorkloadEvent[] = [];
  for (let run = 0; run < runs; run++) {
    const runSeed = mix(seed, run);
    const cutAt = 1 + (mix(runSeed, 1) % maxCutOps);
    pfs.reset();
    pfs.audit(null);
    if (run % chain === 0) {
      chainSeed = runSeed;
      dir = path.join(pfs.mountpoint, `${scenario}-${run}`);
      history = [];
      const params = paramsOf(chainSeed);
      options.beforeRun?.(pfs, params);
      await worker.request({ op: 'setup', scenario, dir, seed: chainSeed, params });
      pfs.sync();
    } else {
      options.beforeRun?.(pfs, paramsOf(chainSeed));
    }
    pfs.arm(cutAt);
    const result = await worker.request<RunReply>({ op: 'run' });
    const status = pfs.status();
    pfs.reboot();
    history = history.concat(result.events);
    const found: string[] = [];
    if (status.state !== 'cut') {
      found.push(`the workload stopped before the cut: ${result.error?.code} ${result.error?.message}`);
    }
    const observation = await worker.request<O>({ op: 'inspect' });
    found.push(...check({ events: history, observation, violations: status.violations }));
    const after = pfs.status();
    if (after.backingErrors > 0 || after.unmodelled > 0) {
      found.push(`simulator: ${after.backingErrors} backing errors, ${after.unmodelled} unmodelled cases: ${pfs.log}`);
    }
    if (result.events.some((event) => event[0] === 'done')) runsWithAck++;
    if (found.length > 0) {
      failedRuns++;
      const where = chain > 1 ? `, link ${run % chain} of the chain from seed ${chainSeed}` : '';
      if (problems.length < 10) problems.push(`run ${run} (seed ${runSeed}${where}, cut at op ${cutAt}): ${found.join('; ')}`);
    }
    if (run % chain === chain - 1 || run === runs - 1) {
      fs.rmSync(dir, { recursive: true, force: true });
      pfs.sync();
    }
  }
  return { scenario, seed, runs, failedRuns, runsWithAck, problems, opsPerStep, maxCutOps, elapsedMs: Date.now() - started };
}

/** One line for the test log. */
export function describeCampaign(result: CampaignResult): string {
  return (
    `[powercut] ${result.scenario}: ${result.failedRuns}/${result.runs} runs broke the invariant ` +
    `(${result.runsWithAck} runs had acknowledged work before the cut; cut at op 1..${result.maxCutOps}, ` +
    `${result.opsPerStep.toFixed(1)} ops/step; seed ${result.seed}; ${result.elapsedMs} ms)`
  );
}

// ---------------------------------------------------------------------------------------------
// Invariants

function lastDone(events: WorkloadEvent[]): number {
  let last = 0;
  for (const event of events) if (event[0] === 'done') last = Math.max(last, Number(event[1]));
  return last;
}

function lastBegun(events: WorkloadEvent[]): number {
  let last = 0;
  for (const event of events) if (event[0] === 'begin') last = Math.max(last, Number(event[1]));
  return last;
}

/** What the atomic-replace workloads observe: the target file's version. */
export interface AtomicObservation {
  exists: boolean;
  version?: number | null;
  exact?: boolean;
  size?: number;
  leftovers: number;
}

/**
 * Atomic replace: the target holds exactly the old or exactly the new version, never missing,
 * empty or mixed; once a call resolved, at least its version (version 0 is the durable setup).
 */
export function checkAtomic({ events, observation: o }: RunFacts<AtomicObservation>): string[] {
  const done = lastDone(events);
  const begun = Math.max(done, lastBegun(events));
  if (!o.exists) return ['the target is missing'];
  if (o.version == null || !o.exact) return [`the target is not one intact version (${o.size} bytes, header v${o.version ?? '?'})`];
  if (o.version < done) return [`acknowledged version ${done} lost: the target holds v${o.version}`];
  if (o.version !== done && o.version !== begun) return [`the target holds v${o.version}, neither the old v${done} nor the new v${begun}`];
  return [];
}

/** What the append workloads observe: the intact lines, in order. */
export interface AppendObservation {
  lines: { version: number | null; exact: boolean }[];
  tailBytes: number;
}

/** Appends: every acknowledged append is there, intact and in order. */
export function checkAppend({ events, observation: o }: RunFacts<AppendObservation>): string[] {
  const done = lastDone(events);
  const begun = lastBegun(events);
  let intact = 0;
  while (intact < o.lines.length && o.lines[intact].exact && o.lines[intact].version === intact + 1) intact++;
  const problems: string[] = [];
  if (intact < done) problems.push(`acknowledged append ${done} lost: only ${intact} intact appends survived`);
  if (intact > begun) problems.push(`${intact} appends survived but only ${begun} were written`);
  return problems;
}

/** What the create workloads observe: the names in the directory. */
export interface CreateObservation {
  names: string[];
}

/** createDurable: every acknowledged file exists; nothing exists that was not created. */
export function checkCreate({ events, observation: o }: RunFacts<CreateObservation>): string[] {
  const names = new Set(o.names);
  const begun = new Set(events.filter((e) => e[0] === 'begin').map((e) => String(e[1])));
  const problems: string[] = [];
  const lost = events.filter((e) => e[0] === 'done' && !names.has(String(e[1]))).map((e) => e[1]);
  if (lost.length > 0) problems.push(`acknowledged files missing: ${lost.join(', ')}`);
  const strangers = o.names.filter((name) => !begun.has(name));
  if (strangers.length > 0) problems.push(`files nobody created: ${strangers.join(', ')}`);
  return problems;
}

/** What the log workloads observe: [lsn, seq, intact] per record, after recovery. */
export interface LogObservation {
  recoveryError?: string;
  records?: [lsn: number, seq: number | null, ok: boolean][];
  recovery?: unknown;
  iterError?: string | null;
  appendAfter?: number | null;
}

/**
 * A log: recovery never fails; every acknowledged append is there with its LSN and intact;
 * every record returned is one that was appended, once; LSNs are consecutive from 1; the
 * recovered log takes the next append at the next LSN.
 */
export function checkLog({ events, observation: o }: RunFacts<LogObservation>): string[] {
  if (o.recoveryError) return [`recovery failed: ${o.recoveryError}`];
  const problems: string[] = [];
  if (o.iterError) problems.push(`reading the recovered log failed: ${o.iterError}`);
  const records = o.records ?? [];
  const begun = new Set(events.filter((e) => e[0] === 'begin').map((e) => Number(e[1])));
  const lsnOfSeq = new Map<number, number>();
  records.forEach(([lsn, seq, ok], i) => {
    if (lsn !== i + 1) problems.push(`record ${i} has LSN ${lsn}, expected ${i + 1}`);
    if (seq == null || !ok) problems.push(`record LSN ${lsn} is not an intact appended record`);
    else if (!begun.has(seq)) problems.push(`record LSN ${lsn} (seq ${seq}) was never appended`);
    else if (lsnOfSeq.has(seq)) problems.push(`seq ${seq} returned twice`);
    else lsnOfSeq.set(seq, lsn);
  });
  const lost: string[] = [];
  for (const event of events) {
    if (event[0] !== 'done') continue;
    const seq = Number(event[1]);
    const lsn = Number(event[2]);
    const found = lsnOfSeq.get(seq);
    if (found === undefined) lost.push(`seq ${seq} (LSN ${lsn})`);
    else if (found !== lsn) problems.push(`seq ${seq} was acknowledged as LSN ${lsn} but recovered as LSN ${found}`);
  }
  if (lost.length > 0) problems.push(`acknowledged records lost: ${lost.slice(0, 5).join(', ')}${lost.length > 5 ? ` and ${lost.length - 5} more` : ''}`);
  if (o.appendAfter != null && o.appendAfter !== records.length + 1) {
    problems.push(`after recovery the next append got LSN ${o.appendAfter}, expected ${records.length + 1}`);
  }
  return problems;
}

/** What the secret workloads observe: every file of the directory. */
export interface SecretObservation {
  files: { name: string; mode: number; secret: boolean; exact: boolean }[];
}

/**
 * writeFileSecret: at no point (live or durable, as audited by the daemon) and in no file left
 * after the cut are the secret's bytes readable by group or others; an acknowledged write is
 * there, exact.
 */
export function checkSecret({ events, observation: o, violations }: RunFacts<SecretObservation>): string[] {
  const problems = violations.map((v) => `secret readable by others: ${v}`);
  for (const file of o.files) {
    if (file.secret && (file.mode & 0o044) !== 0) problems.push(`${file.name} holds the secret with mode ${file.mode.toString(8)}`);
  }
  const byName = new Map(o.files.map((f) => [f.name, f]));
  for (const event of events) {
    if (event[0] !== 'done') continue;
    const file = byName.get(String(event[1]));
    if (!file || !file.exact) problems.push(`acknowledged secret ${event[1]} (write ${event[2]}) ${file ? 'is not intact' : 'is missing'}`);
  }
  return [...new Set(problems)];
}
