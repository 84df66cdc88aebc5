// ENOSPC is reported, never hidden: on a real, small tmpfs, a DurableLog whose next segment
// cannot be preallocated fails the append that needed it (and every later call) with ENOSPC;
// a log whose first segment does not fit fails to open with ENOSPC. After space is freed,
// reopening recovers every acknowledged record.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as hs from '../dist/lib/index.js';
import { loopUnavailable, mountFs, type MountedFs } from './helpers/loopfs';

const why = hs.platform === 'linux' ? loopUnavailable('tmpfs') : 'not Linux';
if (why) console.warn(`SKIPPED test/log-enospc.test.ts: ${why}`);

let mounted: MountedFs | undefined;
beforeAll(() => {
  if (!why) mounted = mountFs('tmpfs', 1);
});
afterAll(() => mounted?.unmount());

describe.skipIf(Boolean(why))('DurableLog on a full filesystem', () => {
  it('a segment roll that hits ENOSPC fails the log with ENOSPC; reopen keeps every acknowledged record', async () => {
    const dir = path.join(mounted!.mountPoint, 'log');
    const segmentSize = 640 * 1024; // one fits in 1 MiB, two do not
    const log = await hs.DurableLog.open(dir, { segmentSize });
    const acked: number[] = [];
    let failure: (Error & { code?: string; syscall?: string }) | undefined;
    const record = Buffer.alloc(4000, 0x61);
    for (let i = 0; i < 400 && !failure; i++) {
      try {
        acked.push((await log.append(record)).lsn);
      } catch (error) {
        failure = error as Error & { code?: string };
      }
    }
    expect(failure, 'the roll to a second segment must fail').toBeDefined();
    expect(failure).toMatchObject({ code: 'ENOSPC', errno: -28 });
    expect(failure!.syscall).toMatch(/^(fallocate|posix_fallocate|pwrite|write)$/);
    expect(acked.length).toBeGreaterThan(100);
    await expect(log.append(record)).rejects.toBe(failure);
    await log.close();

    const reopened = await hs.DurableLog.open(dir, { segmentSize });
    try {
      const seen: number[] = [];
      for await (const { lsn, data } of reopened.records()) {
        expect(data.equals(record)).toBe(true);
        seen.push(lsn);
      }
      expect(seen.slice(0, acked.length)).toEqual(acked);
      expect(reopened.recovery.corruption).toBeUndefined();
    } finally {
      await reopened.close();
    }
  });

  it('a log whose first segment does not fit fails to open with ENOSPC and leaves no segment', async () => {
    const dir = path.join(mounted!.mountPoint, 'too-big');
    await expect(hs.DurableLog.open(dir, { segmentSize: 4 << 20 })).rejects.toMatchObject({ code: 'ENOSPC' });
    const left = fs.existsSync(dir) ? fs.readdirSync(dir).filter((name) => name.endsWith('.wal') || name.endsWith('.tmp')) : [];
    expect(left).toEqual([]);
  });
});
