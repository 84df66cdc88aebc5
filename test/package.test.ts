// The npm package as a user meets it: what `npm pack` ships, and an install of the tarball on
// a machine without a compiler (no g++, cc, make or python3 on PATH), offline, after which
// both require('hardsync') and `import ... from 'hardsync'` work from the prebuild.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = path.resolve(__dirname, '..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { name: string; version: string };
let work: string;

beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'hardsync-package-'));
});
afterAll(() => {
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

/** `npm pack --dry-run --json` of a directory: the file list npm would publish. */
function packList(dir: string): string[] {
  // --ignore-scripts: `prepare` would rebuild dist/ in the shared tree while other tests read it.
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const [report] = JSON.parse(out) as [{ files: { path: string }[] }];
  return report.files.map((file) => file.path).sort();
}

describe('npm pack', () => {
  it('ships dist/, native/, binding.gyp, prebuilds/, README, LICENSE and package.json only', () => {
    const files = packList(root);
    const allowed = /^(dist\/|native\/|prebuilds\/|binding\.gyp$|README\.md$|LICENSE$|package\.json$)/;
    expect(files.filter((file) => !allowed.test(file))).toEqual([]);
    for (const required of ['package.json', 'binding.gyp', 'README.md', 'LICENSE', 'dist/lib/index.js', 'dist/lib/index.mjs', 'dist/lib/index.d.ts', 'native/binding.cc', 'native/platform.h']) {
      expect(files).toContain(required);
    }
    // Every platform file node-gyp would compile from source is there.
    for (const os of ['posix', 'linux', 'darwin', 'freebsd', 'win32']) expect(files).toContain(`native/platform/${os}.cc`);
    expect(files.some((file) => file.startsWith('test/') || file.startsWith('build/') || file.startsWith('.cache/'))).toBe(false);
  });
});

/** A PATH holding only node, npm and a shell: no compiler, no make, no python. */
function compilerFreePath(): string {
  const bin = path.join(work, 'bin');
  fs.mkdirSync(bin, { recursive: true });
  for (const tool of ['node', 'npm', 'npx', 'sh', 'bash', 'env']) {
    const found = execFileSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).trim();
    fs.symlinkSync(fs.realpathSync(found), path.join(bin, tool));
  }
  return bin;
}

function npmInstall(app: string, tarball: string, PATH: string): ReturnType<typeof spawnSync> {
  fs.mkdirSync(app, { recursive: true });
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }));
  // --offline: the dependencies (node-gyp-build, node-addon-api) come from the npm cache the
  // project's own install filled; nothing is fetched. --foreground-scripts: the install
  // script's output lands in the result, for the failure message.
  return spawnSync('npm', ['install', '--offline', '--no-audit', '--no-fund', '--foreground-scripts', tarball], {
    cwd: app,
    encoding: 'utf8',
    env: { ...process.env, PATH, npm_config_nodedir: undefined } as NodeJS.ProcessEnv,
    timeout: 180_000,
  });
}

describe('fresh install of the tarball without a compiler', () => {
  let tarball: string;
  let bareTarball: string;
  let PATH: string;

  beforeAll(() => {
    // The package with a linux-x64 prebuild built now from native/ (in a staged copy, so the
    // tree's own prebuilds/ and build/ are left alone), packed as `npm publish` would.
    const staged = path.join(work, 'staged');
    const stage = spawnSync('bash', [path.join(root, 'scripts', 'cross', 'stage-package.sh'), staged, 'linux-x64'], { encoding: 'utf8' });
    if (stage.status !== 0) throw new Error(`stage-package.sh failed:\n${stage.stderr}`);
    execFileSync('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', work], { cwd: staged, stdio: 'ignore' });
    tarball = path.join(work, `${pkg.name}-${pkg.version}.tgz`);
    // The same package without prebuilds: the control that proves the PATH below really
    // cannot compile (so the real install's success means the prebuild was used).
    fs.rmSync(path.join(staged, 'prebuilds'), { recursive: true });
    const bare = path.join(work, 'bare');
    fs.mkdirSync(bare);
    execFileSync('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', bare], { cwd: staged, stdio: 'ignore' });
    bareTarball = path.join(bare, `${pkg.name}-${pkg.version}.tgz`);
    PATH = compilerFreePath();
  }, 300_000);

  it.skipIf(process.platform !== 'linux' || process.arch !== 'x64')('installs offline with no compiler on PATH, and loads the prebuild from CommonJS and ESM', () => {
    for (const tool of ['g++', 'c++', 'cc', 'gcc', 'make', 'python3', 'python']) {
      expect(spawnSync('sh', ['-c', `command -v ${tool}`], { env: { PATH } }).status, `${tool} is on the compiler-free PATH`).not.toBe(0);
    }
    console.log(`package: ${path.basename(tarball)} is ${fs.statSync(tarball).size} bytes`);
    const app = path.join(work, 'app');
    const install = npmInstall(app, tarball, PATH);
    expect(install.status, `${install.stdout}\n${install.stderr}`).toBe(0);
    const installed = path.join(app, 'node_modules', 'hardsync');
    expect(fs.existsSync(path.join(installed, 'build')), 'something was compiled into build/').toBe(false);

    const file = path.join(work, 'probe.bin');
    fs.writeFileSync(file, 'x');
    const cjs = execFileSync('node', ['-e', `
      const hs = require('hardsync');
      const fd = require('fs').openSync(${JSON.stringify(file)}, 'r+');
      hs.fsyncSync(fd);
      const written = hs.writeDurableSync(fd, Buffer.from('abc'), 0, { flush: 'full' });
      console.log(JSON.stringify({ loaded: require('node-gyp-build').resolve(require('path').dirname(require.resolve('hardsync/package.json'))), written }));
    `], { cwd: app, encoding: 'utf8', env: { ...process.env, PATH } });
    const result = JSON.parse(cjs) as { loaded: string; written: number };
    expect(result.loaded).toBe(path.join(fs.realpathSync(installed), 'prebuilds', 'linux-x64', 'hardsync.node'));
    expect(result.written).toBe(3);

    const esm = execFileSync('node', ['--input-type=module', '-e', `
      import { fsyncSync, capabilities } from 'hardsync';
      import hardsync from 'hardsync';
      import fs from 'node:fs';
      const fd = fs.openSync(${JSON.stringify(file)}, 'r+');
      fsyncSync(fd);
      hardsync.fdatasyncSync(fd);
      console.log((await capabilities()).platform);
    `], { cwd: app, encoding: 'utf8', env: { ...process.env, PATH } });
    expect(esm.trim()).toBe('linux');
  }, 300_000);

  it.skipIf(process.platform !== 'linux' || process.arch !== 'x64')('control: without a prebuild the same install must compile, and fails on that PATH', () => {
    const install = npmInstall(path.join(work, 'control'), bareTarball, PATH);
    // The install script (node-gyp-build) found no prebuild and tried node-gyp, which has no
    // compiler, make or python here. Were install scripts not run at all, this would pass and
    // the test above would prove nothing.
    expect(install.status, `${install.stdout}\n${install.stderr}`).not.toBe(0);
    expect(`${install.stdout}\n${install.stderr}`).toMatch(/node-gyp|gyp ERR|python|make|g\+\+/i);
  }, 300_000);
});
