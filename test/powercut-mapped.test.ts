// Power cuts on mapped files: a workload maps a file with mapFile, stores records through the
// mapping and acknowledges each once msync (or msyncSync) of its range returned; the power is
// cut at a random filesystem operation, the machine rebooted, and every acknowledged record must
// be there, intact. Runs on powercut-fs's `-o mmap` mount, where files go through the kernel's
// page cache (powercut/README.md, "mmap mode"; proven by test/powercut-mmap.test.ts):
// a store dirties a page, the kernel writes it back at msync (or whenever it likes), and only a
// flush of the file makes what the daemon has durable.
// Negative controls that must be caught: stores acknowledged without any msync, and stores
// acknowledged after an msync of another range (another page of the same file).
// Also here, on the same mount: an msync that the simulator makes slow (an unmapFile meanwhile
// leaves the memory mapped until it returns, and the event loop runs) and one it fails (EIO).
// The workloads: test/fixtures/powercut/mapped.cjs. HARDSYNC_POWERCUT_RUNS /
// HARDSYNC_POWERCUT_NEGATIVE_RUNS set the run counts (default 200 / 100: a few seconds each),
// HARDSYNC_POWERCUT_SEED replays a campaign.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as hs from '../dist/lib/index.js';
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
  type RunFacts,
} from './helpers/powercut';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { SLOTS } = require('./fixtures/powercut/mapped.cjs') as { SLOTS: number };

const unavailable = powercutUnavailable();
if (unavailable) console.warn(`[powercut] skipped: ${unavailable}`);

const RUNS = runsFromEnv(200);
const NEGATIVE_RUNS = negativeRunsFromEnv(100);
const SEED = seedFromEnv();
const TIMEOUT = 900_000;

/** What mapped.cjs's inspect reports: per slot, the record there and whether it is intact. */
interface MappedObservation {
  size: number;
  slots: [n: number | null, intact: boolean][];
}

/** Acknowledged stores and lost ones, over a campaign. */
interface Tally {
  acked: number;
  lost: number;
  runsWithLoss: number;
}

/**
 * After a cut: every acknowledged record n is in its slot, intact (or a later record of the
 * same slot, itself begun); with `strict`, also no slot holds anything but an intact record or
 * the zeros of the setup (a control's unflushed stores can leave a slot half-written).
 */
function checkMapped(tally: Tally, strict: boolean) {
  return ({ events, observation: o }: RunFacts<MappedObservation>): string[] => {
    const problems: string[] = [];
    const begun = new Set(events.filter((e) => e[0] === 'begin').map((e) => Number(e[1])));
    const done = events.filter((e) => e[0] === 'done').map((e) => Number(e[1]));
    if (o.size !== o.slots.length * 700) problems.push(`the file is ${o.size} bytes, not ${o.slots.length * 700}`);
    if (strict) {
      o.slots.forEach(([n, intact], slot) => {
        if (!intact) problems.push(`slot ${slot} holds neither an intact record nor the setup's zeros`);
        else if (n !== null && !begun.has(n)) problems.push(`slot ${slot} holds record ${n}, never stored`);
      });
    }
    const lost = done.filter((n) => {
      const [held, intact] = o.slots[(n - 1) % SLOTS];
      return !(intact && held !== null && held >= n && (held - n) % SLOTS === 0 && begun.has(held));
    });
    tally.acked += done.length;
    tally.lost += lost.length;
    if (lost.length > 0) {
      tally.runsWithLoss++;
      problems.push(`${lost.length} of ${done.length} acknowledged stores lost: ${lost.slice(0, 5).join(', ')}${lost.length > 5 ? ', ...' : ''}`);
    }
    return problems;
  };
}

describe.skipIf(unavailable !== undefined)('power cuts on mapped files (mapFile + msync, powercut-fs -o mmap)', () => {
  let pfs: PowercutFs;
  let worker: WorkloadProcess;
  const summary: string[] = [];

  beforeAll(async () => {
    pfs = await PowercutFs.mount({ mmap: true });
    worker = WorkloadProcess.start();
  });
  afterAll(async () => {
    await worker?.stop();
    await pfs?.unmount();
    console.log(`[powercut] mapped summary (seed ${SEED}):\n${summary.join('\n')}`);
  });

  async function campaign(flush: string, runs: number, strict: boolean): Promise<{ result: CampaignResult; tally: Tally }> {
    const tally: Tally = { acked: 0, lost: 0, runsWithLoss: 0 };
    const result = await crashCampaign(pfs, worker, {
      scenario: 'mapped',
      runs,
      seed: SEED,
      check: checkMapped(tally, strict),
      params: () => ({ flush }),
      spanSteps: 8,
    });
    const line = `mapped/${flush}: ${result.runs} runs, ${tally.acked} stores acknowledged, ${tally.lost} lost, in ${tally.runsWithLoss} runs (${((100 * tally.runsWithLoss) / result.runs).toFixed(0)}%)`;
    console.log(`${describeCampaign(result)}; ${line}`);
    for (const problem of result.problems.slice(0, 3)) console.log(`  ${problem}`);
    summary.push(line);
    return { result, tally };
  }

  for (const flush of ['msyncSync', 'msync']) {
    it(`${flush}: every acknowledged store survives the cut, intact`, { timeout: TIMEOUT }, async () => {
      const { result, tally } = await campaign(flush, RUNS, true);
      expect(result.problems).toEqual([]);
      expect(tally.lost).toBe(0);
      // The runs prove something only if stores were acknowledged before the cuts.
      expect(result.runsWithAck).toBeGreaterThan(RUNS / 2);
    });
  }

  it('negative control: stores acknowledged without msync are lost', { timeout: TIMEOUT }, async () => {
    const { tally } = await campaign('none', NEGATIVE_RUNS, false);
    expect(tally.lost).toBeGreaterThan(0);
    // Nothing ever flushes the mapped file here: every run with an acknowledged store loses it.
    expect(tally.runsWithLoss).toBeGreaterThan(NEGATIVE_RUNS / 2);
  });

  it('negative control: an msync of another range does not make the store durable', { timeout: TIMEOUT }, async () => {
    const { tally } = await campaign('other-range', NEGATIVE_RUNS, false);
    expect(tally.lost).toBeGreaterThan(0);
  });
});

/** The lines of /proc/self/maps that map `file`. */
function mapsOf(file: string): string[] {
  return fs.readFileSync('/proc/self/maps', 'utf8').split('\n').filter((line) => line.endsWith(file));
}

describe.skipIf(unavailable !== undefined)('msync on powercut-fs: a slow flush and a failed one', () => {
  let pfs: PowercutFs;
  let counter = 0;

  beforeAll(async () => {
    pfs = await PowercutFs.mount({ mmap: true });
  });
  afterAll(async () => {
    await pfs?.unmount();
  });

  /** A durable file of 16 KiB of 'A's, open read-write, mapped. */
  function mapped(): { file: string; fd: number; map: Buffer } {
    const file = path.join(pfs.mountpoint, `slow${++counter}`);
    fs.writeFileSync(file, Buffer.alloc(16384, 'A'));
    pfs.sync();
    const fd = fs.openSync(file, 'r+');
    return { file, fd, map: hs.mapFileSync(fd) };
  }

  it('an unmapFile during a slow msync: detached at once, mapped until the msync returns, durable; the event loop runs meanwhile', async () => {
    const { file, fd, map } = mapped();
    map.write('slow but durable', 5000);
    pfs.setDelay(300);
    try {
      let turns = 0;
      const ticking = setInterval(() => turns++, 1);
      const pending = hs.msync(map);
      hs.unmapFile(map);
      expect(map.length).toBe(0);
      expect(mapsOf(file)).toHaveLength(1); // held by the msync in flight
      await pending;
      clearInterval(ticking);
      expect(turns).toBeGreaterThan(0);
      expect(mapsOf(file)).toHaveLength(0);
      expect(pfs.status().fdatasyncs).toBeGreaterThan(0);
    } finally {
      pfs.setDelay(0);
    }
    fs.closeSync(fd);
    pfs.reboot();
    expect(fs.readFileSync(file).subarray(5000, 5016).toString()).toBe('slow but durable');
  });

  it('a failed msync is an EIO shaped like node:fs\'s, naming msync, with the awaiting caller in its stack', async () => {
    const { fd, map } = mapped();
    map.write('lost');
    pfs.cut();
    async function awaitingMsync(): Promise<void> {
      await hs.msync(map);
    }
    const error = (await awaitingMsync().catch((e: unknown) => e)) as Error & { code: string };
    expect(error).toMatchObject({ code: 'EIO', syscall: 'msync', errno: -5, message: 'EIO: i/o error, msync' });
    expect(error.stack).toMatch(/\n    at (async )?awaitingMsync \(/);
    let syncError: unknown;
    try {
      hs.msyncSync(map);
    } catch (caught) {
      syncError = caught;
    }
    expect(syncError).toMatchObject({ code: 'EIO', syscall: 'msync' });
    // Unmapped before the reboot drops the old boot's pages (a touch after it would fault).
    hs.unmapFile(map);
    try {
      fs.closeSync(fd);
    } catch {
      // after the cut, close fails too
    }
    pfs.reboot();
  });
});
