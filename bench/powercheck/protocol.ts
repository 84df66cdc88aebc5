/**
 * `hardsync powercheck`: the wire protocol between the machine under test and its witness, and
 * the on-disk format of the blocks it writes. The protocol is described in full in
 * bench/powercheck/PROTOCOL.md; this module is its one implementation of parsing and checking.
 * @module
 */
import { crc32c } from '../../lib/index';

/** The protocol name and version a client sends in its HELLO line. */
export const PROTOCOL = 'hardsync-powercheck/2';

/** The default TCP port of the witness. */
export const DEFAULT_PORT = 5400;

/** The longest request line the witness accepts (bytes, without the newline). */
export const MAX_LINE = 8192;

/** How the machine under test makes each block durable. */
export const METHODS = ['data', 'full', 'dsync', 'direct-dsync'] as const;
export type Method = (typeof METHODS)[number];

/** What each method calls, for the report. */
export const METHOD_CALLS: Record<Method, string> = {
  data: 'pwrite + fdatasync',
  full: 'pwrite + fullFsync (fsync on Linux, F_FULLFSYNC on macOS)',
  dsync: 'pwrite on an O_DSYNC file',
  'direct-dsync': 'pwrite on an O_DIRECT|O_DSYNC file',
};

/** Block sizes allowed: powers of two in this range. */
export const MIN_BLOCK_SIZE = 512;
export const MAX_BLOCK_SIZE = 1 << 20;
/** Blocks per file: block 0 is the header, so at least one data block. */
export const MIN_BLOCKS = 2;
export const MAX_BLOCKS = 2 ** 32;

const TEST_ID = /^[0-9a-f]{16}$/;
const DECIMAL = /^(0|[1-9][0-9]{0,15})$/;

/** A protocol error: the code goes on the ERR line, the message after it. */
export class ProtocolError extends Error {
  constructor(
    readonly code: string,
    message: string,
    /** The witness closes the connection after replying. */
    readonly fatal = false,
  ) {
    super(message);
  }
}

/** Is `id` a test id (16 lowercase hex digits)? */
export function isTestId(id: string): boolean {
  return TEST_ID.test(id);
}

/** A decimal integer token in [min, max], or a ProtocolError naming the field. */
export function parseDecimal(token: string | undefined, field: string, min: number, max: number): number {
  if (token === undefined || !DECIMAL.test(token)) throw new ProtocolError('malformed', `${field} must be a decimal integer, got ${quote(token)}`);
  const value = Number(token);
  if (!Number.isSafeInteger(value) || value < min || value > max) throw new ProtocolError('range', `${field} must be from ${min} to ${max}, got ${token}`);
  return value;
}

/** A token shown in an error message: quoted, cut short, never raw control bytes. */
export function quote(token: string | undefined): string {
  if (token === undefined) return '(missing)';
  const shown = token.length > 40 ? `${token.slice(0, 40)}...` : token;
  return JSON.stringify(shown);
}

/** Percent-encodes a host name or path into one token (no spaces, printable ASCII). */
export function encodeToken(text: string): string {
  return encodeURIComponent(text);
}

/** Decodes a token made by {@link encodeToken}; a ProtocolError if it is not one. */
export function decodeToken(token: string | undefined, field: string, maxLength: number): string {
  if (token === undefined || token.length === 0) throw new ProtocolError('malformed', `${field} is missing`);
  let text: string;
  try {
    text = decodeURIComponent(token);
  } catch {
    throw new ProtocolError('malformed', `${field} is not percent-encoded UTF-8: ${quote(token)}`);
  }
  if (text.length === 0 || text.length > maxLength) throw new ProtocolError('range', `${field} must be 1 to ${maxLength} characters`);
  if (/[\u0000-\u001f\u007f]/.test(text)) throw new ProtocolError('malformed', `${field} holds control characters`);
  return text;
}

/** A test id token, or a ProtocolError. */
export function parseTestId(token: string | undefined): string {
  if (token === undefined || !isTestId(token)) throw new ProtocolError('malformed', `a test id is 16 lowercase hex digits, got ${quote(token)}`);
  return token;
}

/** What the machine under test declares about its test in BEGIN. */
export interface TestParams {
  test: string;
  blockSize: number;
  blocks: number;
  method: Method;
  host: string;
  path: string;
}

export function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;
}

/** Parses a test's six fields (test block-size blocks method host path), as BEGIN and the witness's records give them. */
export function parseTestParams(args: string[]): TestParams {
  if (args.length !== 6) throw new ProtocolError('malformed', `a test is 6 fields (test block-size blocks method host path), got ${args.length}`);
  const test = parseTestId(args[0]);
  const blockSize = parseDecimal(args[1], 'block-size', MIN_BLOCK_SIZE, MAX_BLOCK_SIZE);
  if (!isPowerOfTwo(blockSize)) throw new ProtocolError('range', `block-size must be a power of two, got ${blockSize}`);
  const blocks = parseDecimal(args[2], 'blocks', MIN_BLOCKS, MAX_BLOCKS);
  const method = args[3] as Method;
  if (!METHODS.includes(method)) throw new ProtocolError('range', `method must be one of ${METHODS.join(', ')}, got ${quote(args[3])}`);
  const host = decodeToken(args[4], 'host', 255);
  const path = decodeToken(args[5], 'path', 4096);
  return { test, blockSize, blocks, method, host, path };
}

/** The six fields of a test, as {@link parseTestParams} reads them. */
export function formatTestParams(p: TestParams): string {
  return `${p.test} ${p.blockSize} ${p.blocks} ${p.method} ${encodeToken(p.host)} ${encodeToken(p.path)}`;
}

/** A run key: 32 lowercase hex digits (128 random bits), drawn by the run that begins a test. */
const RUN_KEY = /^[0-9a-f]{32}$/;

/** Parses the arguments of BEGIN (tokens after the command): the test and its run key. */
export function parseBegin(args: string[]): { params: TestParams; runKey: string } {
  if (args.length !== 7) throw new ProtocolError('malformed', `BEGIN takes 7 fields (test block-size blocks method host path run-key), got ${args.length}`);
  const params = parseTestParams(args.slice(0, 6));
  if (!RUN_KEY.test(args[6])) throw new ProtocolError('malformed', `a run key is 32 lowercase hex digits, got ${quote(args[6])}`);
  return { params, runKey: args[6] };
}

/** The BEGIN request of a test. */
export function formatBegin(p: TestParams, runKey: string): string {
  return `BEGIN ${formatTestParams(p)} ${runKey}`;
}

/**
 * Splits one request line (bytes before the newline) into tokens. Only printable ASCII and
 * single spaces; a trailing CR is dropped so that a hand-typed session (nc, telnet) works.
 */
export function tokenize(raw: Buffer): string[] {
  let end = raw.length;
  if (end > 0 && raw[end - 1] === 0x0d) end--;
  for (let i = 0; i < end; i++) {
    const c = raw[i];
    if (c < 0x20 || c > 0x7e) throw new ProtocolError('malformed', `byte 0x${c.toString(16).padStart(2, '0')} at column ${i + 1}: a line is printable ASCII`);
  }
  const line = raw.toString('latin1', 0, end);
  if (line.length === 0) throw new ProtocolError('malformed', 'empty line');
  const tokens = line.split(' ');
  if (tokens.some((t) => t.length === 0)) throw new ProtocolError('malformed', 'fields are separated by single spaces');
  return tokens;
}

// ---------------------------------------------------------------------------------------------
// Blocks on the disk under test

/** Every 512-byte sector of a data block starts with this, so each sector names its write. */
export const BLOCK_MAGIC = Buffer.from('HSPCBLK1', 'latin1');
/** Block 0 of the file. */
export const HEADER_MAGIC = Buffer.from('HSPCHDR1', 'latin1');
const SECTOR = 512;
const SECTOR_HEADER = 32;

/**
 * Fills `buf` (one block) with the content of write `seq` to `block` of `test`: each 512-byte
 * sector starts with [magic, test id, block, seq], zeros after. The content is a function of
 * those three alone, so a block read back is checked by rebuilding what it should be and
 * comparing every byte (no checksum to compute in the timed loop): a torn write (sectors of two
 * writes) or any damage differs, and a block of another test or position names itself.
 */
export function fillBlock(buf: Buffer, test: string, block: number, seq: number): void {
  buf.fill(0);
  // The sector header once, then copied: this runs once per write, inside the timed loop.
  const head = buf.subarray(0, SECTOR_HEADER);
  BLOCK_MAGIC.copy(head, 0);
  head.write(test, 8, 8, 'hex');
  writeUint64(head, block, 16);
  writeUint64(head, seq, 24);
  for (let at = SECTOR; at + SECTOR_HEADER <= buf.length; at += SECTOR) head.copy(buf, at);
}

/** A safe integer as a little-endian uint64, without a BigInt. */
function writeUint64(buf: Buffer, value: number, at: number): void {
  buf.writeUInt32LE(value % 2 ** 32, at);
  buf.writeUInt32LE(Math.floor(value / 2 ** 32), at + 4);
}

/** What a block read back holds. */
export type BlockContent =
  | { kind: 'write'; seq: number }
  | { kind: 'zeros' }
  /** An intact block of another test, or of this test at another position. */
  | { kind: 'foreign'; test: string; block: number; seq: number }
  /** Neither zeros nor one intact write: a torn write, or damage. */
  | { kind: 'garbage'; seqs: number[] };

export function parseBlock(buf: Buffer, test: string, block: number): BlockContent {
  let zero = true;
  for (let i = 0; i < buf.length; i++) {
    if (buf[i] !== 0) {
      zero = false;
      break;
    }
  }
  if (zero) return { kind: 'zeros' };
  if (buf.subarray(0, 8).equals(BLOCK_MAGIC)) {
    const owner = buf.toString('hex', 8, 16);
    const at = Number(buf.readBigUInt64LE(16));
    const seq = Number(buf.readBigUInt64LE(24));
    const expected = Buffer.alloc(buf.length);
    fillBlock(expected, owner, at, seq);
    if (expected.equals(buf)) return owner === test && at === block ? { kind: 'write', seq } : { kind: 'foreign', test: owner, block: at, seq };
  }
  // Which writes the sectors come from, for the report of a torn block.
  const seqs = new Set<number>();
  for (let at = 0; at + SECTOR_HEADER <= buf.length; at += SECTOR) {
    if (buf.subarray(at, at + 8).equals(BLOCK_MAGIC) && buf.toString('hex', at + 8, at + 16) === test) seqs.add(Number(buf.readBigUInt64LE(at + 24)));
  }
  return { kind: 'garbage', seqs: [...seqs].sort((a, b) => a - b) };
}

/** The file header (block 0): which test the file belongs to. */
export interface FileHeader {
  test: string;
  blockSize: number;
  blocks: number;
  method: Method;
  createdMs: number;
}

export function fillHeader(buf: Buffer, h: FileHeader): void {
  buf.fill(0);
  HEADER_MAGIC.copy(buf, 0);
  Buffer.from(h.test, 'hex').copy(buf, 8);
  buf.writeUInt32LE(h.blockSize, 16);
  buf.writeUInt32LE(METHODS.indexOf(h.method), 20);
  buf.writeBigUInt64LE(BigInt(h.blocks), 24);
  buf.writeBigUInt64LE(BigInt(h.createdMs), 32);
  buf.writeUInt32LE(crc32c(buf.subarray(0, buf.length - 4)), buf.length - 4);
}

/** The header in `buf` (at least 512 bytes read from offset 0), or undefined if it is not one. */
export function parseHeader(buf: Buffer): FileHeader | undefined {
  if (buf.length < MIN_BLOCK_SIZE || !buf.subarray(0, 8).equals(HEADER_MAGIC)) return undefined;
  const blockSize = buf.readUInt32LE(16);
  if (!isPowerOfTwo(blockSize) || blockSize < MIN_BLOCK_SIZE || blockSize > MAX_BLOCK_SIZE || buf.length < blockSize) return undefined;
  const block = buf.subarray(0, blockSize);
  if (block.readUInt32LE(blockSize - 4) !== crc32c(block.subarray(0, blockSize - 4))) return undefined;
  const method = METHODS[block.readUInt32LE(20)];
  if (method === undefined) return undefined;
  return {
    test: block.toString('hex', 8, 16),
    blockSize,
    blocks: Number(block.readBigUInt64LE(24)),
    method,
    createdMs: Number(block.readBigUInt64LE(32)),
  };
}

// ---------------------------------------------------------------------------------------------
// Sizes and addresses on the command line

/** "4k", "64m", "1g", "512" (bytes; k/m/g/t are powers of 1024). NaN if not a size. */
export function parseSizeWithUnits(text: string): number {
  const match = /^(\d+)([kmgt]?)i?b?$/i.exec(text.trim());
  if (!match) return NaN;
  const unit = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[match[2].toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  return Number(match[1]) * unit;
}

/** "host:port", "[v6]:port" or "host" (default port). Undefined if malformed. */
export function parseAddress(text: string, defaultPort = DEFAULT_PORT): { host: string; port: number } | undefined {
  let host: string;
  let portText: string | undefined;
  const v6 = /^\[([^\]]+)\](?::(.*))?$/.exec(text);
  if (v6) {
    host = v6[1];
    portText = v6[2];
  } else {
    const colon = text.lastIndexOf(':');
    if (colon >= 0 && text.indexOf(':') !== colon) {
      host = text; // a bare IPv6 address, no port
    } else if (colon >= 0) {
      host = text.slice(0, colon);
      portText = text.slice(colon + 1);
    } else {
      host = text;
    }
  }
  if (host.length === 0 || /\s/.test(host)) return undefined;
  if (portText === undefined) return { host, port: defaultPort };
  if (!/^\d{1,5}$/.test(portText)) return undefined;
  const port = Number(portText);
  if (port < 1 || port > 65535) return undefined;
  return { host, port };
}
