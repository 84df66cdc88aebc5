/**
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) in plain JavaScript, slicing-by-8: the
 * implementation the library used before the native one (lib/patterns/crc32c.ts, backed by
 * native/crc32c.cc). Kept as the baseline of bench/crc32c.ts and as the tests' reference, an
 * implementation written independently of the one under test. Not used by the library.
 * @module
 */

const POLY = 0x82f63b78;

/** TABLES[k][b]: the CRC contribution of byte b followed by k zero bytes. */
const TABLES: Int32Array[] = (() => {
  const tables = Array.from({ length: 8 }, () => new Int32Array(256));
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    tables[0][n] = c;
  }
  for (let n = 0; n < 256; n++) {
    let c = tables[0][n];
    for (let k = 1; k < 8; k++) {
      c = tables[0][c & 0xff] ^ (c >>> 8);
      tables[k][n] = c;
    }
  }
  return tables;
})();

/**
 * Continues a CRC-32C over `bytes` (no argument checks: a benchmark and test helper).
 * @param crc The CRC so far (0 for none), unsigned.
 * @param bytes The next bytes.
 * @returns The CRC of everything fed in so far, unsigned.
 */
export function crc32cUpdateJs(crc: number, bytes: Uint8Array): number {
  const [t0, t1, t2, t3, t4, t5, t6, t7] = TABLES;
  let c = ~crc;
  let i = 0;
  const length = bytes.length;
  const fast = length - (length % 8);
  while (i < fast) {
    const lo = c ^ (bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24));
    c =
      t7[lo & 0xff] ^
      t6[(lo >>> 8) & 0xff] ^
      t5[(lo >>> 16) & 0xff] ^
      t4[lo >>> 24] ^
      t3[bytes[i + 4]] ^
      t2[bytes[i + 5]] ^
      t1[bytes[i + 6]] ^
      t0[bytes[i + 7]];
    i += 8;
  }
  while (i < length) c = t0[(c ^ bytes[i++]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}
