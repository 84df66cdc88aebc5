// Power-cut campaigns on hand-written workloads (node:fs and hardsync's primitives), to show
// the harness is right both ways: correct durability code survives every cut, and the negative
// controls (a missing flush, a missing directory fsync, an acknowledgement before the flush,
// a chmod that is not durable) are caught. HARDSYNC_POWERCUT_RUNS raises the run count of the
// positive scenarios, HARDSYNC_POWERCUT_NEGATIVE_RUNS that of the negative ones,
// HARDSYNC_POWERCUT_SEED replays a campaign.
import crypto from 'node:crypto';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkAppend,
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
  type CampaignResult,
} from './helpers/powercut';
import { tempDir } from './helpers/tmp';

const unavailable = powercutUnavailable();
if (unavailable) console.warn(`[powercut] skipped: ${unavailable}`);

const RUNS = runsFromEnv(200);
const NEGATIVE_RUNS = negativeRunsFromEnv(40);
const SEED = seedFromEnv();
const TIMEOUT = 600_000;

const secretParams = (runSeed: number) => ({ secretHex: crypto.createHash('sha256').update(`secret ${runSeed}`).digest('hex') });
const auditSecret = (pfs: PowercutFs, params: Record<string, unknown>) => pfs.audit(Buffer.from(String(params.secretHex), 'hex'));

describe.skipIf(unavailable !== undefined)('power cuts on hand-written workloads', () => {
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

  async function campaign<O>(options: Omit<CampaignOptions<O>, 'seed'>): Promise<CampaignResult> {
    const result = await crashCampaign(pfs, worker, { ...options, seed: SEED });
    console.log(describeCampaign(result));
    for (const problem of result.problems.slice(0, 3)) console.log(`  ${problem}`);
    return result;
  }

  async function mustHold<O>(options: Omit<CampaignOptions<O>, 'seed' | 'runs'>): Promise<void> {
    const result = await campaign({ ...options, runs: RUNS });
    expect(result.problems).toEqual([]);
    // The cut points must reach past the first acknowledgement often, or the run proves little.
    expect(result.runsWithAck).toBeGreaterThan(RUNS / 2);
  }

  async function mustBreak<O>(options: Omit<CampaignOptions<O>, 'seed' | 'runs'>): Promise<void> {
    const result = await campaign({ ...options, runs: NEGATIVE_RUNS });
    expect(result.failedRuns, `${options.scenario} must be caught`).toBeGreaterThan(0);
  }

  it('temp file + fsync + rename + directory fsync: always the old or the new version', { timeout: TIMEOUT }, async () => {
    await mustHold({ scenario: 'atomic-ref', check: checkAtomic });
  });
  it('negative control: rename without the directory fsync loses the new version', { timeout: TIMEOUT }, async () => {
    await mustBreak({ scenario: 'atomic-no-dirsync', check: checkAtomic });
  });
  it('negative control: rename of a file never fsynced leaves it empty', { timeout: TIMEOUT }, async () => {
    await mustBreak({ scenario: 'atomic-no-filesync', check: checkAtomic });
  });
  it('negative control: an in-place write with no flush loses its data', { timeout: TIMEOUT }, async () => {
    await mustBreak({ scenario: 'overwrite-no-flush', check: checkAtomic });
  });

  it('append + fdatasync: every acknowledged append survives', { timeout: TIMEOUT }, async () => {
    await mustHold({ scenario: 'append-fdatasync', check: checkAppend });
  });
  it('O_DSYNC appends: every acknowledged append survives', { timeout: TIMEOUT }, async () => {
    await mustHold({ scenario: 'append-dsync', check: checkAppend });
  });
  it('negative control: appends with no flush are lost', { timeout: TIMEOUT }, async () => {
    await mustBreak({ scenario: 'append-no-flush', check: checkAppend });
  });
  it('negative control: sync_file_range makes nothing durable', { timeout: TIMEOUT }, async () => {
    await mustBreak({ scenario: 'append-sync-file-range', check: checkAppend });
  });

  it('create + fsync + directory fsync: every acknowledged file exists', { timeout: TIMEOUT }, async () => {
    await mustHold({ scenario: 'create-ref', check: checkCreate });
  });
  it('negative control: a created file without the directory fsync is lost', { timeout: TIMEOUT }, async () => {
    await mustBreak({ scenario: 'create-no-dirsync', check: checkCreate });
  });

  it('a log that flushes before it acknowledges keeps every acknowledged record', { timeout: TIMEOUT }, async () => {
    await mustHold({ scenario: 'hand-log', check: checkLog });
  });
  it('negative control: a log that acknowledges before its flush loses acknowledged records', { timeout: TIMEOUT }, async () => {
    await mustBreak({ scenario: 'hand-log-ack-first', check: checkLog });
  });

  it('a secret written to a 0600 temp file, fsynced and renamed is never readable by others', { timeout: TIMEOUT }, async () => {
    await mustHold({ scenario: 'secret-ref', check: checkSecret, params: secretParams, beforeRun: auditSecret });
  });
  it('negative control: chmod after the write leaves the secret readable for a while', { timeout: TIMEOUT }, async () => {
    await mustBreak({ scenario: 'secret-chmod-after-write', check: checkSecret, params: secretParams, beforeRun: auditSecret });
  });
  it('negative control: a chmod made durable by fdatasync only is lost, the secret is not', { timeout: TIMEOUT }, async () => {
    await mustBreak({ scenario: 'secret-chmod-not-durable', check: checkSecret, params: secretParams, beforeRun: auditSecret });
  });
});

describe('the workload protocol', () => {
  it('a run whose process dies keeps the events it reported before dying (what it acknowledged)', async () => {
    const worker = WorkloadProcess.start();
    try {
      await worker.request({ op: 'setup', scenario: 'die-mid-run', dir: path.join(tempDir('hardsync-die-'), 'w'), seed: 1, params: {} });
      const reply = await worker.request<{ events: unknown[]; error: { code: string } | null }>({ op: 'run' });
      expect(reply.error?.code).toBe('EXITED');
      expect(reply.events).toEqual([['begin', 1], ['done', 1], ['begin', 2], ['done', 2], ['begin', 3], ['done', 3], ['begin', 4]]);
    } finally {
      await worker.stop();
    }
  });
});
