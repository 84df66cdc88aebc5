/**
 * What each call maps to on this OS, and whether it works here. The JS layer asks this table
 * instead of branching on process.platform.
 * @module
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import nodePath from 'node:path';
import { mapFileSync, unmapFile } from './mapped';
import { native } from './native';
import { dioAlignment, dioAlignmentSync, open, openSync, fullFsync, fullFsyncSync } from './primitives';
import type { Capabilities, Capability, CapabilityName, Constants, EngineInfo, PathLike } from './types';
import { toPath, validateArgumentCount } from './validate';

/** The O_* and SYNC_FILE_RANGE_* values of this platform (0 where absent). */
export const constants: Constants = Object.freeze({ ...native.constants });

/** The platform family the addon was built for ("linux", "darwin", "win32", "freebsd"). */
export const platform: string = native.platform;

/** The engine that runs async flushes in this thread (see {@link EngineInfo}). */
export const engine: EngineInfo = Object.freeze(native.engineInfo());

function osTable(): Record<CapabilityName, Capability> {
  const calls = {} as Record<CapabilityName, Capability>;
  for (const row of native.capabilities()) {
    calls[row.name as CapabilityName] = row.durable === undefined
      ? { supported: row.supported, syscall: row.syscall }
      : { supported: row.supported, syscall: row.syscall, durable: row.durable };
  }
  return calls;
}

/** The directory to probe in: the path itself if it is a directory, else its parent. */
function probeDirectory(path: string): string {
  try {
    if (fs.statSync(path).isDirectory()) return path;
  } catch {
    // a file that does not exist yet: probe where it would be created
  }
  return nodePath.dirname(path);
}

function probeName(directory: string): string {
  return nodePath.join(directory, `.hardsync-probe-${crypto.randomBytes(6).toString('hex')}`);
}

/**
 * The codes with which a filesystem refuses a call: EINVAL (O_DIRECT: tmpfs before Linux 6.6,
 * some FUSE), ENOTSUP/EOPNOTSUPP (F_FULLFSYNC), ENODEV (a shared mapping: a FUSE filesystem
 * in direct-I/O mode), ERR_HARDSYNC_UNSUPPORTED (MAP_SYNC on a file that is not DAX).
 */
const REFUSALS = new Set(['EINVAL', 'ENOTSUP', 'EOPNOTSUPP', 'ENODEV', 'ERR_HARDSYNC_UNSUPPORTED']);

/** Marks `names` unsupported on this filesystem when the probe's error says so. */
function refuse(calls: Record<CapabilityName, Capability>, name: CapabilityName | CapabilityName[], error: unknown): void {
  if (!REFUSALS.has((error as { code?: string }).code ?? '')) return;
  for (const each of Array.isArray(name) ? name : [name]) {
    calls[each] = { ...calls[each], supported: false, reason: `${(error as Error).message} (probed)` };
  }
}

/**
 * Maps the probe file (given one byte), plainly and then with MAP_SYNC where the OS has it:
 * a filesystem can refuse shared mappings, and MAP_SYNC needs a DAX file (statx says).
 */
function probeMappings(calls: Record<CapabilityName, Capability>, fd: number): void {
  if (!calls.mapFile.supported) return;
  fs.writeSync(fd, 'x', 0);
  try {
    unmapFile(mapFileSync(fd));
  } catch (error) {
    refuse(calls, ['mapFile', 'msync', 'mapSync'], error);
    return;
  }
  if (!calls.mapSync.supported) return;
  try {
    unmapFile(mapFileSync(fd, { sync: true }));
  } catch (error) {
    refuse(calls, 'mapSync', error);
  }
}

/**
 * Which calls work here, and the syscall each name maps to on this OS.
 *
 * Without a path: what the OS offers. With a path (a directory, or a file whose directory is
 * used): also what that filesystem accepts, found by creating, probing and removing a small
 * temporary file there: direct I/O (refused by some filesystems), `fullFsync` (F_FULLFSYNC
 * is refused by some macOS filesystems), shared mappings (`mapFile`, `msync`: refused by a
 * FUSE filesystem in direct-I/O mode) and MAP_SYNC (`mapSync`: DAX files only); plus that
 * path's direct-I/O alignment.
 * @param path Optional directory or file to probe.
 */
export async function capabilities(path?: PathLike): Promise<Capabilities> {
  validateArgumentCount(arguments, 1, 'capabilities');
  const calls = osTable();
  if (path === undefined) return { platform, engine, calls };
  const where = toPath(path);
  const probe = probeName(probeDirectory(where));
  if (calls.openDirect.supported) {
    try {
      fs.closeSync(await open(probe, { write: true, create: true, exclusive: true, direct: true, mode: 0o600 }));
    } catch (error) {
      refuse(calls, 'openDirect', error);
    }
  }
  try {
    const fd = await open(probe, { read: true, write: true, create: true, mode: 0o600 });
    try {
      await fullFsync(fd);
    } catch (error) {
      refuse(calls, 'fullFsync', error);
    }
    try {
      probeMappings(calls, fd);
    } finally {
      fs.closeSync(fd);
    }
    return { platform, engine, calls, path: where, dioAlignment: await dioAlignment(probe) };
  } finally {
    fs.rmSync(probe, { force: true });
  }
}

/** Synchronous {@link capabilities}. */
export function capabilitiesSync(path?: PathLike): Capabilities {
  validateArgumentCount(arguments, 1, 'capabilitiesSync');
  const calls = osTable();
  if (path === undefined) return { platform, engine, calls };
  const where = toPath(path);
  const probe = probeName(probeDirectory(where));
  if (calls.openDirect.supported) {
    try {
      fs.closeSync(openSync(probe, { write: true, create: true, exclusive: true, direct: true, mode: 0o600 }));
    } catch (error) {
      refuse(calls, 'openDirect', error);
    }
  }
  try {
    const fd = openSync(probe, { read: true, write: true, create: true, mode: 0o600 });
    try {
      fullFsyncSync(fd);
    } catch (error) {
      refuse(calls, 'fullFsync', error);
    }
    try {
      probeMappings(calls, fd);
    } finally {
      fs.closeSync(fd);
    }
    return { platform, engine, calls, path: where, dioAlignment: dioAlignmentSync(probe) };
  } finally {
    fs.rmSync(probe, { force: true });
  }
}
