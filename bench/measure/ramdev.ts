/**
 * Quiet devices for benchmarks: a filesystem (ext4 or XFS) on a block device that lives in
 * RAM, made for the run and removed after it. A flush there still goes through the
 * filesystem's journal and the block layer, but the device itself answers in microseconds
 * and does not drift, so what is left of a figure is the software's own cost.
 *
 * Backings, in the order `ram-*` tries them:
 * - zram: a RAM block device (`/sys/class/zram-control/hot_add`), written synchronously in
 *   the submitting thread. brd (`/dev/ram*`) is what one would reach for first, but kernels
 *   often lack it (this one does) and zram needs no module parameters.
 * - loop: a loop device over a file on tmpfs (`/dev/shm`). Every request is handed to the
 *   loop driver's worker thread, so it costs a thread wake-up more than zram and moves more.
 *
 * Device names for `--device` (a comma-separated list, measured side by side):
 *   disk            the directory given by --dir (default the OS temp dir)
 *   ram-ext4 / ram-xfs     zram if the kernel has it, else loop over tmpfs
 *   zram-ext4 / zram-xfs, loop-ext4 / loop-xfs    that backing only
 *   tmpfs           /dev/shm (no block device at all: flushes cost nothing)
 *
 * Setting up needs root, the backing, and mkfs.ext4 / mkfs.xfs; a device that cannot be made
 * is skipped with the reason, and the run goes on with the others. Everything made is
 * removed on the way out: a normal end, an error (the exit handler), SIGINT / SIGTERM /
 * SIGHUP. A process killed with SIGKILL cannot clean up; the next run removes what such a
 * process left (its mount points carry its pid).
 * @module
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { OptionSpec } from './args';
import { findMount } from './env';
import { UsageError } from './schema';

/** The --device option, declared once for every script that takes it. */
export const DEVICE_OPTION: Record<string, OptionSpec> = {
  device: {
    type: 'string',
    value: 'LIST',
    help: 'where to measure, side by side: disk (--dir), ram-ext4, ram-xfs (a filesystem on a\nRAM block device, made and removed by the run: zram, else loop over tmpfs; root only),\nzram-ext4, zram-xfs, loop-ext4, loop-xfs, tmpfs (default disk)',
  },
};

const FILESYSTEMS = ['ext4', 'xfs'] as const;
type Filesystem = (typeof FILESYSTEMS)[number];
const BACKINGS = ['ram', 'zram', 'loop'] as const;
type Backing = (typeof BACKINGS)[number];

/** One entry of --device. */
export type DeviceSpec = { kind: 'disk' } | { kind: 'tmpfs' } | { kind: 'ram'; backing: Backing; fs: Filesystem };

/** A place to measure in: a directory and what it is. */
export interface BenchDevice {
  /** The name given in --device. */
  name: string;
  /** A directory on it, writable. */
  dir: string;
  /** What it is, for the report: "ext4 on /dev/zram1 (zram, RAM)". */
  describe: string;
}

/** A device that could not be made, and why. */
export interface SkippedDevice {
  name: string;
  reason: string;
}

const KNOWN = ['disk', 'tmpfs', ...BACKINGS.flatMap((b) => FILESYSTEMS.map((f) => `${b}-${f}`))];

/** Parses --device; `undefined` gives `fallback`. Unknown names are a UsageError. */
export function parseDevices(raw: string | undefined, fallback: readonly string[] = ['disk']): { name: string; spec: DeviceSpec }[] {
  const names = raw === undefined ? [...fallback] : raw.split(',').map((s) => s.trim()).filter(Boolean);
  if (names.length === 0) throw new UsageError('--device needs at least one name');
  const seen = new Set<string>();
  return names.map((name) => {
    if (!KNOWN.includes(name)) throw new UsageError(`--device: unknown device "${name}" (one of ${KNOWN.join(', ')})`);
    if (seen.has(name)) throw new UsageError(`--device: "${name}" given twice`);
    seen.add(name);
    if (name === 'disk') return { name, spec: { kind: 'disk' } };
    if (name === 'tmpfs') return { name, spec: { kind: 'tmpfs' } };
    const [backing, fsType] = name.split('-') as [Backing, Filesystem];
    return { name, spec: { kind: 'ram', backing, fs: fsType } };
  });
}

/** Whether a --device name stands for a RAM block device (ram-*, zram-*, loop-*). */
export function isRamDevice(name: string): boolean {
  return BACKINGS.some((backing) => name.startsWith(`${backing}-`));
}

/** Bytes of each RAM device: room for large log segments. zram stores a page of zeros as a flag and a loop image on tmpfs is sparse, so only what is written takes memory. */
const DEVICE_BYTES = 4 * 1024 * 1024 * 1024;
const PREFIX = 'hardsync-ramdev-';

/** What has to be undone for one device, in order. */
interface Made {
  mountpoint?: string;
  zram?: number;
  loop?: string;
  image?: string;
}

const made: Made[] = [];
let handlersInstalled = false;

function run(command: string, args: string[]): { ok: boolean; out: string } {
  const result = spawnSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (result.error) return { ok: false, out: result.error.message };
  return { ok: result.status === 0, out: `${result.stdout}${result.stderr}`.trim() };
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Tries `attempt` up to `tries` times, 50 ms apart (a device can stay busy for a moment after a close). */
function retry(tries: number, attempt: () => boolean): boolean {
  for (let i = 0; i < tries; i++) {
    if (attempt()) return true;
    sleepSync(50);
  }
  return false;
}

/** Undoes one device; returns what failed (empty when everything went). Synchronous: it runs in exit handlers. */
function undo(m: Made): string[] {
  const failed: string[] = [];
  if (m.mountpoint !== undefined) {
    const mountpoint = m.mountpoint;
    if (!retry(20, () => run('umount', [mountpoint]).ok) && !run('umount', ['-l', mountpoint]).ok) failed.push(`umount ${mountpoint}`);
    fs.rmSync(mountpoint, { recursive: true, force: true });
  }
  if (m.zram !== undefined) {
    const id = m.zram;
    if (!retry(20, () => writeSys('/sys/class/zram-control/hot_remove', String(id)))) failed.push(`zram${id} hot_remove`);
  }
  if (m.loop !== undefined) {
    const loop = m.loop;
    if (!retry(20, () => run('losetup', ['-d', loop]).ok)) failed.push(`losetup -d ${loop}`);
  }
  if (m.image !== undefined) fs.rmSync(m.image, { force: true });
  return failed;
}

function writeSys(file: string, value: string): boolean {
  try {
    fs.writeFileSync(file, value);
    return true;
  } catch {
    return false;
  }
}

/** Removes every device this process made. Safe to call more than once. */
export function removeDevices(): void {
  while (made.length > 0) {
    const failed = undo(made.pop() as Made);
    if (failed.length > 0) process.stderr.write(`ramdev: could not undo: ${failed.join(', ')}\n`);
  }
}

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', removeDevices);
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]] as const) {
    process.on(signal, () => {
      removeDevices();
      process.stderr.write(`interrupted (${signal}); RAM devices removed\n`);
      process.exit(code);
    });
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Undoes devices left mounted by runs that were killed (their pid is in the mount point's name). */
function removeStale(): void {
  let mountinfo: string;
  try {
    mountinfo = fs.readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return;
  }
  const base = path.join(os.tmpdir(), PREFIX);
  for (const line of mountinfo.split('\n')) {
    const fields = line.split(' ');
    const dash = fields.indexOf('-');
    if (dash < 6) continue;
    const mountpoint = fields[4];
    const source = fields[dash + 2];
    if (!mountpoint.startsWith(base)) continue;
    const pid = Number(/^(\d+)-/.exec(mountpoint.slice(base.length))?.[1]);
    if (!Number.isInteger(pid) || pid === process.pid || pidAlive(pid)) continue;
    const m: Made = { mountpoint };
    const zram = /^\/dev\/zram(\d+)$/.exec(source);
    if (zram) m.zram = Number(zram[1]);
    if (/^\/dev\/loop\d+$/.test(source)) {
      m.loop = source;
      const backing = readText(`/sys/block/${path.basename(source)}/loop/backing_file`);
      if (backing !== undefined && path.basename(backing).startsWith(PREFIX)) m.image = backing;
    }
    const failed = undo(m);
    process.stderr.write(`ramdev: removed ${mountpoint} left by process ${pid}${failed.length > 0 ? ` (could not: ${failed.join(', ')})` : ''}\n`);
  }
}

function readText(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    return undefined;
  }
}

function mkfs(fsType: Filesystem, device: string): { ok: boolean; out: string } {
  // ext4: no lazy initialisation, or a kernel thread would write inode tables during the run.
  return fsType === 'ext4'
    ? run('mkfs.ext4', ['-q', '-F', '-E', 'lazy_itable_init=0,lazy_journal_init=0', device])
    : run('mkfs.xfs', ['-q', '-f', device]);
}

/** Makes and mounts one RAM device; registers it for removal before each step that could leave something behind. */
function makeRam(backing: 'zram' | 'loop', fsType: Filesystem): { dir: string; describe: string } | string {
  const mkfsTool = fsType === 'ext4' ? 'mkfs.ext4' : 'mkfs.xfs';
  if (!run(mkfsTool, ['-V']).ok) return `${mkfsTool} not found (Debian: ${fsType === 'ext4' ? 'e2fsprogs' : 'xfsprogs'})`;
  const m: Made = {};
  made.push(m);
  let device: string;
  if (backing === 'zram') {
    if (!fs.existsSync('/sys/class/zram-control/hot_add')) return 'this kernel has no zram (CONFIG_ZRAM)';
    const id = Number(readText('/sys/class/zram-control/hot_add'));
    if (!Number.isInteger(id)) return 'zram hot_add failed';
    m.zram = id;
    device = `/dev/zram${id}`;
    if (!retry(40, () => fs.existsSync(device))) return `${device} did not appear`;
    if (!writeSys(`/sys/block/zram${id}/disksize`, String(DEVICE_BYTES))) return `cannot size zram${id}`;
  } else {
    m.image = path.join('/dev/shm', `${PREFIX}${process.pid}-${made.length}.img`);
    try {
      fs.closeSync(fs.openSync(m.image, 'w'));
      fs.truncateSync(m.image, DEVICE_BYTES);
    } catch (error) {
      return `cannot make the tmpfs image: ${(error as Error).message}`;
    }
    const loop = run('losetup', ['-f', '--show', m.image]);
    if (!loop.ok) return `losetup: ${loop.out}`;
    m.loop = loop.out.split('\n').pop() as string;
    device = m.loop;
  }
  const formatted = mkfs(fsType, device);
  if (!formatted.ok) return `${mkfsTool} ${device}: ${formatted.out}`;
  const mountpoint = fs.mkdtempSync(path.join(os.tmpdir(), `${PREFIX}${process.pid}-`));
  m.mountpoint = mountpoint;
  const mounted = run('mount', [device, mountpoint]);
  if (!mounted.ok) return `mount ${device}: ${mounted.out}`;
  const what = backing === 'zram' ? 'zram, RAM' : 'loop over a tmpfs file';
  return { dir: mountpoint, describe: `${fsType} on ${device} (${what})` };
}

/**
 * Makes the devices asked for (in order). RAM devices need root; one that cannot be made is
 * skipped with its reason. Everything made is removed by {@link removeDevices}, which also
 * runs on exit and on SIGINT / SIGTERM / SIGHUP.
 * @param specs From {@link parseDevices}.
 * @param diskDir The directory `disk` stands for.
 */
export function openDevices(specs: readonly { name: string; spec: DeviceSpec }[], diskDir: string): { devices: BenchDevice[]; skipped: SkippedDevice[] } {
  const devices: BenchDevice[] = [];
  const skipped: SkippedDevice[] = [];
  const needsRam = specs.some((s) => s.spec.kind === 'ram');
  if (needsRam && process.getuid?.() === 0) {
    installHandlers();
    removeStale();
  }
  for (const { name, spec } of specs) {
    if (spec.kind === 'disk') {
      const mount = findMount(diskDir);
      devices.push({ name, dir: diskDir, describe: mount ? `${mount.type} on ${mount.source} (${diskDir})` : diskDir });
      continue;
    }
    if (spec.kind === 'tmpfs') {
      devices.push({ name, dir: '/dev/shm', describe: 'tmpfs (/dev/shm)' });
      continue;
    }
    if (process.platform !== 'linux') {
      skipped.push({ name, reason: 'RAM devices are made on Linux only' });
      continue;
    }
    if (process.getuid?.() !== 0) {
      skipped.push({ name, reason: 'making a RAM block device needs root' });
      continue;
    }
    const order: ('zram' | 'loop')[] = spec.backing === 'ram' ? ['zram', 'loop'] : [spec.backing];
    const reasons: string[] = [];
    for (const backing of order) {
      const before = made.length;
      const result = makeRam(backing, spec.fs);
      if (typeof result !== 'string') {
        devices.push({ name, ...result });
        break;
      }
      reasons.push(`${backing}: ${result}`);
      // Undo what this attempt left half made.
      while (made.length > before) undo(made.pop() as Made);
    }
    if (devices.length === 0 || devices[devices.length - 1].name !== name) skipped.push({ name, reason: reasons.join('; ') });
  }
  return { devices, skipped };
}
