/**
 * One timed run of DurableLog with appenders that each await their own append, shared by
 * bench/log-inflight.ts (the log against the C model) and bench/log-ab.ts (two builds of the
 * log side by side).
 * @module
 */
import fs from 'node:fs';
import nodePath from 'node:path';
import { performance } from 'node:perf_hooks';
import { DurableLog } from '../../lib/index';
import { percentile } from './stats';

/** The record every appender appends. */
export const RECORD = Buffer.alloc(256, 0x5a);
/** Bytes of one record's frame (lib/patterns/frame.ts: a 24-byte header, then the payload). */
export const FRAME = 24 + RECORD.length;
/** The log's default segment size; a timed run stays within half of one (see logRun). */
export const SEGMENT = 64 * 1024 * 1024;
const WARMUP_APPENDS = 20;
const SETTLE_MS = 500;

/** What one run measured. */
export interface Sample {
  recordsPerSec: number;
  /** Append latency percentiles, us. */
  p50: number;
  p99: number;
  p999: number;
  seconds: number;
  /** CPU time of the whole process (every thread) per record in the timed window, us. */
  cpuPerRecord: number;
}

/** A pause before timing, for the writeback of what came before to finish. */
export const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, SETTLE_MS));

/**
 * `appenders` loops each awaiting its appends to a fresh log with `maxInFlight` k in a new
 * directory under `root`, for `seconds` or until the log is half a segment on (so that no
 * segment is prepared or rolled while timed), whichever comes first. `Log` is the DurableLog
 * class to run (another build's, for an A/B); `record` what each append appends.
 */
export async function logRun(root: string, k: number, appenders: number, seconds: number, Log: typeof DurableLog = DurableLog, record: Buffer = RECORD): Promise<Sample> {
  const dir = nodePath.join(root, `log-${appenders}-${k}-${process.pid}`);
  await fs.promises.rm(dir, { recursive: true, force: true });
  const log = await Log.open(dir, { maxInFlight: k, segmentSize: SEGMENT });
  await settle();
  const cap = Math.max(Math.floor(SEGMENT / 2 / (24 + record.length)) - appenders * WARMUP_APPENDS, appenders);
  // Preallocated: a growing array of every latency would be the benchmark's own garbage.
  const latencies = new Float64Array(cap + appenders);
  let count = 0;
  let stop = false;
  let start = 0;
  let cpuStart: NodeJS.CpuUsage | undefined;
  let timer: NodeJS.Timeout | undefined;
  await Promise.all(
    Array.from({ length: appenders }, async () => {
      for (let i = 0; i < WARMUP_APPENDS; i++) await log.append(record);
      if (start === 0) {
        start = performance.now();
        cpuStart = process.cpuUsage();
        timer = setTimeout(() => (stop = true), seconds * 1000);
      }
      while (!stop) {
        const t = performance.now();
        await log.append(record);
        latencies[count++] = (performance.now() - t) * 1000;
        if (count >= cap) stop = true;
      }
    }),
  );
  const elapsed = performance.now() - start;
  const cpu = process.cpuUsage(cpuStart);
  clearTimeout(timer);
  await log.close();
  await fs.promises.rm(dir, { recursive: true, force: true });
  const sorted = latencies.subarray(0, count).sort();
  return {
    recordsPerSec: (count / elapsed) * 1000,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    p999: percentile(sorted, 99.9),
    seconds: elapsed / 1000,
    cpuPerRecord: (cpu.user + cpu.system) / Math.max(count, 1),
  };
}
