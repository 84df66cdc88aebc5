// The on-disk format stays what it was: the frames' batch ends and CRCs are completed by the
// addon for a whole batch at once (native.frameBatch), where they were written by JavaScript
// frame by frame before. A log written by the release before that change (test/fixtures/
// log-format/v1, written by write.cjs with that release's build) must equal, byte for byte,
// segments encoded here by an independent encoder (JavaScript CRC-32C, the format as
// lib/patterns/frame.ts documents it); the current build, given the same appends, must write
// the same bytes; the old log must open with verify: 'all' and read back identically. Then
// frameBatch itself: against the independent encoder on random batches, and its refusals.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { crc32cUpdateJs } from '../dist/bench/measure/crc32c-js.js';
import { DurableLog } from '../dist/lib/index.js';
import { native } from '../dist/lib/native.js';
import { GROUPS, OPTIONS, payloadOf, writeLog } from './fixtures/log-format/write.cjs';
import { rng as seeded } from './helpers/seeded.cjs';
import { tempDir } from './helpers/tmp';

const FIXTURE = path.join(__dirname, 'fixtures', 'log-format', 'v1');
const SEGMENT_HEADER = 32;
const RECORD_HEADER = 24;
const MAGIC = 0x4c575348;

const crc = (bytes: Uint8Array): number => crc32cUpdateJs(0, bytes);

/** One frame as the format says, without any of the library's code. */
function frame(payload: Buffer, lsn: number, batchEnd: number): Buffer {
  const out = Buffer.alloc(RECORD_HEADER + payload.length);
  out.writeUInt32LE(MAGIC, 0);
  out.writeUInt32LE(payload.length, 4);
  out.writeUInt32LE(lsn % 2 ** 32, 8);
  out.writeUInt32LE(Math.floor(lsn / 2 ** 32), 12);
  out.writeUInt32LE(batchEnd, 16);
  payload.copy(out, RECORD_HEADER);
  out.writeUInt32LE(crc32cUpdateJs(crc(payload), out.subarray(0, 20)), 20);
  return out;
}

/** The segments the fixture's appends make: file name -> bytes. */
function encodeFixture(): Map<string, Buffer> {
  const { segmentSize } = OPTIONS;
  const segments = new Map<string, Buffer>();
  let segment = Buffer.alloc(0);
  let offset = 0;
  const open = (firstLsn: number): void => {
    segment = Buffer.alloc(segmentSize);
    segment.write('HSWALSEG', 0, 'latin1');
    segment.writeUInt32LE(1, 8);
    segment.writeUInt32LE(SEGMENT_HEADER, 12);
    segment.writeUInt32LE(firstLsn % 2 ** 32, 16);
    segment.writeUInt32LE(Math.floor(firstLsn / 2 ** 32), 20);
    segment.writeUInt32LE(crc(segment.subarray(0, 24)), 24);
    segments.set(`${String(firstLsn).padStart(16, '0')}.wal`, segment);
    offset = SEGMENT_HEADER;
  };
  open(1);
  let lsn = 1;
  for (const group of GROUPS) {
    let left = group;
    while (left > 0) {
      // A batch is what of the group fits in the segment; the rest goes to a new one.
      const batch: Buffer[] = [];
      let end = offset;
      while (batch.length < left && end + RECORD_HEADER + payloadOf(lsn + batch.length).length <= segmentSize) {
        end += RECORD_HEADER + payloadOf(lsn + batch.length).length;
        batch.push(payloadOf(lsn + batch.length));
      }
      if (batch.length === 0) {
        open(lsn);
        continue;
      }
      for (const payload of batch) {
        frame(payload, lsn++, end).copy(segment, offset);
        offset += RECORD_HEADER + payload.length;
      }
      left -= batch.length;
    }
  }
  return segments;
}

function readSegments(dir: string): Map<string, Buffer> {
  const names = fs.readdirSync(dir).filter((name) => name.endsWith('.wal')).sort();
  return new Map(names.map((name) => [name, fs.readFileSync(path.join(dir, name))]));
}

function expectSameSegments(actual: Map<string, Buffer>, expected: Map<string, Buffer>): void {
  expect([...actual.keys()]).toEqual([...expected.keys()]);
  for (const [name, bytes] of expected) {
    const got = actual.get(name) as Buffer;
    // The first differing offset, rather than two 4 KiB dumps.
    let differs = -1;
    for (let i = 0; i < Math.max(got.length, bytes.length) && differs < 0; i++) if (got[i] !== bytes[i]) differs = i;
    expect(differs, `${name}: first differing byte`).toBe(-1);
  }
}

const TOTAL = GROUPS.reduce((sum, group) => sum + group, 0);

describe('the on-disk format', () => {
  it('the committed log of the previous release is the format as documented (independent encoder)', () => {
    const expected = encodeFixture();
    expect(expected.size).toBeGreaterThan(2); // the fixture rolls segments
    expectSameSegments(readSegments(FIXTURE), expected);
  });

  it('the current build writes the same appends byte for byte as the previous release did', async () => {
    const dir = path.join(tempDir('hardsync-log-format-'), 'wal');
    expect(await writeLog(DurableLog, dir)).toBe(TOTAL);
    expectSameSegments(readSegments(dir), readSegments(FIXTURE));
  });

  it("opens the previous release's log with verify: 'all' and reads every record back", async () => {
    const dir = path.join(tempDir('hardsync-log-format-'), 'wal');
    fs.cpSync(FIXTURE, dir, { recursive: true });
    const log = await DurableLog.open(dir, { ...OPTIONS, verify: 'all' });
    try {
      expect(log.recovery).toMatchObject({ records: TOTAL, firstLsn: 1, lastLsn: TOTAL, truncatedBytes: 0 });
      expect(log.recovery.corruption).toBeUndefined();
      let lsn = 0;
      for await (const record of log.records()) {
        expect(record.lsn).toBe(++lsn);
        expect(record.data.equals(payloadOf(lsn)), `record ${lsn}`).toBe(true);
      }
      expect(lsn).toBe(TOTAL);
    } finally {
      await log.close();
    }
  });
});

describe('native.frameBatch', () => {
  /** Frames begun as startFrame begins them: batch end and CRC left as `fill`. */
  function begun(payloads: Buffer[], firstLsn: number, fill: number): Buffer {
    return Buffer.concat(
      payloads.map((payload, i) => {
        const out = frame(payload, firstLsn + i, 0);
        out.fill(fill, 16, 24);
        return out;
      }),
    );
  }

  it('completes every frame of random batches exactly as the independent encoder does', () => {
    const random = seeded(0x24f7a3e);
    for (let round = 0; round < 300; round++) {
      const count = Math.floor(random() * 20);
      const payloads = Array.from({ length: count }, () => {
        const size = random() < 0.1 ? Math.floor(random() * 70_000) : Math.floor(random() * 300);
        return Buffer.from(Array.from({ length: size }, () => Math.floor(random() * 256)));
      });
      const firstLsn = Math.floor(random() * 2 ** 40) + 1;
      const batchEnd = Math.floor(random() * 2 ** 32);
      // Slack after the batch, which frameBatch must leave alone.
      const slack = Math.floor(random() * 40);
      const arena = Buffer.concat([begun(payloads, firstLsn, round & 255), Buffer.alloc(slack, 0x5a)]);
      const bytes = arena.length - slack;
      expect(native.frameBatch(arena, bytes, batchEnd)).toBe(count);
      const expected = Buffer.concat(payloads.map((payload, i) => frame(payload, firstLsn + i, batchEnd)));
      expect(arena.subarray(0, bytes).equals(expected), `round ${round}`).toBe(true);
      expect(arena.subarray(bytes).equals(Buffer.alloc(slack, 0x5a))).toBe(true);
    }
  });

  it('works on any view: an offset subarray, a DataView, a typed array of wider elements', () => {
    const payloads = [Buffer.from('one'), Buffer.from('two, longer')];
    const expected = Buffer.concat(payloads.map((payload, i) => frame(payload, 5 + i, 999)));
    const backing = Buffer.alloc(expected.length + 16, 0x11);
    begun(payloads, 5, 0).copy(backing, 7);
    const view = new DataView(backing.buffer, backing.byteOffset + 7, expected.length);
    expect(native.frameBatch(view, expected.length, 999)).toBe(2);
    expect(backing.subarray(7, 7 + expected.length).equals(expected)).toBe(true);
    expect(backing.subarray(0, 7).equals(Buffer.alloc(7, 0x11))).toBe(true);
    expect(backing.subarray(7 + expected.length).equals(Buffer.alloc(9, 0x11))).toBe(true);
  });

  it('refuses a range that is not whole frames, and then leaves every byte as it was', () => {
    const good = begun([Buffer.from('a'), Buffer.from('bb'), Buffer.alloc(0)], 1, 0);
    const cases: [string, Buffer, number][] = [
      ['cut inside the last frame', good, good.length - 1],
      ['cut inside a header', good, RECORD_HEADER + 1 + 10],
      ['a bad magic', Buffer.concat([good, Buffer.alloc(RECORD_HEADER)]), good.length + RECORD_HEADER],
    ];
    const lying = Buffer.from(good);
    lying.writeUInt32LE(0xffffffe8, 4); // a length that wraps a 32-bit sum
    cases.push(['a length past the range', lying, lying.length]);
    for (const [what, arena, bytes] of cases) {
      const before = Buffer.from(arena);
      let caught: unknown;
      try {
        native.frameBatch(arena, bytes, 100);
      } catch (error) {
        caught = error;
      }
      expect(caught, what).toBeInstanceOf(RangeError);
      expect((caught as { code?: string }).code, what).toBe('ERR_OUT_OF_RANGE');
      expect(arena.equals(before), `${what}: bytes unchanged`).toBe(true);
    }
    expect(native.frameBatch(Buffer.alloc(8), 0, 0)).toBe(0);
  });

  it('refuses arguments of the wrong type or range', () => {
    const arena = begun([Buffer.from('x')], 1, 0);
    const refusals: [unknown[], ErrorConstructor, string][] = [
      [['not a view', 0, 0], TypeError, 'ERR_INVALID_ARG_TYPE'],
      [[arena, 1.5, 0], TypeError, 'ERR_INVALID_ARG_TYPE'],
      [[arena, '25', 0], TypeError, 'ERR_INVALID_ARG_TYPE'],
      [[arena, arena.length, Number.NaN], TypeError, 'ERR_INVALID_ARG_TYPE'],
      [[arena, -1, 0], RangeError, 'ERR_OUT_OF_RANGE'],
      [[arena, arena.length + 1, 0], RangeError, 'ERR_OUT_OF_RANGE'],
      [[arena, arena.length, -1], RangeError, 'ERR_OUT_OF_RANGE'],
      [[arena, arena.length, 2 ** 32], RangeError, 'ERR_OUT_OF_RANGE'],
    ];
    const call = native.frameBatch as (...args: unknown[]) => number;
    for (const [args, type, code] of refusals) {
      expect(() => call(...args), String(args.slice(1))).toThrow(type);
      try {
        call(...args);
      } catch (error) {
        expect((error as { code?: string }).code).toBe(code);
      }
    }
  });
});
