// The API surface as plain JavaScript meets it: a callback or an extra argument is refused,
// never silently ignored (every export), and a Promise form's failure carries the stack of the
// code that awaited it (every Promise export), as node:fs's promises do.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as hs from '../dist/lib/index.js';
import { diskTempDir } from './helpers/tmp';

let dir: string;
let cleanup: () => void;
let closedFd: number;
beforeAll(() => {
  ({ dir, cleanup } = diskTempDir('hardsync-api-'));
  closedFd = fs.openSync(path.join(dir, 'closed'), 'w');
  fs.closeSync(closedFd);
});
afterAll(() => cleanup());

const api = hs as unknown as Record<string, unknown>;

/**
 * Exports whose methods, not the export itself, take the arguments (DurableLog: its own
 * describe block below); every other function is covered by the tables, which must say so.
 */
const WIRED_ELSEWHERE = new Set(['DurableLog']);

/** Every exported function, by name. */
function exportedFunctions(): string[] {
  return Object.keys(api).filter((name) => typeof api[name] === 'function' && !WIRED_ELSEWHERE.has(name)).sort();
}

/** Parameters each export declares (optional ones included), Promise and Sync forms alike. */
const DECLARED: Record<string, number> = {
  fsync: 1, fdatasync: 1, fullFsync: 1, barrierFsync: 1, syncFileRange: 4, syncfs: 1, fsyncDir: 1, open: 2, preallocate: 3,
  writeDurable: 4, replaceFile: 2, lockFile: 2, unlockFile: 1, dioAlignment: 1, capabilities: 1, writeFileAtomic: 3,
  writeFileSecret: 3, createDurable: 2, cleanupAtomicTemps: 1, allocAligned: 2, isAligned: 2, crc32c: 1, crc32cUpdate: 2,
  mapFile: 2, msync: 2, unmapFile: 1,
};
const declared = (name: string): number => DECLARED[name.replace(/Sync$/, '')];

/** Whether `name` is a Promise form: it has a Sync twin. */
const isPromiseForm = (name: string): boolean => typeof api[`${name}Sync`] === 'function';

/** What calling `name` with `args` did: threw, rejected, or returned. */
async function outcome(name: string, args: unknown[]): Promise<{ how: 'threw' | 'rejected' | 'returned'; error?: Error & { code?: string } }> {
  let result: unknown;
  try {
    result = (api[name] as (...a: unknown[]) => unknown)(...args);
  } catch (error) {
    return { how: 'threw', error: error as Error };
  }
  if (result instanceof Promise) {
    try {
      await result;
    } catch (error) {
      return { how: 'rejected', error: error as Error };
    }
  }
  return { how: 'returned' };
}

describe('a callback or an extra argument is refused, not ignored', () => {
  it('the arity table covers every exported function', () => {
    const names = exportedFunctions();
    expect(names.length).toBeGreaterThanOrEqual(40);
    expect(names.filter((name) => declared(name) === undefined)).toEqual([]);
  });

  it('a function after the first argument is ERR_INVALID_ARG_TYPE saying Promise and Sync forms only (Promise forms reject)', async () => {
    const done = function done(): void {};
    for (const name of exportedFunctions()) {
      // The callback where node:fs would take it (last), and right after the first argument.
      for (const args of [[...Array(declared(name)).fill(undefined), done], [undefined, done]]) {
        if (args.length === 1) continue;
        const { how, error } = await outcome(name, args);
        expect(how, `${name}(${args.length} args)`).toBe(isPromiseForm(name) ? 'rejected' : 'threw');
        expect(error, name).toBeInstanceOf(TypeError);
        expect(error!.code, name).toBe('ERR_INVALID_ARG_TYPE');
        expect(error!.message, name).toMatch(/^The "callback" argument is not supported: \w+\(\) takes no callback; hardsync has Promise and Sync forms only \(.*\)\. Received function (\w+)$/);
        expect(error!.message.endsWith(`Received function ${done.name}`), name).toBe(true);
      }
    }
  });

  it('an argument past the declared ones is ERR_INVALID_ARG_TYPE, unless it is undefined', async () => {
    for (const name of exportedFunctions()) {
      const padded = Array(declared(name)).fill(undefined);
      for (const extra of [5, 'x', null, {}, false]) {
        const { how, error } = await outcome(name, [...padded, extra]);
        expect(how, `${name}(..., ${String(extra)})`).toBe(isPromiseForm(name) ? 'rejected' : 'threw');
        expect(error!.code, name).toBe('ERR_INVALID_ARG_TYPE');
        expect(error!.message, name).toContain(`The argument #${padded.length + 1} of ${name}() must be undefined: ${name}() takes ${padded.length} argument`);
        expect(error!.message, name).toContain('hardsync has Promise and Sync forms only');
      }
      // An explicit undefined past the end is what a caller forwarding its own optional
      // parameters passes: whatever else happens, it is not refused as an extra argument.
      const { error } = await outcome(name, [...padded, undefined]);
      expect(error?.message ?? '', name).not.toContain('Promise and Sync forms only');
    }
  });

  it('is refused before any I/O: no file is written, created or flushed', async () => {
    const target = path.join(dir, 'never-created');
    expect(() => hs.writeFileAtomicSync(target, 'data', undefined, () => undefined)).toThrow(/Promise and Sync forms only/);
    await expect(hs.writeFileAtomic(target, 'data', {}, () => undefined)).rejects.toThrow(/Promise and Sync forms only/);
    await expect(hs.createDurable(target, {}, 1)).rejects.toThrow(/Promise and Sync forms only/);
    expect(() => hs.createDurableSync(target, () => undefined)).toThrow(/Promise and Sync forms only/);
    expect(fs.readdirSync(dir).filter((name) => name.includes('never-created'))).toEqual([]);
  });

  it('names the right forms in its hint', () => {
    expect(() => (hs.fsyncSync as (...a: unknown[]) => void)(0, () => undefined)).toThrow('(await fsync(...) or fsyncSync(...))');
    expect(() => (hs.crc32c as (...a: unknown[]) => void)(Buffer.alloc(1), () => undefined)).toThrow('(crc32c() returns its result)');
  });
});

/**
 * Promise exports whose native call cannot be made to fail here without a failing device, and
 * the test that shows their failure's caller stack instead.
 */
const FAILING_ELSEWHERE: Record<string, string> = {
  msync: 'test/powercut-mapped.test.ts: a power cut fails msync with EIO',
};

/** For every Promise export, a call that fails in the native call or on disk (not in validation). */
function failingCalls(): Record<string, () => Promise<unknown>> {
  const missing = path.join(dir, 'missing-dir', 'file');
  const buffer = Buffer.alloc(8);
  return {
    fsync: () => hs.fsync(closedFd),
    fdatasync: () => hs.fdatasync(closedFd),
    fullFsync: () => hs.fullFsync(closedFd),
    barrierFsync: () => hs.barrierFsync(closedFd),
    syncFileRange: () => hs.syncFileRange(closedFd, 0, 0, 0),
    syncfs: () => hs.syncfs(closedFd),
    fsyncDir: () => hs.fsyncDir(missing),
    open: () => hs.open(missing),
    preallocate: () => hs.preallocate(closedFd, 0, 1),
    writeDurable: () => hs.writeDurable(closedFd, buffer, 0),
    replaceFile: () => hs.replaceFile(missing, path.join(dir, 'to')),
    lockFile: () => hs.lockFile(closedFd),
    unlockFile: () => hs.unlockFile(closedFd),
    dioAlignment: () => hs.dioAlignment(missing),
    capabilities: () => hs.capabilities(path.join(missing, 'below')),
    writeFileAtomic: () => hs.writeFileAtomic(missing, 'data'),
    writeFileSecret: () => hs.writeFileSecret(missing, 'secret'),
    createDurable: () => hs.createDurable(missing),
    cleanupAtomicTemps: () => (api.cleanupAtomicTemps as (p: string) => Promise<unknown>)(missing),
    mapFile: () => hs.mapFile(closedFd),
  };
}

describe('a Promise form rejects with the stack of its caller', () => {
  it('covers every Promise export', () => {
    const promiseForms = exportedFunctions().filter(isPromiseForm);
    expect(promiseForms.length).toBeGreaterThan(15);
    expect(promiseForms.filter((name) => !(name in failingCalls()) && !(name in FAILING_ELSEWHERE))).toEqual([]);
  });

  it('a system error from every Promise export names the awaiting function in its stack', async () => {
    for (const [name, call] of Object.entries(failingCalls())) {
      if (typeof api[name] !== 'function') continue; // (an export still to come is caught by the coverage test above)
      // A distinct caller per export, so a stack left over from another call cannot pass.
      const caller = { [`awaitingCaller_${name}`]: async () => { await call(); } }[`awaitingCaller_${name}`];
      let error: (Error & { code?: string; syscall?: string }) | undefined;
      try {
        await caller();
      } catch (caught) {
        error = caught as Error;
      }
      expect(error, name).toBeInstanceOf(Error);
      // A system error (made when the native call completed), not an argument error.
      expect(error!.code, name).toMatch(/^E[A-Z]+$/);
      // (vitest's source mapping drops the "async " of async frames: both spellings pass)
      expect(error!.stack, name).toMatch(new RegExp(`\\n    at (async )?awaitingCaller_${name} \\(`));
      // The first line still says what failed, path included.
      expect(error!.stack!.split('\n')[0], name).toBe(`Error: ${error!.message}`);
    }
  });

  it('an error from node:fs inside a pattern (frames in node and hardsync only) gets the caller too', async () => {
    const underAFile = path.join(dir, 'closed', 'x'); // 'closed' is a file: stat says ENOTDIR
    async function awaitingThroughNodeFs(): Promise<void> {
      await hs.writeFileAtomic(underAFile, 'data');
    }
    const error = (await awaitingThroughNodeFs().catch((e: unknown) => e)) as Error & { code: string; syscall: string };
    expect(error).toMatchObject({ code: 'ENOTDIR', syscall: 'stat' });
    expect(error.stack).toMatch(/\n    at (async )?awaitingThroughNodeFs \(/);
  });

  it('keeps node:fs\'s fields and keys: the stack is not enumerable', async () => {
    const error = (await hs.fdatasync(closedFd).catch((e: unknown) => e)) as Error;
    expect(Object.keys(error)).toEqual(['errno', 'code', 'syscall']);
    expect(Object.getOwnPropertyDescriptor(error, 'stack')?.enumerable).toBe(false);
  });

  it('an argument error of a Promise form names the caller too (it is thrown at call time)', async () => {
    async function awaitingBadArgument(): Promise<void> {
      await hs.fsync(-1);
    }
    const error = (await awaitingBadArgument().catch((e: unknown) => e)) as Error & { code: string };
    expect(error.code).toBe('ERR_OUT_OF_RANGE');
    expect(error.stack).toContain('awaitingBadArgument');
  });
});

describe('the helpers DurableLog\'s methods are to use', () => {
  // (lib/errors.ts and lib/validate.ts: internal, exported for lib/patterns/log/.)
  const { rethrowWithCallerStack } = require('../dist/lib/errors.js') as { rethrowWithCallerStack: (e: unknown) => never };
  const { validateArgumentCount } = require('../dist/lib/validate.js') as {
    validateArgumentCount: (args: IArguments | unknown[], declared: number, call: string, paired?: boolean | string) => void;
  };

  it('an error shared by several rejected promises keeps the first caller\'s frames only', async () => {
    const shared = new Error('EIO: i/o error, fdatasync');
    shared.stack = 'Error: EIO: i/o error, fdatasync'; // as a native completion makes it: no frames
    const failing = (): Promise<void> => Promise.reject(shared).then(undefined, rethrowWithCallerStack);
    async function firstAwaiter(): Promise<void> {
      await failing();
    }
    async function secondAwaiter(): Promise<void> {
      await failing();
    }
    await expect(firstAwaiter()).rejects.toBe(shared);
    await expect(secondAwaiter()).rejects.toBe(shared);
    expect(shared.stack).toMatch(/\n    at (async )?firstAwaiter /);
    expect(shared.stack).not.toContain('secondAwaiter');
  });

  it('a method without a Sync twin gives its own hint', () => {
    const args = [Buffer.alloc(1), () => undefined];
    expect(() => validateArgumentCount(args, 1, 'append', 'await log.append(data)')).toThrow(
      /^The "callback" argument is not supported: append\(\) takes no callback; hardsync has Promise and Sync forms only \(await log\.append\(data\)\)\. Received function /,
    );
  });
});

describe("DurableLog's methods", () => {
  it('refuse a callback or an extra argument (rejecting, as Promise forms do), before any I/O', async () => {
    const log = await hs.DurableLog.open(path.join(dir, 'wal-api'), { segmentSize: 1 << 20 });
    const done = function done(): void {};
    const anyLog = log as unknown as Record<string, (...a: unknown[]) => unknown>;
    const never = path.join(dir, 'wal-never');
    await expect((hs.DurableLog.open as (...a: unknown[]) => Promise<unknown>)(never, {}, done)).rejects.toThrow(/DurableLog\.open\(\) takes no callback; hardsync has Promise and Sync forms only \(await DurableLog\.open\(dir, options\)\)/);
    await expect((hs.DurableLog.open as (...a: unknown[]) => Promise<unknown>)(never, undefined, 3)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    expect(fs.existsSync(never)).toBe(false);
    await expect(anyLog.append.call(log, 'x', done) as Promise<unknown>).rejects.toThrow(/log\.append\(\) takes no callback/);
    await expect(anyLog.append.call(log, 'x', 'y') as Promise<unknown>).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    expect(log.nextLsn).toBe(1); // nothing was appended
    await expect(anyLog.truncateBefore.call(log, 1, done) as Promise<unknown>).rejects.toThrow(/log\.truncateBefore\(\) takes no callback/);
    expect(() => anyLog.records.call(log, 1, done)).toThrow(/log\.records\(\) takes no callback/); // checked at the call
    await expect(anyLog.close.call(log, done) as Promise<unknown>).rejects.toThrow(/log\.close\(\) takes no callback/);
    await expect(anyLog.close.call(log, 1) as Promise<unknown>).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    expect(await log.append('still open')).toEqual({ lsn: 1 });
    await log.close();
  });

  it('a failed open names the awaiting function in its stack', async () => {
    async function awaitingLogOpen(): Promise<void> {
      await hs.DurableLog.open(path.join(dir, 'closed', 'wal')); // 'closed' is a file
    }
    const error = (await awaitingLogOpen().catch((e: unknown) => e)) as Error & { code: string };
    expect(error.code).toMatch(/^E[A-Z]+$/);
    expect(error.stack).toMatch(/\n    at (async )?awaitingLogOpen \(/);
  });
});
