// The package loads as CommonJS and as ESM with named imports, and its types make the cheap
// misuses compile errors.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { spawnAsync } from './helpers/spawn';
import { tempDir } from './helpers/tmp';

const root = path.resolve(__dirname, '..');

describe('module formats', () => {
  it('require("hardsync") and import { fsync } from "hardsync" give the same functions', () => {
    const file = path.join(os.tmpdir(), `hardsync-module-${process.pid}`);
    fs.writeFileSync(file, 'x');
    try {
      const cjs = execFileSync(process.execPath, ['-e', `
        const hs = require('hardsync');
        const fd = require('fs').openSync(${JSON.stringify(file)}, 'r+');
        hs.fsyncSync(fd); console.log(Object.keys(hs).sort().join(','));`], { cwd: root, encoding: 'utf8' }).trim();
      const esm = execFileSync(process.execPath, ['--input-type=module', '-e', `
        import * as all from 'hardsync';
        import hs, { fsyncSync, fdatasync, writeDurable, allocAligned, capabilities, constants } from 'hardsync';
        import fs from 'node:fs';
        const fd = fs.openSync(${JSON.stringify(file)}, 'r+');
        fsyncSync(fd); await fdatasync(fd);
        if (hs.fsyncSync !== fsyncSync || typeof writeDurable !== 'function' || !allocAligned(1).length === 1) throw new Error('mismatch');
        console.log(Object.keys(all).filter((k) => k !== 'default').sort().join(','));`], { cwd: root, encoding: 'utf8' }).trim();
      expect(esm).toBe(cjs);
      expect(cjs.split(',')).toEqual(expect.arrayContaining(['fsync', 'fsyncSync', 'writeDurable', 'writeDurableSync', 'capabilities', 'constants']));
    } finally {
      fs.rmSync(file, { force: true });
    }
  });
});

describe('types', () => {
  it('compile for correct use and reject misuse (tsc on a consumer file)', async () => {
    const work = tempDir('hardsync-types-');
    try {
      fs.writeFileSync(path.join(work, 'use.ts'), `
        import { open, writeDurable, fdatasyncSync, allocAligned, type FlushMode, type Capabilities } from 'hardsync';
        export async function ok(): Promise<number> {
          const fd: number = await open('f', { write: true, create: true, exclusive: true, mode: 0o600, dsync: true });
          fdatasyncSync(fd);
          const flush: FlushMode = 'full';
          const caps: Capabilities | undefined = undefined;
          void caps;
          return writeDurable(fd, allocAligned(4096), null, { flush });
        }
        export async function misuse(): Promise<void> {
          // @ts-expect-error exclusive needs create: true
          await open('f', { write: true, exclusive: true });
          // @ts-expect-error mode needs create: true
          await open('f', { write: true, mode: 0o600 });
          // @ts-expect-error unknown flush mode
          await writeDurable(3, Buffer.alloc(1), 0, { flush: 'fast' });
          // @ts-expect-error data must be bytes, not a string
          await writeDurable(3, 'text', 0);
          // @ts-expect-error fd is a number
          fdatasyncSync('3');
        }
      `);
      fs.writeFileSync(path.join(work, 'tsconfig.json'), JSON.stringify({
        compilerOptions: { strict: true, noEmit: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', types: ['node'], typeRoots: [path.join(root, 'node_modules', '@types')] },
        files: ['use.ts'],
      }));
      fs.mkdirSync(path.join(work, 'node_modules'));
      fs.symlinkSync(root, path.join(work, 'node_modules', 'hardsync'));
      const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
      // Asynchronously: tsc takes most of a minute on a loaded machine, and a synchronous wait
      // would stop this worker's event loop (and vitest's RPC) for all of it.
      const run = await spawnAsync(process.execPath, [tsc, '-p', work]);
      expect(run.status, `${run.stdout}${run.stderr}`).toBe(0);
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  });
});
