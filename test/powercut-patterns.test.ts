// Power-cut campaigns on hardsync's patterns (lib/patterns): for each pattern, many runs, each
// cutting the power at a random filesystem operation of a running workload, then checking:
// - writeFileAtomic: the target holds exactly the old or the new content, never missing, empty
//   or mixed; once the call resolved, the new content;
// - createDurable: an acknowledged file exists after the cut;
// - DurableLog: every append whose promise resolved is there and intact after recovery; no
//   record comes back that was not appended; recovery never fails;
// - writeFileSecret: at no point, live or durable, are the secret's bytes in a file readable by
//   group or others (the simulator audits every state).
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
const SEED = seedFromEnv();
const TIMEOUT = 900_000;
// A log step is one group commit (a write and a flush): cut anywhere in the first 30, so runs
// cross the 16 KiB segment boundaries.
const LOG_SPAN = 30;

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

  it('writeFileSecret: the secret is never readable by others, and survives once acknowledged', { timeout: TIMEOUT }, async () => {
    await mustHold({ scenario: 'secret', check: checkSecret, params: secretParams, beforeRun: auditSecret });
  });
  it('writeFileSecretSync: the secret is never readable by others', { timeout: TIMEOUT }, async () => {
    await mustHold({ scenario: 'secret-sync', check: checkSecret, params: secretParams, beforeRun: auditSecret });
  });
});
