/**
 * The power-cut simulator (test/tools/powercut) mounted as a slow filesystem: every flush
 * sleeps `delayMs` in the filesystem, so io_uring meets the slowness as the threads do. Shared
 * by bench/engines.ts and bench/callpath.ts (the starvation figure).
 * @module
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';

/**
 * The simulator mounted with every flush delayed, or a string saying why it cannot be.
 * @param root The package root (where build/ and test/tools/ are).
 * @param delayMs How long each flush sleeps.
 */
export async function slowFilesystem(root: string, delayMs: number): Promise<{ mountpoint: string; stop: () => void } | string> {
  if (process.getuid?.() !== 0) return 'needs root (FUSE mount)';
  if (!fs.existsSync('/dev/fuse')) return 'no /dev/fuse';
  const binary = path.join(root, 'build', 'powercut', 'powercut-fs');
  try {
    execFileSync('bash', [path.join(root, 'test', 'tools', 'powercut', 'build.sh'), binary], { stdio: 'pipe' });
  } catch (error) {
    return `cannot build the power-cut simulator (needs cc, pkg-config, libfuse3-dev): ${(error as Error).message.split('\n')[0]}`;
  }
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'hardsync-slowfs-'));
  const backing = path.join(base, 'backing');
  const mountpoint = path.join(base, 'mnt');
  fs.mkdirSync(backing);
  fs.mkdirSync(mountpoint);
  const daemon = spawn(binary, [backing, mountpoint], { stdio: ['ignore', 'pipe', 'pipe'] });
  const ready = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), 10_000);
    readline.createInterface({ input: daemon.stdout! }).on('line', (line) => {
      if (line === 'ready') {
        clearTimeout(timer);
        resolve(true);
      }
    });
    daemon.once('exit', () => resolve(false));
  });
  const stop = () => {
    daemon.kill('SIGTERM');
    spawnSync('umount', ['-l', mountpoint]);
    fs.rmSync(base, { recursive: true, force: true });
  };
  if (!ready) {
    stop();
    return 'the power-cut simulator did not mount';
  }
  fs.writeFileSync(path.join(mountpoint, '.powercut'), `delay ${delayMs}\n`);
  return { mountpoint, stop };
}
