// The native CRC-32C (native/crc32c.cc): published test vectors, agreement of its two forms
// (the CPU's instruction, the table) with an independent JavaScript implementation on every
// length from 0 to 4096 at unaligned offsets and on the sizes where the instruction's
// three-lane loop starts, continuation from any split, and the addon's own argument checks.
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { crc32cUpdateJs } from '../dist/bench/measure/crc32c-js.js';
import { crc32c, crc32cUpdate } from '../dist/lib/index.js';
import { native } from '../dist/lib/native.js';
import { crc32cImplementation } from '../dist/lib/patterns/crc32c.js';
import { rng as seeded } from './helpers/seeded.cjs';

type Crc = (crc: number, data: Uint8Array) => number;
const forms: Record<string, Crc> = {
  'native (this CPU)': (crc, data) => native.crc32c(crc, data, 0, data.byteLength),
  'native table': (crc, data) => native.crc32cPortable(crc, data, 0, data.byteLength),
  'crc32cUpdate (public)': (crc, data) => crc32cUpdate(crc, data),
  'JavaScript reference': crc32cUpdateJs,
};

// RFC 3720 (iSCSI), appendix B.4, and the usual check value.
const iscsiReadPdu = Buffer.from(
  ['01c00000', '00000000', '00000000', '00000000', '14000000', '00000400', '00000014', '00000018', '28000000', '00000000', '02000000', '00000000'].join(''),
  'hex',
);
const VECTORS: [string, Buffer, number][] = [
  ['"123456789"', Buffer.from('123456789'), 0xe3069283],
  ['empty', Buffer.alloc(0), 0],
  ['32 bytes of zeros', Buffer.alloc(32, 0), 0x8a9136aa],
  ['32 bytes of 0xff', Buffer.alloc(32, 0xff), 0x62a8ab43],
  ['32 ascending bytes', Buffer.from(Array.from({ length: 32 }, (_, i) => i)), 0x46dd794e],
  ['32 descending bytes', Buffer.from(Array.from({ length: 32 }, (_, i) => 31 - i)), 0x113fdb5c],
  ['an iSCSI read PDU', iscsiReadPdu, 0xd9963a56],
];

describe('CRC-32C', () => {
  it('matches RFC 3720 B.4 and the check value, in every form', () => {
    expect(iscsiReadPdu.length).toBe(48);
    for (const [name, form] of Object.entries(forms)) {
      for (const [what, bytes, expected] of VECTORS) expect(form(0, bytes), `${name}: ${what}`).toBe(expected);
    }
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
  });

  it('uses the CPU instruction where the CPU has one', () => {
    let cpu = '';
    try {
      cpu = fs.readFileSync('/proc/cpuinfo', 'utf8');
    } catch {
      // not Linux: the name is still one of the three
    }
    expect(['sse4.2', 'armv8-crc', 'table']).toContain(crc32cImplementation);
    expect(native.crc32cImplementation).toBe(crc32cImplementation);
    if (process.arch === 'x64' && /\bsse4_2\b/.test(cpu)) expect(crc32cImplementation).toBe('sse4.2');
    if (process.arch === 'arm64' && /^Features\s*:.*\bcrc32\b/m.test(cpu)) expect(crc32cImplementation).toBe('armv8-crc');
  });

  it('agrees with the JavaScript reference on every length 0..4096, at unaligned offsets, with a seed', () => {
    const random = seeded(0x5eed);
    const pool = Buffer.alloc(4096 + 64);
    for (let i = 0; i < pool.length; i++) pool[i] = Math.floor(random() * 256);
    for (let length = 0; length <= 4096; length++) {
      const offset = length % 16;
      const seed = length % 3 === 0 ? 0 : Math.floor(random() * 2 ** 32);
      const view = pool.subarray(offset, offset + length);
      const expected = crc32cUpdateJs(seed, view);
      // The addon reads [offset, offset + length) of the whole pool: a misaligned start
      // without a subarray, as the log's frames are read.
      expect(native.crc32c(seed, pool, offset, length), `instruction, length ${length}`).toBe(expected);
      expect(native.crc32cPortable(seed, pool, offset, length), `table, length ${length}`).toBe(expected);
    }
  });

  it('agrees around the sizes where the three-lane loop starts, and on a large input', () => {
    const random = seeded(42);
    const lane = 4096;
    const big = Buffer.alloc(3 * 1024 * 1024 + 77);
    for (let i = 0; i < big.length; i++) big[i] = Math.floor(random() * 256);
    const sizes = [3 * lane - 1, 3 * lane, 3 * lane + 1, 3 * lane + 7, 6 * lane - 8, 6 * lane, 6 * lane + 9, 1 << 20, big.length - 7];
    for (const size of sizes) {
      for (const offset of [0, 1, 5, 7]) {
        const expected = crc32cUpdateJs(0, big.subarray(offset, offset + size));
        expect(native.crc32c(0, big, offset, size), `size ${size} offset ${offset}`).toBe(expected);
        expect(native.crc32cPortable(0, big, offset, size), `table, size ${size} offset ${offset}`).toBe(expected);
      }
    }
  });

  it('continues from any split: crc(crc(a), b) = crc(a || b)', () => {
    const random = seeded(7);
    const data = Buffer.alloc(40_000);
    for (let i = 0; i < data.length; i++) data[i] = Math.floor(random() * 256);
    for (let n = 0; n < 60; n++) {
      const length = Math.floor(random() * data.length);
      const cut = Math.floor(random() * (length + 1));
      const whole = crc32cUpdateJs(0, data.subarray(0, length));
      for (const [name, form] of Object.entries(forms)) {
        expect(form(form(0, data.subarray(0, cut)), data.subarray(cut, length)), `${name}, ${cut}/${length}`).toBe(whole);
      }
    }
  });

  it('reads the bytes of any view: typed arrays of wider elements and DataViews', () => {
    const bytes = Buffer.from('The quick brown fox jumps over the lazy dog.....');
    const expected = crc32cUpdateJs(0, bytes.subarray(8, 40));
    const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length);
    expect(native.crc32c(0, new Uint32Array(ab, 8, 8), 0, 32)).toBe(expected);
    expect(native.crc32c(0, new DataView(ab, 8, 32), 0, 32)).toBe(expected);
    expect(native.crc32c(0, new Float64Array(ab), 8, 32)).toBe(expected);
  });

  it('refuses a range outside the view, and arguments of the wrong type, with node-style errors', () => {
    const buffer = Buffer.alloc(16, 1);
    const outOfRange = [
      [0, buffer, 17, 0],
      [0, buffer, 0, 17],
      [0, buffer, 8, 9],
      [0, buffer, -1, 1],
      [0, buffer, 0, -1],
      [-1, buffer, 0, 1],
      [2 ** 32, buffer, 0, 1],
      [0, buffer, 2 ** 40, 2 ** 40],
    ] as const;
    for (const fn of [native.crc32c, native.crc32cPortable]) {
      for (const args of outOfRange) {
        expect(() => (fn as (...a: unknown[]) => number)(...args), String(args.slice(2))).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
      }
      const wrongType: unknown[][] = [[0, 'text', 0, 1], [0, buffer, 0.5, 1], [0, buffer, 0, '1'], ['0', buffer, 0, 1], [0, buffer, 0n, 1], [0, {}, 0, 0], []];
      for (const args of wrongType) expect(() => (fn as (...a: unknown[]) => number)(...args)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
      expect(fn(0, buffer, 16, 0)).toBe(0);
    }
  });

  it('reads a detached buffer as empty, never freed memory', () => {
    const buffer = new ArrayBuffer(64);
    const view = new Uint8Array(buffer);
    structuredClone(buffer, { transfer: [buffer] });
    expect(view.byteLength).toBe(0);
    expect(native.crc32c(0, view, 0, 0)).toBe(0);
    expect(() => native.crc32c(0, view, 0, 1)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
  });
});
