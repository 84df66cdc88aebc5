/**
 * Plans and runs a benchmark suite: the cases (method x mode x size x writes-per-sync), run
 * in interleaved rounds so that a drifting machine affects every case alike, each round in a
 * scratch directory that is removed afterwards.
 * @module
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { constants, type Capabilities } from '../../lib/index';
import type { NativeBenchResult, NativeBenchSpec } from '../../lib/native';
import { durableOn, layoutOf, methodLabel, sizeReason, syscallsOf, unsupportedReason, type MethodDef, type Mode, METHODS } from './methods';
import { BenchFlushCode, BenchPlacementCode, BenchSequenceCode, runJsLoop, runNativeLoop } from './native-loop';
import { ConditionsAccumulator, likelyCauses, snapshot, type OwnWork } from './conditions';
import { formatLatency, formatSize, formatUs } from './report';
import type { BenchEnv, BenchResult, BenchWarning, CaseEstimates, Estimate, RunStability } from './schema';
import { cdfPoints, concatSamples, percentile, round3, roundsInterval, summarize } from './stats';

/** One case of a suite. */
export interface BenchCase {
  method: MethodDef;
  mode: Mode;
  size: number;
  writesPerSync: number;
}

/** Where a run stands, for a progress bar. */
export interface Progress {
  /** Rounds of cases done, and planned (planned grows when --until-stable adds rounds). */
  done: number;
  total: number;
  /** The case about to run, as the table names it ("write+fdatasync overwrite 8k"). */
  what: string;
  /** Seconds since the suite started. */
  elapsedSeconds: number;
  /** Estimated seconds left (null before the first round ends). */
  etaSeconds: number | null;
  /** Rounds added by --until-stable so far. */
  extraRounds: number;
}

/** How a suite runs. */
export interface RunOptions {
  /** The scratch directory (created by the caller, removed by the caller). */
  scratch: string;
  /** Seconds per case, split over the rounds. */
  seconds: number;
  /** Rounds per case, interleaved (at least 2: an interval needs two). */
  rounds: number;
  threads: number;
  /** Run the loop in JavaScript through the public API instead of natively. */
  js: boolean;
  /** Samples kept per case and round (memory bound: 8 bytes each). */
  maxSamplesPerRound: number;
  caps: Capabilities;
  /** The block device behind the scratch directory (/proc/diskstats name), or null. */
  device: string | null;
  /**
   * --until-stable: after the planned rounds, keep adding a round to each unstable case
   * until none is left or this time (Date.now() milliseconds) has passed.
   */
  untilStableDeadline?: number | null;
  /** Called before each round of a case runs (progress). */
  onProgress?: (progress: Progress) => void;
  /**
   * Called with a case's result as soon as its last planned round ends (without
   * --until-stable; with it, once the extra rounds are done), so a report can print it then.
   */
  onCaseDone?: (index: number, result: BenchResult) => void;
  /**
   * The timed loop of one round (default: the native loop, or the JavaScript one for --js and
   * node:fs baselines). Tests give a synthetic one to drive the rounds and the stability logic.
   */
  loop?: (spec: NativeBenchSpec, c: BenchCase) => Promise<NativeBenchResult>;
}

/** What a suite measured: a result per case and the run's stability summary. */
export interface SuiteOutcome {
  results: BenchResult[];
  stability: RunStability;
}

/** A case whose interval's half-width is above this percentage of its figure is unstable. */
export const UNSTABLE_HALF_WIDTH_PCT = 10;
/** ... and so is one whose rounds' ops/s differ by more than this factor. */
export const UNSTABLE_ROUNDS_RATIO = 1.5;
/** --until-stable gives no case more rounds than this. */
export const MAX_ROUNDS = 200;

/** Default per-round sample cap: 128 Ki latencies = 1 MiB per case and round. */
export const DEFAULT_MAX_SAMPLES_PER_ROUND = 131_072;

/** The smallest overwrite region: several operations wide, so offsets move like a WAL's. */
const MIN_REGION = 4 << 20;
/** An appending file is truncated back to 0 (not timed) when it reaches this size. */
const APPEND_LIMIT = 64 << 20;

/** Builds the native spec of a case in `dir` for one round. */
export function specOf(c: BenchCase, dir: string, options: Pick<RunOptions, 'seconds' | 'rounds' | 'threads' | 'maxSamplesPerRound' | 'caps'>): NativeBenchSpec {
  const layout = layoutOf(c.method, c.mode);
  const threads = c.method.nodeFs ? 1 : options.threads;
  const opBytes = c.size * c.writesPerSync;
  let sfr = 0;
  for (const name of c.method.syncFileRange ?? []) sfr |= constants[name];
  const dio = options.caps.dioAlignment;
  return {
    files: Array.from({ length: threads }, (_, i) => path.join(dir, `t${i}`)),
    directory: dir,
    sequence: layout.sequence,
    flush: c.method.flush,
    placement: layout.placement,
    dsync: c.method.dsync === true,
    sync: c.method.sync === true,
    direct: c.method.direct === true,
    fsyncDirectory: layout.fsyncDirectory,
    syncFileRangeFlags: sfr,
    size: c.size,
    writesPerOp: c.writesPerSync,
    alignment: Math.max(4096, dio?.memory ?? 0),
    regionBytes: c.mode === 'append' ? Math.max(APPEND_LIMIT, opBytes) : Math.max(MIN_REGION, 2 * opBytes),
    prefillBytes: 0,
    seconds: options.seconds / options.rounds,
    maxSamples: options.maxSamplesPerRound * threads,
  };
}

/** The fields that name a result row: what ran, how, and with which syscalls. */
function caseIdentity(c: BenchCase, caps: Capabilities, threads: number, js: boolean) {
  return {
    method: c.method.id,
    label: methodLabel(c.method, caps),
    mode: c.method.sequence ? ('new' as const) : c.mode,
    size: c.size,
    writesPerSync: c.writesPerSync,
    threads,
    runner: js || c.method.nodeFs ? ('js' as const) : ('native' as const),
    durable: durableOn(c.method, caps),
    durablePortable: c.method.durable,
    syscalls: syscallsOf(c.method, c.mode, c.size, c.writesPerSync, caps),
  };
}

/** A result row for a case that cannot run here. */
function naResult(c: BenchCase, caps: Capabilities, reason: string, threads: number, js: boolean): BenchResult {
  return {
    ...caseIdentity(c, caps, threads, js),
    supported: false,
    reason,
    ops: null,
    opsPerSec: null,
    usPerOp: null,
    latencyUs: null,
    mbPerSec: null,
  };
}

/** One round of one case. */
interface Round {
  ops: number;
  busyNs: number;
  samples: Float64Array;
}

/** Everything measured of one case so far. */
interface CaseState {
  rounds: Round[];
  /** Whether the case is unstable with the rounds it has (null: not computed since the last round). */
  unstable: boolean | null;
  conditions: ConditionsAccumulator;
  reason: string | null;
}

/** The figures of a round, as the intervals use them. */
function roundFigures(round: Round): { opsPerSec: number; p50: number; p99: number } {
  return {
    opsPerSec: round.ops / (round.busyNs / 1e9),
    p50: percentile(round.samples, 50) / 1000,
    p99: percentile(round.samples, 99) / 1000,
  };
}

/**
 * ops/s, p50 and p99 with their intervals, from the rounds of a case. `measured` (the fastest
 * and slowest operation in microseconds, and the fewest samples of one round) bounds the
 * percentiles' intervals and says whether the rounds had enough operations for them.
 */
export function estimatesOf(
  pooled: { opsPerSec: number; p50: number; p99: number },
  rounds: readonly { opsPerSec: number; p50: number; p99: number }[],
  measured?: { min: number; max: number; fewestSamples: number },
): CaseEstimates {
  const one = (key: 'opsPerSec' | 'p50' | 'p99'): Estimate => {
    const percentileOf = key !== 'opsPerSec' && measured !== undefined;
    const e = roundsInterval(pooled[key], rounds.map((r) => r[key]), percentileOf ? measured : undefined);
    return {
      value: round3(e.value), low: round3(e.low), high: round3(e.high), halfWidthPct: Math.round(e.halfWidthPct * 10) / 10, rounds: e.rounds.map(round3),
      ...(percentileOf ? { fewestSamples: measured.fewestSamples } : {}),
    };
  };
  return { opsPerSec: one('opsPerSec'), p50: one('p50'), p99: one('p99') };
}

/** Why a case's figures are not to be trusted (empty: stable). */
export function instability(estimates: CaseEstimates): string[] {
  const reasons: string[] = [];
  const names = { opsPerSec: 'ops/s', p50: 'p50', p99: 'p99' } as const;
  for (const key of ['opsPerSec', 'p50', 'p99'] as const) {
    const e = estimates[key];
    const interval = key === 'opsPerSec' ? `${formatRate(e.low)}-${formatRate(e.high)} ops/s` : `${formatLatency(e.low, true)}-${formatLatency(e.high, true)}`;
    if (e.halfWidthPct > UNSTABLE_HALF_WIDTH_PCT) reasons.push(`${names[key]} interval ${interval} reaches more than ${UNSTABLE_HALF_WIDTH_PCT}% from the figure`);
  }
  const ops = estimates.opsPerSec.rounds;
  const spread = Math.max(...ops) / Math.min(...ops);
  if (spread > UNSTABLE_ROUNDS_RATIO) reasons.push(`rounds disagree: ops/s from ${formatRate(Math.min(...ops))} to ${formatRate(Math.max(...ops))} (${spread.toFixed(1)}x)`);
  return reasons;
}

function formatRate(value: number): string {
  return value >= 100 ? value.toFixed(0) : value.toPrecision(3);
}

/** The table's name of a case: "write+fdatasync overwrite 8k" (with "x8" for 8 writes per flush). */
export function caseName(c: { label: string; mode: string; size: number; writesPerSync: number }): string {
  return `${c.label} ${c.mode} ${formatSize(c.size)}${c.writesPerSync > 1 ? ` x${c.writesPerSync}` : ''}`;
}

/**
 * Bytes and flushes one round of a case sends to the device (for the other-I/O estimate): the
 * region written and flushed before timing, and the operations' data when each operation
 * makes it reach the device (a flush, a synchronous or direct open, sync_file_range's
 * writeback). A page-cache write's data does not: the round's files are removed before
 * writeback would send it.
 */
function ownWork(c: BenchCase, spec: NativeBenchSpec, ops: number): OwnWork {
  const opBytes = c.size * c.writesPerSync;
  const prefilled = spec.sequence === BenchSequenceCode.plain || spec.sequence === BenchSequenceCode.mapped;
  const prefill = spec.placement === BenchPlacementCode.overwrite && prefilled ? Math.max(spec.regionBytes, spec.prefillBytes) * spec.files.length : 0;
  const m = c.method;
  const reachesDevice = m.flush !== BenchFlushCode.none || m.nodeFs !== undefined || m.dsync || m.sync || m.direct || m.mapped || (m.syncFileRange?.length ?? 0) > 0;
  const flushesPerOp = (c.method.flush !== BenchFlushCode.none || c.method.nodeFs || c.method.mapped ? 1 : 0) + (c.method.dsync || c.method.sync ? c.writesPerSync : 0) + (c.method.sequence ? 1 : 0);
  return { writeBytes: (reachesDevice ? ops * opBytes : 0) + prefill, flushes: ops * flushesPerOp };
}

/**
 * Runs the cases in interleaved rounds (round 1 of every case, then round 2, ...), so that a
 * machine that drifts during the run affects every case alike; then, with
 * `untilStableDeadline`, more rounds of the unstable cases. Returns one result per case, in
 * case order, and the run's stability summary.
 */
export async function runSuite(cases: readonly BenchCase[], options: RunOptions): Promise<SuiteOutcome> {
  const { caps } = options;
  if (!Number.isInteger(options.rounds) || options.rounds < 2) throw new RangeError(`rounds must be an integer of at least 2, got ${options.rounds}`);
  const states: CaseState[] = cases.map((c) => ({
    rounds: [],
    unstable: null,
    conditions: new ConditionsAccumulator(options.device),
    reason: unsupportedReason(c.method, caps) ?? sizeReason(c.method, c.size, caps),
  }));
  const started = Date.now();
  const whole = new ConditionsAccumulator(options.device);
  let total = cases.length * options.rounds;
  let done = 0;
  let extraRounds = 0;
  const report = (i: number): void => {
    const elapsed = (Date.now() - started) / 1000;
    options.onProgress?.({
      done, total, what: caseName({ ...cases[i], label: methodLabel(cases[i].method, caps) }), elapsedSeconds: elapsed,
      etaSeconds: done > 0 ? (elapsed / done) * (total - done) : null, extraRounds,
    });
  };
  const runRound = async (i: number): Promise<void> => {
    const c = cases[i];
    const state = states[i];
    report(i);
    done++;
    if (state.reason !== null) return;
    const dir = path.join(options.scratch, `c${i}-${crypto.randomBytes(3).toString('hex')}`);
    fs.mkdirSync(dir);
    try {
      const spec = specOf(c, dir, options);
      const before = snapshot(options.device);
      const outcome = await (options.loop ?? defaultLoop(options.js))(spec, c);
      const after = snapshot(options.device);
      const own = ownWork(c, spec, outcome.ops);
      state.conditions.add(before, after, own);
      whole.add(before, after, own);
      if (outcome.samplesNs.length > 0) state.rounds.push({ ops: outcome.ops, busyNs: outcome.busyNs, samples: outcome.samplesNs.sort() });
      state.unstable = null;
    } catch (error) {
      const e = error as NodeJS.ErrnoException;
      // A filesystem that refuses a call (EINVAL for O_DIRECT, ENOTSUP, ...) makes the
      // method n/a here; anything else (EIO, ENOSPC) is a real failure and stops the run.
      if (['EINVAL', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'ERR_HARDSYNC_UNSUPPORTED'].includes(e.code ?? '')) {
        state.reason = `${e.message}`;
        state.rounds = [];
      } else {
        throw error;
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  };
  const deadline = options.untilStableDeadline ?? null;
  for (let round = 0; round < options.rounds; round++) {
    for (let i = 0; i < cases.length; i++) {
      await runRound(i);
      if (round === options.rounds - 1 && deadline === null) options.onCaseDone?.(i, resultOf(cases[i], states[i], options));
    }
  }
  const unstableNow = (): number[] => states.flatMap((state, i) => {
    if (state.reason !== null || state.rounds.length < 2 || state.rounds.length >= MAX_ROUNDS) return [];
    state.unstable ??= instability(estimatesOf(pooledFigures(state.rounds), state.rounds.map(roundFigures))).length > 0;
    return state.unstable ? [i] : [];
  });
  let budgetSpent = false;
  if (deadline !== null) {
    for (let pending = unstableNow(); pending.length > 0; pending = unstableNow()) {
      total += pending.length;
      for (const i of pending) {
        if (Date.now() >= deadline) {
          budgetSpent = true;
          break;
        }
        extraRounds++;
        await runRound(i);
      }
      if (budgetSpent) break;
    }
  }
  options.onProgress?.({ done: total, total, what: 'done', elapsedSeconds: (Date.now() - started) / 1000, etaSeconds: 0, extraRounds });
  const results = cases.map((c, i) => resultOf(c, states[i], options));
  if (deadline !== null) results.forEach((r, i) => options.onCaseDone?.(i, r));
  const stillUnstable = results.filter((r) => r.stability?.unstable).map((r) => caseName(r));
  const conditions = whole.result();
  return {
    results,
    stability: {
      limitPct: UNSTABLE_HALF_WIDTH_PCT,
      roundsRatioLimit: UNSTABLE_ROUNDS_RATIO,
      cases: results.filter((r) => r.supported).length,
      unstableCases: stillUnstable.length,
      causes: likelyCauses(conditions),
      conditions,
      untilStable: deadline === null ? null : { addedRounds: extraRounds, stillUnstable, budgetSpent },
    },
  };
}

function defaultLoop(js: boolean): (spec: NativeBenchSpec, c: BenchCase) => Promise<NativeBenchResult> {
  return (spec, c) => (c.method.nodeFs || js ? runJsLoop({ ...spec, files: spec.files.slice(0, 1) }, c.method.nodeFs) : runNativeLoop(spec));
}

/** The pooled figures of all rounds: all operations over all their time; percentiles of all samples. */
function pooledFigures(rounds: readonly Round[]): { opsPerSec: number; p50: number; p99: number; samples: Float64Array; ops: number; busyNs: number } {
  const samples = concatSamples(rounds.map((r) => r.samples)).sort();
  const ops = rounds.reduce((a, r) => a + r.ops, 0);
  const busyNs = rounds.reduce((a, r) => a + r.busyNs, 0);
  return { opsPerSec: ops / (busyNs / 1e9), p50: percentile(samples, 50) / 1000, p99: percentile(samples, 99) / 1000, samples, ops, busyNs };
}

/** The result row of a case from what its rounds measured. */
function resultOf(c: BenchCase, state: CaseState, options: RunOptions): BenchResult {
  const { caps } = options;
  const threads = c.method.nodeFs || options.js ? 1 : options.threads;
  if (state.reason !== null || state.rounds.length === 0) return naResult(c, caps, state.reason ?? 'no operation completed', threads, options.js);
  const pooled = pooledFigures(state.rounds);
  // Like pg_test_fsync: ops/s from the time the operations took; with threads, the
  // busiest thread's time (they ran concurrently).
  const latency = summarize(pooled.samples);
  const bytes = pooled.ops * c.size * c.writesPerSync;
  const measured = { min: latency.min, max: latency.max, fewestSamples: Math.min(...state.rounds.map((r) => r.samples.length)) };
  const estimates = state.rounds.length >= 2 ? estimatesOf(pooled, state.rounds.map(roundFigures), measured) : undefined;
  const reasons = estimates ? instability(estimates) : ['one round only: no interval'];
  return {
    ...caseIdentity(c, caps, threads, Boolean(options.js)),
    supported: true,
    ops: pooled.ops,
    opsPerSec: round3(pooled.opsPerSec),
    usPerOp: round3(1e6 / pooled.opsPerSec),
    latencyUs: {
      min: round3(latency.min), p50: round3(latency.p50), p90: round3(latency.p90), p99: round3(latency.p99),
      p999: round3(latency.p999), max: round3(latency.max), mean: round3(latency.mean), stddev: round3(latency.stddev),
    },
    mbPerSec: round3(bytes / (pooled.busyNs / 1e9) / 1e6),
    cdf: cdfPoints(pooled.samples),
    rounds: state.rounds.length,
    ...(estimates ? { estimates } : {}),
    stability: { unstable: reasons.length > 0, reasons, conditions: state.conditions.result() },
  };
}

/** Options that pick the cases. */
export interface SuiteChoice {
  methods?: string[];
  sizes?: number[];
  modes?: Mode[];
  writesPerSync?: number[];
}

function pushCase(cases: BenchCase[], seen: Set<string>, c: BenchCase): void {
  if (c.writesPerSync > 1 && !c.method.amortizable) return;
  const mode = c.method.sequence ? 'new' : c.method.mapped ? 'overwrite' : c.mode;
  const key = `${c.method.id}/${mode}/${c.size}/${c.writesPerSync}`;
  if (seen.has(key)) return;
  seen.add(key);
  cases.push({ ...c, mode });
}

/**
 * The cases of a run. With no choice: the default suite (every method at 8 KiB overwrite;
 * the main flushes across sizes; append and new-file for the main flushes; an amortized
 * 8-writes-per-flush row). Any choice given: the full cross product of what was chosen,
 * defaults filling the rest.
 */
export function planSuite(choice: SuiteChoice): BenchCase[] {
  const cases: BenchCase[] = [];
  const seen = new Set<string>();
  const byId = (id: string): MethodDef => METHODS.find((m) => m.id === id) as MethodDef;
  const custom = choice.methods || choice.sizes || choice.modes || choice.writesPerSync;
  if (custom) {
    const methods = (choice.methods ?? METHODS.map((m) => m.id)).map(byId);
    for (const size of choice.sizes ?? [8192]) {
      for (const mode of choice.modes ?? ['overwrite']) {
        for (const method of methods) {
          for (const writesPerSync of choice.writesPerSync ?? [1]) pushCase(cases, seen, { method, mode, size, writesPerSync });
        }
      }
    }
    return cases;
  }
  for (const method of METHODS) pushCase(cases, seen, { method, mode: 'overwrite', size: 8192, writesPerSync: 1 });
  for (const size of [512, 4096, 65536, 1 << 20]) {
    for (const id of ['write', 'fdatasync', 'fsync', 'dsync', 'direct-dsync']) pushCase(cases, seen, { method: byId(id), mode: 'overwrite', size, writesPerSync: 1 });
  }
  for (const mode of ['append', 'new'] as Mode[]) {
    for (const id of ['write', 'fdatasync', 'fsync']) pushCase(cases, seen, { method: byId(id), mode, size: 8192, writesPerSync: 1 });
  }
  for (const id of ['fdatasync', 'fsync']) pushCase(cases, seen, { method: byId(id), mode: 'overwrite', size: 8192, writesPerSync: 8 });
  return cases;
}

/**
 * Warnings about figures that cannot be what they claim: a "durable" flush faster than the
 * device can make data durable means a volatile cache (the device's, a RAID controller's, or
 * a VM host's page cache) absorbed it, unless the device has power-loss protection.
 */
export function plausibilityWarnings(results: readonly BenchResult[], env: BenchEnv): BenchWarning[] {
  const cache = env.device.writeCache;
  const rotational = env.device.rotational === true;
  const limitUs = rotational ? 2000 : 100;
  const suspects: { r: BenchResult; nearBaseline: boolean }[] = [];
  const seen = new Set<string>();
  for (const r of results) {
    if (!r.supported || !r.durable || !r.latencyUs || r.size > 65536 || seen.has(r.method)) continue;
    const baseline = results.find((b) => b.method === 'write' && b.mode === r.mode && b.size === r.size && b.supported);
    const nearBaseline = baseline?.latencyUs !== undefined && baseline.latencyUs !== null && r.latencyUs.p50 < 5 * baseline.latencyUs.p50;
    if (r.latencyUs.p50 >= limitUs && !nearBaseline) continue;
    seen.add(r.method);
    suspects.push({ r, nearBaseline });
  }
  if (suspects.length === 0) return [];
  const device = env.device.name ? `${env.device.name}${env.device.model ? ` (${env.device.model})` : ''}` : 'the device';
  const figures = suspects.map(({ r }) => `${r.label} p50 ${formatUs(r.latencyUs?.p50 ?? 0)} us at ${formatSize(r.size)}`).join("; ");
  let why: string;
  if (suspects.some((s) => s.nearBaseline)) {
    why = 'some are within 5x of a plain page-cache write, so nothing reached a device.';
  } else if (rotational) {
    why = `the kernel reports ${device} as rotational, and a rotating disk needs milliseconds per durable write (one revolution at 7200 rpm is 8.3 ms). (Virtual disks often report "rotational" whatever backs them.)`;
  } else {
    why = 'an SSD without power-loss protection needs hundreds of microseconds or more to commit a flush to flash.';
  }
  const cacheNote = cache === 'write back'
    ? ` The kernel reports ${device}'s cache as "write back", so it does send flushes: something below the OS acknowledges them early (a VM host's cache in virtio cache=writeback/unsafe mode, a RAID controller cache, a drive that ignores FLUSH), unless the device has power-loss protection.`
    : cache === 'write through'
      ? ` The kernel reports ${device}'s cache as "write through", so it sends NO flush to the device: if the device really has a volatile cache, acknowledged data can be lost.`
      : '';
  return [{
    method: suspects.map(({ r }) => r.method).join(','),
    mode: suspects[0].r.mode,
    size: suspects[0].r.size,
    message: `durable writes implausibly fast for the device: ${figures}. Why: ${why}${cacheNote} These figures may only mean "accepted by a volatile cache". To know, run a power-cut test: \`hardsync powercheck\` does one with a second machine as witness (README: "Does your disk keep its promise?"): acknowledge writes in a loop, cut the power (not a reboot), and check that every acknowledged write survived.`,
  }];
}
