/**
 * The power-cut simulator (powercut/powercut-fs.c, its model in powercut/README.md): where its
 * binary comes from (built once from the shipped source), and {@link PowercutFs}, a mounted
 * instance with its power switch. Used by `hardsync crashtest` and by the project's crash tests
 * (test/helpers/powercut.ts re-exports it).
 * @module
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';

/** The package's root directory (where package.json, powercut/ and build/ are). */
export const PACKAGE_ROOT = findPackageRoot(__dirname);

function findPackageRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'powercut', 'powercut-fs.c')) && fs.existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) return path.resolve(from, '..', '..', '..');
  }
}

const SOURCE_DIR = path.join(PACKAGE_ROOT, 'powercut');
const SOURCE = path.join(SOURCE_DIR, 'powercut-fs.c');
const BUILD_SCRIPT = path.join(SOURCE_DIR, 'build.sh');
/** Where the project's tests (and a user whose package directory is writable) keep the build. */
const PACKAGE_BINARY = path.join(PACKAGE_ROOT, 'build', 'powercut', 'powercut-fs');

/** The simulator cannot be built or mounted here; the message says why and what to install. */
export class SimulatorUnavailable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SimulatorUnavailable';
  }
}

/** Why the simulator cannot run here (the tests then skip and say why), or undefined. */
export function powercutUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'powercut-fs is a Linux FUSE filesystem';
  if (process.getuid?.() !== 0) return 'mounting powercut-fs needs root';
  if (!fs.existsSync('/dev/fuse')) return 'no /dev/fuse';
  return undefined;
}

/** An executable named `name` on PATH (or in one of `alsoIn`), or undefined. */
export function findExecutable(name: string, alsoIn: readonly string[] = []): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean), ...alsoIn];
  for (const dir of dirs) {
    const file = path.join(dir, name);
    try {
      fs.accessSync(file, fs.constants.X_OK);
      if (fs.statSync(file).isFile()) return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * Why a mount cannot work for this user, or undefined: a user other than root mounts through
 * fusermount3 (setuid root, from the fuse3 package), as libfuse does on its own.
 */
export function mountUnavailable(): string | undefined {
  if (process.platform !== 'linux') return `the power-cut simulator is a Linux FUSE filesystem; this is ${process.platform}`;
  try {
    fs.accessSync('/dev/fuse', fs.constants.R_OK | fs.constants.W_OK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === 'ENOENT'
      ? 'no /dev/fuse: load the fuse module (modprobe fuse); in a container, pass the device (docker run --device /dev/fuse --cap-add SYS_ADMIN)'
      : `cannot open /dev/fuse (${code}): it must be readable and writable by this user`;
  }
  // libfuse runs fusermount3 from where its build put it (/usr/bin) before it tries PATH.
  if (process.getuid?.() !== 0 && !findExecutable('fusermount3', ['/usr/bin', '/bin'])) {
    return 'mounting FUSE as a user needs fusermount3 (Debian/Ubuntu: apt-get install fuse3; Fedora: dnf install fuse3), or run as root';
  }
  return undefined;
}

/** Whether /etc/fuse.conf lets users mount with allow_other. */
export function userAllowOther(): boolean {
  try {
    return fs.readFileSync('/etc/fuse.conf', 'utf8').split('\n').some((line) => line.replace(/#.*/, '').trim() === 'user_allow_other');
  } catch {
    return false;
  }
}

/** The source's identity: a build is fresh when its stamp holds this. */
function sourceHash(): string {
  const hash = createHash('sha256');
  for (const file of [SOURCE, BUILD_SCRIPT]) hash.update(fs.readFileSync(file)).update('\0');
  return hash.digest('hex');
}

function isFresh(binary: string, hash: string): boolean {
  try {
    fs.accessSync(binary, fs.constants.X_OK);
    return fs.readFileSync(`${binary}.source-sha256`, 'utf8').trim() === hash;
  } catch {
    return false;
  }
}

/** Whether this user could make `dir` (or write in it, if it exists), without making anything yet. */
function canWriteIn(dir: string): boolean {
  let existing = dir;
  while (!fs.existsSync(existing) && path.dirname(existing) !== existing) existing = path.dirname(existing);
  try {
    fs.accessSync(existing, fs.constants.W_OK);
    return fs.statSync(existing).isDirectory();
  } catch {
    return false;
  }
}

/** The per-user cache directory: $XDG_CACHE_HOME/hardsync, else ~/.cache/hardsync, else one in the temporary directory. */
function userCacheDir(): string {
  const xdg = process.env.XDG_CACHE_HOME;
  if (xdg && path.isAbsolute(xdg)) return path.join(xdg, 'hardsync');
  const home = os.homedir();
  if (home && fs.existsSync(home)) return path.join(home, '.cache', 'hardsync');
  return path.join(os.tmpdir(), `hardsync-cache-${process.getuid?.() ?? 'user'}`);
}

/** Checks the build tools before building, so a missing one is named instead of shown as a compiler log. */
function buildToolsMissing(): string | undefined {
  const install = 'Debian/Ubuntu: apt-get install gcc pkg-config libfuse3-dev fuse3; Fedora: dnf install gcc pkgconf fuse3-devel fuse3; Arch: pacman -S gcc pkgconf fuse3';
  const cc = process.env.CC?.split(/\s+/)[0] || 'cc';
  if (!(path.isAbsolute(cc) ? fs.existsSync(cc) : findExecutable(cc))) return `no C compiler (${cc}). ${install}`;
  const pkgConfig = findExecutable('pkg-config');
  if (!pkgConfig) return `no pkg-config. ${install}`;
  const probe = spawnSync(pkgConfig, ['--exists', 'fuse3'], { stdio: 'ignore' });
  if (probe.status !== 0) return `libfuse3's headers are not installed (pkg-config knows no fuse3). ${install}`;
  return undefined;
}

/** What {@link buildPowercut} reports while it works (the CLI prints it; the tests need not). */
export type BuildLog = (message: string) => void;

/**
 * The powercut-fs binary, built from the shipped source on first use. In order:
 * - `HARDSYNC_POWERCUT_FS`: a binary to use as it is;
 * - a fresh build (its stamp holds the source's hash) in `HARDSYNC_POWERCUT_CACHE` when set, else
 *   in the package's build/powercut/ (what the project's tests use) or the user's cache directory
 *   (~/.cache/hardsync, named by the source's hash);
 * - otherwise it builds one, in the first of those directories this user can write.
 * Throws {@link SimulatorUnavailable} when it cannot, naming what to install.
 */
export function buildPowercut(log?: BuildLog): string {
  const given = process.env.HARDSYNC_POWERCUT_FS;
  if (given) {
    try {
      fs.accessSync(given, fs.constants.X_OK);
    } catch {
      throw new SimulatorUnavailable(`HARDSYNC_POWERCUT_FS=${given} is not an executable file`);
    }
    return given;
  }
  const hash = sourceHash();
  const cache = process.env.HARDSYNC_POWERCUT_CACHE;
  const candidates = cache
    ? [path.join(cache, `powercut-fs-${hash.slice(0, 16)}`)]
    : [PACKAGE_BINARY, path.join(userCacheDir(), `powercut-fs-${hash.slice(0, 16)}`)];
  const fresh = candidates.find((binary) => isFresh(binary, hash));
  if (fresh) return fresh;
  const target = candidates.find((binary) => canWriteIn(path.dirname(binary)));
  if (!target) throw new SimulatorUnavailable(`cannot build the power-cut simulator: none of ${candidates.map((c) => path.dirname(c)).join(', ')} is writable (set HARDSYNC_POWERCUT_CACHE to a directory that is)`);
  const missing = buildToolsMissing();
  if (missing) throw new SimulatorUnavailable(`the power-cut simulator (a small FUSE filesystem in C) is built on first use, and cannot be: ${missing}`);
  log?.(`building the power-cut simulator (once) into ${target}`);
  fs.mkdirSync(path.dirname(target), { recursive: true });
  const result = spawnSync('sh', [BUILD_SCRIPT, target], { encoding: 'utf8' });
  if (result.status !== 0) {
    throw new SimulatorUnavailable(`building the power-cut simulator failed (needs cc, pkg-config, libfuse3-dev):\n${result.stderr}${result.stdout}`);
  }
  fs.writeFileSync(`${target}.source-sha256`, `${hash}\n`);
  return target;
}

/** The daemon's counters, from its control file. */
export interface PowercutStatus {
  state: 'running' | 'cut';
  armed: number;
  /** `arm-flush N`: flushes left before the cut (0: not armed). */
  armedFlush: number;
  /** `arm-write N`: writes left before the torn one (0: not armed). */
  armedWrite: number;
  ops: number;
  /** Write requests (a large write(2) reaches the daemon as several). */
  writes: number;
  fsyncs: number;
  fdatasyncs: number;
  dsyncWrites: number;
  fsyncdirs: number;
  cuts: number;
  reboots: number;
  failedAfterCut: number;
  /** Writes to the acknowledgements file that were recorded. */
  acks: number;
  /** A backing-tree call failed: the durable state is not what the model says. Must stay 0. */
  backingErrors: number;
  /** A case the model does not cover was met (see README). Must stay 0. */
  unmodelled: number;
  /** Lying mode: flushes report success and make nothing durable. */
  lie: boolean;
  /** Flushes that lied (counted while lying mode was on). */
  lies: number;
  /** Every flush sleeps this long before its work, in milliseconds (0: no delay); a fraction when set in microseconds. */
  delayMs: number;
  /** The same delay in microseconds. */
  delayUs: number;
  /** Mounted with `mmap`: files go through the kernel's page cache (shared mmap works). */
  mmap: boolean;
  /** mmap mode: file inodes whose cached pages the reboots told the kernel to drop. */
  invalidated: number;
  /** States in which a file holding the audited secret was readable by group or others. */
  violations: string[];
}

/** Flushes of every kind the status counts: fsync, fdatasync, O_DSYNC/O_SYNC writes, directory fsyncs. */
export function flushCount(status: PowercutStatus): number {
  return status.fsyncs + status.fdatasyncs + status.dsyncWrites + status.fsyncdirs;
}

function parseStatus(text: string): PowercutStatus {
  const fields = new Map<string, string>();
  const violations: string[] = [];
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq < 0) continue;
    const key = line.slice(0, eq);
    if (key === 'violation') violations.push(line.slice(eq + 1));
    else fields.set(key, line.slice(eq + 1));
  }
  const num = (key: string): number => {
    const value = Number(fields.get(key));
    if (!Number.isFinite(value)) throw new Error(`powercut-fs status lacks ${key}:\n${text}`);
    return value;
  };
  return {
    state: fields.get('state') === 'cut' ? 'cut' : 'running',
    armed: num('armed'),
    armedFlush: num('armed_flush'),
    armedWrite: num('armed_write'),
    ops: num('ops'),
    writes: num('writes'),
    fsyncs: num('fsyncs'),
    fdatasyncs: num('fdatasyncs'),
    dsyncWrites: num('dsync_writes'),
    fsyncdirs: num('fsyncdirs'),
    cuts: num('cuts'),
    reboots: num('reboots'),
    failedAfterCut: num('failed_after_cut'),
    acks: num('acks'),
    backingErrors: num('backing_errors'),
    unmodelled: num('unmodelled'),
    lie: fields.get('lie') === 'on',
    lies: num('lies'),
    delayMs: num('delay_ms'),
    delayUs: num('delay_us'),
    mmap: fields.get('mmap') === 'on',
    invalidated: num('invalidated'),
    violations: num('violations') > 0 ? violations.concat(Array(Math.max(0, num('violations') - violations.length)).fill('(more)')) : [],
  };
}

/** Mount options of {@link PowercutFs.mount}. */
export interface MountOptions {
  /** Mount in lying mode (`-o lie`). */
  lie?: boolean;
  /** Flush delay in milliseconds (`-o delay=MS`). */
  delayMs?: number;
  /** Flush delay in microseconds (`-o delay_us=US`); not together with `delayMs`. */
  delayUs?: number;
  /**
   * Files through the kernel's page cache instead of direct I/O (`-o mmap`), so that shared
   * mmap works (lmdb); a reboot drops the old boot's cached pages (see the README).
   */
  mmap?: boolean;
  /** Run this powercut-fs binary instead of the default build (a test's variant build). */
  binary?: string;
  /** Where the temporary directory (backing tree and mount point) is made; default os.tmpdir(). */
  parent?: string;
  /** FUSE's allow_other: other users (root included) may use the mount; a user needs user_allow_other in /etc/fuse.conf. */
  allowOther?: boolean;
  /** Called each time the power fails (an armed cut landing, or `cut`), from the daemon's notice (`-o notify`). */
  onCut?: () => void;
}

/** A mounted powercut-fs: the mount point, the backing directory, and the power switch. */
export class PowercutFs {
  private stderr = '';

  private constructor(
    /** Where programs see the live state. */
    readonly mountpoint: string,
    /** The durable state, as a plain directory tree (plus `.powercut-unnamed`). */
    readonly backing: string,
    /** The temporary directory holding both (removed by {@link unmount}). */
    readonly base: string,
    private readonly daemon: ChildProcess,
    private controlFd: number,
  ) {
    daemon.stderr?.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString();
    });
  }

  /**
   * Builds (if needed) and mounts a fresh powercut-fs on a temporary directory. `lie`, `mmap` and
   * `delayMs` / `delayUs` set the daemon's mount options `lie`, `mmap`, `delay=MS` and `delay_us=US`
   * (see its README); they can be changed later with {@link setLie}, {@link setDelay} and
   * {@link delayMicros}.
   */
  static async mount(options: MountOptions = {}): Promise<PowercutFs> {
    if (options.delayMs !== undefined && options.delayUs !== undefined) {
      throw new TypeError('powercut-fs mount: give delayMs or delayUs, not both');
    }
    const binary = options.binary ?? buildPowercut();
    const base = fs.mkdtempSync(path.join(options.parent ?? os.tmpdir(), 'hardsync-powercut-'));
    const backing = path.join(base, 'backing');
    const mountpoint = path.join(base, 'mnt');
    fs.mkdirSync(backing);
    fs.mkdirSync(mountpoint);
    const own: string[] = [];
    if (options.lie) own.push('lie');
    if (options.mmap) own.push('mmap');
    if (options.delayMs !== undefined) own.push(`delay=${options.delayMs}`);
    if (options.delayUs !== undefined) own.push(`delay_us=${options.delayUs}`);
    if (options.onCut) own.push('notify');
    if (options.allowOther) own.push('allow_other');
    const args = own.length > 0 ? ['-o', own.join(','), backing, mountpoint] : [backing, mountpoint];
    // Its own process group: a Ctrl-C on the terminal reaches the program that mounted it, which
    // unmounts in its own order (a workload first); the daemon also unmounts when that program dies.
    const daemon = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let early = '';
    daemon.stderr.on('data', (chunk: Buffer) => {
      early += chunk.toString();
    });
    const lines = readline.createInterface({ input: daemon.stdout });
    let ready = false;
    const mounted = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`powercut-fs did not mount within 10 s: ${early}`)), 10_000);
      lines.on('line', (line) => {
        if (line === 'ready' && !ready) {
          ready = true;
          clearTimeout(timer);
          resolve();
        } else if (line === 'cut' && ready) {
          options.onCut?.();
        }
      });
      // 'close', not 'exit': by then its stderr (why it refused to mount) has been read.
      daemon.once('close', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`powercut-fs exited (${code ?? signal}) before mounting: ${early.trim()}`));
      });
      daemon.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
    try {
      await mounted;
    } catch (error) {
      daemon.kill('SIGTERM');
      forceUnmount(mountpoint);
      fs.rmSync(base, { recursive: true, force: true });
      throw error;
    }
    const controlFd = fs.openSync(path.join(mountpoint, '.powercut'), 'r+');
    return new PowercutFs(mountpoint, backing, base, daemon, controlFd);
  }

  /** Sends one control command; throws if the daemon refused it. */
  command(line: string): void {
    fs.writeSync(this.controlFd, `${line}\n`);
  }

  /** Power fails now: every further operation fails with EIO until {@link reboot}. */
  cut(): void {
    this.command('cut');
  }

  /** Cuts (if not yet cut), drops everything not durable, and presents the durable state. */
  reboot(): void {
    this.command('reboot');
  }

  /** Makes the whole live state durable (a clean shutdown): the starting point of a run. */
  sync(): void {
    this.command('sync');
  }

  /** Cuts the power just before the `ops`-th filesystem operation from now (1 = the next one). */
  arm(ops: number): void {
    this.command(`arm ${ops}`);
  }

  /** Cuts the power right after the `flushes`-th flush from now returned (it is durable; the next operation fails). */
  armFlush(flushes: number): void {
    this.command(`arm-flush ${flushes}`);
  }

  /**
   * Cuts the power in the middle of the `writes`-th write request from now: its first half (whole
   * 512-byte sectors) is written, and is durable if the write was O_DSYNC/O_SYNC; it fails with EIO.
   */
  armWrite(writes: number): void {
    this.command(`arm-write ${writes}`);
  }

  /** Cancels every armed cut. */
  disarm(): void {
    this.command('disarm');
  }

  /**
   * Lines written to {@link ackFile} from now on are appended to `file` (created if needed), each
   * before its write returns; null: nowhere (such writes then fail with ENXIO).
   */
  recordAcks(file: string | null): void {
    this.command(file === null ? 'acks' : `acks ${file}`);
  }

  /**
   * A process group the daemon kills when it stops (null: none). The daemon stops when the
   * program that mounted it dies, so a workload outlives no crashtest, even one killed with SIGKILL.
   */
  guardGroup(pgid: number | null): void {
    this.command(pgid === null ? 'guard' : `guard ${pgid}`);
  }

  /** The acknowledgements file on the mount (outside the model: never counted, never durable state). */
  get ackFile(): string {
    return path.join(this.mountpoint, '.powercut-acks');
  }

  /** Audits every state for `secret`'s bytes in a file readable by group or others (null: stop). */
  audit(secret: Buffer | null): void {
    this.command(`secret ${secret ? secret.toString('hex') : ''}`.trimEnd());
  }

  /**
   * Lying mode on or off: while on, fsync, fdatasync, O_DSYNC/O_SYNC writes and directory
   * fsyncs report success and make nothing durable (a cache that ignores FLUSH).
   */
  setLie(on: boolean): void {
    this.command(`lie ${on ? 'on' : 'off'}`);
  }

  /** Every flush sleeps `ms` milliseconds before its work, in the daemon (0: no delay). */
  setDelay(ms: number): void {
    this.command(`delay ${ms}`);
  }

  /** Every flush sleeps `us` microseconds before its work, in the daemon (0: no delay). */
  delayMicros(us: number): void {
    this.command(`delay-us ${us}`);
  }

  /** The daemon's process id (to inspect it under /proc). */
  get pid(): number {
    return this.daemon.pid!;
  }

  /** Zeroes the counters and forgets the violations (lying mode and the delay stay as set). */
  reset(): void {
    this.command('reset');
  }

  /** The daemon's counters and the audit's findings (read through the open control fd: no path walk, no counted operation). */
  status(): PowercutStatus {
    const chunks: Buffer[] = [];
    for (let offset = 0; ; ) {
      const chunk = Buffer.alloc(65536);
      const got = fs.readSync(this.controlFd, chunk, 0, chunk.length, offset);
      if (got === 0) break;
      chunks.push(chunk.subarray(0, got));
      offset += got;
    }
    return parseStatus(Buffer.concat(chunks).toString('utf8'));
  }

  /** What the daemon wrote on stderr (backing errors, unmodelled cases). */
  get log(): string {
    return this.stderr;
  }

  /** Unmounts (the daemon's own clean unmount, forced after 5 s) and removes the temporary directory. */
  async unmount(): Promise<void> {
    if (this.controlFd >= 0) fs.closeSync(this.controlFd);
    this.controlFd = -1;
    if (this.daemon.exitCode === null && this.daemon.signalCode === null) {
      const exited = new Promise<void>((resolve) => this.daemon.once('exit', () => resolve()));
      this.daemon.kill('SIGTERM');
      const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 5000).unref());
      if ((await Promise.race([exited, timeout])) === 'timeout') {
        forceUnmount(this.mountpoint);
        this.daemon.kill('SIGKILL');
        await exited;
      }
    }
    forceUnmount(this.mountpoint);
    fs.rmSync(this.base, { recursive: true, force: true });
  }

  /**
   * The same, synchronously, for an `exit` handler: no waiting for the daemon, a lazy unmount
   * instead (the kernel detaches the mount at once; the daemon, told to stop, ends with it).
   */
  unmountNow(): void {
    if (this.controlFd >= 0) {
      try {
        fs.closeSync(this.controlFd);
      } catch {
        // already gone with the connection
      }
      this.controlFd = -1;
    }
    if (this.daemon.exitCode === null && this.daemon.signalCode === null) this.daemon.kill('SIGTERM');
    forceUnmount(this.mountpoint);
    fs.rmSync(this.base, { recursive: true, force: true });
  }
}

/** Detaches a FUSE mount if it is still there (root: umount -l; a user: fusermount3 -u -z). */
export function forceUnmount(mountpoint: string): void {
  if (!isMounted(mountpoint)) return;
  if (process.getuid?.() === 0) spawnSync('umount', ['-l', mountpoint], { stdio: 'ignore' });
  else spawnSync('fusermount3', ['-u', '-z', mountpoint], { stdio: 'ignore' });
}

/** Whether something is mounted at `mountpoint` (per /proc/self/mounts; octal escapes as the kernel writes them). */
export function isMounted(mountpoint: string): boolean {
  let table: string;
  try {
    table = fs.readFileSync('/proc/self/mounts', 'utf8');
  } catch {
    return false;
  }
  const escaped = mountpoint.replace(/[\\ \t\n]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`);
  return table.split('\n').some((line) => line.split(' ')[1] === escaped);
}
