/**
 * `hardsync powercheck run`: on the machine under test, writes random blocks of a file and
 * makes each durable, telling the witness before each write what it is about to write and,
 * once the flush returned, that it is durable. Runs until told to stop, until an I/O error
 * (which is what a simulated power cut looks like), or until the power goes.
 * @module
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { allocAligned, dioAlignmentSync, fsyncDirSync, openSync, preallocateSync, writeDurableSync, type FlushMode } from '../../lib/index';
import { WitnessClient, WitnessHandshakeError, WitnessRefusal, WitnessUnreachable } from './client';
import { fillBlock, fillHeader, formatBegin, HEADER_MAGIC, MAX_BLOCKS, METHOD_CALLS, MIN_BLOCKS, type Method } from './protocol';
import { makeRunKey } from './secret';

/** A problem with the arguments or the file, found before the run starts (exit code 2). */
export class PowercheckUsageError extends Error {
  readonly code = 'ERR_HARDSYNC_USAGE';
}

export interface RunHooks {
  /** After the witness acknowledged that the file and its header are durable. */
  afterReady?: (test: string) => void | Promise<void>;
  /** After the witness acknowledged the announcement of write `seq`, before it is written. */
  beforeWrite?: (seq: number, block: number) => void | Promise<void>;
}

export interface RunOptions {
  witness: { host: string; port: number };
  /** The witness's secret. */
  secret: string;
  file: string;
  /** File size in bytes; the file holds floor(size / blockSize) blocks (block 0 is the header). */
  size: number;
  blockSize: number;
  method: Method;
  /** Replace an existing powercheck file at `file` (a file that is not one is never replaced). */
  replace?: boolean;
  /** Stop after this many durable writes. */
  maxWrites?: number;
  /** Stop after this long (ms). */
  durationMs?: number;
  /** How long to keep trying to reach a witness that went away (ms, default 60 000). */
  reconnectMs?: number;
  /** How long to wait for any reply of the witness (ms, default 30 000). */
  timeoutMs?: number;
  /** Stop at the next write boundary when aborted (Ctrl-C). */
  signal?: AbortSignal;
  /** Seeds the choice of blocks (default: random). */
  seed?: number;
  /** The host name sent to the witness (default os.hostname()). */
  host?: string;
  /** Informational messages (test started, witness lost and found again). */
  log?: (line: string) => void;
  /** Called after each durable write with the count so far (for a progress display). */
  onProgress?: (writes: number, elapsedMs: number) => void;
  /** For tests: called at fixed points of the run. */
  hooks?: RunHooks;
}

export interface RunResult {
  schema: 'hardsync-powercheck/1';
  kind: 'run';
  test: string;
  file: string;
  host: string;
  witness: string;
  method: Method;
  calls: string;
  blockSize: number;
  blocks: number;
  /** Writes the witness acknowledged as durable (each: announce, write, flush, confirm). */
  writes: number;
  seconds: number;
  writesPerSecond: number;
  /** Why it stopped. `io-error`: a write or flush failed (a simulated cut looks like this). */
  stop: 'writes' | 'duration' | 'interrupted' | 'io-error';
  error?: { code?: string; syscall?: string; message: string; seq: number; block: number };
  /** Times the connection to the witness was lost and made again. */
  reconnects: number;
}

/** xorshift128+: a fast, seedable choice of blocks (not for secrets). */
function blockChooser(seed: number, blocks: number): () => number {
  let s0 = BigInt.asUintN(64, BigInt(seed) * 0x9e3779b97f4a7c15n + 1n);
  let s1 = BigInt.asUintN(64, s0 ^ 0xbf58476d1ce4e5b9n);
  const span = BigInt(blocks - 1);
  return () => {
    let x = s0;
    const y = s1;
    s0 = y;
    x = BigInt.asUintN(64, x ^ (x << 23n));
    s1 = x ^ y ^ (x >> 17n) ^ (y >> 26n);
    return 1 + Number(BigInt.asUintN(64, s1 + y) % span);
  };
}

const USAGE_CODES = new Set(['ENOENT', 'ENOTDIR', 'EACCES', 'EPERM', 'EROFS', 'EISDIR', 'ENAMETOOLONG', 'ELOOP', 'EEXIST']);

/**
 * Checks, before the witness hears of the test, that `file` may be written: it does not exist,
 * or it is a powercheck file and `replace` is set. Returns whether it exists.
 */
function checkTarget(file: string, replace: boolean): boolean {
  let existing: fs.Stats | undefined;
  try {
    existing = fs.lstatSync(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') existing = undefined;
    else if (USAGE_CODES.has(code ?? '')) throw new PowercheckUsageError(`cannot use ${file}: ${(error as Error).message}`);
    else throw error;
  }
  if (existing) {
    if (!replace) throw new PowercheckUsageError(`${file} exists; remove it, or pass --replace to replace a powercheck file`);
    if (!existing.isFile()) throw new PowercheckUsageError(`refusing to replace ${file}: not a regular file`);
    if (existing.size > 0) {
      // Only a file that starts like a powercheck file (even a damaged one) is ever replaced.
      const head = Buffer.alloc(HEADER_MAGIC.length);
      const fd = fs.openSync(file, 'r');
      try {
        fs.readSync(fd, head, 0, head.length, 0);
      } finally {
        fs.closeSync(fd);
      }
      if (!head.equals(HEADER_MAGIC)) throw new PowercheckUsageError(`refusing to replace ${file}: it is not a powercheck file (no powercheck header)`);
    }
  }
  return existing !== undefined;
}

/**
 * Makes the file (after {@link checkTarget}, which found whether it `exists`: then it is removed
 * first): created exclusively, preallocated, header written and flushed, directory fsynced.
 */
function createFile(file: string, blockSize: number, blocks: number, header: Buffer, exists: boolean): void {
  if (exists) {
    fs.unlinkSync(file);
    fsyncDirSync(path.dirname(file));
  }
  let fd: number;
  try {
    fd = openSync(file, { read: true, write: true, create: true, exclusive: true, mode: 0o600 });
  } catch (error) {
    // A path that cannot hold the file is the caller's mistake; EIO and the like are not.
    if (USAGE_CODES.has((error as NodeJS.ErrnoException).code ?? '')) throw new PowercheckUsageError(`cannot create ${file}: ${(error as Error).message}`);
    throw error;
  }
  try {
    try {
      preallocateSync(fd, 0, blocks * blockSize);
    } catch (error) {
      // A filesystem without fallocate: a sparse file of the same size serves as well.
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ERR_HARDSYNC_UNSUPPORTED' && code !== 'EOPNOTSUPP' && code !== 'ENOTSUP') throw error;
      fs.ftruncateSync(fd, blocks * blockSize);
    }
    writeDurableSync(fd, header, 0, { flush: 'full' });
  } finally {
    fs.closeSync(fd);
  }
  fsyncDirSync(path.dirname(file));
}

/** Opens the file for the data writes as `method` needs, with a buffer fit for it. */
function openForMethod(file: string, method: Method, blockSize: number): { fd: number; buffer: Buffer; flush: FlushMode } {
  switch (method) {
    case 'data':
    case 'full':
      return { fd: openSync(file, { read: true, write: true }), buffer: allocAligned(blockSize, 4096), flush: method };
    case 'dsync':
      return { fd: openSync(file, { read: true, write: true, dsync: true }), buffer: allocAligned(blockSize, 4096), flush: 'none' };
    case 'direct-dsync': {
      let fd: number;
      try {
        fd = openSync(file, { read: true, write: true, direct: true, dsync: true });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EINVAL') throw new PowercheckUsageError(`the filesystem of ${file} refuses O_DIRECT (EINVAL): use another --method or directory`);
        throw error;
      }
      const { memory, offset } = dioAlignmentSync(fd);
      if (blockSize % offset !== 0) {
        fs.closeSync(fd);
        throw new PowercheckUsageError(`--block-size ${blockSize} is not a multiple of this filesystem's direct-I/O alignment (${offset})`);
      }
      return { fd, buffer: allocAligned(blockSize, Math.max(memory, 512)), flush: 'none' };
    }
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs the check on the machine under test. Resolves when it stops (as asked, or on an I/O
 * error: then `stop` is 'io-error'); rejects with PowercheckUsageError for a bad file or
 * arguments, WitnessRefusal when the witness refuses a request, WitnessUnreachable when the
 * witness stays out of reach longer than `reconnectMs`.
 */
export async function runPowercheck(options: RunOptions): Promise<RunResult> {
  const file = path.resolve(options.file);
  const { blockSize, method } = options;
  const blocks = Math.floor(options.size / blockSize);
  if (blocks < MIN_BLOCKS) throw new PowercheckUsageError(`--size ${options.size} holds fewer than ${MIN_BLOCKS} blocks of ${blockSize} B`);
  if (blocks > MAX_BLOCKS) throw new PowercheckUsageError(`--size ${options.size} holds more than ${MAX_BLOCKS} blocks of ${blockSize} B: use a larger --block-size`);
  const host = options.host ?? os.hostname();
  const test = crypto.randomBytes(8).toString('hex');
  // Proves to the witness, on every connection, that this is the run that began the test.
  const beginLine = formatBegin({ test, blockSize, blocks, method, host, path: file }, makeRunKey());
  const exists = checkTarget(file, options.replace ?? false);
  const timeoutMs = options.timeoutMs ?? 30_000;
  const reconnectMs = options.reconnectMs ?? 60_000;
  const log = options.log ?? (() => undefined);
  const witnessName = options.witness.host.includes(':') ? `[${options.witness.host}]:${options.witness.port}` : `${options.witness.host}:${options.witness.port}`;

  let client: WitnessClient | undefined = await WitnessClient.connect(options.witness.host, options.witness.port, options.secret, timeoutMs);
  let reconnects = 0;
  let unacked: string[] = [];
  let begun = false;
  /**
   * Sends `lines` after any not yet acknowledged, and waits for all their replies. A lost
   * connection is made again (within reconnectMs) and everything unacknowledged is sent again:
   * the witness treats a repeated request as already done. A new connection first resends the
   * BEGIN, whose run key lets it write to the test.
   */
  async function exchange(lines: string[]): Promise<string[][]> {
    unacked.push(...lines);
    let lostAt = 0;
    let backoff = 50;
    for (;;) {
      try {
        let resume: string[] = [];
        if (client === undefined) {
          client = await WitnessClient.connect(options.witness.host, options.witness.port, options.secret, timeoutMs);
          reconnects++;
          if (begun) resume = [beginLine];
          log(`witness ${witnessName} reached again; resending ${unacked.length} unacknowledged request(s)`);
        }
        const replies = await client.requestMany([...resume, ...unacked]);
        unacked = [];
        return replies.slice(resume.length);
      } catch (error) {
        if (!(error instanceof WitnessUnreachable)) throw error;
        client?.close();
        client = undefined;
        if (lostAt === 0) {
          lostAt = Date.now();
          log(`lost the witness ${witnessName} (${error.code ?? error.message}); trying again for ${reconnectMs / 1000} s`);
        }
        if (Date.now() - lostAt >= reconnectMs) throw new WitnessUnreachable(`the witness ${witnessName} stayed out of reach for ${reconnectMs / 1000} s: ${error.message}`, error.code);
        await sleep(backoff);
        backoff = Math.min(backoff * 2, 1000);
      }
    }
  }

  let fd = -1;
  try {
    await exchange([beginLine]);
    begun = true;
    const header = allocAligned(blockSize, 4096);
    fillHeader(header, { test, blockSize, blocks, method, createdMs: Date.now() });
    createFile(file, blockSize, blocks, header, exists);
    const opened = openForMethod(file, method, blockSize);
    fd = opened.fd;
    const { buffer, flush } = opened;
    await exchange([`READY ${test}`]);
    log(`test ${test}: ${file}, ${blocks} blocks of ${blockSize} B, ${METHOD_CALLS[method]}; witness ${witnessName}`);
    await options.hooks?.afterReady?.(test);

    const choose = blockChooser(options.seed ?? crypto.randomInt(2 ** 47), blocks);
    const started = performance.now();
    let writes = 0;
    let stop: RunResult['stop'] | undefined;
    let ioError: RunResult['error'];
    let confirm: string | undefined;
    for (let seq = 1; stop === undefined; seq++) {
      const block = choose();
      const announce = `PRE ${test} ${seq} ${block}`;
      await exchange(confirm ? [confirm, announce] : [announce]);
      if (confirm) {
        writes++;
        options.onProgress?.(writes, performance.now() - started);
        confirm = undefined;
      }
      await options.hooks?.beforeWrite?.(seq, block);
      fillBlock(buffer, test, block, seq);
      try {
        writeDurableSync(fd, buffer, block * blockSize, { flush });
      } catch (error) {
        const e = error as NodeJS.ErrnoException;
        ioError = { code: e.code, syscall: e.syscall, message: e.message, seq, block };
        stop = 'io-error';
        break;
      }
      confirm = `POST ${test} ${seq} ${block}`;
      if (options.signal?.aborted) stop = 'interrupted';
      else if (options.durationMs !== undefined && performance.now() - started >= options.durationMs) stop = 'duration';
      else if (options.maxWrites !== undefined && writes + 1 >= options.maxWrites) stop = 'writes';
    }
    if (confirm) {
      await exchange([confirm]);
      writes++;
      options.onProgress?.(writes, performance.now() - started);
    }
    const seconds = (performance.now() - started) / 1000;
    // A clean stop is said, so that the witness can tell it from a cut. An I/O error is not one.
    if (stop !== 'io-error') await exchange([`END ${test}`]);
    return {
      schema: 'hardsync-powercheck/1',
      kind: 'run',
      test,
      file,
      host,
      witness: witnessName,
      method,
      calls: METHOD_CALLS[method],
      blockSize,
      blocks,
      writes,
      seconds: Math.round(seconds * 1000) / 1000,
      writesPerSecond: seconds > 0 ? Math.round((writes / seconds) * 10) / 10 : 0,
      stop: stop as RunResult['stop'],
      error: ioError,
      reconnects,
    };
  } finally {
    if (fd >= 0) {
      try {
        fs.closeSync(fd);
      } catch {
        // after a (simulated) cut even close fails; nothing is left to do with the file
      }
    }
    (client as WitnessClient | undefined)?.close();
  }
}

export { WitnessHandshakeError, WitnessRefusal, WitnessUnreachable };
