/**
 * `hardsync check`: the disk check etcd documents (its "fio" recipe: sequential 2300-byte
 * writes to a preallocated file, fdatasync after each, 22 MiB in all) and etcd's rule: the
 * 99th percentile of fdatasync must stay under 10 ms. The recipe runs in rounds (each a
 * preallocated file of its share of the 22 MiB), so the p99 comes with a 95% interval; the
 * answer is PASS or FAIL only when the whole interval is on one side of the threshold, and
 * UNCERTAIN when it straddles it: then the check keeps sampling, more rounds of the same
 * recipe, until the answer is clear or its time budget is spent.
 * @module
 */
import path from 'node:path';
import type { Capabilities } from '../../lib/index';
import { BenchFlushCode, BenchPlacementCode, BenchSequenceCode, runNativeLoop } from './native-loop';
import type { BenchFile, BenchResult, CheckVerdict } from './schema';
import { UsageError } from './schema';
import { cdfPoints, concatSamples, percentile, round3, roundsInterval, summarize } from './stats';
import { isMemoryFilesystem } from './env';
import { formatUs, wrapText } from './report';

/** etcd's write size: a typical WAL entry. */
export const ETCD_BLOCK = 2300;
/** etcd's total: 22 MiB. */
export const ETCD_BYTES = 22 * 1024 * 1024;
/** etcd's threshold for the fdatasync p99, in milliseconds. */
export const ETCD_THRESHOLD_MS = 10;
/** The recipe's 22 MiB is measured in this many rounds. */
export const CHECK_ROUNDS = 10;
/** Default time budget of a check, seconds. */
export const CHECK_MAX_DURATION = 120;

/** How a check runs. */
export interface CheckOptions {
  thresholdMs: number;
  /** Seconds the whole check may take, extra rounds included. */
  maxDurationSeconds: number;
  /** Called after each round. */
  onProgress?: (round: number, verdict: CheckVerdict | null, elapsedSeconds: number) => void;
}

/** A check's verdict: p99 of write+fdatasync and its 95% interval against the threshold. */
export interface CheckJudgement {
  verdict: CheckVerdict;
  p99Us: number;
  /** The interval (null: a hardsync-bench/1 result, judged on its point figure). */
  lowUs: number | null;
  highUs: number | null;
}

/** Judges a p99 interval: PASS when all of it is under the threshold, FAIL when none of it is. */
export function judge(p99Us: number, lowUs: number | null, highUs: number | null, thresholdMs: number): CheckJudgement {
  const limit = thresholdMs * 1000;
  if (lowUs === null || highUs === null) return { verdict: p99Us < limit ? 'PASS' : 'FAIL', p99Us, lowUs, highUs };
  const verdict: CheckVerdict = highUs < limit ? 'PASS' : lowUs >= limit ? 'FAIL' : 'UNCERTAIN';
  return { verdict, p99Us, lowUs, highUs };
}

/** The verdict of a check result row (version 2: from its interval; version 1: its point figure). */
export function verdict(result: BenchResult, thresholdMs: number): CheckJudgement {
  if (!result.latencyUs) throw new UsageError('the check result has no latency figures');
  const e = result.estimates?.p99;
  return judge(result.latencyUs.p99, e ? e.low : null, e ? e.high : null, thresholdMs);
}

/**
 * Why a check's figures say nothing about a disk, or null: the directory is on a memory
 * filesystem (tmpfs, ramfs), or the flush it timed is not durable on the OS where it ran (the
 * row's `durable`, from capabilities()). Then no verdict may be PASS.
 */
export function notDurableReason(doc: Pick<BenchFile, 'env' | 'results'>): string | null {
  const fsType = doc.env.filesystem?.type ?? null;
  if (isMemoryFilesystem(fsType)) {
    return `${doc.env.directory} is on ${fsType}, a filesystem in memory: nothing written there survives power loss, and its flush waits for no device, so no time measured there says anything about a disk. Run the check in a directory on the disk etcd will use.`;
  }
  const r = doc.results[0];
  if (r && r.durable === false) {
    return `the flush this check times (${r.syscalls[r.syscalls.length - 1] ?? 'fdatasync'}) is not durable on ${doc.env.os?.type ?? 'this OS'} (capabilities()): it may return before the data is on stable storage, so its time says nothing about a durable write.`;
  }
  return null;
}

/** The caveat a PASS carries when the run's flushes were implausibly fast for a device, or null. */
export function passCaveat(doc: Pick<BenchFile, 'warnings'>): string | null {
  if (!(doc.warnings ?? []).some((w) => /implausibly fast/.test(w.message))) return null;
  return 'these flushes are faster than a device can make data durable: a volatile cache (the drive\'s, a RAID controller\'s or a VM host\'s) may be acknowledging them, and etcd\'s rule says nothing about whether they survive a power cut. Only a power cut tells: run hardsync powercheck (README: "Does your disk keep its promise?").';
}

/**
 * The check's final judgement of a result file: NOT-DURABLE when {@link notDurableReason}
 * says so, else {@link verdict}.
 */
export function judgeCheck(doc: Pick<BenchFile, 'env' | 'results'>, thresholdMs: number): CheckJudgement & { notDurable: string | null } {
  const judged = verdict(doc.results[0], thresholdMs);
  const notDurable = notDurableReason(doc);
  return notDurable ? { ...judged, verdict: 'NOT-DURABLE', notDurable } : { ...judged, notDurable: null };
}

/** Runs the etcd recipe in `scratch`, in rounds, and returns its one result row. */
export async function runCheck(scratch: string, caps: Capabilities, options: CheckOptions): Promise<BenchResult> {
  if (!caps.calls.fdatasync.supported) throw new UsageError('fdatasync is not available on this OS: the etcd check cannot run');
  const started = Date.now();
  const deadline = started + options.maxDurationSeconds * 1000;
  const roundBytes = Math.floor(ETCD_BYTES / CHECK_ROUNDS / ETCD_BLOCK) * ETCD_BLOCK;
  const opsPerRound = roundBytes / ETCD_BLOCK;
  // The planned rounds share half the budget, so that an uncertain answer has time for more.
  const roundSeconds = options.maxDurationSeconds / 2 / CHECK_ROUNDS;
  const rounds: { samples: Float64Array; ops: number; busyNs: number }[] = [];
  let result: BenchResult | null = null;
  for (let round = 0; ; round++) {
    const outcome = await runNativeLoop({
      files: [path.join(scratch, `etcd-check-${round}`)],
      directory: scratch,
      sequence: BenchSequenceCode.plain,
      flush: BenchFlushCode.fdatasync,
      // Like fio's default layout (and etcd's WAL): space is fallocated, never written before.
      placement: BenchPlacementCode.preallocated,
      dsync: false,
      sync: false,
      direct: false,
      fsyncDirectory: false,
      syncFileRangeFlags: 0,
      size: ETCD_BLOCK,
      writesPerOp: 1,
      alignment: 4096,
      regionBytes: roundBytes,
      prefillBytes: 0,
      seconds: roundSeconds,
      maxSamples: opsPerRound,
    });
    if (outcome.samplesNs.length > 0) rounds.push({ samples: outcome.samplesNs.sort(), ops: outcome.ops, busyNs: outcome.busyNs });
    result = resultOf(rounds, caps);
    const planned = round + 1 >= CHECK_ROUNDS;
    const judged = rounds.length >= 2 ? verdict(result, options.thresholdMs).verdict : null;
    options.onProgress?.(round + 1, judged, (Date.now() - started) / 1000);
    if (planned && judged !== 'UNCERTAIN') break;
    if (Date.now() >= deadline && rounds.length >= 2) break;
  }
  return result as BenchResult;
}

function resultOf(rounds: readonly { samples: Float64Array; ops: number; busyNs: number }[], caps: Capabilities): BenchResult {
  const samples = concatSamples(rounds.map((r) => r.samples)).sort();
  const ops = rounds.reduce((a, r) => a + r.ops, 0);
  const busyNs = rounds.reduce((a, r) => a + r.busyNs, 0);
  const l = summarize(samples);
  const opsPerSec = ops / (busyNs / 1e9);
  const base: BenchResult = {
    method: 'fdatasync', label: 'write+fdatasync (etcd check)', mode: 'preallocated', size: ETCD_BLOCK, writesPerSync: 1, threads: 1,
    runner: 'native', durable: caps.calls.fdatasync.durable === true, durablePortable: true, supported: true, ops, opsPerSec: round3(opsPerSec), usPerOp: round3(1e6 / opsPerSec),
    latencyUs: { min: round3(l.min), p50: round3(l.p50), p90: round3(l.p90), p99: round3(l.p99), p999: round3(l.p999), max: round3(l.max), mean: round3(l.mean), stddev: round3(l.stddev) },
    mbPerSec: round3((ops * ETCD_BLOCK) / (busyNs / 1e9) / 1e6),
    syscalls: [`fallocate ${formatMiB(ETCD_BYTES / CHECK_ROUNDS)} per round (not timed)`, 'open(O_WRONLY) once per round', `pwrite(2300 B, sequential)`, caps.calls.fdatasync.syscall],
    cdf: cdfPoints(samples),
    rounds: rounds.length,
  };
  if (rounds.length < 2) return base;
  const figure = (key: 'opsPerSec' | 'p50' | 'p99', value: number, perRound: number[]) => {
    // A percentile's interval stays within the operations measured (bench's rule too).
    const e = roundsInterval(value, perRound, key === 'opsPerSec' ? undefined : { min: l.min, max: l.max });
    return { value: round3(e.value), low: round3(e.low), high: round3(e.high), halfWidthPct: Math.round(e.halfWidthPct * 10) / 10, rounds: e.rounds.map(round3) };
  };
  base.estimates = {
    opsPerSec: figure('opsPerSec', opsPerSec, rounds.map((r) => r.ops / (r.busyNs / 1e9))),
    p50: figure('p50', l.p50, rounds.map((r) => percentile(r.samples, 50) / 1000)),
    p99: figure('p99', l.p99, rounds.map((r) => percentile(r.samples, 99) / 1000)),
  };
  return base;
}

function formatMiB(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MiB`;
}

/** The check's report text, wrapped to `width` columns. */
export function renderCheck(doc: BenchFile, thresholdMs: number, width = 80): string {
  const r = doc.results[0];
  const judged = judgeCheck(doc, thresholdMs);
  const l = r.latencyUs as NonNullable<BenchResult['latencyUs']>;
  const env = doc.env;
  const ms = (us: number): string => (us / 1000).toFixed(us >= 10000 ? 1 : us >= 1000 ? 2 : 3);
  const lines = [
    wrapText(`hardsync check: etcd's disk check in ${env.directory} (${env.filesystem.type ?? '?'}${env.device.name ? ` on ${env.device.name}, write cache ${env.device.writeCache ?? '?'}` : ''})`, width, '  '),
    `  ${wrapText(`${r.ops} sequential ${ETCD_BLOCK}-byte writes to preallocated files, fdatasync after each${r.rounds ? `, in ${r.rounds} rounds` : ''}`, width - 2, '  ')}`,
    `  write+fdatasync latency (us): min ${formatUs(l.min)}  p50 ${formatUs(l.p50)}  p90 ${formatUs(l.p90)}  p99 ${formatUs(l.p99)}  p99.9 ${formatUs(l.p999)}  max ${formatUs(l.max)}`,
    ...wrapText('each sample includes the ~1 us write, so it is slightly stricter than etcd\'s fdatasync-only metric', width - 2, '  ').split('\n').map((x) => `  ${x}`),
  ];
  const threshold = `${thresholdMs} ms threshold`;
  const indented = (text: string): string[] => wrapText(text, width - 2, '').split('\n').map((x) => `  ${x}`);
  if (judged.notDurable !== null) {
    lines.push(...indented(`NOT-DURABLE: ${judged.notDurable}`));
    lines.push('');
    return lines.join('\n');
  }
  if (judged.lowUs === null || judged.highUs === null) {
    lines.push(`  p99 ${ms(judged.p99Us)} ms ${judged.verdict === 'PASS' ? '<' : '>='} ${threshold}: ${judged.verdict} (a ${doc.schema} result: no interval)`);
  } else {
    const interval = `95% interval ${ms(judged.lowUs)}-${ms(judged.highUs)} ms`;
    const relation = judged.verdict === 'PASS' ? 'all under the' : judged.verdict === 'FAIL' ? 'all at or over the' : 'straddles the';
    lines.push(`  p99 ${ms(judged.p99Us)} ms (${interval}, ${relation} ${threshold}): ${judged.verdict}`);
    if (judged.verdict === 'PASS') {
      const caveat = passCaveat(doc);
      if (caveat) lines.push(...indented(`PASS, with a caveat: ${caveat}`));
    }
    if (judged.verdict === 'UNCERTAIN') {
      lines.push(...wrapText('UNCERTAIN: this disk\'s p99 is too close to the threshold, or too unsteady, to tell in the time given; run again with a larger --max-duration, on a quieter machine, or accept that it sits at the limit.', width - 2, '').split('\n').map((x) => `  ${x}`));
    }
  }
  lines.push('');
  return lines.join('\n');
}
