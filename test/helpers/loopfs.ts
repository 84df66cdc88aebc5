import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** A filesystem made on a loop device (or tmpfs), mounted on a temporary directory. */
export interface MountedFs {
  type: string;
  mountPoint: string;
  unmount: () => void;
}

const MKFS: Record<string, string[]> = {
  ext4: ['mkfs.ext4', '-q', '-F'],
  xfs: ['mkfs.xfs', '-q', '-f'],
  btrfs: ['mkfs.btrfs', '-q', '-f'],
};

/** Why loop filesystems cannot be made here, or undefined when they can. */
export function loopUnavailable(type: string): string | undefined {
  if (process.getuid?.() !== 0) return 'not root';
  if (type === 'tmpfs') return undefined;
  if (!fs.existsSync('/dev/loop-control')) return 'no /dev/loop-control';
  const mkfs = MKFS[type]?.[0];
  if (!mkfs) return `no mkfs known for ${type}`;
  if (spawnSync('sh', ['-c', `command -v ${mkfs}`]).status !== 0) return `${mkfs} is not installed`;
  return undefined;
}

/** Makes and mounts a fresh filesystem of `type` (image of `megabytes` on the disk under /tmp). */
export function mountFs(type: string, megabytes = 400): MountedFs {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), `hardsync-${type}-`));
  const mountPoint = path.join(work, 'mnt');
  fs.mkdirSync(mountPoint);
  if (type === 'tmpfs') {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${megabytes}m`, 'tmpfs', mountPoint]);
  } else {
    const image = path.join(work, 'image');
    fs.closeSync(fs.openSync(image, 'w'));
    fs.truncateSync(image, megabytes * 1024 * 1024);
    const [mkfs, ...args] = MKFS[type];
    execFileSync(mkfs, [...args, image], { stdio: 'pipe' });
    execFileSync('mount', ['-o', 'loop', image, mountPoint]);
  }
  fs.chmodSync(mountPoint, 0o1777);
  return {
    type,
    mountPoint,
    unmount: () => {
      spawnSync('umount', [mountPoint]);
      fs.rmSync(work, { recursive: true, force: true });
    },
  };
}
