// The ordering and durability guarantees DurableLog.append states, each
// checked by a mechanism that does not depend on timing: the LSN each call got, the order in
// which promises settled, an strace of the run (where each acknowledgement happened among the
// writes and flushes), and an fdatasync failure injected by strace.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DurableLog } from '../dist/lib/index.js';
import { fdOf, hasStrace, runFixture } from './helpers/strace';
import { tempDir } from './helpers/tmp';

/** A log directory not yet made, in a fresh temporary directory (removed after the file's tests). */
const freshDir = (): string => path.join(tempDir('hardsync-log-guarantees-'), 'wal');

const SEGMENT_HEADER = 32;
const RECORD_HEADER = 24;

describe('DurableLog append guarantees', () => {
  it('LSNs are given in call order and the promises settle in LSN order, with many concurrent appenders', async () => {
    const log = await DurableLog.open(freshDir(), { segmentSize: 64 * 1024 });
    const lsnOfCall: number[] = [];
    const settleOrder: number[] = [];
    let call = 0;
    await Promise.all(
      Array.from({ length: 48 }, async (_, who) => {
        for (let i = 0; i < 20; i++) {
          const n = call++;
          // a mix of sizes, so batches and segment rolls (64 KiB) fall at varied places
          const pending = log.append(Buffer.alloc(1 + ((who * 37 + i * 11) % 900), who));
          lsnOfCall[n] = log.nextLsn - 1;
          const { lsn } = await pending;
          expect(lsn).toBe(lsnOfCall[n]);
          settleOrder.push(lsn);
        }
      }),
    );
    expect(lsnOfCall).toEqual(Array.from({ length: 960 }, (_, i) => i + 1));
    expect(settleOrder).toEqual(Array.from({ length: 960 }, (_, i) => i + 1));
    expect(log.lastLsn).toBe(960);
    await log.close();
  });

  it('a promise of a later LSN never settles before an earlier one, even when the later one is awaited first', async () => {
    const log = await DurableLog.open(freshDir());
    const order: number[] = [];
    const promises = Array.from({ length: 200 }, () => log.append('x'));
    // attach in reverse: settle order must not follow attach order
    for (let i = promises.length - 1; i >= 0; i--) void promises[i].then(({ lsn }) => order.push(lsn));
    await Promise.all(promises);
    await new Promise((resolve) => setImmediate(resolve));
    expect(order).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    await log.close();
  });
});

describe.skipIf(!hasStrace)('DurableLog append guarantees (strace)', () => {
  it('when append(N) resolves, every record up to N was written and flushed before (the trace shows it)', () => {
    const dir = freshDir();
    const size = 100;
    const frame = RECORD_HEADER + size;
    const run = runFixture('log-child.js', ['ordered', dir, JSON.stringify({ appenders: 24, perAppender: 6, size, marks: true, logOptions: { segmentSize: 1 << 20 } })], {
      trace: 'pwrite64,fdatasync,access,faccessat,faccessat2',
    });
    expect(run.result.ok).toBe(true);
    const segment = path.join(dir, '0000000000000001.wal');
    // Walk the trace in order: bytes written (ended) and bytes flushed (flush ended after the write ended).
    let writtenTo = SEGMENT_HEADER; // records are written back to back from the header on
    let flushedTo = SEGMENT_HEADER;
    const events = [...run.calls].sort((a, b) => a.end - b.end);
    const checked: number[] = [];
    for (const c of events) {
      if (c.name === 'pwrite64' && fdOf(c.args)?.path === segment) {
        const m = /, (\d+), (\d+)$/.exec(c.args);
        const [length, offset] = [Number(m![1]), Number(m![2])];
        if (offset === 0) continue; // the segment header
        expect(offset).toBe(writtenTo); // batches are written in LSN order, no gap
        writtenTo = offset + length;
      } else if (c.name === 'fdatasync' && fdOf(c.args)?.path === segment) {
        flushedTo = writtenTo;
      } else {
        const mark = /resolved-(\d+)"/.exec(c.args);
        if (!mark) continue;
        const lsn = Number(mark[1]);
        expect({ lsn, flushedTo: flushedTo >= SEGMENT_HEADER + lsn * frame }).toEqual({ lsn, flushedTo: true });
        checked.push(lsn);
      }
    }
    expect(checked.sort((a, b) => a - b)).toEqual(Array.from({ length: 144 }, (_, i) => i + 1));
  });

  it('after an injected fdatasync failure no later append resolves: settled in LSN order, a resolved prefix, then only rejections; every resolved record survives', () => {
    const dir = freshDir();
    // fdatasync 1 is the segment header's; the 4th flushes the third batch
    const run = runFixture('log-child.js', ['ordered', dir, JSON.stringify({ appenders: 32, perAppender: 8, logOptions: { segmentSize: 1 << 20 } })], {
      trace: 'fdatasync',
      inject: ['fdatasync:error=EIO:when=4'],
    });
    expect(run.calls.filter((c) => c.result.includes('INJECTED')).length).toBe(1);
    expect(run.result.ok).toBe(true);
    const settled: [number, string][] = run.result.settled;
    const firstFailure = settled.findIndex(([, outcome]) => outcome !== 'ok');
    expect(firstFailure).toBeGreaterThan(0);
    const resolved = settled.slice(0, firstFailure);
    const rejected = settled.slice(firstFailure);
    // a prefix of LSNs resolved, in order; everything after the failure rejected with it
    expect(resolved.map(([lsn]) => lsn)).toEqual(Array.from({ length: resolved.length }, (_, i) => i + 1));
    expect(rejected.length).toBeGreaterThan(0);
    expect(rejected.every(([, outcome]) => outcome === 'EIO')).toBe(true);
    const rejectedLsns = rejected.map(([lsn]) => lsn);
    expect(rejectedLsns).toEqual([...rejectedLsns].sort((a, b) => a - b));
    expect(rejectedLsns[0]).toBe(resolved.length + 1);
    // every acknowledged record is there after reopening
    expect(run.result.recovered.slice(0, resolved.length)).toEqual(resolved.map(([lsn]) => lsn));
  });
});

// maxInFlight > 1: batches written and flushing at once, their writes and flushes overlapping
// and ending in any order; the trace is walked by when each call started and ended.
describe.skipIf(!hasStrace)('DurableLog append guarantees with maxInFlight 4 (strace)', () => {
  it('when append(N) resolves, every byte up to N was written by a write that ended before a flush began that ended before the resolve', () => {
    const dir = freshDir();
    const size = 100;
    const frame = RECORD_HEADER + size;
    const run = runFixture('log-child.js', ['ordered', dir, JSON.stringify({ appenders: 48, perAppender: 6, size, marks: true, logOptions: { segmentSize: 1 << 20, maxInFlight: 4 } })], {
      trace: 'pwrite64,fdatasync,access,faccessat,faccessat2',
    });
    expect(run.result.ok).toBe(true);
    const segment = path.join(dir, '0000000000000001.wal');
    const writes: { offset: number; length: number; end: number }[] = [];
    const flushes: { start: number; end: number }[] = [];
    const marks: { lsn: number; start: number }[] = [];
    for (const c of run.calls) {
      if (c.name === 'pwrite64' && fdOf(c.args)?.path === segment) {
        const m = /, (\d+), (\d+)$/.exec(c.args);
        const [length, offset] = [Number(m![1]), Number(m![2])];
        if (offset !== 0) writes.push({ offset, length, end: c.end });
      } else if (c.name === 'fdatasync' && fdOf(c.args)?.path === segment) {
        flushes.push({ start: c.start, end: c.end });
      } else {
        const mark = /resolved-(\d+)"/.exec(c.args);
        if (mark) marks.push({ lsn: Number(mark[1]), start: c.start });
      }
    }
    // The batches tile the segment from the header on, each written once.
    const tiled = [...writes].sort((a, b) => a.offset - b.offset);
    let at = SEGMENT_HEADER;
    for (const w of tiled) {
      expect(w.offset).toBe(at);
      at += w.length;
    }
    expect(at).toBe(SEGMENT_HEADER + 288 * frame);
    // Durable at a moment: the prefix of batches each written before some flush began that
    // ended by then.
    const durableAt = (moment: number): number => {
      let to = SEGMENT_HEADER;
      for (const w of tiled) {
        if (!flushes.some((f) => f.start > w.end && f.end < moment)) break;
        to = w.offset + w.length;
      }
      return to;
    };
    for (const { lsn, start } of marks) expect({ lsn, durable: durableAt(start) >= SEGMENT_HEADER + lsn * frame }).toEqual({ lsn, durable: true });
    expect(marks.map((m) => m.lsn).sort((a, b) => a - b)).toEqual(Array.from({ length: 288 }, (_, i) => i + 1));
    // (Whether two flushes overlapped in this run depends on the scheduler, so it is not asserted:
    // the power-cut runs and test/log.test.ts cover batches finishing out of order.)
  });

  it('after an injected fdatasync failure no later append resolves, even a batch whose own flush succeeded', () => {
    const dir = freshDir();
    const run = runFixture('log-child.js', ['ordered', dir, JSON.stringify({ appenders: 64, perAppender: 8, logOptions: { segmentSize: 1 << 20, maxInFlight: 4 } })], {
      trace: 'fdatasync',
      inject: ['fdatasync:error=EIO:when=4'],
    });
    expect(run.calls.filter((c) => c.result.includes('INJECTED')).length).toBe(1);
    expect(run.result.ok).toBe(true);
    const settled: [number, string][] = run.result.settled;
    const firstFailure = settled.findIndex(([, outcome]) => outcome !== 'ok');
    expect(firstFailure).toBeGreaterThan(0);
    const resolved = settled.slice(0, firstFailure);
    const rejected = settled.slice(firstFailure);
    expect(resolved.map(([lsn]) => lsn)).toEqual(Array.from({ length: resolved.length }, (_, i) => i + 1));
    expect(rejected.every(([, outcome]) => outcome === 'EIO')).toBe(true);
    const rejectedLsns = rejected.map(([lsn]) => lsn);
    expect(rejectedLsns).toEqual([...rejectedLsns].sort((a, b) => a - b));
    expect(rejectedLsns[0]).toBe(resolved.length + 1);
    expect(run.result.recovered.slice(0, resolved.length)).toEqual(resolved.map(([lsn]) => lsn));
  });
});
