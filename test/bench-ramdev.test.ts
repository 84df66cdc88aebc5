// The benchmarks' quiet devices (bench/measure/ramdev.ts): a filesystem on a RAM block device
// made for a run, usable (a written and flushed file), and removed however the run ends: a
// normal exit, SIGINT, and SIGKILL (then by the next run, which finds the dead run's mounts).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { describe, expect, it } from 'vitest';
import { isRamDevice, parseDevices } from '../dist/bench/measure/ramdev.js';

const RAMDEV = path.resolve(__dirname, '..', 'dist', 'bench', 'measure', 'ramdev.js');
const root = process.getuid?.() === 0 && process.platform === 'linux';
const canMake = root && (fs.existsSync('/sys/class/zram-control/hot_add') || spawnSync('losetup', ['-f'], { stdio: 'ignore' }).status === 0);

/** What is mounted now: mount point -> source. */
function mounts(): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const fields = line.split(' ');
    const dash = fields.indexOf('-');
    if (dash >= 6) map.set(fields[4], fields[dash + 2]);
  }
  return map;
}

/** A child that makes the devices, prints them as one JSON line, then waits for a signal. */
function holder(devices: string): { child: ReturnType<typeof spawn>; made: Promise<{ name: string; dir: string; describe: string }[]> } {
  const script = `
    const r = require(${JSON.stringify(RAMDEV)});
    const { devices, skipped } = r.openDevices(r.parseDevices(${JSON.stringify(devices)}), '/tmp');
    console.log(JSON.stringify({ devices, skipped }));
    setInterval(() => {}, 1000);
  `;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  const made = new Promise<{ name: string; dir: string; describe: string }[]>((resolve, reject) => {
    readline.createInterface({ input: child.stdout! }).once('line', (line) => {
      const parsed = JSON.parse(line);
      if (parsed.skipped.length > 0) reject(new Error(JSON.stringify(parsed.skipped)));
      else resolve(parsed.devices);
    });
    child.once('exit', (code) => reject(new Error(`holder exited with ${code}`)));
  });
  return { child, made };
}

const exited = (child: ReturnType<typeof spawn>) => new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

describe('--device names', () => {
  it('parses the known names, refuses unknown and repeated ones', () => {
    expect(parseDevices(undefined).map((d) => d.name)).toEqual(['disk']);
    expect(parseDevices('disk,ram-ext4,zram-xfs,loop-ext4,tmpfs').map((d) => d.spec)).toEqual([
      { kind: 'disk' },
      { kind: 'ram', backing: 'ram', fs: 'ext4' },
      { kind: 'ram', backing: 'zram', fs: 'xfs' },
      { kind: 'ram', backing: 'loop', fs: 'ext4' },
      { kind: 'tmpfs' },
    ]);
    expect(() => parseDevices('ram-btrfs')).toThrow(/unknown device "ram-btrfs"/);
    expect(() => parseDevices('disk,disk')).toThrow(/"disk" given twice/);
    expect(() => parseDevices('')).toThrow(/at least one/);
    expect(['ram-xfs', 'zram-ext4', 'loop-xfs'].every(isRamDevice)).toBe(true);
    expect(['disk', 'tmpfs'].some(isRamDevice)).toBe(false);
  });
});

describe.skipIf(!canMake)('RAM devices (root)', () => {
  it('are ext4 and XFS on a RAM block device, take a flushed write, and are gone after SIGINT', async () => {
    const { child, made } = holder('ram-ext4,ram-xfs,loop-xfs');
    const devices = await made;
    const now = mounts();
    for (const device of devices) {
      const source = now.get(device.dir);
      expect(source, device.name).toMatch(/^\/dev\/(zram|loop)\d+$/);
      expect(device.describe).toContain(device.name.endsWith('xfs') ? 'xfs' : 'ext4');
      if (device.name.startsWith('loop-')) expect(source).toMatch(/^\/dev\/loop/);
      const file = path.join(device.dir, 'probe');
      const fd = fs.openSync(file, 'w');
      fs.writeSync(fd, Buffer.alloc(8192, 1));
      fs.fdatasyncSync(fd);
      fs.closeSync(fd);
      expect(fs.readFileSync(file).length).toBe(8192);
      fs.rmSync(file);
    }
    child.kill('SIGINT');
    expect(await exited(child)).toBe(130);
    const after = mounts();
    for (const device of devices) {
      expect(after.has(device.dir), device.dir).toBe(false);
      expect(fs.existsSync(device.dir)).toBe(false);
    }
    // The loop device's tmpfs image is gone with it.
    expect(fs.readdirSync('/dev/shm').filter((f) => f.startsWith(`hardsync-ramdev-${child.pid}-`))).toEqual([]);
  }, 120_000);

  it('a run killed with SIGKILL leaves its devices; the next run removes them', async () => {
    const first = holder('ram-ext4');
    const [device] = await first.made;
    first.child.kill('SIGKILL');
    await exited(first.child);
    const source = mounts().get(device.dir);
    expect(source).toBeDefined();
    const next = spawnSync(process.execPath, ['-e', `const r = require(${JSON.stringify(RAMDEV)}); r.openDevices(r.parseDevices('ram-xfs'), '/tmp');`], { encoding: 'utf8', timeout: 120_000 });
    expect(next.status).toBe(0);
    expect(next.stderr).toContain(`removed ${device.dir} left by process ${first.child.pid}`);
    expect(mounts().has(device.dir)).toBe(false);
    if (source!.startsWith('/dev/zram')) expect(fs.existsSync(source!)).toBe(false);
  }, 120_000);
});
