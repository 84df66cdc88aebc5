// Leaks: 1,000,000 sync calls, 100,000 async calls and 100,000 aligned allocations must leave
// memory flat after GC (test/fixtures/leak/child.js does the work, in a child run with
// --expose-gc; see there for the mix of calls).
//
// Bounds, per phase, after a warm-up of a tenth of each workload:
//   RSS growth < 16 MiB for the call phases: a leak of 16 bytes per sync call or 160 bytes per
//     async call would exceed it; what is seen here is 0-3 MiB (malloc and V8 growing their
//     pools in steps, not per call);
//   RSS growth < 64 MiB for the allocation phase: a buffer that is never freed leaks >= 4 KiB,
//     so 100k of them would add >= 400 MiB, and any leak of >= 700 bytes per allocation
//     exceeds the bound. It is wider than the others because 460 MiB of 4.6 KiB chunks churn
//     through malloc, whose heap keeps whatever pages fragmentation pins (seen: 3-17 MiB, once
//     16.9 MiB in CI, which failed a 16 MiB bound). Smaller per-allocation leaks (a lost
//     finalizer hint) are LeakSanitizer's to find, in the sanitized run;
//   external and arrayBuffers growth < 1 MiB; V8 heap growth < 4 MiB.
// Under AddressSanitizer (HARDSYNC_SANITIZED=1, set by scripts/asan/run.sh) freed memory sits in
// ASan's quarantine, so RSS says nothing there; instead LeakSanitizer runs in the child and
// no leak report may point into the addon (any stack with a hardsync frame, namespace hs::).
// The child measures RSS once it has stopped falling after GC (V8 frees ArrayBuffer memory
// on a background thread), which keeps the noise seen here under 6 MiB even on a busy machine.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect, it } from 'vitest';
import { spawnAsync } from './helpers/spawn';
import { removeTempDir, tempDir } from './helpers/tmp';

const CHILD = path.join(__dirname, 'fixtures', 'leak', 'child.js');
const MiB = 1024 * 1024;
const sanitized = process.env.HARDSYNC_SANITIZED === '1';
// The hang guards stretch with the sanitized build's slowdown.
const SLOWDOWN = sanitized ? 3 : 1;

interface Usage {
  rss: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}
interface LeakResult {
  counts: { sync: number; async: number; allocations: number };
  before: Usage;
  afterSync: Usage;
  afterAsync: Usage;
  after: Usage;
  seconds: number;
}

it('1M sync calls, 100k async calls and 100k aligned allocations leave memory flat', async () => {
  // tmpfs where there is one: the calls measure hardsync, not the disk.
  const base = fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();
  const dir = tempDir('hardsync-leak-', base);
  try {
    const lsanLog = path.join(dir, 'lsan');
    const env = { ...process.env };
    if (sanitized) {
      env.ASAN_OPTIONS = `${(env.ASAN_OPTIONS ?? '').replace(/(^|:)detect_leaks=\d/g, '')}:detect_leaks=1`;
      env.LSAN_OPTIONS = `exitcode=0:log_path=${lsanLog}`;
    }
    // Asynchronously: the child runs 1.5 minutes on a loaded machine, and a spawnSync would
    // stop this worker's event loop (and vitest's RPC) for all of it.
    const child = await spawnAsync(process.execPath, ['--expose-gc', CHILD, JSON.stringify({ dir, scale: 1 })], { timeout: 280_000 * SLOWDOWN, env });
    const context = `exit ${child.status} ${child.signal ?? ''}\n${child.stderr}`;
    expect(child.status, context).toBe(0);
    const result = JSON.parse(child.stdout.trim().split('\n').pop()!) as LeakResult;
    const growth = (from: Usage, to: Usage) => ({
      rss: (to.rss - from.rss) / MiB,
      heapUsed: (to.heapUsed - from.heapUsed) / MiB,
      external: (to.external - from.external) / MiB,
      arrayBuffers: (to.arrayBuffers - from.arrayBuffers) / MiB,
    });
    const phases = {
      [`${result.counts.sync} sync calls`]: growth(result.before, result.afterSync),
      [`${result.counts.async} async calls`]: growth(result.afterSync, result.afterAsync),
      [`${result.counts.allocations} allocAligned`]: growth(result.afterAsync, result.after),
    };
    const rssBound: Record<string, number> = {
      [`${result.counts.sync} sync calls`]: 16,
      [`${result.counts.async} async calls`]: 16,
      [`${result.counts.allocations} allocAligned`]: 64,
    };
    const total = growth(result.before, result.after);
    const show = (g: ReturnType<typeof growth>) =>
      `RSS ${g.rss.toFixed(2)} MiB, heap ${g.heapUsed.toFixed(2)} MiB, external ${g.external.toFixed(3)} MiB, arrayBuffers ${g.arrayBuffers.toFixed(3)} MiB`;
    console.log(
      `[leak] ${result.seconds.toFixed(1)} s; baseline RSS ${(result.before.rss / MiB).toFixed(1)} MiB\n` +
        Object.entries(phases).map(([name, g]) => `[leak] ${name}: ${show(g)}`).join('\n') +
        `\n[leak] total: ${show(total)}${sanitized ? ' (sanitized build: RSS not checked)' : ''}`,
    );
    expect(result.counts).toEqual({ sync: 1_000_000, async: 100_000, allocations: 100_000 });
    if (sanitized) {
      const reports = fs.readdirSync(dir).filter((name) => name.startsWith('lsan')).map((name) => fs.readFileSync(path.join(dir, name), 'utf8'));
      const leaks = reports.join('\n').split(/\n(?=(?:Direct|Indirect) leak)/).filter((block) => /hs::|hardsync/.test(block));
      console.log(`[leak] LeakSanitizer: ${reports.length} report file(s), ${leaks.length} leak(s) with an addon frame`);
      expect(leaks, 'LeakSanitizer reports pointing into the addon').toEqual([]);
    }
    for (const [name, g] of Object.entries(phases)) {
      if (!sanitized) expect(g.rss, `${name}: RSS growth (MiB)`).toBeLessThan(rssBound[name]!);
      expect(g.heapUsed, `${name}: V8 heap growth (MiB)`).toBeLessThan(4);
      expect(g.external, `${name}: external memory growth (MiB)`).toBeLessThan(1);
      expect(g.arrayBuffers, `${name}: ArrayBuffer memory growth (MiB)`).toBeLessThan(1);
    }
  } finally {
    removeTempDir(dir);
  }
}, 300_000 * SLOWDOWN);
