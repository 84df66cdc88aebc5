// Two copies of the addon in one process (two versions of hardsync in one dependency tree,
// or bench/callpath-ab.js comparing two builds) must share nothing: a GNU unique symbol (what
// GCC makes of a static variable inside an inline function) is one object for the whole
// process, whichever copy defined it, so a copy built with another layout would use the other
// copy's object and corrupt memory. That happened with the flush threads' pool.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from './helpers/tmp';

const addon = path.resolve(__dirname, '..', 'build', 'Release', 'hardsync.node');
const hasNm = process.platform === 'linux' && spawnSync('nm', ['--version'], { stdio: 'ignore' }).status === 0;

describe.skipIf(!hasNm || !fs.existsSync(addon))('copies of the addon in one process', () => {
  it('define no process-wide (GNU unique) object of their own', () => {
    const symbols = spawnSync('nm', ['-C', addon], { encoding: 'utf8' }).stdout.split('\n');
    const unique = symbols.filter((line) => / u /.test(line) && !/ std::/.test(line));
    expect(unique).toEqual([]);
  });

  it('run the flush threads side by side: two copies loaded from two paths, flushes on both', () => {
    const dir = tempDir('hardsync-copies-');
    const copy = path.join(dir, 'copy.node');
    fs.copyFileSync(addon, copy);
    const script = `
      const fs = require('node:fs');
      const a = require(${JSON.stringify(addon)});
      const b = require(${JSON.stringify(copy)});
      if (a === b) throw new Error('the same module twice');
      const fd = fs.openSync(${JSON.stringify(path.join(dir, 'data'))}, 'w+');
      const buffer = Buffer.alloc(4096, 1);
      const data = a.flushKinds.data;
      (async () => {
        for (let round = 0; round < 20; round++) {
          await Promise.all([0, 1, 2, 3, 4, 5, 6, 7].map((i) => (i % 2 ? a : b).writeDurable(fd, buffer, i * 4096, data)));
        }
        console.log(JSON.stringify({ a: a.engineInfo().name, b: b.engineInfo().name }));
      })();
    `;
    const run = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', env: { ...process.env, HARDSYNC_ENGINE: 'threads' }, timeout: 60_000 });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ a: 'threads', b: 'threads' });
  });
});
