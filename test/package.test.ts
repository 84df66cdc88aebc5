// The npm package as a user meets it: what `npm pack` ships; `npm pack` from a fresh clone
// (its prepack builds the prebuild, and no tracked file changes); an install of that tarball
// on a machine without a compiler (no g++, cc, make or python3 on PATH), offline, after which
// both require('hardsync') and `import ... from 'hardsync'` work from the prebuild.
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from './helpers/tmp';

const root = path.resolve(__dirname, '..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { name: string; version: string };
let work: string;

beforeAll(() => {
  work = tempDir('hardsync-package-');
});

/** `npm pack --dry-run --json` of a directory: the file list npm would publish. */
function packList(dir: string): string[] {
  // --ignore-scripts: `prepare` would rebuild dist/ in the shared tree while other tests read it.
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const [report] = JSON.parse(out) as [{ files: { path: string }[] }];
  return report.files.map((file) => file.path).sort();
}

describe('npm pack', () => {
  it('ships dist/, native/, powercut/, binding.gyp, prebuilds/, README, LICENSE and package.json only', () => {
    const files = packList(root);
    const allowed = /^(dist\/|native\/|powercut\/|prebuilds\/|binding\.gyp$|README\.md$|LICENSE$|package\.json$)/;
    expect(files.filter((file) => !allowed.test(file))).toEqual([]);
    for (const required of [
      'package.json', 'binding.gyp', 'README.md', 'LICENSE', 'dist/lib/index.js', 'dist/lib/index.mjs', 'dist/lib/index.d.ts', 'native/binding.cc', 'native/platform.h',
      // hardsync crashtest: its entry point, and the simulator's source it builds on first use.
      'dist/lib/crashtest.js', 'dist/lib/crashtest.mjs', 'dist/lib/crashtest.d.ts', 'dist/bench/crashtest/cli.js', 'powercut/powercut-fs.c', 'powercut/build.sh', 'powercut/README.md',
    ]) {
      expect(files).toContain(required);
    }
    // Every platform file node-gyp would compile from source is there.
    for (const os of ['posix', 'linux', 'darwin', 'freebsd', 'win32']) expect(files).toContain(`native/platform/${os}.cc`);
    expect(files.some((file) => file.startsWith('test/') || file.startsWith('build/') || file.startsWith('.cache/'))).toBe(false);
  });
});

describe('package-lock.json', () => {
  it('is exactly what npm install writes, so an install on a fresh clone leaves it unchanged', async () => {
    // The lock npm would write for package.json, computed offline (the project's own install
    // filled the cache) in a copy, without touching this tree's node_modules.
    const dir = path.join(work, 'lock');
    fs.mkdirSync(dir, { recursive: true });
    for (const file of ['package.json', 'package-lock.json']) fs.copyFileSync(path.join(root, file), path.join(dir, file));
    const result = await run('npm', ['install', '--package-lock-only', '--offline', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: dir, timeout: 120_000 });
    expect(result.status, result.stderr).toBe(0);
    const committed = fs.readFileSync(path.join(root, 'package-lock.json'), 'utf8');
    const written = fs.readFileSync(path.join(dir, 'package-lock.json'), 'utf8');
    const added = Object.keys(JSON.parse(written).packages).filter((name) => !(name in JSON.parse(committed).packages));
    expect(added, 'entries npm install adds to the lock').toEqual([]);
    expect(written).toBe(committed);
  }, 180_000);
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

type Run = { status: number | null; stdout: string; stderr: string };
/**
 * Runs a command asynchronously: a synchronous wait of a minute or more would block this
 * worker's event loop, and vitest's own RPC would time out.
 */
function run(command: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; timeout: number }): Promise<Run> {
  return new Promise((resolve) => {
    execFile(command, args, { ...options, encoding: 'utf8', maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
      const code = (error as { code?: unknown } | null)?.code;
      resolve({ status: error ? (typeof code === 'number' ? code : null) : 0, stdout, stderr });
    });
  });
}

/**
 * Installs the tarball into a new project, offline: the dependencies (node-gyp-build,
 * node-addon-api) are packed from this checkout's node_modules and installed beside it, so
 * npm needs neither the network nor a cached registry listing.
 */
function npmInstall(app: string, tarball: string, PATH: string): Promise<Run> {
  fs.mkdirSync(app, { recursive: true });
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }));
  // --foreground-scripts: the install script's output lands in the result, for the failure message.
  return run('npm', ['install', '--offline', '--no-audit', '--no-fund', '--foreground-scripts', tarball, ...dependencyTarballs()], {
    cwd: app,
    env: { ...process.env, PATH, npm_config_nodedir: undefined } as NodeJS.ProcessEnv,
    timeout: 180_000,
  });
}

let dependencies: string[] | undefined;
function dependencyTarballs(): string[] {
  if (dependencies) return dependencies;
  const dir = path.join(work, 'dependencies');
  fs.mkdirSync(dir, { recursive: true });
  const runtime = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).dependencies as Record<string, string>;
  dependencies = Object.keys(runtime).map((name) => {
    const file = execFileSync('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', dir, path.join(root, 'node_modules', name)], { encoding: 'utf8' }).trim();
    return path.join(dir, file);
  });
  return dependencies;
}

/**
 * A fresh clone of this checkout as it is now (tracked files and new ones not ignored, as
 * they would be once committed), committed in a new repository so `git status` can say what
 * packing changed, after `npm install`: that makes node_modules from the lock (this
 * checkout's, linked) and compiles build/Release/hardsync.node (this checkout's, copied: the
 * tests load it, so it is built from the same native/).
 */
function freshClone(dir: string): string {
  const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: root, encoding: 'utf8' })
    .split('\0').filter((file) => file && fs.existsSync(path.join(root, file)));
  for (const file of files) {
    fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    fs.copyFileSync(path.join(root, file), path.join(dir, file));
    fs.chmodSync(path.join(dir, file), fs.statSync(path.join(root, file)).mode);
  }
  const git = (...args: string[]) => execFileSync('git', ['-c', 'user.name=test', '-c', 'user.email=test@localhost', ...args], { cwd: dir, stdio: 'ignore' });
  git('init', '-q');
  git('add', '-A');
  git('commit', '-q', '-m', 'fresh clone');
  fs.symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'));
  fs.mkdirSync(path.join(dir, 'build', 'Release'), { recursive: true });
  fs.copyFileSync(path.join(root, 'build', 'Release', 'hardsync.node'), path.join(dir, 'build', 'Release', 'hardsync.node'));
  return dir;
}

/** `npm pack` with its scripts (prepack, prepare), as a maintainer or `npm publish` runs it. */
function npmPack(dir: string, destination: string): Promise<Run> {
  fs.mkdirSync(destination, { recursive: true });
  return run('npm', ['pack', '--pack-destination', destination], { cwd: dir, timeout: 300_000 });
}

const linuxX64 = process.platform === 'linux' && process.arch === 'x64';

describe.skipIf(!linuxX64)('npm pack from a fresh clone, and an install of it without a compiler', () => {
  let clone: string;
  let tarball: string;
  let bareTarball: string;
  let packed: Run;
  let PATH: string;

  beforeAll(async () => {
    clone = freshClone(path.join(work, 'clone'));
    packed = await npmPack(clone, path.join(work, 'packed'));
    tarball = path.join(work, 'packed', `${pkg.name}-${pkg.version}.tgz`);
    // The same package without prebuilds: the control that proves the PATH below really
    // cannot compile (so the real install's success means the prebuild was used).
    const bare = path.join(work, 'bare');
    fs.mkdirSync(path.join(bare, 'unpacked'), { recursive: true });
    if (fs.existsSync(tarball)) {
      execFileSync('tar', ['-xzf', tarball, '-C', path.join(bare, 'unpacked'), '--strip-components=1']);
      fs.rmSync(path.join(bare, 'unpacked', 'prebuilds'), { recursive: true, force: true });
      execFileSync('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', bare], { cwd: path.join(bare, 'unpacked'), stdio: 'ignore' });
    }
    bareTarball = path.join(bare, `${pkg.name}-${pkg.version}.tgz`);
    PATH = compilerFreePath();
  }, 300_000);

  it('packs, with prepack building prebuilds/linux-x64, and modifies no tracked file', () => {
    expect(packed.status, `${packed.stdout}\n${packed.stderr}`).toBe(0);
    const listed = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).split('\n');
    expect(listed).toContain('package/prebuilds/linux-x64/hardsync.node');
    expect(listed).toContain('package/dist/lib/index.js');
    // Nothing tracked changed and nothing new and unignored appeared: prebuilds/ and dist/ are ignored.
    expect(execFileSync('git', ['status', '--porcelain'], { cwd: clone, encoding: 'utf8' })).toBe('');
  });

  it('installs offline with no compiler on PATH, and loads the prebuild from CommonJS and ESM', async () => {
    for (const tool of ['g++', 'c++', 'cc', 'gcc', 'make', 'python3', 'python']) {
      expect(spawnSync('sh', ['-c', `command -v ${tool}`], { env: { PATH } }).status, `${tool} is on the compiler-free PATH`).not.toBe(0);
    }
    expect(fs.existsSync(tarball), `npm pack made no tarball:\n${packed.stderr}`).toBe(true);
    console.log(`package: ${path.basename(tarball)} is ${fs.statSync(tarball).size} bytes`);
    const app = path.join(work, 'app');
    const install = await npmInstall(app, tarball, PATH);
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

    // hardsync/crashtest from both module systems (a no-op outside crashtest), and crashtest's
    // first use without a compiler: it says what to install (exit 2) and builds nothing.
    const entry = execFileSync('node', ['--input-type=module', '-e', `
      import { acknowledgeSync } from 'hardsync/crashtest';
      import { createRequire } from 'node:module';
      acknowledgeSync('k', 'v');
      console.log(typeof createRequire(import.meta.url)('hardsync/crashtest').acknowledge);
    `], { cwd: app, encoding: 'utf8', env: { ...process.env, PATH } });
    expect(entry.trim()).toBe('function');
    const home = path.join(work, 'home');
    fs.mkdirSync(home, { recursive: true });
    const noCompiler = await run('npx', ['hardsync', 'crashtest', '--expect', 'files', '--runs', '1', '--', 'node', '-e', '1'], { cwd: app, env: { ...process.env, PATH, HOME: home }, timeout: 60_000 });
    expect(noCompiler.status, noCompiler.stderr).toBe(2);
    expect(noCompiler.stderr).toMatch(/is built on first use, and cannot be: no C compiler \(cc\)\. Debian\/Ubuntu: apt-get install gcc pkg-config libfuse3-dev fuse3/);
    expect(fs.existsSync(path.join(installed, 'build')), 'something was compiled into build/').toBe(false);
  }, 300_000);

  it('hardsync crashtest builds its simulator from the shipped source on first use, in the installed package, and runs', async () => {
    if (process.getuid?.() !== 0 || !fs.existsSync('/dev/fuse')) {
      console.warn('[package] crashtest run skipped: needs root and /dev/fuse');
      return;
    }
    const app = path.join(work, 'app');
    const installed = path.join(app, 'node_modules', 'hardsync');
    expect(fs.existsSync(installed), 'the install above').toBe(true);
    const workload = path.join(app, 'save.mjs');
    fs.writeFileSync(workload, `
      import { writeFileAtomic } from 'hardsync';
      import { acknowledge, intend } from 'hardsync/crashtest';
      for (let i = 0; i < 3; i++) {
        // a cut after this write's flushes and before its acknowledgement leaves the new value
        await intend('v', String(i));
        await writeFileAtomic(process.env.HARDSYNC_CRASHTEST_DIR + '/v', String(i));
        await acknowledge('v', String(i));
      }
    `);
    const home = path.join(work, 'home');
    fs.mkdirSync(home, { recursive: true });
    const ran = await run('npx', ['hardsync', 'crashtest', '--expect', 'files', '--runs', '2', '--', 'node', workload], { cwd: app, env: { ...process.env, HOME: home }, timeout: 240_000 });
    expect(ran.status, `${ran.stdout}\n${ran.stderr}`).toBe(0);
    expect(ran.stderr).toContain(`building the power-cut simulator (once) into ${fs.realpathSync(installed)}/build/powercut/powercut-fs`);
    expect(ran.stdout).toContain('PASS: all 2 runs kept what was acknowledged');
  }, 300_000);

  it('control: without a prebuild the same install must compile, and fails on that PATH', async () => {
    expect(fs.existsSync(bareTarball), 'no tarball to strip').toBe(true);
    const install = await npmInstall(path.join(work, 'control'), bareTarball, PATH);
    // The install script (node-gyp-build) found no prebuild and tried node-gyp, which has no
    // compiler, make or python here. Were install scripts not run at all, this would pass and
    // the test above would prove nothing.
    expect(install.status, `${install.stdout}\n${install.stderr}`).not.toBe(0);
    expect(`${install.stdout}\n${install.stderr}`).toMatch(/node-gyp|gyp ERR|python|make|g\+\+/i);
  }, 300_000);

  it('refuses to pack when the prebuild does not build, and packs nothing; a prebuild newer than the sources passes the stale check', async () => {
    // A build that fails, whatever the toolchain: a native source that does not compile.
    const source = path.join(clone, 'native', 'binding.cc');
    fs.appendFileSync(source, '\n#error "this build must fail"\n');
    // Written after the source: not stale, so the refusal below is the build's.
    const other = path.join(clone, 'prebuilds', 'win32-x64', 'hardsync.node');
    fs.mkdirSync(path.dirname(other), { recursive: true });
    fs.writeFileSync(other, 'a build newer than every source');
    try {
      const destination = path.join(work, 'refused');
      const result = await npmPack(clone, destination);
      expect(result.status, `${result.stdout}\n${result.stderr}`).not.toBe(0);
      expect(result.stderr).toMatch(/prepack: could not build the linux-x64 prebuild/);
      expect(result.stderr).not.toMatch(/stale/);
      expect(fs.readdirSync(destination)).toEqual([]);
    } finally {
      execFileSync('git', ['checkout', '--', 'native/binding.cc'], { cwd: clone });
      fs.rmSync(path.dirname(other), { recursive: true, force: true });
    }
  }, 300_000);

  it('refuses to pack a prebuild older than the native sources, before compiling anything', () => {
    const stale = path.join(clone, 'prebuilds', 'win32-x64', 'hardsync.node');
    fs.mkdirSync(path.dirname(stale), { recursive: true });
    fs.writeFileSync(stale, 'an old build');
    const old = new Date('2020-01-01T00:00:00Z');
    fs.utimesSync(stale, old, old);
    try {
      const result = spawnSync('bash', [path.join(clone, 'scripts', 'prepack.sh')], { encoding: 'utf8' });
      expect(result.status).not.toBe(0);
      expect(result.stderr).toMatch(/stale prebuilds[^]*prebuilds\/win32-x64 \(older than (native\/|binding\.gyp)/);
      expect(result.stderr).not.toMatch(/prebuild-all:/);
    } finally {
      fs.rmSync(path.dirname(stale), { recursive: true, force: true });
    }
  }, 300_000);
});
