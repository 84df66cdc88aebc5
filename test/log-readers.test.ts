// DurableLog positions, readers and truncation, and what open verifies.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DurableLog } from '../dist/lib/index.js';
import { encodeRecord, encodeSegmentHeader, segmentName } from '../dist/lib/patterns/frame.js';
import { fdOf, hasStrace, runFixture } from './helpers/strace';
import { tempDir } from './helpers/tmp';

/** A log directory not yet made, in a fresh temporary directory (removed after the file's tests). */
const freshDir = (): string => path.join(tempDir('hardsync-log-readers-'), 'wal');

const SEGMENT_HEADER = 32;
const RECORD_HEADER = 24;

function segmentsOf(dir: string): string[] {
  return fs.readdirSync(dir).filter((name) => name.endsWith('.wal')).sort();
}

function positions(log: DurableLog): { first: number; last: number; next: number } {
  return { first: log.firstLsn, last: log.lastLsn, next: log.nextLsn };
}

/** A log of `count` 100-byte records in 1 KiB segments (8 records to a segment). */
async function smallSegments(count: number): Promise<{ dir: string; log: DurableLog }> {
  const dir = freshDir();
  const log = await DurableLog.open(dir, { segmentSize: 1024 });
  for (let i = 1; i <= count; i++) await log.append(`record ${String(i).padStart(3, '0')} ${'.'.repeat(87)}`);
  return { dir, log };
}

describe('DurableLog readers and truncateBefore', () => {
  it('an iterator reads every record it set out to, in order and without a gap, while truncateBefore removes the segments it has not opened yet', async () => {
    const { dir, log } = await smallSegments(60);
    const before = segmentsOf(dir);
    expect(before.length).toBeGreaterThan(6);
    const seen: number[] = [];
    const iterator = log.records();
    for (let i = 0; i < 3; i++) seen.push((await iterator.next()).value!.lsn);
    // remove every segment but the active one, while the iterator is in the first
    await log.truncateBefore(log.nextLsn);
    expect(log.firstLsn).toBe(Number(before[before.length - 1].slice(0, 16)));
    // the files it still has to read are kept; nothing else of the log changed
    expect(segmentsOf(dir)).toEqual(before);
    for (let r = await iterator.next(); !r.done; r = await iterator.next()) seen.push(r.value.lsn);
    expect(seen).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
    // released: a later truncateBefore waits for the removal, which has unlinked them all
    await log.truncateBefore(log.firstLsn);
    expect(segmentsOf(dir)).toEqual([before[before.length - 1]]);
    await log.close();
    const again = await DurableLog.open(dir, { segmentSize: 1024 });
    expect(positions(again)).toEqual({ first: log.firstLsn, last: 60, next: 61 });
    await again.close();
  });

  it('segments are released as the iterator passes them, oldest first, and by a break out of for await', async () => {
    const { dir, log } = await smallSegments(40);
    const before = segmentsOf(dir);
    const reader = log.records();
    await reader.next(); // LSN 1: the iterator now holds every segment
    await log.truncateBefore(25);
    expect(segmentsOf(dir)).toEqual(before);
    // read into the third segment: the first two are passed, so they go; the third stays
    for (let r = await reader.next(); r.value!.lsn < 18; r = await reader.next());
    await log.truncateBefore(log.firstLsn);
    expect(segmentsOf(dir)).toEqual(before.slice(2));
    // a second iterator from the first readable LSN, left by a break
    for await (const record of log.records(log.firstLsn)) if (record.lsn >= log.firstLsn) break;
    await reader.return(undefined);
    await log.truncateBefore(log.firstLsn);
    expect(segmentsOf(dir)).toEqual(before.filter((name) => Number(name.slice(0, 16)) >= log.firstLsn));
    expect(log.firstLsn).toBeGreaterThan(17);
    expect(log.firstLsn).toBeLessThanOrEqual(25);
    await log.close();
  });

  it('records(from) below firstLsn is ERR_HARDSYNC_LOG_TRUNCATED naming the LSN to resume from; a bad from is ERR_OUT_OF_RANGE', async () => {
    const { log } = await smallSegments(30);
    await log.truncateBefore(20);
    const first = log.firstLsn;
    expect(first).toBeGreaterThan(1);
    const error = await log
      .records(first - 1)
      .next()
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(RangeError);
    expect(error).toMatchObject({ code: 'ERR_HARDSYNC_LOG_TRUNCATED', firstLsn: first, requestedLsn: first - 1 });
    expect((error as Error).message).toContain(`${first}`);
    const resumed: number[] = [];
    for await (const { lsn } of log.records((error as { firstLsn: number }).firstLsn)) resumed.push(lsn);
    expect(resumed).toEqual(Array.from({ length: 30 - first + 1 }, (_, i) => first + i));
    for (const bad of [0, -1, 1.5, Number.NaN]) await expect(log.records(bad).next()).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    await log.close();
  });

  it('close ends a running iterator with ERR_HARDSYNC_LOG_CLOSED and removes what it held', async () => {
    const { dir, log } = await smallSegments(30);
    const before = segmentsOf(dir);
    const reader = log.records();
    await reader.next();
    await log.truncateBefore(log.nextLsn);
    expect(segmentsOf(dir)).toEqual(before);
    await log.close();
    expect(segmentsOf(dir)).toEqual([before[before.length - 1]]);
    await expect(reader.next()).rejects.toMatchObject({ code: 'ERR_HARDSYNC_LOG_CLOSED' });
  });

  it('truncateBefore refuses an LSN above nextLsn, below 1 or not a safe integer, before removing anything', async () => {
    const { dir, log } = await smallSegments(30);
    const before = segmentsOf(dir);
    const next = log.nextLsn;
    for (const bad of [next + 1, 0, -1, 1.5, Number.NaN, Infinity, -Infinity, 2 ** 53, Number.MAX_SAFE_INTEGER]) {
      const error = await log.truncateBefore(bad).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect({ bad, error }).toMatchObject({ bad, error: { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' } });
    }
    for (const bad of ['5', 5n, null, undefined, {}]) {
      await expect(log.truncateBefore(bad as never)).rejects.toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    }
    expect(segmentsOf(dir)).toEqual(before);
    expect(log.firstLsn).toBe(1);
    // the log still works, and nextLsn itself is accepted
    expect((await log.append('more')).lsn).toBe(31);
    await log.truncateBefore(log.nextLsn);
    expect(segmentsOf(dir)).toEqual([before[before.length - 1]]);
    await log.close();
  });
});

describe.skipIf(!hasStrace)('DurableLog deferred segment removal errors (strace)', () => {
  // 30 records, 8 to a 1 KiB segment: 4 segments; truncateBefore(nextLsn) removes 3 of them
  // while a reader holds all 4, so each of the reader's releases starts one removal attempt.
  const run = (inject: string) => {
    const dir = freshDir();
    const child = runFixture('log-child.js', ['deferredRemoval', dir], { trace: 'unlink', inject: [inject] });
    const r = child.result;
    expect(r.ok).toBe(true);
    expect(r.before.length).toBe(4);
    expect(r.first).toEqual({ ok: true });
    expect(r.read).toBe(30);
    const unlinks = child.calls
      .filter((c) => c.name === 'unlink' && c.args.includes('.wal"'))
      .map((c) => `${path.basename(/"([^"]+)"/.exec(c.args)![1])} ${c.result.includes('INJECTED') ? 'failed' : 'ok'}`);
    return { ...r, unlinks };
  };

  it('an unlink that fails when the reader lets go is retried, oldest first, and the files go', () => {
    const r = run('unlink:error=EACCES:when=1');
    expect(r.unlinks).toEqual([`${r.before[0]} failed`, `${r.before[0]} ok`, `${r.before[1]} ok`, `${r.before[2]} ok`]);
    expect(r.retry).toEqual({ ok: true });
    expect(r.afterRetry).toEqual(r.before.slice(-1));
  });

  it('when every attempt the releases start fails, the files stay and the next truncateBefore retries them', () => {
    const r = run('unlink:error=EACCES:when=1..3');
    expect(r.afterReader).toEqual(r.before);
    expect(r.unlinks).toEqual([...Array(3).fill(`${r.before[0]} failed`), `${r.before[0]} ok`, `${r.before[1]} ok`, `${r.before[2]} ok`]);
    expect(r.retry).toEqual({ ok: true });
    expect(r.afterRetry).toEqual(r.before.slice(-1));
  });

  it('when the retry fails too, that truncateBefore rejects with the error and the files stay', () => {
    const r = run('unlink:error=EACCES:when=1+');
    expect(r.retry).toMatchObject({ ok: false, error: { code: 'EACCES', syscall: 'unlink' } });
    expect(r.afterRetry).toEqual(r.before);
  });
});

describe('DurableLog positions: firstLsn, lastLsn, nextLsn', () => {
  it('are exact across appends (pending and durable), rolls, truncation and reopen', async () => {
    const dir = freshDir();
    const options = { segmentSize: 1024 };
    const log = await DurableLog.open(dir, options);
    expect(positions(log)).toEqual({ first: 1, last: 0, next: 1 }); // a new log: empty
    const pending = log.append('a');
    expect(positions(log)).toEqual({ first: 1, last: 0, next: 2 }); // given out, not durable yet
    await pending;
    expect(positions(log)).toEqual({ first: 1, last: 1, next: 2 });
    const record = 'r'.repeat(100); // 124-byte frames: 7 to a 1 KiB segment after 'a'
    for (let i = 2; i <= 30; i++) await log.append(record);
    expect(segmentsOf(dir).length).toBe(4); // rolled three times
    expect(positions(log)).toEqual({ first: 1, last: 30, next: 31 });
    const firsts = segmentsOf(dir).map((name) => Number(name.slice(0, 16)));
    await log.truncateBefore(firsts[2]); // exactly the first LSN of the third segment
    expect(positions(log)).toEqual({ first: firsts[2], last: 30, next: 31 });
    await log.truncateBefore(firsts[3] - 1); // inside the third: nothing more goes
    expect(positions(log)).toEqual({ first: firsts[2], last: 30, next: 31 });
    await log.close();
    expect(positions(log)).toEqual({ first: firsts[2], last: 30, next: 31 });
    const again = await DurableLog.open(dir, options);
    expect(positions(again)).toEqual({ first: firsts[2], last: 30, next: 31 });
    expect(again.recovery).toMatchObject({ firstLsn: firsts[2], lastLsn: 30, records: 30 - firsts[2] + 1 });
    await again.truncateBefore(again.nextLsn);
    expect(positions(again)).toEqual({ first: firsts[3], last: 30, next: 31 });
    await again.close();
  });

  it('a log whose records were all truncated (an empty newest segment, as a crash right after a roll leaves it) has firstLsn = nextLsn = lastLsn + 1', async () => {
    const dir = freshDir();
    const log = await DurableLog.open(dir, { segmentSize: 1024 });
    for (let i = 1; i <= 5; i++) await log.append('x'.repeat(50));
    await log.close();
    // the state a crash leaves after a roll installed segment 6 and before its first record
    const empty = Buffer.alloc(1024);
    encodeSegmentHeader(6).copy(empty);
    fs.writeFileSync(path.join(dir, segmentName(6)), empty);
    const again = await DurableLog.open(dir, { segmentSize: 1024 });
    expect(positions(again)).toEqual({ first: 1, last: 5, next: 6 });
    expect(again.recovery).toMatchObject({ segments: 2, records: 5, firstLsn: 1, lastLsn: 5 });
    await again.truncateBefore(6);
    expect(positions(again)).toEqual({ first: 6, last: 5, next: 6 });
    const none: number[] = [];
    for await (const { lsn } of again.records()) none.push(lsn);
    expect(none).toEqual([]);
    expect((await again.append('y')).lsn).toBe(6);
    expect(positions(again)).toEqual({ first: 6, last: 6, next: 7 });
    await again.close();
  });
});

describe('DurableLog recovery reports what it verified', () => {
  async function sealedLog(): Promise<{ dir: string; names: string[] }> {
    const dir = freshDir();
    const log = await DurableLog.open(dir, { segmentSize: 4096 });
    for (let i = 1; i <= 100; i++) await log.append(`record ${i} ${'z'.repeat(100)}`);
    await log.close();
    return { dir, names: segmentsOf(dir) };
  }

  it("verify 'tail' (the default) says it checked the newest segment only; 'all' checks every record of every segment", async () => {
    const { dir, names } = await sealedLog();
    expect(names.length).toBeGreaterThan(3);
    const lastFirst = Number(names[names.length - 1].slice(0, 16));
    const tail = await DurableLog.open(dir, { segmentSize: 4096 });
    expect(tail.recovery).toMatchObject({ segments: names.length, records: 100, firstLsn: 1, lastLsn: 100 });
    expect(tail.recovery.verified).toMatchObject({ mode: 'tail', segments: 1, records: 100 - lastFirst + 1, firstLsn: lastFirst, lastLsn: 100 });
    await tail.close();
    const all = await DurableLog.open(dir, { segmentSize: 4096, verify: 'all' });
    const frameBytes = Array.from({ length: 100 }, (_, i) => RECORD_HEADER + `record ${i + 1} ${'z'.repeat(100)}`.length).reduce((a, b) => a + b, 0);
    expect(all.recovery.verified).toEqual({
      mode: 'all',
      segments: names.length,
      records: 100,
      bytes: names.length * SEGMENT_HEADER + frameBytes,
      firstLsn: 1,
      lastLsn: 100,
      zeroFillBytes: all.recovery.verified.zeroFillBytes,
    });
    // 'all' reads the newest segment's zero fill to its end
    const lastSegmentFrames = Array.from({ length: 100 - lastFirst + 1 }, (_, i) => RECORD_HEADER + `record ${lastFirst + i} ${'z'.repeat(100)}`.length).reduce((a, b) => a + b, 0);
    expect(all.recovery.verified.zeroFillBytes).toBe(4096 - SEGMENT_HEADER - lastSegmentFrames);
    await all.close();
  });

  it("a byte flipped in an older segment: 'all' fails the open with ERR_HARDSYNC_LOG_CORRUPT naming it and changes nothing; 'tail' opens and says it did not look there", async () => {
    const { dir, names } = await sealedLog();
    const second = path.join(dir, names[1]);
    const secondFirst = Number(names[1].slice(0, 16));
    const at = SEGMENT_HEADER + RECORD_HEADER + 3; // in the payload of the segment's first record
    const bytes = fs.readFileSync(second);
    bytes[at] ^= 0x20;
    fs.writeFileSync(second, bytes);
    const snapshot = new Map(names.map((name) => [name, fs.readFileSync(path.join(dir, name))]));
    await expect(DurableLog.open(dir, { segmentSize: 4096, verify: 'all' })).rejects.toMatchObject({
      code: 'ERR_HARDSYNC_LOG_CORRUPT',
      path: second,
      segment: names[1],
      offset: SEGMENT_HEADER,
      lsn: secondFirst,
      reason: 'checksum mismatch',
    });
    for (const [name, content] of snapshot) expect(fs.readFileSync(path.join(dir, name)).equals(content)).toBe(true);
    // the lock was released: the default open works, and reports having checked one segment
    const tail = await DurableLog.open(dir, { segmentSize: 4096 });
    expect(tail.recovery.corruption).toBeUndefined();
    expect(tail.recovery.verified).toMatchObject({ mode: 'tail', segments: 1 });
    expect(tail.recovery.verified.firstLsn).toBeGreaterThan(secondFirst);
    await expect(
      (async () => {
        for await (const record of tail.records()) void record;
      })(),
    ).rejects.toMatchObject({ code: 'ERR_HARDSYNC_LOG_CORRUPT' });
    await tail.close();
  });

  it("'all' finds records missing between two segments", async () => {
    const { dir, names } = await sealedLog();
    // cut the second segment after its first record: the records up to the third are gone
    const second = path.join(dir, names[1]);
    const secondFirst = Number(names[1].slice(0, 16));
    const frame = RECORD_HEADER + `record ${secondFirst} ${'z'.repeat(100)}`.length;
    const bytes = fs.readFileSync(second);
    bytes.fill(0, SEGMENT_HEADER + frame);
    fs.writeFileSync(second, bytes);
    await expect(DurableLog.open(dir, { segmentSize: 4096, verify: 'all' })).rejects.toMatchObject({
      code: 'ERR_HARDSYNC_LOG_CORRUPT',
      segment: names[1],
      lsn: secondFirst + 1,
      offset: SEGMENT_HEADER + frame,
    });
  });

  it("garbage far past the end of the data: 'tail' does not read it, an append that would reach it fails the log instead of writing next to it; 'all' finds and zeroes it", async () => {
    const dir = freshDir();
    const segmentSize = 8 << 20;
    const log = await DurableLog.open(dir, { segmentSize });
    for (let i = 1; i <= 10; i++) await log.append(`record ${i}`);
    await log.close();
    const segment = path.join(dir, segmentsOf(dir)[0]);
    const fd = fs.openSync(segment, 'r+');
    fs.writeSync(fd, Buffer.from('stale bytes'), 0, 11, 5 << 20);
    fs.closeSync(fd);
    const tail = await DurableLog.open(dir, { segmentSize });
    expect(tail.recovery).toMatchObject({ lastLsn: 10, truncatedBytes: 0 });
    expect(tail.recovery.corruption).toBeUndefined();
    expect(tail.recovery.verified.zeroFillBytes).toBeLessThan(2 << 20);
    const big = Buffer.alloc(256 * 1024, 0x62);
    let failure: (Error & { code?: string; offset?: number }) | undefined;
    const acked: number[] = [];
    for (let i = 0; i < 40 && !failure; i++) {
      try {
        acked.push((await tail.append(big)).lsn);
      } catch (error) {
        failure = error as Error & { code?: string };
      }
    }
    expect(failure).toMatchObject({ code: 'ERR_HARDSYNC_LOG_CORRUPT', path: segment });
    expect(failure!.message).toContain("verify: 'all'");
    // no batch was written within reach of the stale bytes
    expect(acked.length).toBeLessThan(20);
    await tail.close();
    const all = await DurableLog.open(dir, { segmentSize, verify: 'all' });
    expect(all.recovery.lastLsn).toBe(10 + acked.length);
    expect(all.recovery.corruption).toMatchObject({ reason: 'non-zero bytes after the end of the log' });
    const after = fs.readFileSync(segment);
    expect(after.subarray(5 << 20, (5 << 20) + 11).every((b) => b === 0)).toBe(true);
    expect((await all.append('works')).lsn).toBe(11 + acked.length);
    await all.close();
  });

  it("'tail' reads on through a hole of zeros inside a torn batch (up to maxBatchBytes) and zeroes what follows it as a torn tail", async () => {
    const dir = freshDir();
    const log = await DurableLog.open(dir, { segmentSize: 8 << 20 });
    for (let i = 1; i <= 10; i++) await log.append(`record ${i}`);
    const end = SEGMENT_HEADER + Array.from({ length: 10 }, (_, i) => RECORD_HEADER + `record ${i + 1}`.length).reduce((a, b) => a + b, 0);
    await log.close();
    // a batch of record 11 (700 KiB, its first sectors lost) and 12, as a crash can leave it
    const big = Buffer.alloc(700 * 1024, 0x63);
    const batchEnd = end + RECORD_HEADER + big.length + RECORD_HEADER + 9;
    const eleven = encodeRecord(big, 11, batchEnd);
    const twelve = encodeRecord(Buffer.from('record 12'), 12, batchEnd);
    const segment = path.join(dir, segmentsOf(dir)[0]);
    const fd = fs.openSync(segment, 'r+');
    fs.writeSync(fd, eleven.subarray(600 * 1024), 0, eleven.length - 600 * 1024, end + 600 * 1024);
    fs.writeSync(fd, twelve, 0, twelve.length, end + eleven.length);
    fs.closeSync(fd);
    const again = await DurableLog.open(dir, { segmentSize: 8 << 20 });
    expect(again.recovery).toMatchObject({ lastLsn: 10, truncatedBytes: batchEnd - end });
    expect(again.recovery.corruption).toBeUndefined();
    expect(fs.readFileSync(segment).subarray(end, batchEnd).every((b) => b === 0)).toBe(true);
    await again.close();
  });

  it('rejects a bad verify option before any I/O', async () => {
    const dir = freshDir();
    await expect(DurableLog.open(dir, { verify: 'some' as never })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
    await expect(DurableLog.open(dir, { verify: 1 as never })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
    expect(fs.existsSync(dir)).toBe(false);
  });
});

describe.skipIf(!hasStrace)('DurableLog open costs what is in the log (strace)', () => {
  it('opening 10 records in a fresh 64 MiB segment reads the records and a bounded stretch of zeros, not the segment', () => {
    const dir = freshDir();
    const logOptions = { segmentSize: 64 << 20 };
    expect(runFixture('log-child.js', ['fill', dir, JSON.stringify({ count: 10, logOptions })]).result.ok).toBe(true);
    const bytesRead = (verify: string) => {
      const run = runFixture('log-child.js', ['openOnly', dir, JSON.stringify({ logOptions: { ...logOptions, verify } })], { trace: 'pread64,read' });
      expect(run.result.ok).toBe(true);
      return run.calls
        .filter((c) => (c.name === 'pread64' || c.name === 'read') && fdOf(c.args)?.path.endsWith('.wal'))
        .reduce((sum, c) => sum + Math.max(0, Number(c.result)), 0);
    };
    const tail = bytesRead('tail');
    expect(tail).toBeGreaterThan(10 * RECORD_HEADER);
    expect(tail).toBeLessThanOrEqual(3 << 20); // the first read window (1 MiB) and 1 MiB of zeros
    expect(bytesRead('all')).toBeGreaterThanOrEqual(64 << 20); // 'all' reads the whole zero fill
  });
});
