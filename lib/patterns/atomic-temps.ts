/**
 * The temp files of writeFileAtomic: their names, which say who wrote them, and the removal of
 * those whose writer is gone (killed mid-write, or from a boot that has ended).
 *
 * A temp file is named `.<name>.hs1-<machine>-<boot>-<pidns>-<pid>-<start>-<random>.tmp`
 * beside its target `<name>`:
 * - `<name>`: the target's file name, or for a long one (over 150 UTF-8 bytes) its first
 *   bytes, `~` and 8 hex digits of a hash of the whole name, so that the temp name stays
 *   within NAME_MAX (255 bytes);
 * - `<machine>`, `<boot>`, `<pidns>`: 8 hex digits each, of a hash of /etc/machine-id, of
 *   /proc/sys/kernel/random/boot_id and of the writer's pid namespace (/proc/self/ns/pid);
 *   `00000000` where the OS does not say (not Linux). Elsewhere `<machine>` hashes the host
 *   name;
 * - `<pid>` and `<start>`: the writer's process id and its start time (field 22 of
 *   /proc/self/stat, clock ticks since boot; 0 where unknown), in decimal. The pair names one
 *   process: a pid that is reused later comes with another start time;
 * - `<random>`: 12 hex digits from crypto.randomBytes, so the name cannot be guessed.
 *
 * A temp file is stale, and removed, only when no live writer can own it:
 * - same boot and pid namespace as this process: its process is gone (no /proc/<pid>, or a
 *   zombie) or that pid is now another process (another start time). Without /proc (not
 *   Linux), only when process.kill(pid, 0) says ESRCH and the host name hash matches;
 * - same machine (machine-id), another boot: every process of that boot is gone;
 * - anything else (another machine sharing the directory over NFS, another pid namespace such
 *   as another container, or identities that cannot be read) is left alone: its writer's life
 *   cannot be checked from here.
 * Names that do not match the pattern exactly (including temps of other targets and those of
 * hardsync before 0.2, `.<name>.<18 hex>.tmp`, which say nothing of their writer) are never
 * touched, and only regular files are removed.
 * @module
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import nodePath from 'node:path';

/** Who this process is, as written into its temp names. */
interface Identity {
  machine: string;
  boot: string;
  pidns: string;
  pid: number;
  start: number;
}

/** An identity part the OS does not give. */
const UNKNOWN = '00000000';

/** Longest target name kept whole in a temp name, in UTF-8 bytes. */
const MAX_BASE_BYTES = 150;

const TAG = /^hs1-([0-9a-f]{8})-([0-9a-f]{8})-([0-9a-f]{8})-(\d{1,10})-(\d{1,20})-[0-9a-f]{12}\.tmp$/;

function hash8(text: string): string {
  return crypto.createHash('sha256').update(text).digest('hex').slice(0, 8);
}

function readTrimmed(file: string): string | undefined {
  try {
    const text = fs.readFileSync(file, 'utf8').trim();
    return text === '' ? undefined : text;
  } catch {
    return undefined;
  }
}

/** Field 3 (state) and field 22 (start time) of /proc/<pid>/stat; undefined if unreadable. */
function procStat(pid: number | 'self'): { state: string; start: number } | undefined | 'gone' {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch (error) {
    return (error as { code?: string }).code === 'ENOENT' ? 'gone' : undefined;
  }
  // Field 2 is the command name in parentheses, which may itself hold spaces and parentheses.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const start = Number(fields[19]);
  return Number.isSafeInteger(start) ? { state: fields[0], start } : undefined;
}

let identity: Identity | undefined;

/** This process's identity, read once. */
function ownIdentity(): Identity {
  if (identity) return identity;
  const boot = readTrimmed('/proc/sys/kernel/random/boot_id');
  const stat = boot === undefined ? undefined : procStat('self');
  if (boot === undefined || stat === undefined || stat === 'gone') {
    identity = { machine: hash8(`host:${os.hostname()}`), boot: UNKNOWN, pidns: UNKNOWN, pid: process.pid, start: 0 };
    return identity;
  }
  const machine = readTrimmed('/etc/machine-id') ?? readTrimmed('/var/lib/dbus/machine-id');
  let pidns: string;
  try {
    pidns = hash8(fs.readlinkSync('/proc/self/ns/pid'));
  } catch {
    pidns = UNKNOWN;
  }
  identity = { machine: machine === undefined ? UNKNOWN : hash8(machine), boot: hash8(boot), pidns, pid: process.pid, start: stat.start };
  return identity;
}

/** The target's name as it appears in its temp names. */
function tempBase(target: string): string {
  const base = nodePath.basename(target);
  if (Buffer.byteLength(base) <= MAX_BASE_BYTES) return base;
  let cut = base.slice(0, MAX_BASE_BYTES - 10);
  while (Buffer.byteLength(cut) > MAX_BASE_BYTES - 10) cut = cut.slice(0, -1);
  // (A lone high surrogate at the cut would not survive the UTF-8 round trip: drop it.)
  if (/[\ud800-\udbff]$/.test(cut)) cut = cut.slice(0, -1);
  return `${cut}~${hash8(base)}`;
}

/** A new temp path for `target`, in its directory, naming this process as its writer. */
export function newTempPath(target: string): string {
  const me = ownIdentity();
  const tag = `hs1-${me.machine}-${me.boot}-${me.pidns}-${me.pid}-${me.start}-${crypto.randomBytes(6).toString('hex')}.tmp`;
  return nodePath.join(nodePath.dirname(target), `.${tempBase(target)}.${tag}`);
}

/** Whether the process that wrote a temp with this identity can no longer own it. */
function writerGone(machine: string, boot: string, pidns: string, pid: number, start: number): boolean {
  const me = ownIdentity();
  if (me.boot === UNKNOWN) {
    // No /proc: the pid alone, on this host (by name), in this boot-less view.
    if (machine !== me.machine || boot !== UNKNOWN || pid === me.pid) return false;
    return processMissing(pid);
  }
  if (boot !== me.boot) return boot !== UNKNOWN && me.machine !== UNKNOWN && machine === me.machine;
  if (pidns !== me.pidns || pidns === UNKNOWN) return false;
  if (pid === me.pid) return start !== me.start;
  const stat = procStat(pid);
  if (stat === 'gone') return true;
  if (stat === undefined) return processMissing(pid);
  return stat.start !== start || stat.state === 'Z' || stat.state === 'X';
}

/** kill(pid, 0) says there is no such process (EPERM means there is one, not ours). */
function processMissing(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return (error as { code?: string }).code === 'ESRCH';
  }
}

/** The names in `entries` that are temps of `target` whose writer is gone. */
function staleNames(target: string, entries: fs.Dirent[]): string[] {
  const prefix = `.${tempBase(target)}.`;
  const stale: string[] = [];
  for (const entry of entries) {
    if (!entry.name.startsWith(prefix) || !entry.isFile()) continue;
    const match = TAG.exec(entry.name.slice(prefix.length));
    if (match && writerGone(match[1], match[2], match[3], Number(match[4]), Number(match[5]))) stale.push(entry.name);
  }
  return stale;
}

/** Removes the stale temps of `target`; returns their paths. ENOENT (removed meanwhile) is skipped. */
export async function removeStaleTemps(target: string): Promise<string[]> {
  const directory = nodePath.dirname(target);
  const removed: string[] = [];
  for (const name of staleNames(target, await fs.promises.readdir(directory, { withFileTypes: true }))) {
    const file = nodePath.join(directory, name);
    try {
      await fs.promises.unlink(file);
      removed.push(file);
    } catch (error) {
      if ((error as { code?: string }).code !== 'ENOENT') throw error;
    }
  }
  return removed;
}

/** Synchronous {@link removeStaleTemps}. */
export function removeStaleTempsSync(target: string): string[] {
  const directory = nodePath.dirname(target);
  const removed: string[] = [];
  for (const name of staleNames(target, fs.readdirSync(directory, { withFileTypes: true }))) {
    const file = nodePath.join(directory, name);
    try {
      fs.unlinkSync(file);
      removed.push(file);
    } catch (error) {
      if ((error as { code?: string }).code !== 'ENOENT') throw error;
    }
  }
  return removed;
}
