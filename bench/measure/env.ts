/**
 * What a run was measured on: OS, CPU, Node, the filesystem and its mount options, and the
 * block device's cache mode, FUA and rotational flags from /sys where those can be read. Every
 * probe is best effort: a figure that cannot be read is null, never guessed.
 * @module
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { capabilitiesSync, engine, platform } from '../../lib/index';
import type { BenchEnv } from './schema';

// statfs(2) f_type magic numbers of the filesystems a user is likely to benchmark, for when
// /proc/self/mountinfo is not there (it names the type itself).
const FS_MAGIC: Record<number, string> = {
  0xef53: 'ext2/3/4',
  0x58465342: 'xfs',
  0x9123683e: 'btrfs',
  0x01021994: 'tmpfs',
  0x794c7630: 'overlay',
  0x2fc12fc1: 'zfs',
  0x6969: 'nfs',
  0x65735546: 'fuse',
  0xf2f52010: 'f2fs',
  0x1a: 'apfs',
  0x11: 'hfs',
};

function readText(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    return null;
  }
}

function readNumber(file: string): number | null {
  const text = readText(file);
  if (text === null) return null;
  const value = Number(text);
  return Number.isFinite(value) ? value : null;
}

function readFlag(file: string): boolean | null {
  const value = readNumber(file);
  return value === null ? null : value !== 0;
}

/** mountinfo escapes blanks and backslashes in paths as octal. */
function unescapeMount(text: string): string {
  return text.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

interface MountEntry {
  mountPoint: string;
  options: string;
  type: string;
  source: string;
  superOptions: string;
}

/** The mount that holds `directory` (the longest mount point that prefixes its real path). */
export function findMount(directory: string, mountinfo: string | null = readText('/proc/self/mountinfo')): MountEntry | null {
  if (mountinfo === null) return null;
  let real: string;
  try {
    real = fs.realpathSync(directory);
  } catch {
    real = path.resolve(directory);
  }
  let best: MountEntry | null = null;
  for (const line of mountinfo.split('\n')) {
    const fields = line.split(' ');
    const dash = fields.indexOf('-');
    if (dash < 6 || fields.length < dash + 3) continue;
    const mountPoint = unescapeMount(fields[4]);
    const inside = mountPoint === '/' || real === mountPoint || real.startsWith(`${mountPoint}/`);
    if (!inside) continue;
    // A later line at the same point is a mount on top of the earlier one: it wins.
    if (best === null || mountPoint.length >= best.mountPoint.length) {
      best = {
        mountPoint,
        options: fields[5],
        type: fields[dash + 1],
        source: unescapeMount(fields[dash + 2]),
        superOptions: fields[dash + 3] ?? '',
      };
    }
  }
  return best;
}

/** The block device (whole disk, not the partition) behind a st_dev, from /sys/dev/block. */
function probeDevice(dev: number): BenchEnv['device'] {
  const empty: BenchEnv['device'] = {
    name: null, model: null, writeCache: null, fua: null, rotational: null, logicalBlockSize: null, physicalBlockSize: null,
  };
  // Linux's dev_t encoding (glibc's gnu_dev_major/minor).
  const major = ((dev >>> 8) & 0xfff) | (Math.floor(dev / 2 ** 32) & ~0xfff);
  const minor = (dev & 0xff) | ((dev >>> 12) & ~0xff);
  let node: string;
  try {
    node = fs.realpathSync(`/sys/dev/block/${major}:${minor}`);
  } catch {
    return empty;
  }
  const disk = fs.existsSync(path.join(node, 'partition')) ? path.dirname(node) : node;
  const queue = path.join(disk, 'queue');
  return {
    name: path.basename(disk),
    model: readText(path.join(disk, 'device', 'model')),
    writeCache: readText(path.join(queue, 'write_cache')),
    fua: readFlag(path.join(queue, 'fua')),
    rotational: readFlag(path.join(queue, 'rotational')),
    logicalBlockSize: readNumber(path.join(queue, 'logical_block_size')),
    physicalBlockSize: readNumber(path.join(queue, 'physical_block_size')),
  };
}

/**
 * Probes the environment of a run in `directory`.
 * @param directory Where the benchmark files live.
 * @param command The command line, recorded in the result.
 */
export function probeEnv(directory: string, command: string): BenchEnv {
  const stat = fs.statSync(directory);
  const mount = findMount(directory);
  let freeBytes: number | null = null;
  let magicType: string | null = null;
  try {
    const statfs = fs.statfsSync(directory);
    freeBytes = Number(statfs.bavail) * Number(statfs.bsize);
    // Windows reports no type (0): say nothing rather than a made-up name.
    const magic = Number(statfs.type);
    magicType = magic === 0 ? null : FS_MAGIC[magic] ?? `0x${magic.toString(16)}`;
  } catch {
    // statfs is missing on some platforms and old Node versions
  }
  let dioAlignment: BenchEnv['dioAlignment'] = null;
  try {
    dioAlignment = capabilitiesSync(directory).dioAlignment ?? null;
  } catch {
    // a read-only or full filesystem: the run itself will report it
  }
  const cpus = os.cpus();
  let version = '';
  try {
    version = os.version();
  } catch {
    // os.version is missing before Node 13
  }
  return {
    hostname: os.hostname(),
    os: { platform, type: os.type(), release: os.release(), version, arch: os.arch() },
    cpu: { model: cpus[0]?.model?.trim() ?? 'unknown', cores: cpus.length },
    memoryBytes: os.totalmem(),
    node: process.version,
    hardsync: packageVersion(),
    engine: { name: engine.name, flushThreads: engine.flushThreads, reason: engine.reason },
    command,
    directory: path.resolve(directory),
    filesystem: {
      type: mount?.type ?? magicType,
      mountPoint: mount?.mountPoint ?? null,
      mountOptions: mount ? [mount.options, mount.superOptions].filter(Boolean).join(' | ') : null,
      source: mount?.source ?? null,
      freeBytes,
    },
    device: probeDevice(stat.dev),
    dioAlignment,
    startedAt: new Date().toISOString(),
    seconds: 0,
  };
}

/** The version in hardsync's package.json ("unknown" when it cannot be read). */
export function packageVersion(): string {
  for (const candidate of [path.join(__dirname, '..', '..', 'package.json'), path.join(__dirname, '..', '..', '..', 'package.json')]) {
    try {
      const json = JSON.parse(fs.readFileSync(candidate, 'utf8')) as { name?: string; version?: string };
      if (json.name === 'hardsync' && json.version) return json.version;
    } catch {
      // try the next layout (source tree vs dist/)
    }
  }
  return 'unknown';
}

// The filesystems whose every byte lives in memory, by the type name mountinfo and statfs give
// (FS_MAGIC above). A flush there returns at once and nothing survives power loss, so a report
// must never rank or bless what it measured on them.
const MEMORY_FILESYSTEMS: readonly string[] = Object.freeze(['tmpfs', 'ramfs']);

/** Whether a filesystem of this type (env.filesystem.type) keeps its data in memory only. */
export function isMemoryFilesystem(type: string | null | undefined): boolean {
  return type !== null && type !== undefined && MEMORY_FILESYSTEMS.includes(type);
}
