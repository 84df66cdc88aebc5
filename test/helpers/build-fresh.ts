/**
 * vitest globalSetup (vitest.config.ts, test/validation/vitest.config.ts): makes the build the
 * tests load fresh before any test file runs, so `npm test`, `npx vitest run test/x.test.ts`
 * and a watch run all test the sources in front of them.
 *
 * The tests import the build (dist/, and the addon through lib/native.ts), not the TypeScript
 * sources, because many of them spawn plain `node` children (test/fixtures/**\/*.cjs, the
 * strace and power-cut workloads, the CLI) that can only load dist/: a test file and its
 * children must load the same copy of the code.
 *
 * - TypeScript: the steps of package.json's build:ts (tsc, the ESM entry, the CLI's mode) when
 *   the inputs' content differs from the last build made here, or dist/ was rebuilt or removed
 *   since. The inputs are what tsconfig.json includes (every .ts under lib/ and bench/ but
 *   bench/results) plus tsconfig.json, package.json and the ESM entry script. The record of the
 *   last build is node_modules/.cache/hardsync/build-fresh.json (ignored by git): the content
 *   hash, and what dist/ looked like after it (how many files, the newest mtime), so a build
 *   made otherwise since (npm run build:ts, a bare tsc) or a removed dist/ is noticed. tsc runs
 *   with --incremental (its state beside the record) only while dist/ is the one this helper
 *   last wrote; otherwise the state is dropped and tsc compiles everything, since that state
 *   would describe outputs that are no longer there.
 * - The addon: `node-gyp rebuild` when any file under native/ or binding.gyp is newer than the
 *   addon node-gyp-build would load (build/Release first, then prebuilds/<platform>-<arch>), or
 *   when it finds none. A matching prebuild with no build/ and no native change is used as it
 *   is, without a compiler. HARDSYNC_NATIVE (a chosen addon file, see lib/native.ts) turns the
 *   addon check off.
 *
 * Two runs at once in one checkout (two `npm test`, or test/filesystems.test.ts's child
 * vitest) take turns through a lock directory beside the record.
 * @module
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(__dirname, '..', '..');
const cacheDir = path.join(root, 'node_modules', '.cache', 'hardsync');
const recordFile = path.join(cacheDir, 'build-fresh.json');
const lockDir = path.join(cacheDir, 'build-fresh.lock');
const tsBuildInfo = path.join(cacheDir, 'tsbuildinfo');

/** Every file under dir (recursively) for which keep(relative path) holds, sorted. */
function listFiles(dir: string, keep: (relative: string) => boolean): string[] {
  const out: string[] = [];
  const walk = (current: string) => {
    for (const entry of fs.readdirSync(current, { withFileTypes: true })) {
      const full = path.join(current, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile() && keep(path.relative(root, full))) out.push(full);
    }
  };
  if (fs.existsSync(dir)) walk(dir);
  return out.sort();
}

/** The TypeScript build's inputs (tsconfig.json: include lib/**\/*.ts, bench/**\/*.ts; exclude bench/results). */
function tsInputs(): string[] {
  const ts = (relative: string) => relative.endsWith('.ts') && !relative.startsWith(`bench${path.sep}results${path.sep}`);
  return [
    ...listFiles(path.join(root, 'lib'), ts),
    ...listFiles(path.join(root, 'bench'), ts),
    path.join(root, 'tsconfig.json'),
    path.join(root, 'package.json'),
    path.join(root, 'scripts', 'write-esm-entry.js'),
  ];
}

/** One hash over the inputs' paths and contents (a removed or renamed file changes it too). */
function contentHash(files: string[]): string {
  const hash = createHash('sha256');
  for (const file of files) {
    hash.update(path.relative(root, file)).update('\0');
    hash.update(fs.readFileSync(file)).update('\0');
  }
  return hash.digest('hex');
}

/** What dist/ looks like: how many files, and the newest mtime among them ('' when there is none). */
function distState(): string {
  const files = listFiles(path.join(root, 'dist'), () => true);
  if (files.length === 0) return '';
  return `${files.length} files, newest ${Math.max(...files.map((file) => mtimeMs(file) ?? 0))}`;
}

function mtimeMs(file: string): number | undefined {
  try {
    return fs.statSync(file).mtimeMs;
  } catch {
    return undefined;
  }
}

/** Runs a command in the repository, its output passed through; rejects on failure. */
function run(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`build-fresh: \`${command} ${args.join(' ')}\` failed (${signal ?? `exit ${code}`})`));
    });
  });
}

/** Rebuilds dist/ unless the record says it was built from exactly these inputs. */
async function freshTypeScript(): Promise<void> {
  const hash = contentHash(tsInputs());
  let record: { hash?: string; dist?: string } = {};
  try {
    record = JSON.parse(fs.readFileSync(recordFile, 'utf8'));
  } catch {
    // no record yet: build
  }
  const ours = record.dist !== undefined && record.dist !== '' && record.dist === distState();
  if (ours && record.hash === hash) return;
  if (!ours) fs.rmSync(tsBuildInfo, { force: true });
  console.log(`build-fresh: ${ours ? 'the TypeScript changed since dist/ was built here' : 'dist/ was not built here'}: tsc${ours ? ' --incremental' : ''}`);
  // package.json build:ts, step by step (with tsc's incremental state kept outside dist/).
  await run(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(root, 'tsconfig.json'), '--incremental', '--tsBuildInfoFile', tsBuildInfo]);
  pruneOrphanOutputs();
  await run(process.execPath, [path.join(root, 'scripts', 'write-esm-entry.js')]);
  fs.chmodSync(path.join(root, 'dist', 'bench', 'cli.js'), 0o755);
  fs.writeFileSync(recordFile, `${JSON.stringify({ hash, dist: distState() })}\n`);
}

/**
 * Removes what tsc left in dist/ for a source that no longer exists (tsc never deletes an
 * output): after lib/patterns/log.ts became lib/patterns/log/, a stale dist/lib/patterns/log.js
 * would win Node's resolution of './log' over log/index.js and the tests would load old code.
 * The ESM entry (dist/lib/index.mjs, index.d.mts) is written after this by its own script.
 */
function pruneOrphanOutputs(): void {
  const dist = path.join(root, 'dist');
  for (const file of listFiles(dist, () => true)) {
    const relative = path.relative(dist, file);
    const source = relative.replace(/(\.d)?\.ts\.map$|\.js\.map$|\.d\.ts$|\.js$/, '.ts');
    if (source === relative) continue; // not a tsc output (the ESM entry)
    if (!fs.existsSync(path.join(root, source))) fs.rmSync(file);
  }
}

/** The addon file node-gyp-build would load from the repository, or undefined if none. */
function resolvedAddon(): string | undefined {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const nodeGypBuild = require('node-gyp-build') as { resolve(dir: string): string };
  try {
    return nodeGypBuild.resolve(root);
  } catch {
    return undefined;
  }
}

/** Rebuilds the addon if native/ or binding.gyp is newer than the addon that would load. */
async function freshAddon(): Promise<void> {
  if (process.env.HARDSYNC_NATIVE) return;
  const addon = resolvedAddon();
  const inputs = [...listFiles(path.join(root, 'native'), () => true), path.join(root, 'binding.gyp')];
  let reason: string | undefined;
  if (!addon) {
    reason = 'no addon is built and no prebuild matches this platform';
  } else {
    const built = mtimeMs(addon)!;
    const newer = inputs.filter((file) => (mtimeMs(file) ?? 0) > built);
    if (newer.length > 0) {
      reason = `${newer.slice(0, 3).map((file) => path.relative(root, file)).join(', ')}${newer.length > 3 ? ` and ${newer.length - 3} more` : ''} changed since ${path.relative(root, addon)} was built`;
    }
  }
  if (!reason) return;
  console.log(`build-fresh: ${reason}: node-gyp rebuild`);
  const nodeGyp = path.join(root, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
  await run(process.execPath, [nodeGyp, 'rebuild', '--jobs', 'max']);
}

/** Waits for and takes the lock directory; returns its release. A lock whose holder died is taken over. */
async function lock(): Promise<() => void> {
  fs.mkdirSync(cacheDir, { recursive: true });
  const owner = path.join(lockDir, 'pid');
  for (;;) {
    try {
      fs.mkdirSync(lockDir);
      fs.writeFileSync(owner, String(process.pid));
      return () => fs.rmSync(lockDir, { recursive: true, force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    let holder = NaN;
    try {
      holder = Number(fs.readFileSync(owner, 'utf8'));
    } catch {
      // the holder has made the directory but not yet written its pid, or just released it
    }
    if (Number.isInteger(holder) && holder > 0 && !alive(holder)) {
      fs.rmSync(lockDir, { recursive: true, force: true });
      continue;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** vitest globalSetup entry point. */
export default async function setup(): Promise<void> {
  const release = await lock();
  try {
    await freshAddon();
    await freshTypeScript();
  } finally {
    release();
  }
}
