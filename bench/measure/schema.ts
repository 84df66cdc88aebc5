/**
 * The JSON result format, `hardsync-bench/2` (documented in bench/SCHEMA.md), and the one
 * reader every consumer (compare, check --input, html) goes through: it reads version 2 and
 * the older `hardsync-bench/1`, and refuses any other.
 * @module
 */
import type { LatencySummary } from './stats';
import fs from 'node:fs';

/** The schema identifier this version writes. */
export const SCHEMA = 'hardsync-bench/2';

/** The first schema: point figures only, no rounds, no intervals. Still read. */
export const SCHEMA_V1 = 'hardsync-bench/1';

/** Every schema this version reads. */
export const READABLE_SCHEMAS: readonly string[] = Object.freeze([SCHEMA, SCHEMA_V1]);

/** Where and on what a run was measured. Fields are null where they could not be read. */
export interface BenchEnv {
  hostname: string;
  os: { platform: string; type: string; release: string; version: string; arch: string };
  cpu: { model: string; cores: number };
  memoryBytes: number;
  node: string;
  hardsync: string;
  /**
   * The engine of hardsync's async API in the process that measured (capabilities().engine):
   * io_uring, threads or libuv-threadpool. Absent in files written before engines existed.
   */
  engine?: { name: string; flushThreads: number; reason: string };
  command: string;
  directory: string;
  filesystem: {
    type: string | null;
    mountPoint: string | null;
    mountOptions: string | null;
    source: string | null;
    freeBytes: number | null;
  };
  device: {
    name: string | null;
    model: string | null;
    writeCache: string | null;
    fua: boolean | null;
    rotational: boolean | null;
    logicalBlockSize: number | null;
    physicalBlockSize: number | null;
  };
  dioAlignment: { memory: number; offset: number; source: string } | null;
  startedAt: string;
  seconds: number;
  /**
   * Present when the run was emulated (another OS or CPU run by Wine or qemu-user on this
   * machine): by what, its version, and what that means for the figures.
   */
  emulation?: { by: string; version: string; note: string };
}

/** Latency figures in microseconds: the statistics' own summary type. */
export type LatencyUs = LatencySummary;

/**
 * A figure with its uncertainty: the point figure (from every round's operations pooled), its
 * 95% confidence interval, and the figure of each round (the rounds' spread). See
 * bench/README.md, "How sure is each figure", for the method.
 */
export interface Estimate {
  /** The point figure: ops/s = all operations / all time in them; percentiles of all samples. */
  value: number;
  /** Lower end of the 95% confidence interval. */
  low: number;
  /** Upper end of the 95% confidence interval. */
  high: number;
  /** Half the interval's width as a percentage of the figure (the larger side, on a log scale). */
  halfWidthPct: number;
  /** The same figure computed from each round alone, in round order. */
  rounds: number[];
  /**
   * Percentiles only: the fewest latency samples one round had. A round with fewer than
   * stats.ts's minSamplesFor(percent) cannot pin its own percentile down (a p99 needs 368),
   * and the report then prints the figure in words. Absent in older files.
   */
  fewestSamples?: number;
}

/** The three figures every case reports with an interval. */
export interface CaseEstimates {
  opsPerSec: Estimate;
  /** Median latency, microseconds. */
  p50: Estimate;
  /** 99th percentile latency, microseconds. */
  p99: Estimate;
}

/**
 * What else the machine did while a case (or the whole run) was measured: the likely causes
 * of unstable figures. From /proc/loadavg, /proc/stat and /proc/diskstats; null where those
 * could not be read (not Linux, or no block device behind the filesystem).
 */
export interface RunConditions {
  /** 1-minute load average at the start and at the end. */
  loadAverage: [number, number] | null;
  /** CPUs online (the scale of the load average). */
  cpus: number;
  /** Percent of all CPU time used by other processes than this one. */
  otherCpuPct: number | null;
  /** Percent of CPU time stolen by the hypervisor. */
  stealPct: number | null;
  /** The block device's counters over the same time, less what this run wrote. */
  device: DeviceActivity | null;
  /** Seconds the figures cover. */
  seconds: number;
}

/** I/O on the block device behind the benchmarked filesystem (/proc/diskstats deltas). */
export interface DeviceActivity {
  name: string;
  /** Bytes read from the device: never this run's (its cases only write). */
  readBytes: number;
  /** Bytes written to the device: this run's data, the filesystem's journal and metadata, and anyone else's. */
  writeBytes: number;
  /** Bytes of data this run's operations wrote. */
  ownWriteBytes: number;
  /** Flush requests the device completed (null on kernels before 5.5). */
  flushes: number | null;
  /** Flushes this run's operations asked for (an upper bound: the filesystem may merge them). */
  ownFlushes: number;
  /** Device writes beyond this run's data plus its filesystem's expected overhead: other I/O. */
  otherWriteBytes: number;
}

/** Whether a case's figures can be trusted, and why not. */
export interface CaseStability {
  unstable: boolean;
  /** Each reason in words, e.g. "p99 interval +-23% (limit 10%)". */
  reasons: string[];
  /** What the machine did during this case's rounds. */
  conditions: RunConditions | null;
}

/** One method x mode x size x writes-per-sync case. */
export interface BenchResult {
  method: string;
  label: string;
  mode: string;
  size: number;
  writesPerSync: number;
  threads: number;
  runner: 'native' | 'js';
  /**
   * Whether the method makes data durable on the OS where it ran (from capabilities():
   * barrierFsync is fdatasync(2) on Linux, durable; F_BARRIERFSYNC on macOS, not). In
   * `hardsync-bench/1` files: the portable meaning.
   */
  durable: boolean;
  /** Whether the method makes data durable on every OS (its portable meaning). Version 2. */
  durablePortable?: boolean;
  supported: boolean;
  reason?: string;
  ops: number | null;
  opsPerSec: number | null;
  usPerOp: number | null;
  latencyUs: LatencyUs | null;
  mbPerSec: number | null;
  syscalls: string[];
  cdf?: [number, number][];
  /** Rounds measured (version 2; more than the run's --rounds when --until-stable added some). */
  rounds?: number;
  /** ops/s, p50 and p99 with their intervals and per-round figures (version 2, supported rows). */
  estimates?: CaseEstimates;
  /** Version 2, supported rows. */
  stability?: CaseStability;
}

/** A warning about a figure (e.g. a durable flush faster than the device can be). */
export interface BenchWarning {
  method: string;
  mode: string;
  size: number;
  message: string;
}

/** The settings of a run that change its figures (what compare warns about when they differ). */
export interface RunSettings {
  quick: boolean;
  /** Seconds per case, over all planned rounds. */
  secondsPerCase: number;
  /** Planned rounds per case. */
  rounds: number;
  threads: number;
  js: boolean;
  /** --until-stable given. */
  untilStable: boolean;
  /** The time budget of the whole run in seconds (--max-duration), or null. */
  maxDurationSeconds: number | null;
  /** Options that chose the cases, as given (null: the default suite). */
  methods: string[] | null;
  sizes: number[] | null;
  modes: string[] | null;
  writesPerSync: number[] | null;
}

/** The run's stability summary (version 2). */
export interface RunStability {
  /** A case is unstable when an interval's half-width exceeds this percentage of its figure. */
  limitPct: number;
  /** ... or when its rounds' ops/s differ by more than this factor (max / min). */
  roundsRatioLimit: number;
  cases: number;
  unstableCases: number;
  /** Likely causes measured during the run, in words. */
  causes: string[];
  /** What the whole run saw. */
  conditions: RunConditions | null;
  /** With --until-stable: rounds added, and the cases that stayed unstable (method/mode/size/w). */
  untilStable: { addedRounds: number; stillUnstable: string[]; budgetSpent: boolean } | null;
}

/**
 * The verdict of `hardsync check`. NOT-DURABLE: the filesystem keeps data in memory only
 * (tmpfs, ramfs), or capabilities() says its flush is not durable on this OS: no figure
 * measured there says anything about a disk.
 */
export type CheckVerdict = 'PASS' | 'FAIL' | 'UNCERTAIN' | 'NOT-DURABLE';

/** A figure of the summary, with its 95% interval where the run has rounds. */
export interface SummaryFigure {
  value: number;
  /** The interval (null: one round only, or a hardsync-bench/1 file). */
  low: number | null;
  high: number | null;
  /** Why the rounds do not pin the figure down, in words, or null when they do. */
  notPinned: string | null;
}

/** One durable method at one write size, as the summary ranks it. */
export interface SummaryMethod {
  method: string;
  label: string;
  /** Latency per operation, microseconds. */
  p50Us: SummaryFigure;
  p99Us: SummaryFigure;
  opsPerSec: SummaryFigure;
  /** p50 over the page-cache write's p50 at the same size and mode, with its 95% interval (null: no baseline). */
  timesPageCache: SummaryFigure | null;
  unstable: boolean;
}

/** The answer for one write size. */
export interface SummarySize {
  size: number;
  /** The mode the answer is for: "overwrite" (in place, like a WAL) where it was measured. */
  mode: string;
  /** The page-cache write's p50 at this size and mode (null: not measured). */
  pageCacheP50Us: SummaryFigure | null;
  /** The durable method with the lowest p50 (null: none measured, or the filesystem is memory). */
  cheapest: SummaryMethod | null;
  /** Every durable method measured at this size and mode, lowest p50 first (empty on memory). */
  ranking: SummaryMethod[];
}

/** What writing several records per flush bought, where a run measured it. */
export interface SummaryBatching {
  method: string;
  label: string;
  mode: string;
  size: number;
  writesPerSync: number;
  /** p50 of one operation (all its writes and the flush) divided by its writes, microseconds. */
  usPerWrite: number;
  /** p50 of the same method with one write per flush, microseconds. */
  oneWritePerFlushUs: number;
  /** oneWritePerFlushUs / usPerWrite. */
  gain: number;
}

/** The answer first: what a durable write costs here, and what to run next (kind "bench"). */
export interface BenchSummary {
  /** The filesystem keeps data in memory only (tmpfs, ramfs): nothing survives power loss; no ranking. */
  memory: boolean;
  /** The filesystem's type, as env.filesystem.type. */
  filesystem: string | null;
  /** Durable flushes faster than a device can make data durable: a volatile cache may acknowledge them. */
  implausiblyFast: boolean;
  /** One entry per write size measured, 8 KiB first. */
  sizes: SummarySize[];
  batching: SummaryBatching[];
  /** What to run next, as command lines with their reason. */
  next: { command: string; why: string }[];
}

/** A whole result file. */
export interface BenchFile {
  schema: string;
  kind: 'bench' | 'pg' | 'check';
  env: BenchEnv;
  results: BenchResult[];
  warnings: BenchWarning[];
  /** Version 2. */
  settings?: RunSettings;
  /** Version 2, kind "bench". */
  stability?: RunStability;
  /** Kind "pg": the wal_sync_method `hardsync pg` would choose here (null: none), and why. */
  pg?: { walSyncMethod: string | null; why: string };
  /** Version 2, kind "bench", written since the summary exists: the answer first. */
  summary?: BenchSummary;
  check?: {
    thresholdUs: number;
    p99Us: number;
    /** PASS only when the p99's whole interval is under the threshold (version 2; `pass` is verdict === 'PASS'). */
    pass: boolean;
    bytes: number;
    blockSize: number;
    verdict?: CheckVerdict;
    /** With verdict NOT-DURABLE: why, in words ("/dev/shm is tmpfs: memory, ..."). */
    notDurable?: string;
    /** PASS with flushes faster than a device can make data durable: the caveat, in words. */
    caveat?: string;
    /** The p99's 95% interval (version 2). */
    p99LowUs?: number;
    p99HighUs?: number;
    rounds?: number;
  };
}

/** An error a command reports with exit code 2 (bad input, refused path or file). */
export class UsageError extends Error {
  /** Always 'ERR_HARDSYNC_USAGE'. */
  readonly code = 'ERR_HARDSYNC_USAGE';
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function validateEstimates(value: unknown, where: string): void {
  if (!isObject(value)) throw new UsageError(`${where} must be an object`);
  for (const figure of ['opsPerSec', 'p50', 'p99'] as const) {
    const e = value[figure];
    if (!isObject(e)) throw new UsageError(`${where}.${figure} must be an object`);
    for (const key of ['value', 'low', 'high', 'halfWidthPct'] as const) {
      if (typeof e[key] !== 'number') throw new UsageError(`${where}.${figure}.${key} must be a number`);
    }
    if (!Array.isArray(e.rounds) || e.rounds.length === 0 || e.rounds.some((r) => typeof r !== 'number')) {
      throw new UsageError(`${where}.${figure}.rounds must be a non-empty array of numbers`);
    }
  }
}

/**
 * Checks that `value` is a result document of this schema version; throws a UsageError naming
 * the file and what is wrong.
 */
export function validateBenchFile(value: unknown, name: string): BenchFile {
  if (!isObject(value)) throw new UsageError(`${name}: not a hardsync result file (not a JSON object)`);
  if (typeof value.schema !== 'string' || !READABLE_SCHEMAS.includes(value.schema)) {
    const found = typeof value.schema === 'string' ? `"${value.schema}"` : 'none';
    throw new UsageError(`${name}: unknown schema version ${found}; this hardsync reads ${READABLE_SCHEMAS.map((s) => `"${s}"`).join(' and ')}`);
  }
  if (!isObject(value.env)) throw new UsageError(`${name}: "env" must be an object`);
  if (!Array.isArray(value.results)) throw new UsageError(`${name}: "results" must be an array`);
  value.results.forEach((row, i) => {
    const where = `${name}: results[${i}]`;
    if (!isObject(row)) throw new UsageError(`${where} must be an object`);
    for (const key of ['method', 'mode'] as const) {
      if (typeof row[key] !== 'string') throw new UsageError(`${where}.${key} must be a string`);
    }
    for (const key of ['size', 'writesPerSync'] as const) {
      if (typeof row[key] !== 'number' || !Number.isFinite(row[key])) throw new UsageError(`${where}.${key} must be a number`);
    }
    if (!Array.isArray(row.syscalls)) throw new UsageError(`${where}.syscalls must be an array`);
    if (row.supported !== false) {
      for (const key of ['ops', 'opsPerSec', 'usPerOp', 'mbPerSec'] as const) {
        if (typeof row[key] !== 'number') throw new UsageError(`${where}.${key} must be a number`);
      }
      if (!isObject(row.latencyUs)) throw new UsageError(`${where}.latencyUs must be an object`);
      for (const key of ['min', 'p50', 'p90', 'p99', 'p999', 'max', 'stddev']) {
        if (typeof row.latencyUs[key] !== 'number') throw new UsageError(`${where}.latencyUs.${key} must be a number`);
      }
      // Version 2: bench rows carry intervals (pg rows, one run per test, do not).
      if (value.schema !== SCHEMA_V1 && (value.kind === 'bench' || row.estimates !== undefined)) validateEstimates(row.estimates, `${where}.estimates`);
    }
  });
  if (value.warnings !== undefined && !Array.isArray(value.warnings)) throw new UsageError(`${name}: "warnings" must be an array`);
  return { warnings: [], kind: 'bench', ...value } as unknown as BenchFile;
}

/** Reads and validates a result file. */
export function readBenchFile(file: string): BenchFile {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new UsageError(`${file}: cannot read: ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${file}: not valid JSON: ${(error as Error).message}`);
  }
  return validateBenchFile(parsed, file);
}

/** Writes a result file (pretty-printed, trailing newline). */
export function writeBenchFile(file: string, document: BenchFile): void {
  fs.writeFileSync(file, `${JSON.stringify(document, null, 1)}\n`);
}
