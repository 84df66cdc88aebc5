// writeFileAtomic's temp files after kill -9: the next write of the target (and
// cleanupAtomicTemps) removes the temps of writers that are gone, and never a live writer's,
// nor another target's, nor a file whose name does not say who wrote it.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as hs from '../dist/lib/index.js';
import { diskTempDir } from './helpers/tmp';

const root = path.resolve(__dirname, '..');
let dir: string;
let cleanup: () => void;
const children: ChildProcess[] = [];

beforeAll(() => {
  ({ dir, cleanup } = diskTempDir('hardsync-temps-'));
});
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});
afterAll(() => cleanup());

/** Temps of `target` now in its directory: this format and the one before (18 hex digits). */
function tempsOf(target: string): string[] {
  const prefix = `.${path.basename(target)}.`;
  const rest = /^(hs1-[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}-\d+-\d+-[0-9a-f]{12}|[0-9a-f]{18})\.tmp$/;
  return fs.readdirSync(path.dirname(target)).filter((name) => name.startsWith(prefix) && rest.test(name.slice(prefix.length))).sort();
}

/** A child blocked in the middle of writeFileAtomic(target): resolves once its temp exists. */
function blockedWriter(target: string): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(__dirname, 'fixtures', 'atomic-temps', 'writer.js'), target], {
      env: { ...process.env, HARDSYNC_ROOT: root },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let out = '';
    let err = '';
    child.stdout!.on('data', (chunk) => {
      out += chunk;
      if (out.includes('blocked\n')) resolve(child);
    });
    child.stderr!.on('data', (chunk) => (err += chunk));
    child.on('exit', (code, signal) => reject(new Error(`writer exited (${code ?? signal}) before blocking: ${err}`)));
  });
}

/** SIGKILL, and wait until the process is gone (reaped: no zombie left). */
function kill9(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

/** The one temp `child` made for `target`: the temps after it blocked minus those before. */
async function startWriter(target: string): Promise<{ child: ChildProcess; temp: string }> {
  const before = new Set(tempsOf(target));
  const child = await blockedWriter(target);
  const made = tempsOf(target).filter((name) => !before.has(name));
  expect(made).toHaveLength(1);
  return { child, temp: made[0] };
}

/** The fields of a temp name, as README.md's "Temp files" gives the pattern. */
const PATTERN = /^\.(.+)\.hs1-([0-9a-f]{8})-([0-9a-f]{8})-([0-9a-f]{8})-(\d+)-(\d+)-([0-9a-f]{12})\.tmp$/;

describe('temp files left by a writer killed mid-write', () => {
  it('the next write removes a killed writer\'s temp, never a live writer\'s nor another target\'s', async () => {
    const target = path.join(dir, 'config.json');
    const other = path.join(dir, 'config.json.bak');
    fs.writeFileSync(target, 'old');

    const killed = await startWriter(target);
    const live = await startWriter(target);
    const otherKilled = await startWriter(other);
    // The name says who wrote it: this pid, started then.
    expect(killed.temp).toMatch(PATTERN);
    expect(Number(PATTERN.exec(killed.temp)![5])).toBe(killed.child.pid);
    expect(Number(PATTERN.exec(live.temp)![5])).toBe(live.child.pid);
    await kill9(killed.child);
    await kill9(otherKilled.child);
    // A temp of the format before this one (which names no writer) is never touched either.
    const legacy = `.config.json.${'ab'.repeat(9)}.tmp`;
    fs.writeFileSync(path.join(dir, legacy), 'legacy');
    expect(tempsOf(target)).toEqual([killed.temp, live.temp, legacy].sort());

    await hs.writeFileAtomic(target, 'new');

    expect(fs.readFileSync(target, 'utf8')).toBe('new');
    expect(tempsOf(target)).toEqual([live.temp, legacy].sort());
    expect(tempsOf(other)).toEqual([otherKilled.temp]);
    // The live writer's temp is still its open file: it is the same inode the child holds.
    const liveFd = fs.readdirSync(`/proc/${live.child.pid}/fd`).map((fd) => {
      try {
        return fs.readlinkSync(`/proc/${live.child.pid}/fd/${fd}`);
      } catch {
        return '';
      }
    });
    expect(liveFd).toContain(path.join(dir, live.temp));

    // Once the live writer is killed too, the Sync form cleans its temp on the next write.
    await kill9(live.child);
    hs.writeFileAtomicSync(target, 'newer');
    expect(tempsOf(target)).toEqual([legacy]);

    // The other target's stale temp goes with an explicit cleanup of that target.
    expect(await hs.cleanupAtomicTemps(other)).toEqual([path.join(dir, otherKilled.temp)]);
    expect(tempsOf(other)).toEqual([]);
    expect(await hs.cleanupAtomicTemps(other)).toEqual([]);
  });

  it('judges a temp by its writer\'s identity: pid reuse, boot, pid namespace, machine', async () => {
    const target = path.join(dir, 'state.bin');
    const live = await startWriter(target);
    const [, base, machine, boot, pidns, pid, start] = PATTERN.exec(live.temp)!;
    const name = (fields: { machine?: string; boot?: string; pidns?: string; start?: string }, random: string) =>
      `.${base}.hs1-${fields.machine ?? machine}-${fields.boot ?? boot}-${fields.pidns ?? pidns}-${pid}-${fields.start ?? start}-${random}.tmp`;
    const otherHex = (hex: string) => (hex === 'ffffffff' ? 'fffffffe' : 'ffffffff');
    const crafted = {
      // The live writer's pid, but another start time: that pid now is another process.
      pidReused: name({ start: String(Number(start) + 1) }, 'aaaaaaaaaaaa'),
      // This machine, a boot that has ended: every writer of that boot is gone.
      earlierBoot: name({ boot: otherHex(boot) }, 'bbbbbbbbbbbb'),
      // The live writer exactly (another temp of the same process): kept.
      sameWriter: name({}, 'cccccccccccc'),
      // Another pid namespace (another container): its pids cannot be checked from here.
      otherNamespace: name({ pidns: otherHex(pidns), start: '1' }, 'dddddddddddd'),
      // Another machine sharing the directory, in another boot: cannot be checked.
      otherMachine: name({ machine: otherHex(machine), boot: otherHex(boot) }, 'eeeeeeeeeeee'),
    };
    for (const file of Object.values(crafted)) fs.writeFileSync(path.join(dir, file), 'x');
    // A directory with a stale name is not a temp file: left alone.
    const staleDir = name({ start: String(Number(start) + 2) }, 'ffffffffffff');
    fs.mkdirSync(path.join(dir, staleDir));

    const removed = hs.cleanupAtomicTempsSync(target).map((file) => path.basename(file)).sort();

    expect(removed).toEqual([crafted.pidReused, crafted.earlierBoot].sort());
    expect(tempsOf(target)).toEqual([live.temp, crafted.sameWriter, crafted.otherNamespace, crafted.otherMachine, staleDir].sort());
    await kill9(live.child);
    // Now the writer is gone: its two temps go, the uncheckable ones stay.
    expect((await hs.cleanupAtomicTemps(target)).map((file) => path.basename(file)).sort()).toEqual([live.temp, crafted.sameWriter].sort());
  });

  it('keeps temp names within NAME_MAX for long target names, and cleans those too', async () => {
    const longName = `${'世'.repeat(80)}.json`; // 244 UTF-8 bytes: a legal name, too long to embed whole
    const target = path.join(dir, longName);
    const { child, temp } = await startWriterLong(target);
    expect(Buffer.byteLength(temp)).toBeLessThanOrEqual(255);
    await kill9(child);
    expect(await hs.cleanupAtomicTemps(target)).toEqual([path.join(dir, temp)]);
    await hs.writeFileAtomic(target, 'x');
    expect(fs.readFileSync(target, 'utf8')).toBe('x');
  });

  it('rejects a missing directory with node:fs\'s error, and refuses bad arguments', async () => {
    await expect(hs.cleanupAtomicTemps(path.join(dir, 'missing', 'file'))).rejects.toMatchObject({ code: 'ENOENT', syscall: 'scandir' });
    expect(() => hs.cleanupAtomicTempsSync(5 as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
  });
});

/** startWriter for a target whose temps do not start with its whole name. */
async function startWriterLong(target: string): Promise<{ child: ChildProcess; temp: string }> {
  const before = new Set(fs.readdirSync(dir));
  const child = await blockedWriter(target);
  const made = fs.readdirSync(dir).filter((name) => !before.has(name) && name.endsWith('.tmp'));
  expect(made).toHaveLength(1);
  return { child, temp: made[0] };
}
