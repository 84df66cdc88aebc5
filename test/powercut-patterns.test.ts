// Power-cut campaigns on hardsync's patterns (lib/patterns): for each pattern, many runs, each
// cutting the power at a random filesystem operation of a running workload, then checking:
// - writeFileAtomic: the target holds exactly the old or the new content, never missing, empty
//   or mixed; once the call resolved, the new content;
// - createDurable: an acknowledged file exists after the cut;
// - DurableLog: every append whose promise resolved is there and intact after recovery; no
//   record comes back that was not appended; recovery never fails;
// - writeFileSecret: at no point, live or durable, are the secret's bytes in a file readable by
//   group or others (the simulator audits every state).
// - DurableLog truncated while readers hold its segments: no truncation that resolved is undone
//   (no record below the firstLsn it reported comes back), nothing acknowledged above it is
//   lost, and recovery removes what was set aside;
// And DurableLog with flush 'none' as the negative control that must lose acknowledged records.
// HARDSYNC_POWERCUT_RUNS raises the run count (thousands for a long campaign);
// HARDSYNC_POWERCUT_SEED replays one.
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkAtomic,
  checkCreate,
  checkLog,
  checkSecret,
  crashCampaign,
  describeCampaign,
  negativeRunsFromEnv,
  PowercutFs,
  powercutUnavailable,
  runsFromEnv,
  seedFromEnv,
  WorkloadProcess,
  type CampaignOptions,
  type RunFacts,
  type WorkloadEvent,
} from './helpers/powercut';

const unavailable = powercutUnavailable();
if (unavailable) console.warn(`[powercut] skipped: ${unavailable}`);

const RUNS = runsFromEnv(200);
const NEGATIVE_RUNS = negativeRunsFromEnv(40);
// The maxInFlight scenarios run with every flush delayed, so they are slower: a modest count
// here; HARDSYNC_POWERCUT_RUNS=200 (or more) for a campaign.
const INFLIGHT_RUNS = runsFromEnv(30);
const INFLIGHT_NEGATIVE_RUNS = negativeRunsFromEnv(60);
const INFLIGHT_DELAY_US = 300;
// Truncation with readers: each run appends, reads and truncates through the FUSE daemon; the
// figure in README.md is 200 runs of each (HARDSYNC_POWERCUT_RUNS=200
// HARDSYNC_POWERCUT_NEGATIVE_RUNS=200, bench/README.md has the command).
const TRUNCATE_RUNS = runsFromEnv(40);
const TRUNCATE_NEGATIVE_RUNS = negativeRunsFromEnv(40);
const SEED = seedFromEnv();
const TIMEOUT = 900_000;
// A log step is one group commit (a write and a flush): cut anywhere in the first 30, so runs
// cross the 16 KiB segment boundaries.
const LOG_SPAN = 30;

/** What the truncation workloads observe after recovery (test/fixtures/powercut/workloads.cjs). */
interface TruncatedLogObservation {
  recoveryError?: string;
  firstLsn?: number;
  records?: [lsn: number, seq: number | null, ok: boolean][];
  iterError?: string | null;
  appendAfter?: number | null;
  leftovers?: string[];
}

const isTruncation = (event: WorkloadEvent) => event[1] === 'truncate';
const RESURRECTED = 'resurrected';

/**
 * A log truncated while readers held its segments: recovery works and removes what was set
 * aside; no truncateBefore that resolved is undone (the log starts at or above every firstLsn
 * one reported); the records from there on are contiguous, intact and each appended once;
 * every acknowledged record is there, unless a truncateBefore begun before the cut was allowed
 * to remove it; the recovered log takes the next append.
 */
function checkTruncatedLog({ events, observation: o }: RunFacts<TruncatedLogObservation>): string[] {
  if (o.recoveryError) return [`recovery failed: ${o.recoveryError}`];
  const problems: string[] = [];
  if (o.iterError) problems.push(`reading the recovered log failed: ${o.iterError}`);
  if (o.leftovers && o.leftovers.length > 0) problems.push(`open left set-aside segments: ${o.leftovers.join(', ')}`);
  const first = o.firstLsn as number;
  const records = o.records ?? [];
  const durableFirst = Math.max(0, ...events.filter((e) => e[0] === 'done' && isTruncation(e)).map((e) => Number(e[3])));
  const mayRemove = Math.max(0, ...events.filter((e) => e[0] === 'begin' && isTruncation(e)).map((e) => Number(e[2])));
  if (first < durableFirst) problems.push(`${RESURRECTED}: the log starts at LSN ${first}, below ${durableFirst}, where a truncateBefore that resolved left it`);
  const begun = new Set(events.filter((e) => e[0] === 'begin' && !isTruncation(e)).map((e) => Number(e[1])));
  const lsnOfSeq = new Map<number, number>();
  records.forEach(([lsn, seq, ok], i) => {
    if (lsn !== first + i) problems.push(`record ${i} has LSN ${lsn}, expected ${first + i}`);
    if (seq == null || !ok) problems.push(`record LSN ${lsn} is not an intact appended record`);
    else if (!begun.has(seq)) problems.push(`record LSN ${lsn} (seq ${seq}) was never appended`);
    else if (lsnOfSeq.has(seq)) problems.push(`seq ${seq} returned twice`);
    else lsnOfSeq.set(seq, lsn);
  });
  const lost: string[] = [];
  for (const event of events) {
    if (event[0] !== 'done' || isTruncation(event)) continue;
    const [, seq, lsn] = event.map(Number);
    const found = lsnOfSeq.get(seq);
    if (found === undefined && lsn >= Math.min(first, mayRemove)) lost.push(`seq ${seq} (LSN ${lsn})`);
    else if (found !== undefined && found !== lsn) problems.push(`seq ${seq} was acknowledged as LSN ${lsn} but recovered as LSN ${found}`);
  }
  if (lost.length > 0) problems.push(`acknowledged records lost: ${lost.slice(0, 5).join(', ')}${lost.length > 5 ? ` and ${lost.length - 5} more` : ''}`);
  const last = first + records.length - 1;
  if (o.appendAfter != null && o.appendAfter !== last + 1) problems.push(`after recovery the next append got LSN ${o.appendAfter}, expected ${last + 1}`);
  return problems;
}

const secretParams = (runSeed: number) => ({ secretHex: crypto.createHash('sha256').update(`secret ${runSeed}`).digest('hex') });
const auditSecret = (pfs: PowercutFs, params: Record<string, unknown>) => pfs.audit(Buffer.from(String(params.secretHex), 'hex'));

describe.skipIf(unavailable !== undefined)('power cuts on the patterns', () => {
  let pfs: PowercutFs;
  let worker: WorkloadProcess;

  beforeAll(async () => {
    pfs = await PowercutFs.mount();
    worker = WorkloadProcess.start();
  });
  afterAll(async () => {
    await worker?.stop();
    await pfs?.unmount();
  });

  async function campaign<O>(options: Omit<CampaignOptions<O>, 'seed'>) {
    const result = await crashCampaign(pfs, worker, { ...options, seed: SEED });
    console.log(describeCampaign(result));
    for (const problem of result.problems.slice(0, 3)) console.log(`  ${problem}`);
    return result;
  }

  /** The invariant holds in every run; `ackShare` of the runs got acknowledgements before the cut (or they prove little). */
  async function mustHold<O>(options: Omit<CampaignOptions<O>, 'seed' | 'runs'>, ackShare = 0.5): Promise<void> {
    const result = await campaign({ ...options, runs: RUNS });
    expect(result.problems).toEqual([]);
    expect(result.runsWithAck).toBeGreaterThan(RUNS * ackShare);
  }

  it('writeFileAtomic: always exactly the old or the new content', { timeout: TIMEOUT }, async () => {
    await mustHold({ scenario: 'atomic', check: checkAtomic });
  });
  it("writeFileAtomic with flush 'data': always exactly the old or the new content", { timeout: TIMEOUT }, async () => {
    await mustHold({ scenario: 'atomic-data', check: checkAtomic });
  });
  it('writeFileAtomicSync: always exactly the old or the new content', { timeout: TIMEOUT }, async () => {
    await mustHold({ scenario: 'atomic-sync', check: checkAtomic });
  });

  it('createDurable: every acknowledged file exists after the cut', { timeout: TIMEOUT }, async () => {
    await mustHold({ scenario: 'create', check: checkCreate });
  });
  it('createDurableSync: every acknowledged file exists after the cut', { timeout: TIMEOUT }, async () => {
    await mustHold({ scenario: 'create-sync', check: checkCreate });
  });

  it('DurableLog: acknowledged records survive, nothing else comes back, recovery never fails', { timeout: TIMEOUT }, async () => {
    await mustHold({ scenario: 'log', check: checkLog, spanSteps: LOG_SPAN });
  });
  it("DurableLog with flush 'full'", { timeout: TIMEOUT }, async () => {
    await mustHold({ scenario: 'log-full', check: checkLog, spanSteps: LOG_SPAN });
  });
  it("DurableLog with flush 'dsync' (O_DSYNC writes)", { timeout: TIMEOUT }, async () => {
    await mustHold({ scenario: 'log-dsync', check: checkLog, spanSteps: LOG_SPAN });
  });
  it('DurableLog with group commit (maxDelayMicros)', { timeout: TIMEOUT }, async () => {
    await mustHold({ scenario: 'log-group', check: checkLog, spanSteps: LOG_SPAN });
  });
  it("DurableLog with segmentFill 'reserve' (fallocated, not zero-filled, segments)", { timeout: TIMEOUT }, async () => {
    await mustHold({ scenario: 'log-reserve', check: checkLog, spanSteps: LOG_SPAN });
  });
  it('DurableLog through repeated cuts: the same log is cut 10 times in a row, inside recovery too', { timeout: TIMEOUT }, async () => {
    // Recovery of the growing log takes more operations with each link, and many cuts land in
    // it (as they should): a longer span, and fewer runs with acknowledgements.
    await mustHold({ scenario: 'log-chained', check: checkLog, spanSteps: 4 * LOG_SPAN, chain: 10 }, 0.25);
  });
  it("negative control: DurableLog with flush 'none' loses acknowledged records", { timeout: TIMEOUT }, async () => {
    const result = await campaign({ scenario: 'log-none', check: checkLog, runs: NEGATIVE_RUNS });
    expect(result.failedRuns).toBeGreaterThan(0);
  });

  // maxInFlight: several batches written and flushing at once. The daemon delays every flush
  // (a slow disk), so batches pile up and their flushes return out of order; the check adds
  // that recovery reports no corruption (a torn tail of up to maxInFlight batches is not).
  const checkLogNoCorruption: typeof checkLog = (facts) => {
    const problems = checkLog(facts);
    const corruption = (facts.observation.recovery as { corruption?: unknown } | undefined)?.corruption;
    if (corruption !== undefined) problems.push(`recovery reported corruption: ${JSON.stringify(corruption)}`);
    return problems;
  };
  for (const [k, scenario] of [[2, 'log-inflight-2'], [4, 'log-inflight-4'], [8, 'log-inflight-8'], [8, 'log-inflight-8-plain']] as const) {
    const how = scenario.endsWith('plain') ? 'batches in call order' : 'batches written out of order';
    it(`DurableLog with maxInFlight ${k} (${how}): acknowledged records survive, nothing from beyond a hole comes back`, { timeout: TIMEOUT }, async () => {
      pfs.delayMicros(INFLIGHT_DELAY_US);
      try {
        const result = await campaign({ scenario, check: checkLogNoCorruption, spanSteps: LOG_SPAN, runs: INFLIGHT_RUNS });
        expect(result.problems).toEqual([]);
        expect(result.runsWithAck).toBeGreaterThan(INFLIGHT_RUNS * 0.5);
      } finally {
        pfs.delayMicros(0);
      }
    });
  }
  it('negative control: DurableLog acknowledging each batch before the earlier batches are flushed loses acknowledged records', { timeout: TIMEOUT }, async () => {
    pfs.delayMicros(INFLIGHT_DELAY_US);
    try {
      const result = await campaign({ scenario: 'log-inflight-ack-early', check: checkLog, spanSteps: LOG_SPAN, runs: INFLIGHT_NEGATIVE_RUNS });
      expect(result.failedRuns).toBeGreaterThan(0);
    } finally {
      pfs.delayMicros(0);
    }
  });

  /** How many runs had a truncateBefore resolve while readers held some of what it removed, before the cut. */
  function countingHeldTruncations(): { check: typeof checkTruncatedLog; runs: () => number } {
    let runs = 0;
    return {
      check: (facts) => {
        if (facts.events.some((e) => e[0] === 'done' && isTruncation(e) && Number(e[4]) > 0)) runs++;
        return checkTruncatedLog(facts);
      },
      runs: () => runs,
    };
  }
  it('DurableLog truncated while readers hold its segments: no truncation that resolved comes undone, nothing acknowledged above it is lost', { timeout: TIMEOUT }, async () => {
    const held = countingHeldTruncations();
    const result = await campaign({ scenario: 'log-truncate-held', check: held.check, spanSteps: LOG_SPAN, runs: TRUNCATE_RUNS });
    console.log(`  ${held.runs()} of ${TRUNCATE_RUNS} runs had a truncateBefore resolve with segments held by readers before the cut`);
    expect(result.problems).toEqual([]);
    expect(result.runsWithAck).toBeGreaterThan(TRUNCATE_RUNS * 0.5);
    expect(held.runs()).toBeGreaterThan(TRUNCATE_RUNS * 0.3);
  });
  it('negative control: truncateBefore that leaves held segments under their names until released (the old deferred unlink) brings truncated records back', { timeout: TIMEOUT }, async () => {
    const result = await campaign({ scenario: 'log-truncate-held-deferred', check: checkTruncatedLog, spanSteps: LOG_SPAN, runs: TRUNCATE_NEGATIVE_RUNS });
    expect(result.failedRuns).toBeGreaterThan(0);
    for (const problem of result.problems) expect(problem).toContain(RESURRECTED);
  });

  // The worst moment, not a random one: the power goes right after truncateBefore resolved,
  // a reader still holding every segment it removed.
  async function cutRightAfterTruncation(scenario: string): Promise<{ done: WorkloadEvent; observation: TruncatedLogObservation }> {
    const dir = `${pfs.mountpoint}/${scenario}-${Date.now()}`;
    await worker.request({ op: 'setup', scenario, dir, seed: SEED });
    pfs.sync();
    const run = await worker.request<{ events: WorkloadEvent[]; error: unknown }>({ op: 'run', maxSteps: 1 });
    expect(run.error).toBeNull();
    pfs.reboot();
    const observation = await worker.request<TruncatedLogObservation>({ op: 'inspect' });
    await worker.request({ op: 'abandon' });
    pfs.sync();
    const done = run.events.find((event) => event[0] === 'done' && isTruncation(event)) as WorkloadEvent;
    expect(done[4]).toBeGreaterThan(0); // it did set segments aside for the reader
    return { done, observation };
  }
  it('DurableLog: a cut right after truncateBefore resolved, a reader holding the segments: the reopened log starts at the truncation point', { timeout: TIMEOUT }, async () => {
    const { done, observation } = await cutRightAfterTruncation('log-truncate-then-cut');
    expect(observation.recoveryError).toBeUndefined();
    expect(observation.firstLsn).toBeGreaterThanOrEqual(Number(done[3]));
    expect(observation.leftovers).toEqual([]);
    expect(observation.records!.map(([lsn]) => lsn)).toEqual(Array.from({ length: 41 - observation.firstLsn! }, (_, i) => observation.firstLsn! + i));
  });
  it('negative control: the same cut with the old deferred unlink reopens below the truncation point', { timeout: TIMEOUT }, async () => {
    const { done, observation } = await cutRightAfterTruncation('log-truncate-then-cut-deferred');
    expect(observation.firstLsn).toBe(1);
    expect(observation.firstLsn).toBeLessThan(Number(done[3]));
  });

  it('writeFileSecret: the secret is never readable by others, and survives once acknowledged', { timeout: TIMEOUT }, async () => {
    await mustHold({ scenario: 'secret', check: checkSecret, params: secretParams, beforeRun: auditSecret });
  });
  it('writeFileSecretSync: the secret is never readable by others', { timeout: TIMEOUT }, async () => {
    await mustHold({ scenario: 'secret-sync', check: checkSecret, params: secretParams, beforeRun: auditSecret });
  });
});
