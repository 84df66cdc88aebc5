/**
 * What else the machine did while the benchmark measured: load average, CPU time used by
 * other processes and stolen by a hypervisor (/proc/stat), and I/O on the benchmarked block
 * device that was not the benchmark's (/proc/diskstats). Sampled before and after each round
 * of each case, outside the timed loop; the likely causes of a case whose rounds disagree.
 * Linux files; elsewhere every figure is null.
 * @module
 */
import fs from 'node:fs';
import os from 'node:os';
import type { DeviceActivity, RunConditions } from './schema';

/** One reading of the counters. */
export interface Snapshot {
  /** process.hrtime in nanoseconds. */
  atNs: number;
  load1: number | null;
  /** /proc/stat's aggregate cpu line in clock ticks: all, idle (+iowait), steal. */
  cpu: { total: number; idle: number; steal: number } | null;
  /** CPU time of this process (all threads), microseconds. */
  ownCpuUs: number;
  /** The device's /proc/diskstats counters. */
  disk: { readSectors: number; writeSectors: number; flushes: number | null } | null;
}

// USER_HZ: the unit of /proc/stat. 100 on every Linux architecture Node runs on.
const TICKS_PER_SECOND = 100;

function readText(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

/** Parses /proc/stat's first line. */
export function parseProcStat(text: string | null): Snapshot['cpu'] {
  const line = text?.split('\n').find((l) => l.startsWith('cpu '));
  if (!line) return null;
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  if (f.length < 8 || f.some((v) => !Number.isFinite(v))) return null;
  // user nice system idle iowait irq softirq steal [guest guest_nice: already in user/nice]
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  return { total, idle: f[3] + f[4], steal: f[7] };
}

/** Parses the line of `device` in /proc/diskstats (fields: see the kernel's iostats.rst). */
export function parseDiskstats(text: string | null, device: string | null): Snapshot['disk'] {
  if (!text || !device) return null;
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f[2] !== device) continue;
    const n = f.slice(3).map(Number);
    // reads: n[0] completed, n[2] sectors; writes: n[4] completed, n[6] sectors;
    // flushes (Linux 5.5+): n[15] completed.
    return { readSectors: n[2], writeSectors: n[6], flushes: n.length >= 16 ? n[15] : null };
  }
  return null;
}

/** Reads the counters now. */
export function snapshot(device: string | null): Snapshot {
  const load = readText('/proc/loadavg');
  const load1 = load === null ? null : Number(load.split(' ')[0]);
  const usage = process.cpuUsage();
  return {
    atNs: Number(process.hrtime.bigint()),
    load1: load1 !== null && Number.isFinite(load1) ? load1 : null,
    cpu: parseProcStat(readText('/proc/stat')),
    ownCpuUs: usage.user + usage.system,
    disk: parseDiskstats(readText('/proc/diskstats'), device),
  };
}

/** What this run's operations did between two snapshots (its own share of the device). */
export interface OwnWork {
  writeBytes: number;
  flushes: number;
}

/** Counters accumulated over several intervals (the rounds of one case, or a whole run). */
export class ConditionsAccumulator {
  private seconds = 0;
  private ticks = 0;
  private idleTicks = 0;
  private stealTicks = 0;
  private ownCpuUs = 0;
  private cpuKnown = true;
  private disk: { read: number; write: number; flushes: number | null } | null = { read: 0, write: 0, flushes: 0 };
  private own: OwnWork = { writeBytes: 0, flushes: 0 };
  private firstLoad: number | null | undefined = undefined;
  private lastLoad: number | null = null;

  constructor(private readonly device: string | null) {}

  /** Adds the interval from `a` to `b`, in which this run did `own`. */
  add(a: Snapshot, b: Snapshot, own: OwnWork): void {
    this.seconds += (b.atNs - a.atNs) / 1e9;
    if (this.firstLoad === undefined) this.firstLoad = a.load1;
    this.lastLoad = b.load1;
    if (a.cpu && b.cpu) {
      this.ticks += b.cpu.total - a.cpu.total;
      this.idleTicks += b.cpu.idle - a.cpu.idle;
      this.stealTicks += b.cpu.steal - a.cpu.steal;
      this.ownCpuUs += b.ownCpuUs - a.ownCpuUs;
    } else {
      this.cpuKnown = false;
    }
    if (this.disk && a.disk && b.disk) {
      this.disk.read += (b.disk.readSectors - a.disk.readSectors) * 512;
      this.disk.write += (b.disk.writeSectors - a.disk.writeSectors) * 512;
      this.disk.flushes = this.disk.flushes !== null && a.disk.flushes !== null && b.disk.flushes !== null
        ? this.disk.flushes + (b.disk.flushes - a.disk.flushes)
        : null;
    } else {
      this.disk = null;
    }
    this.own.writeBytes += own.writeBytes;
    this.own.flushes += own.flushes;
  }

  /** Adds everything another accumulator holds. */
  merge(other: ConditionsAccumulator): void {
    this.seconds += other.seconds;
    this.ticks += other.ticks;
    this.idleTicks += other.idleTicks;
    this.stealTicks += other.stealTicks;
    this.ownCpuUs += other.ownCpuUs;
    this.cpuKnown &&= other.cpuKnown;
    if (this.firstLoad === undefined) this.firstLoad = other.firstLoad;
    if (other.firstLoad !== undefined) this.lastLoad = other.lastLoad;
    if (this.disk && other.disk) {
      this.disk.read += other.disk.read;
      this.disk.write += other.disk.write;
      this.disk.flushes = this.disk.flushes !== null && other.disk.flushes !== null ? this.disk.flushes + other.disk.flushes : null;
    } else {
      this.disk = null;
    }
    this.own.writeBytes += other.own.writeBytes;
    this.own.flushes += other.own.flushes;
  }

  /** The figures, as the JSON stores them. */
  result(): RunConditions {
    const cpuKnown = this.cpuKnown && this.ticks > 0;
    const ownTicks = (this.ownCpuUs / 1e6) * TICKS_PER_SECOND;
    let device: DeviceActivity | null = null;
    if (this.disk && this.device) {
      device = {
        name: this.device,
        readBytes: this.disk.read,
        writeBytes: this.disk.write,
        ownWriteBytes: this.own.writeBytes,
        flushes: this.disk.flushes,
        ownFlushes: this.own.flushes,
        otherWriteBytes: Math.max(0, this.disk.write - this.own.writeBytes - this.own.flushes * JOURNAL_ALLOWANCE),
      };
    }
    return {
      loadAverage: this.firstLoad === undefined || this.firstLoad === null || this.lastLoad === null ? null : [this.firstLoad, this.lastLoad],
      cpus: os.cpus().length,
      otherCpuPct: cpuKnown ? clampPct(((this.ticks - this.idleTicks - this.stealTicks - ownTicks) / this.ticks) * 100) : null,
      stealPct: cpuKnown ? clampPct((this.stealTicks / this.ticks) * 100) : null,
      device,
      seconds: Math.round(this.seconds * 1000) / 1000,
    };
  }
}

/**
 * Device bytes a flush may write beyond the data (a journal commit: descriptor, metadata
 * block, commit block on ext4). What the device wrote beyond the run's data and this per
 * flush is counted as other processes' I/O: an estimate, never below zero.
 */
export const JOURNAL_ALLOWANCE = 16 * 1024;

function clampPct(value: number): number {
  return Math.round(Math.min(100, Math.max(0, value)) * 10) / 10;
}

/** Limits above which a condition is named as a likely cause of unstable figures. */
export const CAUSE_LIMITS = Object.freeze({
  /**
   * Load average above the CPU count by this much (the run itself adds up to about 1.5: its
   * timed loop, waiting in D state during flushes, and its event loop).
   */
  loadAboveCpus: 1.5,
  otherCpuPct: 25,
  stealPct: 2,
  /** Other processes' device I/O, bytes per second. */
  otherIoBytesPerSecond: 1 << 20,
});

function mb(bytes: number): string {
  return bytes >= 10e6 ? `${(bytes / 1e6).toFixed(0)} MB` : `${(bytes / 1e6).toFixed(1)} MB`;
}

/**
 * The conditions that exceed {@link CAUSE_LIMITS}, in words (empty when none did).
 */
export function likelyCauses(c: RunConditions | null): string[] {
  if (!c) return [];
  const causes: string[] = [];
  if (c.loadAverage && Math.max(...c.loadAverage) > c.cpus + CAUSE_LIMITS.loadAboveCpus) {
    causes.push(`load average ${c.loadAverage[0].toFixed(1)} -> ${c.loadAverage[1].toFixed(1)} on ${c.cpus} CPUs`);
  }
  if (c.otherCpuPct !== null && c.otherCpuPct > CAUSE_LIMITS.otherCpuPct) causes.push(`other processes used ${c.otherCpuPct.toFixed(0)}% of the CPU time`);
  if (c.stealPct !== null && c.stealPct > CAUSE_LIMITS.stealPct) causes.push(`the hypervisor stole ${c.stealPct.toFixed(1)}% of the CPU time`);
  if (c.device && c.seconds > 0) {
    const other = c.device.otherWriteBytes + c.device.readBytes;
    if (other / c.seconds > CAUSE_LIMITS.otherIoBytesPerSecond) {
      causes.push(`other I/O on ${c.device.name}: ${mb(c.device.readBytes)} read and ${mb(c.device.otherWriteBytes)} written that were not this run's, in ${c.seconds.toFixed(0)} s`);
    }
  }
  return causes;
}
