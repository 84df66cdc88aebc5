// Power cuts on every configuration bench/stores.ts measures (durability must
// be equal): for each, runs that cut the power at a random filesystem operation while batches of
// 1-8 concurrent writes go through the very open()/put() the benchmark times, then read the store
// back in a fresh process and count the acknowledged writes and those lost. A configuration that
// loses an acknowledged write fails here (and is not ranked in bench/README.md). Negative
// controls (sqlite synchronous=OFF and NORMAL, lmdb acknowledged at commit, LevelDB and node:fs
// without sync) must be caught losing acknowledged writes. lmdb maps its files (MAP_SHARED), which
// the simulator's default direct I/O refuses: its rows run on a second mount with `-o mmap` (files
// through the kernel's page cache; powercut/README.md), with their own workload process.
// HARDSYNC_POWERCUT_RUNS / HARDSYNC_POWERCUT_NEGATIVE_RUNS set the run counts (default 12 / 20),
// HARDSYNC_POWERCUT_SEED replays a campaign, HARDSYNC_STORES_LOG_OPTIONS (JSON) adds the bench's
// log-opts row (e.g. '{"maxInFlight":4}').
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  crashCampaign,
  describeCampaign,
  negativeRunsFromEnv,
  PowercutFs,
  powercutUnavailable,
  runsFromEnv,
  seedFromEnv,
  WorkloadProcess,
  type CampaignResult,
  type Workload,
  type RunFacts,
} from './helpers/powercut';

const unavailable = powercutUnavailable();
if (unavailable) console.warn(`[powercut] skipped: ${unavailable}`);

const RUNS = runsFromEnv(12);
const NEGATIVE_RUNS = negativeRunsFromEnv(20);
const SEED = seedFromEnv();
const TIMEOUT = 900_000;
const SPAN = 30;
const LOG_OPTIONS = process.env.HARDSYNC_STORES_LOG_OPTIONS ? JSON.parse(process.env.HARDSYNC_STORES_LOG_OPTIONS) : null;

/** What stores-read.cjs reports: [seq, intact] per record found, or why the store did not open. */
interface StoreObservation {
  openError?: string;
  records?: [seq: number | null, intact: boolean][];
  integrity?: string;
}

/** Acknowledged writes seen and lost, per campaign. */
interface Tally {
  acked: number;
  lost: number;
  /** Resolved only after the cut (lmdb's rows): not acknowledgements; how many of them were lost. */
  late: number;
  lateLost: number;
}

/**
 * A store after a cut: it opens; every acknowledged write is there, intact; every record found
 * is one that was written, once, intact.
 */
function checkStore(tally: Tally) {
  return ({ events, observation: o }: RunFacts<StoreObservation>): string[] => {
    const done = events.filter((e) => e[0] === 'done').map((e) => Number(e[1]));
    const late = events.filter((e) => e[0] === 'late').map((e) => Number(e[1]));
    tally.acked += done.length;
    tally.late += late.length;
    if (o.openError) {
      tally.lost += done.length;
      return [`the store did not open after the cut: ${o.openError}`];
    }
    const problems: string[] = [];
    if (o.integrity !== undefined && o.integrity !== 'ok') problems.push(`integrity_check: ${o.integrity}`);
    const begun = new Set(events.filter((e) => e[0] === 'begin').map((e) => Number(e[1])));
    const found = new Set<number>();
    for (const [seq, intact] of o.records ?? []) {
      if (seq === null || !intact) problems.push(`a record that is not an intact written value (seq ${seq})`);
      else if (!begun.has(seq)) problems.push(`record ${seq} was never written`);
      else if (found.has(seq)) problems.push(`record ${seq} found twice`);
      else found.add(seq);
    }
    tally.lateLost += late.filter((seq) => !found.has(seq)).length;
    const lost = done.filter((seq) => !found.has(seq));
    tally.lost += lost.length;
    if (lost.length > 0) problems.push(`${lost.length} of ${done.length} acknowledged writes lost: seq ${lost.slice(0, 5).join(', ')}${lost.length > 5 ? ', ...' : ''}`);
    return problems;
  };
}

/** The durable configurations: bench/stores.ts's rows (log-opts only with HARDSYNC_STORES_LOG_OPTIONS). */
const DURABLE = ['log', 'log-dsync', ...(LOG_OPTIONS ? ['log-opts'] : []), 'sqlite', 'sqlite-batch', 'lmdb-flushed', 'lmdb-dbflushed', 'lmdb-sync', 'level', 'fs'];
const READER = path.join(__dirname, 'fixtures', 'powercut', 'stores-read.cjs');

/**
 * Whether lmdb runs on the `-o mmap` mount: it maps its lock file (and reads its data file) with
 * a shared mmap, which powercut-fs refuses with ENODEV under its default direct I/O (lmdb-js then
 * crashes). Tried in a child process on the mount; the reason, or undefined when it works.
 */
function lmdbUnhostable(dir: string): Promise<string | undefined> {
  fs.mkdirSync(dir);
  return new Promise((resolve) => {
    execFile(process.execPath, [READER, 'probe-lmdb', dir, '0'], { timeout: 30_000 }, (error, stdout, stderr) => {
      fs.rmSync(dir, { recursive: true, force: true });
      if (!error && !/openError/.test(stdout)) return resolve(undefined);
      const how = error ? (error.signal ? `killed by ${error.signal}` : `exit ${error.code}`) : stdout.trim();
      resolve(`lmdb does not run on powercut-fs -o mmap (${how}${stderr.trim() ? `: ${stderr.trim().slice(0, 300)}` : ''})`);
    });
  });
}

/**
 * lmdb's workload: a fresh process for every run, killed once the run ended at the cut and before
 * the reboot (as the power cut would kill it), and another fresh one to inspect. A process that
 * outlives the cut is not safe with lmdb-js: after its writes failed it corrupted its heap and
 * aborted (SIGABRT), and its threads touch maps whose pages the reboot dropped (SIGBUS).
 */
class ProcessPerRun implements Workload {
  private current: WorkloadProcess | null = null;
  private setupMessage: Record<string, unknown> | null = null;

  private async fresh(): Promise<WorkloadProcess> {
    await this.stop();
    this.current = WorkloadProcess.start();
    return this.current;
  }

  async request<T>(message: Record<string, unknown>, timeoutMs?: number): Promise<T> {
    if (message.op === 'setup') {
      this.setupMessage = message;
      return (await this.fresh()).request<T>(message, timeoutMs);
    }
    if (message.op === 'inspect') {
      if (!this.setupMessage) throw new Error('inspect before setup');
      const inspector = await this.fresh();
      await inspector.request({ ...this.setupMessage, op: 'attach' }, timeoutMs);
      return inspector.request<T>(message, timeoutMs);
    }
    if (!this.current) throw new Error(`workload ${String(message.op)} with no process (killed at the cut)`);
    const reply = await this.current.request<T>(message, timeoutMs);
    if (message.op === 'run' && (reply as { error: unknown }).error) await this.stop();
    return reply;
  }

  async stop(): Promise<void> {
    const current = this.current;
    this.current = null;
    await current?.stop();
  }
}

// control-lmdb-commit (put() acknowledged at the commit under overlappingSync; stores.cjs) is not
// run as a negative control: it cannot be caught here: lmdb-js 3.5 resolves a put's promise in the same write-thread callback as
// the flush (after it), so JavaScript sees the commit no earlier than the flush: with the same
// seed its runs acknowledged exactly what lmdb-flushed's did (1136 writes, 0 lost, in 20 runs).
// control-lmdb-nosync (noSync: never flushed) is lmdb's negative control.
const CONTROLS = ['control-sqlite-off', 'control-sqlite-normal', 'control-lmdb-nosync', 'control-level-nosync', 'control-fs-nosync'];

describe.skipIf(unavailable !== undefined)('power cuts on the stores of bench/stores.ts', () => {
  let pfs: PowercutFs;
  let worker: WorkloadProcess;
  // lmdb's rows: a mount with -o mmap and a workload process of their own.
  let pfsMmap: PowercutFs;
  let lmdbWorker: ProcessPerRun;
  const summary: string[] = [];
  let lmdbWhyNot: string | undefined;

  beforeAll(async () => {
    // A real power cut reboots the machine, and lmdb with overlappingSync trusts its newest
    // (possibly unflushed) commit only when the boot id is unchanged; the simulator cuts without
    // a reboot, so tell lmdb what a reboot would: restore from the last flushed transaction.
    process.env.LMDB_RESTORE = 'safe';
    pfs = await PowercutFs.mount();
    worker = WorkloadProcess.start();
    pfsMmap = await PowercutFs.mount({ mmap: true });
    lmdbWorker = new ProcessPerRun();
    lmdbWhyNot = await lmdbUnhostable(path.join(pfsMmap.mountpoint, 'lmdb-probe'));
    pfsMmap.sync();
    if (lmdbWhyNot) console.warn(`[powercut] ${lmdbWhyNot}`);
  });
  afterAll(async () => {
    await worker?.stop();
    await lmdbWorker?.stop();
    await pfs?.unmount();
    await pfsMmap?.unmount();
    console.log(`[powercut] stores summary (seed ${SEED}):\n${summary.join('\n')}`);
  });

  async function campaign(scenario: string, runs: number): Promise<{ result: CampaignResult; tally: Tally }> {
    const tally: Tally = { acked: 0, lost: 0, late: 0, lateLost: 0 };
    const lmdb = scenario.includes('lmdb');
    const result = await crashCampaign(lmdb ? pfsMmap : pfs, lmdb ? lmdbWorker : worker, {
      scenario,
      runs,
      seed: SEED,
      check: checkStore(tally),
      spanSteps: SPAN,
      // lmdb-js may leave a write's promise pending for ever after the cut: the workload's
      // watchdog ends the step when the control file says the power is cut (stores.cjs).
      params: () => ({
        ...(LOG_OPTIONS ? { logOptions: LOG_OPTIONS } : {}),
        ...(lmdb ? { powercutControl: path.join(pfsMmap.mountpoint, '.powercut') } : {}),
      }),
    });
    const lateNote = tally.late > 0 ? `; ${tally.late} resolved only after the cut (${tally.lateLost} of them lost)` : '';
    console.log(`${describeCampaign(result)}; ${tally.acked} writes acknowledged, ${tally.lost} of them lost${lateNote}`);
    for (const problem of result.problems.slice(0, 3)) console.log(`  ${problem}`);
    summary.push(`${scenario}: ${result.runs} runs, ${result.failedRuns} failed, ${tally.acked} acknowledged, ${tally.lost} lost${lateNote}`);
    return { result, tally };
  }

  for (const name of DURABLE) {
    it(`${name}: no acknowledged write is lost, nothing else comes back`, { timeout: TIMEOUT }, async () => {
      if (name.startsWith('lmdb')) expect(lmdbWhyNot).toBeUndefined();
      const { result, tally } = await campaign(`store-${name}`, RUNS);
      expect(result.problems).toEqual([]);
      expect(tally.lost).toBe(0);
      // The runs prove something only if writes were acknowledged before the cuts.
      expect(result.runsWithAck).toBeGreaterThan(RUNS / 2);
    });
  }

  for (const name of CONTROLS) {
    it(`negative control ${name}: the runs catch it losing acknowledged writes`, { timeout: TIMEOUT }, async () => {
      if (name.includes('lmdb')) expect(lmdbWhyNot).toBeUndefined();
      const { tally } = await campaign(name, NEGATIVE_RUNS);
      expect(tally.lost).toBeGreaterThan(0);
    });
  }
});
