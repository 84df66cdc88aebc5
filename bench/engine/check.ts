/**
 * `hardsync check`: the disk check etcd documents (its "fio" recipe: sequential 2300-byte
 * writes to a preallocated file, fdatasync after each, 22 MiB in all) and etcd's rule: the
 * 99th percentile of fdatasync must stay under 10 ms.
 * @module
 */
import path from 'node:path';
import type { Capabilities } from '../../lib/index';
import { BenchFlushCode, BenchPlacementCode, BenchSequenceCode, runNativeLoop } from './native-loop';
import type { BenchFile, BenchResult } from './schema';
import { UsageError } from './schema';
import { cdfPoints, round3, summarize } from './stats';
import { formatUs } from './report';

/** etcd's write size: a typical WAL entry. */
export const ETCD_BLOCK = 2300;
/** etcd's total: 22 MiB. */
export const ETCD_BYTES = 22 * 1024 * 1024;
/** etcd's threshold for the fdatasync p99, in milliseconds. */
export const ETCD_THRESHOLD_MS = 10;

/** Runs the etcd recipe in `scratch` and returns its one result row. */
export async function runCheck(scratch: string, caps: Capabilities): Promise<BenchResult> {
  if (!caps.calls.fdatasync.supported) throw new UsageError('fdatasync is not available on this OS: the etcd check cannot run');
  const ops = Math.floor(ETCD_BYTES / ETCD_BLOCK);
  const outcome = await runNativeLoop({
    files: [path.join(scratch, 'etcd-check')],
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
    regionBytes: ETCD_BYTES,
    prefillBytes: 0,
    seconds: 3600,
    maxSamples: ops,
  });
  const samples = outcome.samplesNs.sort();
  const l = summarize(samples);
  const opsPerSec = outcome.ops / (outcome.busyNs / 1e9);
  return {
    method: 'fdatasync', label: 'write+fdatasync (etcd check)', mode: 'preallocated', size: ETCD_BLOCK, writesPerSync: 1, threads: 1,
    runner: 'native', durable: true, supported: true, ops: outcome.ops, opsPerSec: round3(opsPerSec), usPerOp: round3(1e6 / opsPerSec),
    latencyUs: { min: round3(l.min), p50: round3(l.p50), p90: round3(l.p90), p99: round3(l.p99), p999: round3(l.p999), max: round3(l.max), mean: round3(l.mean), stddev: round3(l.stddev) },
    mbPerSec: round3((outcome.ops * ETCD_BLOCK) / (outcome.busyNs / 1e9) / 1e6),
    syscalls: ['fallocate 22 MiB (not timed)', 'open(O_WRONLY) once', `pwrite(2300 B, sequential)`, caps.calls.fdatasync.syscall],
    cdf: cdfPoints(samples),
  };
}

/** The verdict of a check result: p99 of write+fdatasync against the threshold. */
export function verdict(result: BenchResult, thresholdMs: number): { p99Us: number; pass: boolean } {
  if (!result.latencyUs) throw new UsageError('the check result has no latency figures');
  return { p99Us: result.latencyUs.p99, pass: result.latencyUs.p99 < thresholdMs * 1000 };
}

/** The check's report text. */
export function renderCheck(doc: BenchFile, thresholdMs: number): string {
  const r = doc.results[0];
  const { p99Us, pass } = verdict(r, thresholdMs);
  const l = r.latencyUs as NonNullable<BenchResult['latencyUs']>;
  const env = doc.env;
  return [
    `hardsync check: etcd's disk check in ${env.directory} (${env.filesystem.type ?? '?'}${env.device.name ? ` on ${env.device.name}, write cache ${env.device.writeCache ?? '?'}` : ''})`,
    `  ${r.ops} sequential ${ETCD_BLOCK}-byte writes to a preallocated ${ETCD_BYTES / 1048576} MiB file, fdatasync after each`,
    `  write+fdatasync latency (us): min ${formatUs(l.min)}  p50 ${formatUs(l.p50)}  p90 ${formatUs(l.p90)}  p99 ${formatUs(l.p99)}  p99.9 ${formatUs(l.p999)}  max ${formatUs(l.max)}`,
    `  each sample includes the ~1 us write, so it is slightly stricter than etcd's fdatasync-only metric`,
    `  p99 ${(p99Us / 1000).toFixed(3)} ms ${pass ? '<' : '>='} ${thresholdMs} ms threshold: ${pass ? 'PASS' : 'FAIL'}`,
    '',
  ].join('\n');
}
