/**
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of iSCSI, ext4 metadata,
 * RocksDB and LevelDB logs, and of DurableLog's frames. Computed by the addon
 * (native/crc32c.cc): with the CPU's CRC instruction where it has one (x86-64 SSE4.2, ARMv8
 * CRC32), table-driven elsewhere; `crc32cImplementation` says which.
 * @module
 */
import { types } from 'node:util';
import { invalidArgType } from '../errors';
import { native } from '../native';
import { validateArgumentCount, validateIntRange } from '../validate';

/**
 * What computes CRC-32C in this process: `'sse4.2'` or `'armv8-crc'` (the CPU's instruction),
 * or `'table'` (slicing-by-8, on CPUs without one).
 */
export const crc32cImplementation: 'sse4.2' | 'armv8-crc' | 'table' = native.crc32cImplementation;

/**
 * Continues a CRC-32C over `bytes`. Start with `crc32cUpdate(0, ...)`; feeding the result of
 * one call into the next computes the CRC of the concatenation.
 * @param crc The CRC so far (0 for none), as an unsigned 32-bit number.
 * @param bytes The next bytes.
 * @returns The CRC of everything fed in so far, unsigned.
 */
export function crc32cUpdate(crc: number, bytes: Uint8Array): number {
  validateArgumentCount(arguments, 2, 'crc32cUpdate', false);
  validateIntRange(crc, 'crc', 0, 0xffffffff);
  if (!types.isUint8Array(bytes)) throw invalidArgType('bytes', 'an instance of Buffer or Uint8Array', bytes);
  return native.crc32c(crc, bytes, 0, bytes.byteLength);
}

/**
 * CRC-32C of `bytes`: `crc32c(Buffer.from('123456789')) === 0xe3069283`.
 * @param bytes Any bytes.
 * @returns The checksum as an unsigned 32-bit number.
 */
export function crc32c(bytes: Uint8Array): number {
  validateArgumentCount(arguments, 1, 'crc32c', false);
  return crc32cUpdate(0, bytes);
}

/**
 * {@link crc32cUpdate} over `length` bytes of `bytes` from `offset`, without the argument
 * checks: for the log's frames, whose arguments the library itself computed (the addon still
 * refuses a range outside the view).
 * @internal
 */
export function crc32cRange(crc: number, bytes: Uint8Array, offset: number, length: number): number {
  return native.crc32c(crc, bytes, offset, length);
}
