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
import type { NativeBenchSpec } from '../../lib/native';
import { layoutOf, methodLabel, sizeReason, syscallsOf, unsupportedReason, type MethodDef, type Mode, METHODS } from './methods';
import { runJsLoop, runNativeLoop } from './native-loop';
import type { BenchEnv, BenchResult, BenchWarning } from './schema';
import { cdfPoints, concatSamples, round3, summarize } from './stats';

/** One case of a suite. */
export interface BenchCase {
  method: MethodDef;
  mode: Mode;
  size: number;
  writesPerSync: number;
}

/** How a suite runs. */
export interface RunOptions {
  /** The scratch directory (created by the caller, removed by the caller). */
  scratch: string;
  /** Seconds per case, split over the rounds. */
  seconds: number;
  rounds: number;
  threads: number;
  /** Run the loop in JavaScript through the public API instead of natively. */
  js: boolean;
  /** Samples kept per case and round (memory bound: 8 bytes each). */
  maxSamplesPerRound: number;
  caps: Capabilities;
  /** Called before each case runs (progress). */
  onProgress?: (done: number, total: number, what: string) => void;
}

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
    durable: c.method.durable,
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

/** Runs the cases and returns one result per case, in case order. */
export async function runSuite(cases: readonly BenchCase[], options: RunOptions): Promise<BenchResult[]> {
  const { caps } = options;
  const parts: Float64Array[][] = cases.map(() => []);
  const busy: number[][] = cases.map(() => []);
  const reasons: (string | null)[] = cases.map((c) => unsupportedReason(c.method, caps) ?? sizeReason(c.method, c.size, caps));
  const total = cases.length * options.rounds;
  let done = 0;
  for (let round = 0; round < options.rounds; round++) {
    for (let i = 0; i < cases.length; i++) {
      const c = cases[i];
      options.onProgress?.(done++, total, `${c.method.id} ${c.mode} ${c.size} B`);
      if (reasons[i] !== null) continue;
      const dir = path.join(options.scratch, `c${i}-${crypto.randomBytes(3).toString('hex')}`);
      fs.mkdirSync(dir);
      try {
        const spec = specOf(c, dir, options);
        const outcome = c.method.nodeFs || options.js ? await runJsLoop({ ...spec, files: spec.files.slice(0, 1) }, c.method.nodeFs) : await runNativeLoop(spec);
        parts[i].push(outcome.samplesNs);
        busy[i].push(outcome.busyNs);
      } catch (error) {
        const e = error as NodeJS.ErrnoException;
        // A filesystem that refuses a call (EINVAL for O_DIRECT, ENOTSUP, ...) makes the
        // method n/a here; anything else (EIO, ENOSPC) is a real failure and stops the run.
        if (['EINVAL', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'ERR_HARDSYNC_UNSUPPORTED'].includes(e.code ?? '')) {
          reasons[i] = `${e.message}`;
        } else {
          throw error;
        }
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }
  }
  options.onProgress?.(total, total, 'done');
  return cases.map((c, i) => {
    const threads = c.method.nodeFs || options.js ? 1 : options.threads;
    if (reasons[i] !== null) return naResult(c, caps, reasons[i] as string, threads, options.js);
    const samples = concatSamples(parts[i]).sort();
    parts[i] = [];
    const ops = samples.length;
    // Like pg_test_fsync: ops/s from the time the operations took; with threads, the
    // busiest thread's time (they ran concurrently).
    const busyNs = busy[i].reduce((a, b) => a + b, 0);
    const opsPerSec = ops / (busyNs / 1e9);
    const latency = summarize(samples);
    const bytes = ops * c.size * c.writesPerSync;
    return {
      ...caseIdentity(c, caps, threads, Boolean(options.js)),
      supported: true,
      ops,
      opsPerSec: round3(opsPerSec),
      usPerOp: round3(1e6 / opsPerSec),
      latencyUs: {
        min: round3(latency.min), p50: round3(latency.p50), p90: round3(latency.p90), p99: round3(latency.p99),
        p999: round3(latency.p999), max: round3(latency.max), mean: round3(latency.mean), stddev: round3(latency.stddev),
      },
      mbPerSec: round3(bytes / (busyNs / 1e9) / 1e6),
      cdf: cdfPoints(samples),
    };
  });
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
  const mode = c.method.sequence ? 'new' : c.mode;
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
  const figures = suspects.map(({ r }) => `${r.label} p50 ${r.latencyUs?.p50} us at ${r.size} B`).join('; ');
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
