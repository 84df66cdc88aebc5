/**
 * The JSON result format, `hardsync-bench/1` (documented in bench/SCHEMA.md), and the one
 * reader every consumer (compare, html) goes through: it refuses a file of another schema.
 * @module
 */
import type { LatencySummary } from './stats';
import fs from 'node:fs';

/** The schema identifier this version writes and reads. */
export const SCHEMA = 'hardsync-bench/1';

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

/** One method x mode x size x writes-per-sync case. */
export interface BenchResult {
  method: string;
  label: string;
  mode: string;
  size: number;
  writesPerSync: number;
  threads: number;
  runner: 'native' | 'js';
  durable: boolean;
  supported: boolean;
  reason?: string;
  ops: number | null;
  opsPerSec: number | null;
  usPerOp: number | null;
  latencyUs: LatencyUs | null;
  mbPerSec: number | null;
  syscalls: string[];
  cdf?: [number, number][];
}

/** A warning about a figure (e.g. a durable flush faster than the device can be). */
export interface BenchWarning {
  method: string;
  mode: string;
  size: number;
  message: string;
}

/** A whole result file. */
export interface BenchFile {
  schema: typeof SCHEMA;
  kind: 'bench' | 'pg' | 'check';
  env: BenchEnv;
  results: BenchResult[];
  warnings: BenchWarning[];
  check?: { thresholdUs: number; p99Us: number; pass: boolean; bytes: number; blockSize: number };
}

/** An error a command reports with exit code 2 (bad input, refused path or file). */
export class UsageError extends Error {
  /** Always 'ERR_HARDSYNC_USAGE'. */
  readonly code = 'ERR_HARDSYNC_USAGE';
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Checks that `value` is a result document of this schema version; throws a UsageError naming
 * the file and what is wrong.
 */
export function validateBenchFile(value: unknown, name: string): BenchFile {
  if (!isObject(value)) throw new UsageError(`${name}: not a hardsync result file (not a JSON object)`);
  if (value.schema !== SCHEMA) {
    const found = typeof value.schema === 'string' ? `"${value.schema}"` : 'none';
    throw new UsageError(`${name}: unknown schema version ${found}; this hardsync reads "${SCHEMA}" only`);
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
