// The shipped path: `prebuildify --napi --strip` makes prebuilds/<platform>-<arch>/, and the
// package loads that file with PREBUILDS_ONLY=1 (node-gyp-build then ignores build/).
// Built in a copy of the package so it never rebuilds the build/ other test files are using.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { spawnAsync } from './helpers/spawn';
import { tempDir } from './helpers/tmp';

const root = path.resolve(__dirname, '..');
let copy: string;

beforeAll(async () => {
  copy = tempDir('hardsync-prebuild-');
  for (const entry of ['package.json', 'binding.gyp', 'native', 'dist']) {
    fs.cpSync(path.join(root, entry), path.join(copy, entry), { recursive: true });
  }
  fs.symlinkSync(path.join(root, 'node_modules'), path.join(copy, 'node_modules'));
  // prebuildify runs `node-gyp`: the project's own (a devDependency), also outside npm scripts,
  // against this Node's own headers (as npm's nodedir setting does), never a download.
  const PATH = `${path.join(root, 'node_modules', '.bin')}${path.delimiter}${process.env.PATH ?? ''}`;
  const nodedir = process.env.npm_config_nodedir ?? path.resolve(path.dirname(process.execPath), '..');
  // Asynchronously: the compile takes over a minute on a loaded machine, and a synchronous wait
  // would stop this worker's event loop (and vitest's RPC) for all of it.
  const built = await spawnAsync(process.execPath, [path.join(root, 'node_modules', 'prebuildify', 'bin.js'), '--napi', '--strip'], {
    cwd: copy, env: { ...process.env, PATH, npm_config_nodedir: nodedir },
  });
  if (built.status !== 0) throw new Error(`prebuildify failed (${built.signal ?? `exit ${built.status}`}):\n${built.stderr}${built.stdout}`);
  // Only the prebuild remains: nothing can be loaded from a local build.
  fs.rmSync(path.join(copy, 'build'), { recursive: true, force: true });
}, 240_000);

describe('prebuild', () => {
  it('is produced for this platform by prebuildify --napi --strip', () => {
    const target = path.join(copy, 'prebuilds', `${process.platform}-${process.arch}`);
    const files = fs.readdirSync(target);
    expect(files).toEqual([expect.stringMatching(/\.node$/)]);
    expect(fs.statSync(path.join(target, files[0])).size).toBeGreaterThan(10_000);
  });

  it('is what the package loads with PREBUILDS_ONLY=1, and it works', () => {
    const file = path.join(copy, 'probe.bin');
    fs.writeFileSync(file, 'x');
    const out = execFileSync(process.execPath, ['-e', `
      const loaded = require('node-gyp-build').resolve(${JSON.stringify(copy)});
      const hs = require(${JSON.stringify(copy)});
      const fd = require('fs').openSync(${JSON.stringify(file)}, 'r+');
      hs.fsyncSync(fd);
      console.log(JSON.stringify({ loaded, written: hs.writeDurableSync(fd, Buffer.from('abc'), 0, { flush: 'full' }) }));
    `], { cwd: copy, env: { ...process.env, PREBUILDS_ONLY: '1' }, encoding: 'utf8' });
    const result = JSON.parse(out);
    expect(result.loaded).toContain(path.join(copy, 'prebuilds', `${process.platform}-${process.arch}`));
    expect(result.written).toBe(3);
  });
});
