// DurableLog followers: records(from, { follow: true, signal }) yields records as they become
// durable and waits for more; every way one ends (abort, close, truncation overtaking it, a
// failed log), rolls, truncation behind it, many followers at once, and that an idle one runs no
// code. Nothing here depends on timing: order, the set of resolved appends, and counts of the
// callbacks a process runs.
import { getEventListeners } from 'node:events';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DurableLog, writeDurable } from '../dist/lib/index.js';
import { logIo } from './helpers/log-io.cjs';
import { runFixture } from './helpers/strace';
import { tempDir } from './helpers/tmp';

/** A log directory not yet made, in a fresh temporary directory (removed after the file's tests). */
const freshDir = (): string => path.join(tempDir('hardsync-log-follow-'), 'wal');

const seam = logIo(path.join(__dirname, '..', 'dist', 'lib', 'index.js'));

const payload = (lsn: number): string => `record ${lsn} ${'.'.repeat((lsn * 37) % 200)}`;

/** Appends `count` records from `appenders` concurrent loops; `onResolved` runs as each append resolves. */
async function appendMany(log: DurableLog, count: number, appenders: number, onResolved: (lsn: number) => void = () => undefined): Promise<void> {
  let made = 0;
  await Promise.all(
    Array.from({ length: appenders }, async () => {
      while (made < count) {
        made++;
        const pending = log.append(payload(log.nextLsn));
        onResolved((await pending).lsn);
      }
    }),
  );
}

/** What a follower yielded before it ended, and the error it ended with. */
async function drain(iterator: AsyncIterable<{ lsn: number }>, stopAfter = Infinity): Promise<{ lsns: number[]; error: unknown }> {
  const lsns: number[] = [];
  try {
    for await (const { lsn } of iterator) {
      lsns.push(lsn);
      if (lsns.length >= stopAfter) break;
    }
  } catch (error) {
    return { lsns, error };
  }
  return { lsns, error: undefined };
}

/** Resolves once `condition()` holds, checking after each turn of the event loop (for a state another task reaches). */
async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setImmediate(resolve));
}

const range = (from: number, to: number): number[] => Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);

describe('DurableLog followers', () => {
  it('yield every record in LSN order as it becomes durable, never before its append resolved, across segment rolls', async () => {
    const dir = freshDir();
    const log = await DurableLog.open(dir, { segmentSize: 4096 });
    const resolved = new Set<number>();
    const early: number[] = [];
    const wrong: number[] = [];
    const total = 600;
    const follower = (async () => {
      const lsns: number[] = [];
      for await (const { lsn, data } of log.records(1, { follow: true })) {
        if (!resolved.has(lsn)) early.push(lsn);
        if (data.toString() !== payload(lsn)) wrong.push(lsn);
        lsns.push(lsn);
        if (lsn === total) break;
      }
      return lsns;
    })();
    await appendMany(log, total, 32, (lsn) => resolved.add(lsn));
    expect(await follower).toEqual(range(1, total));
    expect(early).toEqual([]);
    expect(wrong).toEqual([]);
    expect(log.stats()).toMatchObject({ readers: 0, waiting: 0 });
    expect(log.stats().segments).toBeGreaterThan(10);
    await log.close();
  });

  it('from nextLsn while appends are still pending: waits for them; from a position in the middle: starts there', async () => {
    const log = await DurableLog.open(freshDir());
    await appendMany(log, 10, 1);
    const pending = [log.append('eleven'), log.append('twelve')];
    const fromNext = drain(log.records(log.nextLsn, { follow: true }), 1);
    const fromPending = drain(log.records(11, { follow: true }), 2);
    const fromMiddle = drain(log.records(5, { follow: true }), 8);
    await Promise.all(pending);
    await log.append('thirteen');
    expect(await fromNext).toEqual({ lsns: [13], error: undefined });
    expect(await fromPending).toEqual({ lsns: [11, 12], error: undefined });
    expect(await fromMiddle).toEqual({ lsns: range(5, 12), error: undefined });
    await log.close();
  });

  it('end with an AbortError at once when the signal fires while they wait, and release what they held', async () => {
    const log = await DurableLog.open(freshDir());
    await appendMany(log, 5, 1);
    const controller = new AbortController();
    const follower = drain(log.records(1, { follow: true, signal: controller.signal }));
    await until(() => log.stats().waiting === 1);
    expect(log.stats()).toMatchObject({ readers: 1, waiting: 1 });
    controller.abort('enough');
    const { lsns, error } = await follower;
    expect(lsns).toEqual(range(1, 5));
    expect(error).toMatchObject({ name: 'AbortError', code: 'ABORT_ERR', cause: 'enough' });
    expect(log.stats()).toMatchObject({ readers: 0, waiting: 0 });
    // the log goes on, and a later follower from where this one stopped gets the rest
    await log.append('six');
    expect(await drain(log.records(6, { follow: true }), 1)).toEqual({ lsns: [6], error: undefined });
    await log.close();
  });

  it('20 followers sharing one signal put one listener on it (no EventTarget leak warning), and all end when it fires', async () => {
    const log = await DurableLog.open(freshDir());
    await appendMany(log, 3, 1);
    const controller = new AbortController();
    const followers = Array.from({ length: 20 }, () => drain(log.records(1, { follow: true, signal: controller.signal })));
    await until(() => log.stats().waiting === 20);
    expect(getEventListeners(controller.signal, 'abort').length).toBe(1);
    controller.abort();
    for (const { lsns, error } of await Promise.all(followers)) {
      expect(lsns).toEqual([1, 2, 3]);
      expect(error).toMatchObject({ name: 'AbortError' });
    }
    expect(getEventListeners(controller.signal, 'abort').length).toBe(0);
    // and a follower that ends otherwise takes its listener away
    const other = new AbortController();
    expect(await drain(log.records(1, { follow: true, signal: other.signal }), 2)).toMatchObject({ lsns: [1, 2] });
    expect(getEventListeners(other.signal, 'abort').length).toBe(0);
    await log.close();
  });

  it('an abort between two records ends the iteration at its next step, following or not', async () => {
    const log = await DurableLog.open(freshDir());
    await appendMany(log, 5, 1);
    for (const follow of [true, false]) {
      const controller = new AbortController();
      const iterator = log.records(1, { follow, signal: controller.signal });
      expect((await iterator.next()).value).toMatchObject({ lsn: 1 });
      controller.abort();
      await expect(iterator.next()).rejects.toMatchObject({ name: 'AbortError', code: 'ABORT_ERR' });
      expect(await iterator.next()).toEqual({ done: true, value: undefined });
    }
    expect(log.stats()).toMatchObject({ readers: 0 });
    await log.close();
  });

  it('AbortSignal.timeout makes a poll with a timeout: the records there are, in order, then an AbortError whose cause is the TimeoutError', async () => {
    const log = await DurableLog.open(freshDir());
    await appendMany(log, 5, 1);
    const { lsns, error } = await drain(log.records(1, { follow: true, signal: AbortSignal.timeout(1000) }));
    // On a loaded machine the timeout may fire before all five are read: a prefix, in order.
    expect(lsns).toEqual(range(1, lsns.length));
    expect(error).toMatchObject({ name: 'AbortError', cause: { name: 'TimeoutError' } });
    await log.close();
  });

  it('close ends a waiting follower at once, and one that is behind at its next step, with ERR_HARDSYNC_LOG_CLOSED', async () => {
    const log = await DurableLog.open(freshDir());
    await appendMany(log, 5, 1);
    const waiting = drain(log.records(1, { follow: true }));
    const behind = log.records(1, { follow: true });
    expect((await behind.next()).value).toMatchObject({ lsn: 1 });
    await until(() => log.stats().waiting === 1);
    await log.close();
    const ended = await waiting;
    expect(ended.lsns).toEqual(range(1, 5));
    expect(ended.error).toMatchObject({ code: 'ERR_HARDSYNC_LOG_CLOSED' });
    await expect(behind.next()).rejects.toMatchObject({ code: 'ERR_HARDSYNC_LOG_CLOSED' });
    expect(log.stats()).toMatchObject({ readers: 0, waiting: 0 });
  });

  it('a truncation that overtakes a follower: it holds only the segment it is reading, reads it to its end, then throws ERR_HARDSYNC_LOG_TRUNCATED with firstLsn, without a gap', async () => {
    const dir = freshDir();
    const log = await DurableLog.open(dir, { segmentSize: 1024 });
    await appendMany(log, 60, 4);
    const follower = log.records(1, { follow: true });
    const lsns = [(await follower.next()).value!.lsn, (await follower.next()).value!.lsn];
    const done = await log.truncateBefore(log.nextLsn);
    // of the segments removed, the follower holds one: the one it is in
    expect(done.segments).toBeGreaterThan(5);
    expect(done).toMatchObject({ firstLsn: log.firstLsn, held: 1, heldBytes: 1024 });
    const { lsns: rest, error } = await drain(follower);
    lsns.push(...rest);
    const firstOfSecond = lsns[lsns.length - 1] + 1;
    expect(lsns).toEqual(range(1, firstOfSecond - 1));
    expect(firstOfSecond).toBeLessThan(log.firstLsn);
    expect(error).toBeInstanceOf(RangeError);
    expect(error).toMatchObject({ code: 'ERR_HARDSYNC_LOG_TRUNCATED', firstLsn: log.firstLsn, requestedLsn: firstOfSecond });
    // it let go: the set-aside segment is gone once the next truncateBefore has run
    await log.truncateBefore(log.firstLsn);
    expect(log.stats()).toMatchObject({ retiredSegments: 0, readers: 0 });
    // resuming from the error's firstLsn reads on
    const resumed = drain(log.records((error as { firstLsn: number }).firstLsn, { follow: true }), 61 - log.firstLsn);
    expect((await resumed).lsns).toEqual(range(log.firstLsn, 60));
    await log.close();
  });

  it('a truncation behind a follower does not disturb it: it holds nothing removed, and reads on through later rolls', async () => {
    const dir = freshDir();
    const log = await DurableLog.open(dir, { segmentSize: 1024 });
    await appendMany(log, 30, 2);
    const follower = drain(log.records(1, { follow: true }), 90);
    await until(() => log.stats().waiting === 1);
    expect(await log.truncateBefore(log.nextLsn)).toMatchObject({ held: 0, heldBytes: 0 });
    expect(log.stats()).toMatchObject({ segments: 1, retiredSegments: 0 });
    await appendMany(log, 60, 3);
    expect(await follower).toEqual({ lsns: range(1, 90), error: undefined });
    await log.close();
  });

  it('a break out of for await releases the segment a follower held', async () => {
    const log = await DurableLog.open(freshDir(), { segmentSize: 1024 });
    await appendMany(log, 30, 2);
    for await (const { lsn } of log.records(1, { follow: true })) if (lsn === 3) break;
    expect(log.stats()).toMatchObject({ readers: 0 });
    expect(await log.truncateBefore(log.nextLsn)).toMatchObject({ held: 0 });
    await log.close();
  });

  it('after a write error a follower yields the records that were durable, then throws that error', async () => {
    let batches = 0;
    const failing = {
      ...seam.defaultLogIo,
      writeBatch(fd: number, data: Buffer, position: number, options: { flush?: string }): Promise<unknown> {
        if (++batches <= 3) return writeDurable(fd, data, position, options as never);
        return Promise.reject(Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO', errno: -5, syscall: 'write' }));
      },
    };
    const log = await seam.openLogWithIo(freshDir(), undefined, failing);
    const follower = drain(log.records(1, { follow: true }));
    for (let i = 0; i < 3; i++) await log.append(`ok ${i}`);
    await expect(log.append('lost')).rejects.toMatchObject({ code: 'EIO' });
    const { lsns, error } = await follower;
    expect(lsns).toEqual([1, 2, 3]);
    expect(error).toMatchObject({ code: 'EIO', syscall: 'write' });
    // a follower made now on the failed log: refused at the call, as every call is
    expect(() => log.records(1, { follow: true })).toThrow(expect.objectContaining({ code: 'EIO' }));
    await log.close();
  });

  it('64 followers on one log, waiting together, each read every record', async () => {
    const log = await DurableLog.open(freshDir(), { segmentSize: 8192 });
    const total = 300;
    await appendMany(log, 4, 1);
    const followers = Array.from({ length: 64 }, (_, i) => drain(log.records(1 + (i % 4), { follow: true }), total - (i % 4)));
    await until(() => log.stats().waiting === 64);
    await appendMany(log, total - 4, 16);
    const results = await Promise.all(followers);
    results.forEach((result, i) => expect(result).toEqual({ lsns: range(1 + (i % 4), total), error: undefined }));
    expect(log.stats()).toMatchObject({ readers: 0, waiting: 0 });
    await log.close();
  });
});

describe('DurableLog followers when idle', () => {
  it('an idle follower runs no code: over a second of idleness its process makes no timer, tick, immediate or I/O request and runs no callback but the test timer; the next append reaches it', () => {
    const run = runFixture('log-child.js', ['idleFollower', freshDir(), JSON.stringify({ idleMs: 1000 })], { timeoutMs: 120_000 });
    const r = run.result;
    expect(r, run.stderr).toMatchObject({ ok: true, ended: 'AbortError', waitingBefore: 1, waitingAfter: 1 });
    expect(r.seen).toEqual(range(1, 11));
    // one callback: the test's own timer ending the idle second; one promise: the test's await
    expect(r.callbacks).toBe(1);
    const { PROMISE = 0, ...others } = r.created as Record<string, number>;
    expect(others).toEqual({});
    expect(PROMISE).toBeLessThanOrEqual(2);
    console.log(`idle follower: ${r.callbacks} callback(s), ${JSON.stringify(r.created)} created, ${(r.cpuMicros / 1000).toFixed(1)} ms of CPU in ${1000} ms`);
  });
});
