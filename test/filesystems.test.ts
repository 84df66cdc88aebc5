// The durability tests on more than one filesystem: ext4, xfs and btrfs made on loop devices,
// and tmpfs where it applies. Each run is the same vitest files with TMPDIR on that
// filesystem; the capabilities() of each are collected into a table, printed, and written
// only to the file HARDSYNC_FS_TABLE names (relative to the project root):
// `npm run results:filesystems` rewrites bench/results/filesystems.md, which the README's
// table copies. A plain `npm test` modifies no tracked file.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import * as hs from '../dist/lib/index.js';
import { filesystemType, tempDir } from './helpers/tmp';
import { loopUnavailable, mountFs } from './helpers/loopfs';

const root = path.resolve(__dirname, '..');
const linux = hs.platform === 'linux';
/** Test files that take their directory from os.tmpdir() and so follow TMPDIR. */
const DISK_TESTS = ['test/primitives.test.ts', 'test/aligned.test.ts', 'test/atomic.test.ts', 'test/durable-create.test.ts', 'test/secret.test.ts', 'test/log.test.ts']
  .filter((file) => fs.existsSync(path.join(root, file)));

const rows: string[] = [];

/**
 * Runs the files in a child vitest. Asynchronously: a synchronous wait would block this
 * worker's event loop for the whole child run, and vitest's own RPC would time out.
 */
async function runSuite(tmpdir: string, files: string[], args: string[] = [], extraEnv: NodeJS.ProcessEnv = {}): Promise<{ passed: number; failed: number; failures: string[] }> {
  const report = path.join(os.tmpdir(), `hardsync-fs-report-${process.pid}-${Date.now()}.json`);
  const env = { ...process.env, TMPDIR: tmpdir, ...extraEnv };
  for (const [name, value] of Object.entries(extraEnv)) if (value === undefined) delete env[name];
  delete env.CI;
  delete env.VITEST;
  delete env.VITEST_POOL_ID;
  delete env.VITEST_WORKER_ID;
  try {
    await promisify(execFile)(process.execPath, [path.join(root, 'node_modules', 'vitest', 'vitest.mjs'), 'run', ...files, ...args, '--reporter=json', `--outputFile=${report}`],
      { cwd: root, env, timeout: 300_000, maxBuffer: 64 << 20 });
  } catch {
    // failures are read from the report below
  }
  const result = JSON.parse(fs.readFileSync(report, 'utf8'));
  fs.rmSync(report, { force: true });
  const failures = result.testResults.flatMap((file: { assertionResults: { status: string; fullName: string; failureMessages: string[] }[] }) =>
    file.assertionResults.filter((test) => test.status === 'failed').map((test) => `${test.fullName}: ${test.failureMessages[0]?.split('\n')[0]}`));
  return { passed: result.numPassedTests, failed: result.numFailedTests, failures };
}

function capabilityRow(type: string, dir: string): string {
  const caps = hs.capabilitiesSync(dir);
  const yes = (supported: boolean) => (supported ? 'yes' : 'no');
  const align = caps.dioAlignment!;
  return `| ${type} | ${yes(caps.calls.openDirect.supported)}${caps.calls.openDirect.reason ? ` (${caps.calls.openDirect.reason})` : ''} | ${align.memory} / ${align.offset} (${align.source}) | ${yes(caps.calls.syncfs.supported)} | ${yes(caps.calls.preallocate.supported)} |`;
}

afterAll(() => {
  if (rows.length === 0) return;
  const table = [
    `Filesystems, from capabilities() on kernel ${os.release()} (written by test/filesystems.test.ts: npm run results:filesystems)`,
    '',
    '| filesystem | O_DIRECT | DIO alignment memory / offset (source) | syncfs | preallocate |',
    '|---|---|---|---|---|',
    ...rows,
    '',
  ].join('\n');
  console.log(table);
  const destination = process.env.HARDSYNC_FS_TABLE;
  if (!destination) return;
  fs.mkdirSync(path.dirname(path.resolve(root, destination)), { recursive: true });
  fs.writeFileSync(path.resolve(root, destination), table);
});

describe.each(['ext4', 'xfs', 'btrfs'])('%s on a loop device', (type) => {
  const why = linux ? loopUnavailable(type) : 'not Linux';
  if (why) console.warn(`SKIPPED ${type} runs in test/filesystems.test.ts: ${why}`);

  it.skipIf(Boolean(why))('passes the disk durability tests with TMPDIR on it', async () => {
    const mounted = mountFs(type, 4096); // sparse: room for the log tests' 64 MiB segments
    try {
      expect(filesystemType(mounted.mountPoint)).toBe(type);
      rows.push(capabilityRow(type, mounted.mountPoint));
      const result = await runSuite(mounted.mountPoint, DISK_TESTS);
      expect(result.failures).toEqual([]);
      expect(result.passed).toBeGreaterThan(50);
    } finally {
      mounted.unmount();
    }
  }, 600_000);
});

describe('tmpfs', () => {
  const why = linux ? loopUnavailable('tmpfs') : 'not Linux';
  it.skipIf(Boolean(why))('reports what it supports, and flushes work on it', async () => {
    const mounted = mountFs('tmpfs', 64);
    try {
      rows.push(capabilityRow('tmpfs', mounted.mountPoint));
      const file = path.join(mounted.mountPoint, 'f');
      const fd = await hs.open(file, { write: true, create: true });
      try {
        expect(await hs.writeDurable(fd, Buffer.from('abc'), 0, { flush: 'full' })).toBe(3);
        await hs.fdatasync(fd);
        await hs.syncfs(fd);
        await hs.fsyncDir(mounted.mountPoint);
      } finally {
        fs.closeSync(fd);
      }
      const { calls } = await hs.capabilities(mounted.mountPoint);
      // Whatever the probe says about O_DIRECT must be what an open really does.
      let opened = true;
      try {
        fs.closeSync(hs.openSync(path.join(mounted.mountPoint, 'd'), { write: true, create: true, direct: true }));
      } catch (error) {
        expect((error as { code: string }).code).toBe('EINVAL');
        opened = false;
      }
      expect(calls.openDirect.supported).toBe(opened);
    } finally {
      mounted.unmount();
    }
  });
});

describe('the capability table', () => {
  const tracked = path.join(root, 'bench', 'results', 'filesystems.md');
  /** The table's rows: lines that start with '| ' and are not its header. */
  const tableRows = (text: string) => text.split('\n').filter((line) => line.startsWith('| ') && !line.startsWith('| filesystem |'));

  it('in the README is the one in bench/results/filesystems.md', () => {
    const rowsInFile = tableRows(fs.readFileSync(tracked, 'utf8'));
    expect(rowsInFile.length).toBeGreaterThan(0);
    const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8').split('\n');
    const first = readme.indexOf(rowsInFile[0]!);
    expect(first, 'the first row of bench/results/filesystems.md is not in README.md').toBeGreaterThan(-1);
    let end = first;
    while (readme[end]?.startsWith('| ')) end++;
    expect(readme.slice(first, end)).toEqual(rowsInFile);
  });

  const why = linux ? loopUnavailable('tmpfs') : 'not Linux';
  it.skipIf(Boolean(why))('is written only to the file HARDSYNC_FS_TABLE names: a test run leaves bench/results/filesystems.md alone', async () => {
    // This file's tmpfs test in a child vitest (it adds a row, so a table is made), once
    // without HARDSYNC_FS_TABLE and once with it.
    const before = { text: fs.readFileSync(tracked, 'utf8'), mtimeMs: fs.statSync(tracked).mtimeMs };
    const plain = await runSuite(os.tmpdir(), ['test/filesystems.test.ts'], ['-t', '^tmpfs '], { HARDSYNC_FS_TABLE: undefined });
    expect(plain.failures).toEqual([]);
    expect(plain.passed).toBe(1);
    expect(fs.readFileSync(tracked, 'utf8')).toBe(before.text);
    expect(fs.statSync(tracked).mtimeMs).toBe(before.mtimeMs);

    const asked = path.join(tempDir('hardsync-fs-table-'), 'filesystems.md');
    try {
      const written = await runSuite(os.tmpdir(), ['test/filesystems.test.ts'], ['-t', '^tmpfs '], { HARDSYNC_FS_TABLE: asked });
      expect(written.passed).toBe(1);
      const table = fs.readFileSync(asked, 'utf8');
      expect(table).toMatch(/^Filesystems, from capabilities\(\) on kernel /);
      expect(tableRows(table)).toHaveLength(1);
      expect(tableRows(table)[0]).toMatch(/^\| tmpfs \| (yes|no)/);
      expect(fs.statSync(tracked).mtimeMs).toBe(before.mtimeMs);
    } finally {
      fs.rmSync(path.dirname(asked), { recursive: true, force: true });
    }
  }, 300_000);
});
