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

function retiredOf(dir: string): string[] {
  return fs.readdirSync(dir).filter((name) => name.endsWith('.wal.retired')).sort();
}

function thrown(call: () => unknown): unknown {
  try {
    call();
  } catch (error) {
    return error;
  }
  throw new Error('did not throw');
}

async function collect(records: AsyncIterable<{ lsn: number }>): Promise<number[]> {
  const lsns: number[] = [];
  for await (const { lsn } of records) lsns.push(lsn);
  return lsns;
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
  it('an iterator reads every record it set out to, in order and without a gap, while truncateBefore takes out the segments it has not opened yet: they are set aside, not left under their names', async () => {
    const { dir, log } = await smallSegments(60);
    const before = segmentsOf(dir);
    expect(before.length).toBeGreaterThan(6);
    const seen: number[] = [];
    const iterator = log.records();
    for (let i = 0; i < 3; i++) seen.push((await iterator.next()).value!.lsn);
    // remove every segment but the active one, while the iterator is in the first
    const done = await log.truncateBefore(log.nextLsn);
    const active = before[before.length - 1];
    expect(log.firstLsn).toBe(Number(active.slice(0, 16)));
    const sizes = before.slice(0, -1).map((name) => fs.statSync(path.join(dir, `${name}.retired`)).size);
    const bytes = sizes.reduce((a, b) => a + b, 0);
    expect(done).toEqual({ firstLsn: log.firstLsn, segments: before.length - 1, bytes, held: before.length - 1, heldBytes: bytes });
    // the files it still has to read are out of the names open reads, and their space is counted
    expect(segmentsOf(dir)).toEqual([active]);
    expect(retiredOf(dir)).toEqual(before.slice(0, -1).map((name) => `${name}.retired`));
    expect(log.stats()).toMatchObject({ segments: 1, retiredSegments: before.length - 1, retiredBytes: bytes, readers: 1, waiting: 0 });
    for (let r = await iterator.next(); !r.done; r = await iterator.next()) seen.push(r.value.lsn);
    expect(seen).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
    // released: a later truncateBefore waits for the unlinks, which have removed them all
    expect(await log.truncateBefore(log.firstLsn)).toEqual({ firstLsn: log.firstLsn, segments: 0, bytes: 0, held: 0, heldBytes: 0 });
    expect(retiredOf(dir)).toEqual([]);
    expect(log.stats()).toMatchObject({ segments: 1, retiredSegments: 0, retiredBytes: 0, readers: 0 });
    await log.close();
    const again = await DurableLog.open(dir, { segmentSize: 1024 });
    expect(positions(again)).toEqual({ first: log.firstLsn, last: 60, next: 61 });
    await again.close();
  });

  it('segments no reader holds are unlinked; held ones are unlinked as the iterator passes them, oldest first, and by a break out of for await', async () => {
    const { dir, log } = await smallSegments(40);
    const before = segmentsOf(dir);
    const reader = log.records(9); // from the second segment: the first is held by nobody
    await reader.next();
    const done = await log.truncateBefore(25);
    expect(done).toMatchObject({ firstLsn: 25, segments: 3, held: 2 });
    expect(done.bytes).toBe(3 * 1024);
    expect(done.heldBytes).toBe(2 * 1024);
    expect(retiredOf(dir)).toEqual(before.slice(1, 3).map((name) => `${name}.retired`));
    expect(segmentsOf(dir)).toEqual(before.slice(3));
    // read into the third segment: the second is passed, so it goes; the third stays
    for (let r = await reader.next(); r.value!.lsn < 18; r = await reader.next());
    await log.truncateBefore(log.firstLsn);
    expect(retiredOf(dir)).toEqual([`${before[2]}.retired`]);
    expect(log.stats()).toMatchObject({ retiredSegments: 1, retiredBytes: 1024 });
    // a second iterator from the first readable LSN, left by a break
    for await (const record of log.records(log.firstLsn)) if (record.lsn >= log.firstLsn) break;
    await reader.return(undefined);
    await log.truncateBefore(log.firstLsn);
    expect(retiredOf(dir)).toEqual([]);
    expect(segmentsOf(dir)).toEqual(before.filter((name) => Number(name.slice(0, 16)) >= log.firstLsn));
    expect(log.stats()).toMatchObject({ retiredSegments: 0, retiredBytes: 0, readers: 0 });
    await log.close();
  });

  it('records(from) checks from at the call: below firstLsn ERR_HARDSYNC_LOG_TRUNCATED naming the LSN to resume from; not an integer >= 1, or above nextLsn, ERR_OUT_OF_RANGE; nextLsn itself is empty', async () => {
    const { log } = await smallSegments(30);
    await log.truncateBefore(20);
    const first = log.firstLsn;
    expect(first).toBeGreaterThan(1);
    const error = thrown(() => log.records(first - 1));
    expect(error).toBeInstanceOf(RangeError);
    expect(error).toMatchObject({ code: 'ERR_HARDSYNC_LOG_TRUNCATED', firstLsn: first, requestedLsn: first - 1 });
    expect((error as Error).message).toContain(`${first}`);
    const resumed: number[] = [];
    for await (const { lsn } of log.records((error as { firstLsn: number }).firstLsn)) resumed.push(lsn);
    expect(resumed).toEqual(Array.from({ length: 30 - first + 1 }, (_, i) => first + i));
    for (const bad of [0, -1, 1.5, Number.NaN, Infinity, 2 ** 53]) expect(thrown(() => log.records(bad))).toMatchObject({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
    for (const bad of ['5', 5n, null, {}]) expect(thrown(() => log.records(bad as never))).toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    // past the end: a stored offset from another log (a restore, a bug) is an error, not silence
    expect(thrown(() => log.records(log.nextLsn + 1))).toMatchObject({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
    expect((thrown(() => log.records(log.nextLsn + 100)) as Error).message).toContain(`<= ${log.nextLsn}`);
    // nextLsn: nothing yet, and between lastLsn and nextLsn (appends not yet durable) nothing either
    expect(await collect(log.records(log.nextLsn))).toEqual([]);
    const pending = log.append('not yet durable');
    expect(log.nextLsn).toBe(32);
    expect(await collect(log.records(31))).toEqual([]);
    expect(thrown(() => log.records(33))).toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    await pending;
    expect(await collect(log.records(31))).toEqual([31]);
    // bad options, at the call too
    expect(thrown(() => log.records(31, { follow: 'yes' as never }))).toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    expect(thrown(() => log.records(31, { signal: {} as never }))).toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    expect(thrown(() => log.records(31, 5 as never))).toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    expect(thrown(() => log.records(31, { signal: AbortSignal.abort('gone') }))).toMatchObject({ name: 'AbortError', code: 'ABORT_ERR', cause: 'gone' });
    await log.close();
    expect(thrown(() => log.records())).toMatchObject({ code: 'ERR_HARDSYNC_LOG_CLOSED' });
  });

  it('an iteration made before a truncateBefore and begun after it: ERR_HARDSYNC_LOG_TRUNCATED at its first step', async () => {
    const { log } = await smallSegments(30);
    const made = log.records(2);
    await log.truncateBefore(20);
    await expect(made.next()).rejects.toMatchObject({ code: 'ERR_HARDSYNC_LOG_TRUNCATED', firstLsn: log.firstLsn, requestedLsn: 2 });
    await log.close();
  });

  it('close ends a running iterator with ERR_HARDSYNC_LOG_CLOSED and removes what it held', async () => {
    const { dir, log } = await smallSegments(30);
    const before = segmentsOf(dir);
    const reader = log.records();
    await reader.next();
    expect(await log.truncateBefore(log.nextLsn)).toMatchObject({ segments: before.length - 1, held: before.length - 1 });
    expect(retiredOf(dir).length).toBe(before.length - 1);
    await log.close();
    expect(segmentsOf(dir)).toEqual([before[before.length - 1]]);
    expect(retiredOf(dir)).toEqual([]);
    await expect(reader.next()).rejects.toMatchObject({ code: 'ERR_HARDSYNC_LOG_CLOSED' });
  });

  it('open removes the set-aside segments a crash left, and starts at the truncation point', async () => {
    const { dir, log } = await smallSegments(30);
    const before = segmentsOf(dir);
    const reader = log.records();
    await reader.next();
    const done = await log.truncateBefore(log.nextLsn);
    // a crash now: the process leaves without releasing anything (a copy of the directory is what it leaves)
    const crashed = path.join(path.dirname(dir), 'crashed');
    fs.cpSync(dir, crashed, { recursive: true });
    await log.close();
    expect(retiredOf(crashed).length).toBe(before.length - 1);
    const again = await DurableLog.open(crashed, { segmentSize: 1024 });
    expect(again.firstLsn).toBe(done.firstLsn);
    expect(retiredOf(crashed)).toEqual([]);
    expect(again.stats()).toMatchObject({ segments: 1, retiredSegments: 0 });
    await again.close();
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
    expect(await log.truncateBefore(log.nextLsn)).toMatchObject({ segments: before.length - 1, held: 0, heldBytes: 0 });
    expect(segmentsOf(dir)).toEqual([before[before.length - 1]]);
    expect(retiredOf(dir)).toEqual([]);
    await log.close();
  });
});

describe.skipIf(!hasStrace)('DurableLog segment removal: order and errors (strace)', () => {
  // 30 records, 8 to a 1 KiB segment: 4 segments; truncateBefore(nextLsn) takes 3 out.
  const run = (scenario: 'heldRemoval' | 'unheldRemoval', inject: string[] = []) => {
    const dir = freshDir();
    const child = runFixture('log-child.js', [scenario, dir], { trace: 'rename,renameat,renameat2,unlink,unlinkat,fsync', inject });
    const r = child.result;
    expect(r.ok).toBe(true);
    expect(r.before.length).toBe(4);
    const name = (args: string) => path.basename(/"([^"]+)"/.exec(args)![1]);
    // What happened to the segment files, and the directory fsyncs between, in order.
    const steps = child.calls
      .filter((c) => (/^(rename|unlink)/.test(c.name) ? /^\d{16}\.wal/.test(name(c.args)) : c.name === 'fsync' && fdOf(c.args)?.path === dir))
      .map((c) => {
        if (c.name === 'fsync') return 'fsync dir';
        const what = c.name.startsWith('rename') ? `rename ${name(c.args)}` : `unlink ${name(c.args)}`;
        return `${what}${c.result.includes('INJECTED') ? ' failed' : ''}`;
      });
    // the directory fsyncs of the rolls (each installs a segment: the spare's renames are left out) come first
    return { ...r, steps: steps.slice(steps.findIndex((step) => !step.startsWith('fsync'))) };
  };

  it('held segments are renamed aside, each followed by a directory fsync, before truncateBefore resolves; unlinked once the reader lets go; reopen starts at the truncation point', () => {
    const r = run('heldRemoval');
    const [a, b, c, active] = r.before as string[];
    expect(r.first).toMatchObject({ ok: true, value: { segments: 3, held: 3 } });
    expect(r.afterTruncate).toEqual([`${a}.retired`, `${b}.retired`, `${c}.retired`, active]);
    expect(r.read).toBe(30);
    expect(r.steps.slice(0, 6)).toEqual([`rename ${a}`, 'fsync dir', `rename ${b}`, 'fsync dir', `rename ${c}`, 'fsync dir']);
    expect(r.steps.slice(6)).toEqual([`unlink ${a}.retired`, `unlink ${b}.retired`, `unlink ${c}.retired`]);
    expect(r.afterRetry).toEqual([active]);
    expect(r.reopen).toEqual({ ok: true, value: Number(active.slice(0, 16)) });
  });

  it('an unlink that fails when the reader lets go is tried again (at the next release or truncateBefore), and the files go', () => {
    const r = run('heldRemoval', ['unlink:error=EACCES:when=1']);
    const [a, , , active] = r.before as string[];
    expect(r.steps.filter((step: string) => step.startsWith('unlink'))[0]).toBe(`unlink ${a}.retired failed`);
    expect(r.retry).toMatchObject({ ok: true });
    expect(r.afterRetry).toEqual([active]);
    expect(r.statsAfterRetry).toMatchObject({ retiredSegments: 0, retiredBytes: 0 });
  });

  it('when every unlink of the set-aside files fails, they stay, counted by stats(); truncateBefore still resolves (they are out of the log); close reports the error', () => {
    const r = run('heldRemoval', ['unlink:error=EACCES:when=1+']);
    const [a, b, c, active] = r.before as string[];
    expect(r.retry).toMatchObject({ ok: true, value: { segments: 0 } });
    expect(r.afterRetry).toEqual([`${a}.retired`, `${b}.retired`, `${c}.retired`, active]);
    expect(r.statsAfterRetry).toMatchObject({ retiredSegments: 3, retiredBytes: 3 * 1024 });
    expect(r.close).toMatchObject({ ok: false, error: { code: 'EACCES', syscall: 'unlink' } });
    expect(r.afterClose).toEqual(r.afterRetry);
  });

  it('an unlink of a segment nobody holds that fails: truncateBefore rejects, that segment and the newer ones stay under their names (firstLsn moved), the next truncateBefore takes them out', () => {
    const r = run('unheldRemoval', ['unlink:error=EACCES:when=2']);
    const [a, b, c, active] = r.before as string[];
    expect(r.first).toMatchObject({ ok: false, error: { code: 'EACCES', syscall: 'unlink' } });
    expect(r.firstLsn).toBe(Number(active.slice(0, 16)));
    expect(r.afterFirst).toEqual([b, c, active]);
    expect(r.statsAfterFirst).toMatchObject({ segments: 1, retiredSegments: 2, retiredBytes: 2 * 1024 });
    expect(r.retry).toMatchObject({ ok: true, value: { firstLsn: r.firstLsn, segments: 2, bytes: 2 * 1024, held: 0 } });
    expect(r.afterRetry).toEqual([active]);
    expect(r.steps).toEqual([`unlink ${a}`, 'fsync dir', `unlink ${b} failed`, `unlink ${b}`, 'fsync dir', `unlink ${c}`, 'fsync dir']);
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
