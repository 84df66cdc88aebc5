import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * A fresh directory on a real disk filesystem (ext4 under /tmp here, not tmpfs: O_DIRECT and
 * flushes must meet a block device). Removed by the returned cleanup function.
 */
export function diskTempDir(prefix = 'hardsync-test-'): { dir: string; cleanup: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
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
