// powercut-fs's mmap mode (`-o mmap`, powercut/README.md): files go through the
// kernel's page cache so that shared mmap works (lmdb needs it). What must hold: stores through a
// shared mapping become durable at msync(MS_SYNC) / fsync and not before; a reboot leaves no
// pre-cut page in the kernel's cache (old fds read EIO, old mappings fault); without `-o mmap`
// nothing changes (shared mmap is refused as before). The negative control runs a build without
// the reboot's page-cache invalidation and must see the unflushed store through the old fd.
// Node has no mmap: test/fixtures/powercut/mmap-probe.py maps the files.
import { execFile, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as hs from '../dist/lib/index.js';
import { PowercutFs, powercutUnavailable } from './helpers/powercut';

const PROBE = path.join(__dirname, 'fixtures', 'powercut', 'mmap-probe.py');
const BUILD_SCRIPT = path.join(__dirname, 'tools', 'powercut', 'build.sh');

function whyNot(): string | undefined {
  const base = powercutUnavailable();
  if (base) return base;
  if (spawnSync('python3', ['-c', 'import mmap'], { stdio: 'ignore' }).status !== 0) return 'the mmap probe needs python3';
  return undefined;
}
const unavailable = whyNot();
if (unavailable) console.warn(`[powercut] skipped: ${unavailable}`);

/** Runs the probe to completion: stdout, or throws with its stderr. */
function probe(...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('python3', [PROBE, ...args], { timeout: 30_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`mmap-probe ${args.join(' ')}: ${error.signal ?? error.code} ${stderr}`));
      else resolve(stdout.trimEnd());
    });
  });
}

/** What a process of the old boot sees after the reboot, through its fd and its mapping. */
interface OldBootView {
  lines: string[];
  signal: NodeJS.Signals | null;
}

/**
 * A process maps `file` and stores `text` at offset 0 without flushing; the power is cut and
 * the machine rebooted while it still holds the fd and the mapping; then it reads both.
 */
async function oldBootView(pfs: PowercutFs, file: string, text: string): Promise<OldBootView> {
  const child = spawn('python3', [PROBE, 'hold', file, '0', text], { stdio: ['pipe', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('close', (_code, signal) => resolve(signal)));
  const stored = new Promise<void>((resolve, reject) => {
    readline.createInterface({ input: child.stdout }).on('line', (line) => {
      lines.push(line);
      if (line === 'stored') resolve();
    });
    child.once('close', () => reject(new Error(`mmap-probe hold exited before storing: ${stderr}`)));
  });
  await stored;
  pfs.reboot();
  child.stdin.end('go\n');
  const signal = await exited;
  return { lines: lines.slice(1), signal };
}

describe.skipIf(unavailable !== undefined)('powercut-fs -o mmap', () => {
  let pfs: PowercutFs;
  let counter = 0;

  beforeAll(async () => {
    pfs = await PowercutFs.mount({ mmap: true });
  });
  afterAll(async () => {
    await pfs?.unmount();
  });

  /** A durable 8 KiB file of 'A's in a fresh durable directory. */
  function freshFile(on: PowercutFs = pfs): string {
    const dir = path.join(on.mountpoint, `m${++counter}`);
    fs.mkdirSync(dir);
    const file = path.join(dir, 'f');
    fs.writeFileSync(file, Buffer.alloc(8192, 'A'));
    on.sync();
    return file;
  }

  function healthy(on: PowercutFs = pfs): void {
    const status = on.status();
    expect(status.backingErrors, on.log).toBe(0);
    expect(status.unmodelled, on.log).toBe(0);
  }

  it('says so in its status', () => {
    expect(pfs.status().mmap).toBe(true);
  });

  it('a store through a shared mapping is durable after msync(MS_SYNC) or fsync, and lost at a cut without', async () => {
    const synced = freshFile();
    const fsynced = freshFile();
    const unflushed = freshFile();
    pfs.reset();
    await probe('write', synced, '4096', 'msync', 'msync');
    await probe('write', fsynced, '100', 'fsync', 'fsync');
    await probe('write', unflushed, '0', 'lost', 'none');
    // Live: all three, read through the page cache and through a fresh mapping.
    expect(fs.readFileSync(unflushed).subarray(0, 4).toString()).toBe('lost');
    expect(await probe('read', unflushed, '0', '4')).toBe('lost');
    // msync(MS_SYNC) reaches the daemon as an fdatasync of the file, fsync as an fsync, each
    // after the kernel wrote the dirty pages back.
    const status = pfs.status();
    expect(status.fdatasyncs).toBeGreaterThanOrEqual(1);
    expect(status.fsyncs).toBeGreaterThanOrEqual(1);
    pfs.cut();
    pfs.reboot();
    expect(await probe('read', synced, '4096', '5')).toBe('msync');
    expect(await probe('read', fsynced, '100', '5')).toBe('fsync');
    expect(await probe('read', unflushed, '0', '4')).toBe('AAAA');
    expect(fs.readFileSync(unflushed).equals(Buffer.alloc(8192, 'A'))).toBe(true);
    healthy();
  });

  it('write(2) stays write-through: the daemon has it at once, a flush makes it durable', async () => {
    const file = freshFile();
    const other = freshFile();
    const fd = fs.openSync(file, 'r+');
    fs.writeSync(fd, 'flushed', 10);
    hs.fdatasyncSync(fd);
    fs.closeSync(fd);
    fs.writeFileSync(other, 'unflushed');
    // A fresh mapping sees what write(2) wrote (one page cache for both).
    expect(await probe('read', file, '10', '7')).toBe('flushed');
    pfs.reboot();
    expect(await probe('read', file, '10', '7')).toBe('flushed');
    expect(fs.readFileSync(other).equals(Buffer.alloc(8192, 'A'))).toBe(true);
    healthy();
  });

  it('a reboot drops the old boot\'s cached pages: its fds read EIO, its mappings fault', async () => {
    const file = freshFile();
    const before = pfs.status().invalidated;
    const view = await oldBootView(pfs, file, 'EEEE');
    expect(view.lines[0]).toBe('pread ERR EIO');
    // The mapping's page is gone: touching it asks the daemon, which refuses the stale node.
    expect(view.signal).toBe('SIGBUS');
    expect(pfs.status().invalidated).toBeGreaterThan(before);
    expect(await probe('read', file, '0', '4')).toBe('AAAA');
    healthy();
  });

  it('negative control: a build without that invalidation lets the old boot read its unflushed store', { timeout: 120_000 }, async () => {
    const binary = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'hardsync-pcfs-keep-')), 'powercut-fs');
    await new Promise<void>((resolve, reject) => {
      execFile('sh', [BUILD_SCRIPT, binary], { env: { ...process.env, CC: `${process.env.CC ?? 'cc'} -DPOWERCUT_KEEP_PAGE_CACHE` } }, (error, _out, stderr) =>
        error ? reject(new Error(`building the variant failed: ${stderr}`)) : resolve(),
      );
    });
    const keep = await PowercutFs.mount({ mmap: true, binary });
    try {
      const file = freshFile(keep);
      const view = await oldBootView(keep, file, 'EEEE');
      // Exactly what the real build's test above refuses: the pre-cut page, served from the cache.
      expect(view.lines).toEqual(['pread OK EEEE', 'map EEEE']);
      expect(view.signal).toBe(null);
      expect(keep.status().invalidated).toBe(0);
      // A new open after the reboot is a new inode either way: it never sees the old pages.
      expect(await probe('read', file, '0', '4')).toBe('AAAA');
      healthy(keep);
    } finally {
      await keep.unmount();
      fs.rmSync(path.dirname(binary), { recursive: true, force: true });
    }
  });

  it('without -o mmap nothing changes: a shared mapping is refused (ENODEV)', async () => {
    const plain = await PowercutFs.mount();
    try {
      expect(plain.status().mmap).toBe(false);
      const file = freshFile(plain);
      await expect(probe('read', file, '0', '4')).rejects.toThrow(/No such device|ENODEV|Errno 19/);
      healthy(plain);
    } finally {
      await plain.unmount();
    }
  });
});
