/**
 * The tests' one way to make a temporary directory: {@link tempDir}. Every directory it makes
 * is removed after the last test of the file that made it (an afterAll hook registered when a
 * test file first imports this module), so a test file needs no cleanup code of its own.
 * @module
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll } from 'vitest';

const made: string[] = [];

/**
 * A fresh, empty directory, removed after the test file's last test (or earlier by
 * {@link removeTempDir}).
 *
 * `parent` chooses the filesystem. The default, os.tmpdir(), is /tmp: ext4 here, a real disk,
 * as O_DIRECT, flushes and the strace tests need; test/filesystems.test.ts reruns the disk tests
 * with TMPDIR on tmpfs, ext4 and xfs mounts, which is why the default must stay os.tmpdir().
 * Pass '/dev/shm' for a test that wants tmpfs whatever TMPDIR says.
 */
export function tempDir(prefix = 'hardsync-test-', parent = os.tmpdir()): string {
  const dir = fs.mkdtempSync(path.join(parent, prefix));
  made.push(dir);
  return dir;
}

/** Removes a directory made by {@link tempDir} now (a test that needs the space back early). */
export function removeTempDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
  const index = made.indexOf(dir);
  if (index >= 0) made.splice(index, 1);
}

afterAll(() => {
  for (const dir of made.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

/**
 * {@link tempDir} with its removal function, for the files that make their directory in
 * beforeAll and remove it in afterAll.
 */
export function diskTempDir(prefix = 'hardsync-test-'): { dir: string; cleanup: () => void } {
  const dir = tempDir(prefix);
  return { dir, cleanup: () => removeTempDir(dir) };
}

/** The filesystem type of a path, from /proc/self/mountinfo (longest matching mount point). */
export function filesystemType(target: string): string | undefined {
  let best: { point: string; type: string } | undefined;
  const real = fs.realpathSync(target);
  for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const fields = line.split(' ');
    const separator = fields.indexOf('-');
    if (separator < 0) continue;
    const point = fields[4];
    if ((real === point || real.startsWith(point.endsWith('/') ? point : `${point}/`)) && (!best || point.length > best.point.length)) {
      best = { point, type: fields[separator + 1] };
    }
  }
  return best?.type;
}

/** The open flags of an fd of this process, from /proc/self/fdinfo (Linux). */
export function fdFlags(fd: number): number {
  const info = fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8');
  const match = /^flags:\s+([0-7]+)/m.exec(info);
  if (!match) throw new Error(`no flags in fdinfo of ${fd}`);
  return parseInt(match[1], 8);
}
