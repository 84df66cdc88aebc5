/**
 * DurableLog against the durable stores Node users pick: acknowledged-durable
 * writes of 256-byte records with 1, 16 and 256 concurrent writers, each writer awaiting its own
 * acknowledgement before its next write, on a directory of os.tmpdir() (ext4 here).
 *
 * Stores and configurations (each one's acknowledgement means durable; the power-cut proof of
 * every one is test/powercut-stores.test.ts, with test/fixtures/powercut/stores.cjs):
 * - `log`: DurableLog, default options; `log-dsync`: flush 'dsync'; `log-opts`: the options of
 *   `--log-options JSON` (e.g. '{"maxInFlight":4}': whether this build knows maxInFlight is
 *   probed and reported).
 * - `sqlite`: better-sqlite3, WAL, synchronous=FULL (locking_mode EXCLUSIVE: see openSqlite),
 *   one INSERT per transaction. Its API is
 *   synchronous: a call blocks the main thread through the commit and its fsync, so concurrent
 *   writers cannot overlap; their inserts go into a FIFO, and one insert (one transaction) is
 *   committed per event-loop turn (setImmediate), so an acknowledgement reaches its writer as
 *   soon as its own commit returned. A writer's latency includes its wait in the FIFO.
 * - `sqlite-batch`: the same database, but every insert queued in one event-loop turn goes into
 *   one transaction (committed at the next setImmediate); each writer is acknowledged after that
 *   commit.
 * - `lmdb-flushed`: lmdb (lmdb-js) with its default overlappingSync and `separateFlushed`: the
 *   put's `.flushed` promise (that transaction's flush) is the acknowledgement.
 * - `lmdb-dbflushed`: the same with `await db.put(); await db.flushed` (the README's recipe;
 *   `db.flushed` waits for the newest transaction's flush, which may be a later one).
 * - `lmdb-sync`: overlappingSync false: the put promise resolves after a synced commit.
 * - `level`: classic-level, `put(key, value, { sync: true })`.
 * - `fs`: node:fs, one FileHandle opened 'a'; per record `fh.appendFile(record)` then
 *   `fh.datasync()`. Concurrent writers are not serialised in JavaScript: O_APPEND makes each
 *   256-byte write land whole at the end of the file (the kernel serialises them under the
 *   inode lock), and each writer's datasync starts after its own write completed, so it covers
 *   it; up to 4 (libuv's threadpool) datasyncs run at once.
 *
 * Every measurement (one store, one writer count, one round) runs in a fresh child process on a
 * fresh directory; rounds are interleaved and the store order rotates each round. Reported:
 * acknowledgements per second, and p50 / p99 / p99.9 of the per-write latency (from the
 * writer's call to its acknowledgement), each the median of the rounds, with the rounds' range.
 *
 * Usage: node dist/bench/stores.js [--rounds N] [--seconds S] [--writers 1,16,256]
 *          [--stores a,b,...] [--log-options JSON] [--dir DIR] [--json FILE] [--report FILE] [--help]
 * @module
 */
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { checkOutputPath, commandUsage, listValue, numberValue, parseCommand, stringValue, type CommandSpec } from './measure/args';
import { UsageError } from './measure/schema';
import { median, percentile, roundsInterval, type Interval } from './measure/stats';

/** Bytes of every record (the value, for the key-value stores). */
export const RECORD_BYTES = 256;

/** A store under test, opened on a directory. */
interface OpenStore {
  /** Writes record `value` under the unique `key`; resolves once it is durable. */
  put(key: string, value: Buffer): Promise<unknown>;
  close(): Promise<void>;
}

/** How to open one configuration. */
interface StoreConfig {
  /** The name in the table and in --stores. */
  name: string;
  /** One line: the configuration. */
  describe: string;
  /**
   * What test/powercut-stores.test.ts showed on the power-cut simulator: 'proven' (no
   * acknowledged write lost), or 'unhostable' (the simulator cannot run it: not proven, so not
   * ranked). A configuration that loses acknowledged writes is not in this table at all.
   */
  proof: 'proven' | 'unhostable';
  open(dir: string, logOptions: Record<string, unknown>): Promise<OpenStore>;
}

// The peers are dev dependencies, loaded only when measured; minimal local types.
interface SqliteStatement {
  run(...params: unknown[]): unknown;
}
interface SqliteDatabase {
  pragma(source: string, options?: { simple?: boolean }): unknown;
  prepare(source: string): SqliteStatement;
  exec(source: string): void;
  transaction<T extends (...args: never[]) => unknown>(fn: T): T;
  close(): void;
}
interface LmdbPromise extends Promise<boolean> {
  flushed?: Promise<unknown>;
}
interface LmdbDatabase {
  put(key: string, value: Buffer): LmdbPromise;
  flushed: PromiseLike<unknown>;
  close(): Promise<void>;
}
interface LevelDatabase {
  open(): Promise<void>;
  put(key: string, value: Buffer, options: { sync: boolean }): Promise<void>;
  close(): Promise<void>;
}

/* eslint-disable @typescript-eslint/no-require-imports */
const loadSqlite = (): new (file: string) => SqliteDatabase => require('better-sqlite3');
const loadLmdb = (): { open(options: Record<string, unknown>): LmdbDatabase } => require('lmdb');
const loadLevel = (): { ClassicLevel: new (dir: string, options: Record<string, unknown>) => LevelDatabase } => require('classic-level');
const loadLib = (): typeof import('../lib/index') => require('../lib/index');
/* eslint-enable @typescript-eslint/no-require-imports */

/** better-sqlite3 in WAL mode with synchronous=FULL and exclusive locking, the table the inserts go to. */
function openSqlite(dir: string): { db: SqliteDatabase; insert: SqliteStatement } {
  const Database = loadSqlite();
  const db = new Database(path.join(dir, 'db.sqlite'));
  // Exclusive locking (one process owns the database, as a log's owner does): the WAL index
  // lives in heap memory instead of an mmap-ed -shm file. The commit's writes and fsyncs are the
  // same; it is also what lets the power-cut simulator (FUSE with direct I/O, no shared mmap:
  // SQLITE_IOERR_SHMMAP otherwise) host it, so the configuration measured is the one proven.
  db.pragma('locking_mode = EXCLUSIVE');
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec('CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v BLOB NOT NULL)');
  return { db, insert: db.prepare('INSERT INTO kv (k, v) VALUES (?, ?)') };
}

interface Waiter {
  key: string;
  value: Buffer;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/** The configurations, by name, in the table's order. */
export const STORES: readonly StoreConfig[] = [
  {
    name: 'log',
    proof: 'proven',
    describe: 'DurableLog, default options',
    async open(dir) {
      const log = await loadLib().DurableLog.open(dir);
      return { put: (_key, value) => log.append(value), close: () => log.close() };
    },
  },
  {
    name: 'log-dsync',
    proof: 'proven',
    describe: "DurableLog { flush: 'dsync' }",
    async open(dir) {
      const log = await loadLib().DurableLog.open(dir, { flush: 'dsync' });
      return { put: (_key, value) => log.append(value), close: () => log.close() };
    },
  },
  {
    name: 'log-opts',
    proof: 'proven',
    describe: 'DurableLog with --log-options',
    async open(dir, logOptions) {
      const log = await loadLib().DurableLog.open(dir, logOptions);
      return { put: (_key, value) => log.append(value), close: () => log.close() };
    },
  },
  {
    name: 'sqlite',
    proof: 'proven',
    describe: 'better-sqlite3 WAL, synchronous=FULL, exclusive lock; 1 insert/transaction, 1 transaction per event-loop turn',
    async open(dir) {
      const { db, insert } = openSqlite(dir);
      const queue: Waiter[] = [];
      let head = 0;
      let scheduled = false;
      const pump = (): void => {
        const w = queue[head++];
        try {
          insert.run(w.key, w.value); // autocommit: one transaction, synced at commit
          w.resolve();
        } catch (error) {
          w.reject(error);
        }
        if (head === queue.length) {
          queue.length = 0;
          head = 0;
          scheduled = false;
        } else setImmediate(pump);
      };
      return {
        put: (key, value) =>
          new Promise<void>((resolve, reject) => {
            queue.push({ key, value, resolve, reject });
            if (!scheduled) {
              scheduled = true;
              setImmediate(pump);
            }
          }),
        close: async () => db.close(),
      };
    },
  },
  {
    name: 'sqlite-batch',
    proof: 'proven',
    describe: 'better-sqlite3 WAL, synchronous=FULL, exclusive lock; the inserts of one event-loop turn in one transaction',
    async open(dir) {
      const { db, insert } = openSqlite(dir);
      let batch: Waiter[] = [];
      const commitAll = db.transaction((items: Waiter[]) => {
        for (const w of items) insert.run(w.key, w.value);
      });
      const commit = (): void => {
        const items = batch;
        batch = [];
        try {
          commitAll(items as never);
          for (const w of items) w.resolve();
        } catch (error) {
          for (const w of items) w.reject(error);
        }
      };
      return {
        put: (key, value) =>
          new Promise<void>((resolve, reject) => {
            if (batch.length === 0) setImmediate(commit);
            batch.push({ key, value, resolve, reject });
          }),
        close: async () => db.close(),
      };
    },
  },
  {
    name: 'lmdb-flushed',
    proof: 'proven',
    describe: 'lmdb, overlappingSync (default) + separateFlushed: await put(k, v).flushed',
    async open(dir) {
      const db = loadLmdb().open({ path: dir, encoding: 'binary', separateFlushed: true });
      return {
        put: (key, value) => {
          const written = db.put(key, value);
          if (!written.flushed) throw new Error('lmdb: put() promise has no .flushed (separateFlushed not supported?)');
          return written.flushed;
        },
        close: () => db.close(),
      };
    },
  },
  {
    name: 'lmdb-dbflushed',
    proof: 'proven',
    describe: 'lmdb, overlappingSync (default): await put(k, v); await db.flushed',
    async open(dir) {
      const db = loadLmdb().open({ path: dir, encoding: 'binary' });
      return {
        put: async (key, value) => {
          await db.put(key, value);
          await db.flushed;
        },
        close: () => db.close(),
      };
    },
  },
  {
    name: 'lmdb-sync',
    proof: 'proven',
    describe: 'lmdb, overlappingSync: false: await put(k, v)',
    async open(dir) {
      const db = loadLmdb().open({ path: dir, encoding: 'binary', overlappingSync: false });
      return { put: (key, value) => db.put(key, value), close: () => db.close() };
    },
  },
  {
    name: 'level',
    proof: 'proven',
    describe: 'classic-level, put(k, v, { sync: true })',
    async open(dir) {
      const { ClassicLevel } = loadLevel();
      const db = new ClassicLevel(path.join(dir, 'level'), { keyEncoding: 'utf8', valueEncoding: 'buffer' });
      await db.open();
      return { put: (key, value) => db.put(key, value, { sync: true }), close: () => db.close() };
    },
  },
  {
    name: 'fs',
    proof: 'proven',
    describe: "node:fs FileHandle ('a'): appendFile(record) then datasync(), per record",
    async open(dir) {
      const fh = await fs.promises.open(path.join(dir, 'records'), 'a');
      return {
        put: async (_key, value) => {
          await fh.appendFile(value);
          await fh.datasync();
        },
        close: () => fh.close(),
      };
    },
  },
];

/**
 * Whether this build's DurableLog knows `maxInFlight`: unknown options are ignored by
 * DurableLog.open, so a known one is recognised by its validation refusing a wrong type.
 */
export async function probeMaxInFlight(root: string): Promise<boolean> {
  const dir = fs.mkdtempSync(path.join(root, 'hardsync-stores-probe-'));
  try {
    const log = await loadLib().DurableLog.open(dir, { segmentSize: 65536, maxInFlight: 'probe' } as never);
    await log.close();
    return false;
  } catch (error) {
    if (error instanceof TypeError || error instanceof RangeError) return /maxInFlight/.test(error.message);
    throw error;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// one measurement (in a child process)

/** What one child measured. */
export interface CaseResult {
  store: string;
  writers: number;
  acks: number;
  seconds: number;
  acksPerSec: number;
  /** Microseconds. */
  p50: number;
  p99: number;
  p999: number;
}

/** Runs `writers` loops for `seconds` against a fresh `store` in `dir`; every ack's latency. */
async function measureCase(store: StoreConfig, dir: string, writers: number, seconds: number, logOptions: Record<string, unknown>): Promise<CaseResult> {
  const values = Array.from({ length: 4096 }, () => crypto.randomBytes(RECORD_BYTES));
  const opened = await store.open(dir, logOptions);
  // Warm-up: 64 writes from each of min(writers, 16) writers (JIT, first pages, first batch).
  let serial = 0;
  await Promise.all(
    Array.from({ length: Math.min(writers, 16) }, async (_, w) => {
      for (let i = 0; i < 64; i++) await opened.put(`warm-${w}-${i}`, values[serial++ & 4095]);
    }),
  );
  const latencies: number[] = [];
  let stop = false;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  const loops = Array.from({ length: writers }, async (_, w) => {
    for (let i = 0; !stop; i++) {
      const value = values[(serial++ * 7919) & 4095];
      const t0 = performance.now();
      await opened.put(`w${w}-${i}`, value);
      const t1 = performance.now();
      latencies.push(t1 - t0);
      if (t1 >= deadline) stop = true;
    }
  });
  await Promise.all(loops);
  const elapsed = (performance.now() - started) / 1000;
  await opened.close();
  const sorted = Float64Array.from(latencies).sort();
  return {
    store: store.name,
    writers,
    acks: sorted.length,
    seconds: elapsed,
    acksPerSec: sorted.length / elapsed,
    p50: percentile(sorted, 50) * 1000,
    p99: percentile(sorted, 99) * 1000,
    p999: percentile(sorted, 99.9) * 1000,
  };
}

async function childMain(argv: string[]): Promise<void> {
  const [name, dir, writers, seconds, logOptions] = argv;
  const store = STORES.find((s) => s.name === name);
  if (!store) throw new Error(`unknown store ${name}`);
  const result = await measureCase(store, dir, Number(writers), Number(seconds), JSON.parse(logOptions));
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

function runChild(store: string, dir: string, writers: number, seconds: number, logOptions: string): Promise<CaseResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [__filename, '--child', store, dir, String(writers), String(seconds), logOptions], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code, signal) => {
      if (code !== 0) return reject(new Error(`${store} with ${writers} writers: child exited ${code ?? signal}: ${err.trim()}`));
      try {
        resolve(JSON.parse(out.trim().split('\n').pop() ?? ''));
      } catch {
        reject(new Error(`${store} with ${writers} writers: no result: ${out}${err}`));
      }
    });
  });
}

// ---------------------------------------------------------------------------------------------
// the run

const SPEC: CommandSpec = {
  name: 'bench:stores',
  args: '',
  summary:
    'DurableLog against better-sqlite3, lmdb, classic-level and node:fs: acknowledged-durable writes of\n' +
    `${RECORD_BYTES}-byte records, N concurrent writers each awaiting its own ack; interleaved rounds, medians.\n` +
    `stores: ${STORES.map((s) => s.name).join(', ')}`,
  options: {
    rounds: { type: 'string', value: 'N', help: 'rounds, store order rotated each round (default 3)' },
    seconds: { type: 'string', value: 'S', help: 'seconds per measurement (default 2)' },
    writers: { type: 'string', value: 'LIST', help: 'writer counts (default 1,16,256)' },
    stores: { type: 'string', value: 'LIST', help: 'configurations to run (default: all but log-opts, which --log-options adds)' },
    'log-options': { type: 'string', value: 'JSON', help: 'DurableLog options of the log-opts row, e.g. \'{"maxInFlight":4}\'' },
    dir: { type: 'string', value: 'DIR', help: 'where the stores live (default os.tmpdir())' },
    json: { type: 'string', value: 'FILE', help: 'write the results JSON here (e.g. bench/results/stores.json)' },
    report: { type: 'string', value: 'FILE', help: 'measure nothing: print the table and the goal verdicts of a results JSON' },
  },
  footer: 'The durability of every configuration is proven by test/powercut-stores.test.ts (power-cut simulator).',
};

/** The results document. */
export interface StoresDocument {
  schema: 'hardsync-stores/1';
  date: string;
  system: { node: string; platform: string; kernel: string; cpus: number; dir: string; fs: string };
  rounds: number;
  seconds: number;
  recordBytes: number;
  logOptions: Record<string, unknown> | null;
  maxInFlightSupported: boolean;
  stores: { name: string; describe: string; proof: StoreConfig['proof'] }[];
  /** Per store and writer count: the median of the rounds and each round's figures. */
  results: {
    store: string;
    writers: number;
    acksPerSec: number;
    /** The 95% interval of acks/s over the rounds (stats.roundsInterval), with 2 rounds or more. */
    acksPerSecInterval?: Interval;
    p50Us: number;
    p99Us: number;
    p999Us: number;
    rounds: CaseResult[];
  }[];
}

function fsType(dir: string): string {
  try {
    const mounts = fs.readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' '));
    const real = fs.realpathSync(dir);
    let best = { point: '', type: 'unknown' };
    for (const [, point, type] of mounts) {
      if (point && (real === point || real.startsWith(point.endsWith('/') ? point : `${point}/`)) && point.length > best.point.length) best = { point, type };
    }
    return best.type;
  } catch {
    return 'unknown';
  }
}

const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

/** The text table: per writer count, the stores, medians with the rounds' ranges. */
export function formatTable(doc: StoresDocument): string {
  const lines: string[] = [];
  const header = ['writers', 'store', 'acks/s', 'range', 'p50 us', 'p99 us', 'p99.9 us'];
  const rows: string[][] = [];
  for (const r of doc.results) {
    const a = r.rounds.map((x) => x.acksPerSec);
    rows.push([
      String(r.writers),
      r.store,
      fmt(r.acksPerSec),
      `${fmt(Math.min(...a))}-${fmt(Math.max(...a))}`,
      fmt(r.p50Us),
      fmt(r.p99Us),
      fmt(r.p999Us),
    ]);
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => (i === 1 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ')} |`;
  lines.push(line(header), `|${widths.map((w, i) => (i === 1 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`);
  for (const row of rows) lines.push(line(row));
  return lines.join('\n');
}

/** One writer count's verdict on the issue's goal. */
export interface GoalVerdict {
  writers: number;
  /** The fastest DurableLog configuration (most acks/s; at 1 writer, lowest p50). */
  log: string;
  /** The best peer: most acks/s (at 1 writer: lowest p50) among the peers `ranked` admits. */
  peer: string;
  ratio: number;
  logP99: number;
  peerP99: number;
  logP50: number;
  peerP50: number;
  holds: boolean;
  text: string;
}

/**
 * The issue's goal per writer count: at 16 and 256 writers, DurableLog >= 3x the acks/s of the
 * best peer with a p99 no worse; at 1 writer, a p50 no worse than the best peer's. `ranked`
 * says which peers count ('proven': only those the power-cut simulator proved durable).
 */
export function goalVerdicts(doc: StoresDocument, ranked: (proof: StoreConfig['proof']) => boolean): GoalVerdict[] {
  // (A results file from before the proof field: the current table's proof.)
  const proofOf = new Map(doc.stores.map((s) => [s.name, s.proof ?? STORES.find((c) => c.name === s.name)?.proof]));
  const verdicts: GoalVerdict[] = [];
  for (const writers of [...new Set(doc.results.map((r) => r.writers))]) {
    const rows = doc.results.filter((r) => r.writers === writers);
    const logs = rows.filter((r) => r.store.startsWith('log'));
    const peers = rows.filter((r) => !r.store.startsWith('log') && ranked(proofOf.get(r.store) ?? 'unhostable'));
    if (logs.length === 0 || peers.length === 0) continue;
    const one = writers === 1;
    const better = (a: (typeof rows)[number], b: (typeof rows)[number]) => (one ? a.p50Us < b.p50Us : a.acksPerSec > b.acksPerSec);
    const log = logs.reduce((a, b) => (better(b, a) ? b : a));
    const peer = peers.reduce((a, b) => (better(b, a) ? b : a));
    const ratio = log.acksPerSec / peer.acksPerSec;
    const holds = one ? log.p50Us <= peer.p50Us : ratio >= 3 && log.p99Us <= peer.p99Us;
    const text = one
      ? `1 writer: ${log.store} p50 ${fmt(log.p50Us)} us vs ${peer.store} ${fmt(peer.p50Us)} us (goal: no worse): ${holds ? 'HOLDS' : 'does NOT hold'}`
      : `${writers} writers: ${log.store} ${ratio.toFixed(2)}x ${peer.store}'s acks/s (goal >= 3x), p99 ${fmt(log.p99Us)} vs ${fmt(peer.p99Us)} us (goal: no worse): ${holds ? 'HOLDS' : 'does NOT hold'}`;
    verdicts.push({ writers, log: log.store, peer: peer.store, ratio, logP99: log.p99Us, peerP99: peer.p99Us, logP50: log.p50Us, peerP50: peer.p50Us, holds, text });
  }
  return verdicts;
}

/** The whole report: table, configurations, goal verdicts. */
export function formatReport(doc: StoresDocument): string {
  const out: string[] = [formatTable(doc), ''];
  const proofOf = (name: string) => doc.stores.find((s) => s.name === name)?.proof ?? STORES.find((c) => c.name === name)?.proof;
  for (const s of doc.stores) out.push(`${s.name.padEnd(15)} ${s.describe}${proofOf(s.name) === 'unhostable' ? ' [NOT proven: the power-cut simulator cannot host it; not ranked]' : ''}`);
  if (doc.logOptions) out.push(`log-opts        ${JSON.stringify(doc.logOptions)}${doc.maxInFlightSupported ? '' : ' (maxInFlight unknown to this build: ignored)'}`);
  out.push('', `medians of ${doc.rounds} interleaved rounds of ${doc.seconds} s, ${doc.recordBytes}-byte records, ${doc.system.dir} (${doc.system.fs}), ${doc.system.cpus} cpus, node ${doc.system.node}`);
  out.push('', 'goal against the best peer proven durable on the power-cut simulator:');
  for (const v of goalVerdicts(doc, (p) => p === 'proven')) out.push(`  ${v.text}`);
  if (doc.stores.some((s) => proofOf(s.name) === 'unhostable' && doc.results.some((r) => r.store === s.name))) {
    out.push('the same counting the peers the simulator cannot host (lmdb):');
    for (const v of goalVerdicts(doc, () => true)) out.push(`  ${v.text}`);
  }
  return `${out.join('\n')}\n`;
}

async function main(argv: string[]): Promise<void> {
  const parsed = parseCommand(SPEC, argv);
  if (parsed.values.help) {
    process.stdout.write(commandUsage(SPEC));
    return;
  }
  if (parsed.positionals.length > 0) throw new UsageError(`bench:stores takes no arguments, got ${parsed.positionals.join(' ')}`);
  const reportFile = stringValue(parsed, 'report');
  if (reportFile !== undefined) {
    let doc: StoresDocument;
    try {
      doc = JSON.parse(fs.readFileSync(reportFile, 'utf8'));
    } catch (error) {
      throw new UsageError(`--report ${reportFile}: ${(error as Error).message}`);
    }
    if (doc.schema !== 'hardsync-stores/1') throw new UsageError(`--report ${reportFile}: not a bench:stores results file`);
    process.stdout.write(formatReport(doc));
    return;
  }
  const rounds = numberValue(parsed, 'rounds', 3, 1, 1000, true);
  const seconds = numberValue(parsed, 'seconds', 2, 0.1, 3600, false);
  const writers = (listValue(parsed, 'writers') ?? ['1', '16', '256']).map((w) => {
    const n = Number(w);
    if (!Number.isInteger(n) || n < 1 || n > 100_000) throw new UsageError(`--writers: ${w} is not a writer count from 1 to 100000`);
    return n;
  });
  const logOptionsText = stringValue(parsed, 'log-options');
  let logOptions: Record<string, unknown> | null = null;
  if (logOptionsText !== undefined) {
    try {
      logOptions = JSON.parse(logOptionsText);
    } catch (error) {
      throw new UsageError(`--log-options: not JSON: ${(error as Error).message}`);
    }
    if (typeof logOptions !== 'object' || logOptions === null || Array.isArray(logOptions)) throw new UsageError('--log-options must be a JSON object');
  }
  const names = listValue(parsed, 'stores') ?? STORES.filter((s) => s.name !== 'log-opts' || logOptions).map((s) => s.name);
  for (const name of names) {
    if (!STORES.some((s) => s.name === name)) throw new UsageError(`--stores: unknown store ${name} (known: ${STORES.map((s) => s.name).join(', ')})`);
  }
  if (names.includes('log-opts') && !logOptions) throw new UsageError('--stores log-opts needs --log-options JSON');
  const root = stringValue(parsed, 'dir') ?? os.tmpdir();
  const jsonFile = stringValue(parsed, 'json');
  checkOutputPath('json', jsonFile);
  if (!fs.statSync(root, { throwIfNoEntry: false })?.isDirectory()) throw new UsageError(`--dir ${root}: not a directory`);

  const maxInFlightSupported = await probeMaxInFlight(root);
  if (logOptions && 'maxInFlight' in logOptions && !maxInFlightSupported) {
    process.stderr.write('warning: this build of DurableLog does not know maxInFlight: the log-opts row runs without it (unknown options are ignored)\n');
  }
  const kind = fsType(root);
  process.stderr.write(
    `bench:stores: ${names.length} configurations x writers ${writers.join(',')} x ${rounds} rounds x ${seconds} s on ${root} (${kind}); maxInFlight ${maxInFlightSupported ? 'supported' : 'not in this build'}\n`,
  );
  const perCase = new Map<string, CaseResult[]>();
  for (let round = 0; round < rounds; round++) {
    for (const w of writers) {
      // Rotate the order each round, so a drift of the machine favours no store.
      const order = names.map((_, i) => names[(i + round) % names.length]);
      for (const name of order) {
        const dir = fs.mkdtempSync(path.join(root, `hardsync-stores-${name}-`));
        try {
          const result = await runChild(name, dir, w, seconds, JSON.stringify(logOptions ?? {}));
          const key = `${name}/${w}`;
          perCase.set(key, [...(perCase.get(key) ?? []), result]);
          process.stderr.write(`  round ${round + 1} ${name.padEnd(15)} ${String(w).padStart(4)} writers: ${fmt(result.acksPerSec)} acks/s, p50 ${fmt(result.p50)} us, p99 ${fmt(result.p99)} us\n`);
        } finally {
          fs.rmSync(dir, { recursive: true, force: true });
        }
      }
    }
  }
  const doc: StoresDocument = {
    schema: 'hardsync-stores/1',
    date: new Date().toISOString(),
    system: { node: process.version, platform: `${process.platform}-${process.arch}`, kernel: os.release(), cpus: os.cpus().length, dir: root, fs: kind },
    rounds,
    seconds,
    recordBytes: RECORD_BYTES,
    logOptions,
    maxInFlightSupported,
    stores: names.map((n) => {
      const s = STORES.find((c) => c.name === n)!;
      return { name: n, describe: s.describe, proof: s.proof };
    }),
    results: [],
  };
  for (const w of writers) {
    for (const name of names) {
      const runs = perCase.get(`${name}/${w}`) ?? [];
      const acks = runs.map((r) => r.acksPerSec);
      doc.results.push({
        store: name,
        writers: w,
        acksPerSec: median(acks),
        ...(acks.length >= 2 ? { acksPerSecInterval: roundsInterval(median(acks), acks) } : {}),
        p50Us: median(runs.map((r) => r.p50)),
        p99Us: median(runs.map((r) => r.p99)),
        p999Us: median(runs.map((r) => r.p999)),
        rounds: runs,
      });
    }
  }
  process.stdout.write(formatReport(doc));
  if (jsonFile) fs.writeFileSync(jsonFile, `${JSON.stringify(doc, null, 2)}\n`);
}

if (require.main === module) {
  const argv = process.argv.slice(2);
  const run = argv[0] === '--child' ? childMain(argv.slice(1)) : main(argv);
  run.catch((error: Error & { code?: string }) => {
    process.stderr.write(`${error.code === 'ERR_HARDSYNC_USAGE' ? '' : 'bench:stores: '}${error.message}\n`);
    process.exit(error.code === 'ERR_HARDSYNC_USAGE' ? 2 : 1);
  });
}
