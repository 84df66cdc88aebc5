// Errors: system errors identical to node:fs's for the same input; argument errors thrown
// before any I/O (the Promise form rejects, it never throws) with node's codes.
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { types } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as hs from '../dist/lib/index.js';
import { badFdNumbers, receivedValues } from './helpers/received-values';
import { diskTempDir } from './helpers/tmp';

let dir: string;
let cleanup: () => void;
let closedFd: number;
beforeAll(() => {
  ({ dir, cleanup } = diskTempDir());
  closedFd = fs.openSync(path.join(dir, 'closed'), 'w');
  fs.closeSync(closedFd);
});
afterAll(() => cleanup());

function caught(run: () => unknown): Error & Record<string, unknown> {
  try {
    run();
  } catch (error) {
    return error as Error & Record<string, unknown>;
  }
  throw new Error('expected a throw');
}

/** The parts of an error node:fs users look at, in the order node sets them. */
function shape(error: Error & Record<string, unknown>) {
  return { name: error.name, message: error.message, own: Object.keys(error), errno: error.errno, code: error.code, syscall: error.syscall, path: error.path, dest: error.dest };
}

describe('system errors match node:fs for the same input', () => {
  it.each([
    ['fsyncSync', () => hs.fsyncSync(closedFd), () => fs.fsyncSync(closedFd)],
    ['fdatasyncSync', () => hs.fdatasyncSync(closedFd), () => fs.fdatasyncSync(closedFd)],
  ])('%s on a closed fd', (_name, ours, theirs) => {
    const mine = shape(caught(ours));
    const node = shape(caught(theirs));
    expect(mine).toEqual(node);
    expect(mine.code).toBe('EBADF');
  });

  it('Promise fdatasync rejects like FileHandle-less fs.promises would: same fields', async () => {
    const node = await new Promise<Error & Record<string, unknown>>((resolve) => fs.fdatasync(closedFd, (error) => resolve(error as never)));
    const mine = await hs.fdatasync(closedFd).then(() => { throw new Error('resolved'); }, (error) => error);
    expect(shape(mine)).toEqual(shape(node));
  });

  it('open of a missing path: message, code, errno, syscall and path as fs.openSync', () => {
    const missing = path.join(dir, 'nope', 'file');
    const mine = shape(caught(() => hs.openSync(missing)));
    const node = shape(caught(() => fs.openSync(missing, 'r')));
    expect(mine).toEqual(node);
  });

  it('rename failure: message with both paths, and dest, as fs.renameSync', () => {
    const from = path.join(dir, 'missing-from');
    const to = path.join(dir, 'to');
    const mine = shape(caught(() => hs.replaceFileSync(from, to)));
    const node = shape(caught(() => fs.renameSync(from, to)));
    if (hs.capabilitiesSync().calls.replaceFile.syscall.startsWith('rename')) expect(mine).toEqual(node);
    else expect({ ...mine, syscall: 'rename', message: node.message }).toEqual(node);
  });
});

type Case = [string, () => unknown, string, string?];

const validBuffer = Buffer.alloc(8);
const argumentCases: Case[] = [
  ['fd is a string', () => hs.fsyncSync('1' as never), 'ERR_INVALID_ARG_TYPE', 'The "fd" argument must be of type number. Received type string (\'1\')'],
  ['fd is null', () => hs.fdatasyncSync(null as never), 'ERR_INVALID_ARG_TYPE', 'The "fd" argument must be of type number. Received null'],
  ['fd is a BigInt', () => hs.fullFsyncSync(3n as never), 'ERR_INVALID_ARG_TYPE'],
  ['fd is 1.5', () => hs.barrierFsyncSync(1.5), 'ERR_OUT_OF_RANGE', 'The value of "fd" is out of range. It must be an integer. Received 1.5'],
  ['fd is NaN', () => hs.syncfsSync(NaN), 'ERR_OUT_OF_RANGE', 'The value of "fd" is out of range. It must be an integer. Received NaN'],
  ['fd is negative', () => hs.fsyncSync(-1), 'ERR_OUT_OF_RANGE', 'The value of "fd" is out of range. It must be >= 0 && <= 2147483647. Received -1'],
  ['fd is 2^31', () => hs.fsyncSync(2 ** 31), 'ERR_OUT_OF_RANGE'],
  ['fd is Infinity', () => hs.fsyncSync(Infinity), 'ERR_OUT_OF_RANGE'],
  ['offset is negative', () => hs.syncFileRangeSync(0, -1, 0, 0), 'ERR_OUT_OF_RANGE'],
  ['nbytes is unsafe', () => hs.syncFileRangeSync(0, 0, 2 ** 53, 0), 'ERR_OUT_OF_RANGE'],
  ['flags is a string', () => hs.syncFileRangeSync(0, 0, 0, '2' as never), 'ERR_INVALID_ARG_TYPE'],
  ['preallocate length 0', () => hs.preallocateSync(0, 0, 0), 'ERR_OUT_OF_RANGE'],
  ['preallocate offset 1.5', () => hs.preallocateSync(0, 1.5, 1), 'ERR_OUT_OF_RANGE'],
  ['preallocate offset+length unsafe', () => hs.preallocateSync(0, 2 ** 52, 2 ** 52), 'ERR_OUT_OF_RANGE'],
  ['data is a string', () => hs.writeDurableSync(0, 'text' as never, 0), 'ERR_INVALID_ARG_TYPE'],
  ['data is an ArrayBuffer', () => hs.writeDurableSync(0, new ArrayBuffer(4) as never, 0), 'ERR_INVALID_ARG_TYPE'],
  ['position is negative', () => hs.writeDurableSync(0, validBuffer, -1), 'ERR_OUT_OF_RANGE'],
  ['position is unsafe', () => hs.writeDurableSync(0, validBuffer, 2 ** 60), 'ERR_OUT_OF_RANGE'],
  ['flush is unknown', () => hs.writeDurableSync(0, validBuffer, 0, { flush: 'fast' as never }), 'ERR_INVALID_ARG_VALUE', "The argument 'flush' must be one of 'none', 'data', 'full', 'fsync', 'barrier'. Received 'fast'"],
  ['options is a string', () => hs.writeDurableSync(0, validBuffer, 0, 'data' as never), 'ERR_INVALID_ARG_TYPE'],
  ['path has a null byte', () => hs.openSync('a\0b'), 'ERR_INVALID_ARG_VALUE'],
  ['path is a number', () => hs.fsyncDirSync(5 as never), 'ERR_INVALID_ARG_TYPE'],
  ['path is empty', () => hs.fsyncDirSync(''), 'ERR_INVALID_ARG_VALUE'],
  ['path is an http URL', () => hs.fsyncDirSync(new URL('http://example.invalid/')), 'ERR_INVALID_ARG_TYPE'],
  ['open option is not a boolean', () => hs.openSync('x', { write: 1 } as never), 'ERR_INVALID_ARG_TYPE'],
  ['open mode out of range', () => hs.openSync('x', { create: true, mode: 0o10000 }), 'ERR_OUT_OF_RANGE'],
  ['lock option is not a boolean', () => hs.lockFileSync(0, { wait: 'yes' } as never), 'ERR_INVALID_ARG_TYPE'],
  ['alignment not a power of two', () => hs.allocAligned(16, 3000), 'ERR_OUT_OF_RANGE'],
  ['alignment 0', () => hs.allocAligned(16, 0), 'ERR_OUT_OF_RANGE'],
  ['alignment too large', () => hs.allocAligned(16, 2 ** 30), 'ERR_OUT_OF_RANGE'],
  ['size cannot be allocated', () => hs.allocAligned(2 ** 53), 'ERR_OUT_OF_RANGE'],
  ['size negative', () => hs.allocAligned(-1), 'ERR_OUT_OF_RANGE'],
  ['size NaN', () => hs.allocAligned(NaN), 'ERR_OUT_OF_RANGE'],
  ['dioAlignment of an object', () => hs.dioAlignmentSync({} as never), 'ERR_INVALID_ARG_TYPE'],
  ['dioAlignment of fd -1', () => hs.dioAlignmentSync(-1), 'ERR_OUT_OF_RANGE'],
];

describe('argument errors are thrown before any I/O with node codes', () => {
  it.each(argumentCases)('%s', (_name, run, code, message) => {
    const error = caught(run);
    expect(error.code).toBe(code);
    expect(error).toBeInstanceOf(code === 'ERR_OUT_OF_RANGE' ? RangeError : TypeError);
    if (message) expect(error.message).toBe(message);
  });

  it('has node:fs\'s exact messages for the fd cases', () => {
    for (const bad of ['1', null, 1.5, NaN, -1, 2 ** 31]) {
      const mine = caught(() => hs.fsyncSync(bad as never));
      const node = caught(() => fs.fsyncSync(bad as never));
      expect({ name: mine.name, code: mine.code, message: mine.message }).toEqual({ name: node.name, code: node.code, message: node.message });
    }
  });

  it('has node:fs\'s exact fd messages for every input type (fsyncSync, fdatasyncSync, and the Promise forms)', async () => {
    const cases: [string, unknown][] = [...receivedValues(), ...badFdNumbers.map((n): [string, unknown] => [`number ${n}`, n])];
    expect(cases.length).toBeGreaterThan(80);
    for (const [label, bad] of cases) {
      const node = caught(() => fs.fsyncSync(bad as never));
      const expected = { name: node.name, code: node.code, message: node.message };
      expect(expected.code, label).toMatch(/^ERR_(INVALID_ARG_TYPE|OUT_OF_RANGE)$/);
      for (const [form, run] of [
        ['fsyncSync', () => hs.fsyncSync(bad as never)],
        ['fdatasyncSync', () => hs.fdatasyncSync(bad as never)],
        ['fullFsyncSync', () => hs.fullFsyncSync(bad as never)],
      ] as const) {
        const mine = caught(run);
        expect({ name: mine.name, code: mine.code, message: mine.message }, `${form}(${label})`).toEqual(expected);
      }
      const rejected = (await hs.fsync(bad as never).then(() => { throw new Error('resolved'); }, (error) => error)) as Error & Record<string, unknown>;
      expect({ name: rejected.name, code: rejected.code, message: rejected.message }, `fsync(${label})`).toEqual(expected);
    }
  });

  it('has node\'s exact messages for non-fd arguments of every type: numbers, paths, options, range errors', () => {
    const tail = (error: Error) => error.message.slice(error.message.indexOf('. Received ') + 2);
    for (const [label, bad] of receivedValues()) {
      if (typeof bad === 'number' || bad === undefined) continue;
      // A number argument: fs.ftruncateSync's "len" is checked by node's JavaScript validators.
      // (A function there is refused as a callback instead: see test/api-surface.test.ts.)
      if (typeof bad !== 'function') {
        const node = caught(() => fs.ftruncateSync(0, bad as never));
        const mine = caught(() => hs.preallocateSync(0, bad as never, 1));
        expect({ code: mine.code, message: mine.message }, `offset ${label}`).toEqual({ code: node.code, message: node.message.replace('"len"', '"offset"') });
      }
      if (typeof bad === 'boolean') continue;
      // An option: a dotted name is a "property", as node says it.
      const nodeOption = caught(() => fs.rmSync(path.join(dir, 'never-there'), { recursive: bad as never }));
      const myOption = caught(() => hs.lockFileSync(0, { wait: bad as never }));
      expect(myOption.message, `options.wait ${label}`).toBe(nodeOption.message.replace('"options.recursive"', '"options.wait"'));
      if (typeof bad === 'string' || types.isUint8Array(bad) || bad instanceof URL) continue;
      // A path.
      const nodePath = caught(() => fs.openSync(bad as never));
      const myPath = caught(() => hs.openSync(bad as never));
      expect(myPath.message, `path ${label}`).toBe(nodePath.message);
    }
    for (const big of [2 ** 53, -(2 ** 53), 2 ** 60, 1e21, -1e21, 1.5, NaN, -Infinity]) {
      const node = caught(() => fs.ftruncateSync(0, big));
      const mine = caught(() => hs.preallocateSync(0, big, 1));
      expect({ code: mine.code, received: tail(mine) }, `offset ${big}`).toEqual({ code: node.code, received: tail(node) });
    }
    const nodeValue = caught(() => new Readable({ highWaterMark: -1 }));
    expect(nodeValue.message).toBe("The property 'options.highWaterMark' is invalid. Received -1");
    const myValue = caught(() => hs.writeFileAtomicSync(path.join(dir, 'never-written'), 'x', { flush: 'fast' as never }));
    expect(myValue.message).toBe("The property 'options.flush' must be one of 'data', 'full'. Received 'fast'");
  });

  it('the Promise forms reject (never throw) with the same errors', async () => {
    const calls: [string, () => Promise<unknown>][] = [
      ['fsync', () => hs.fsync(-1)],
      ['fdatasync', () => hs.fdatasync('x' as never)],
      ['fullFsync', () => hs.fullFsync(NaN)],
      ['barrierFsync', () => hs.barrierFsync(1.5)],
      ['syncfs', () => hs.syncfs(2 ** 31)],
      ['syncFileRange', () => hs.syncFileRange(0, -1, 0, 0)],
      ['fsyncDir', () => hs.fsyncDir('a\0')],
      ['open', () => hs.open(42 as never)],
      ['preallocate', () => hs.preallocate(0, 0, -5)],
      ['writeDurable', () => hs.writeDurable(0, validBuffer, 0, { flush: 'nope' as never })],
      ['replaceFile', () => hs.replaceFile('a', null as never)],
      ['lockFile', () => hs.lockFile(-3)],
      ['unlockFile', () => hs.unlockFile(undefined as never)],
      ['dioAlignment', () => hs.dioAlignment(Symbol('x') as never)],
      ['capabilities', () => hs.capabilities(7 as never)],
    ];
    for (const [name, call] of calls) {
      let promise: Promise<unknown> | undefined;
      expect(() => { promise = call(); }, name).not.toThrow();
      expect(promise, name).toBeInstanceOf(Promise);
      await expect(promise, name).rejects.toMatchObject({ code: expect.stringMatching(/^ERR_(INVALID_ARG_TYPE|INVALID_ARG_VALUE|OUT_OF_RANGE)$/) });
    }
  });

  it('does no I/O for a rejected call: a bad flush name leaves the file untouched', () => {
    const file = path.join(dir, 'untouched');
    fs.writeFileSync(file, 'keep');
    const fd = fs.openSync(file, 'r+');
    try {
      expect(() => hs.writeDurableSync(fd, Buffer.from('XXXX'), 0, { flush: 'bogus' as never })).toThrow();
      expect(fs.readFileSync(file, 'utf8')).toBe('keep');
    } finally {
      fs.closeSync(fd);
    }
  });

  it('the native layer refuses bad arguments too, without crashing, if lib/ is bypassed', () => {
    // The raw binding is not public API; this only proves the second line of defence holds.
    const native = require('../dist/lib/native.js').native;
    for (const run of [
      () => native.fsyncSync('x'), () => native.fsyncSync(-1), () => native.fsyncSync(1e20),
      () => native.writeDurableSync(0, 'x', 0, 0), () => native.writeDurableSync(0, Buffer.alloc(1), 0, 9),
      () => native.openSync('a\0b', 0, 0), () => native.openSync('', 0, 0), () => native.syncFileRangeSync(0, 2 ** 64, 0, 0),
      () => native.alignmentOffset(Buffer.alloc(1), 3), () => native.alignmentOffset({}, 8), () => native.dioAlignmentSync(null),
    ]) {
      expect(caught(run)).toBeInstanceOf(TypeError);
    }
  });
});
