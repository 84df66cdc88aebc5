import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PG_HEADERS, pgLabel, pgNa, pgOps } from '../dist/bench/measure/pg.js';
import { readBenchFile } from '../dist/bench/measure/schema.js';
import { runCli } from './fixtures/bench/run-cli';
import { spawnAsync } from './helpers/spawn';
import { tempDir } from './helpers/tmp';

const PG_TEST_FSYNC = '/usr/lib/postgresql/15/bin/pg_test_fsync';
const hasPg = fs.existsSync(PG_TEST_FSYNC);

/** A pg_test_fsync output reduced to its shape: figures replaced, labels and layout kept. */
function shape(text: string): string[] {
  return text
    .split('\n')
    .map((line) => line
      .replace(/^\d+ seconds? per test$/, '<N> seconds per test')
      .replace(/^( {8}.{30})\s*[\d.]+ ops\/sec\s+\d+ usecs\/op( {2}unstable)?$/, '$1<ops>')
      .replace(/^( {8}.{30})\s+n\/a\*?$/, '$1<ops>'));
}

describe('hardsync pg output format', () => {
  it("uses pg_test_fsync's printf formats", () => {
    expect(pgLabel('open_datasync') + pgOps(7964.0841, 125.56)).toBe('        open_datasync                      7964.084 ops/sec     126 usecs/op\n');
    expect(pgLabel('fsync_writethrough') + pgNa('n/a')).toBe('        fsync_writethrough                              n/a\n');
    expect(pgLabel('write') + pgOps(1640681.2954, 0.6)).toBe('        write                           1640681.295 ops/sec       1 usecs/op\n');
  });

  it('prints the five sections, in order, with every line shaped like pg_test_fsync', async () => {
    const dir = tempDir('hs-pg-');
    const json = path.join(dir, 'pg.json');
    const run = await runCli(['pg', dir, '--duration', '0.05', '--json', json]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const lines = run.stdout.split('\n');
    const headerAt = Object.values(PG_HEADERS).map((h) => lines.indexOf(h.split('\n')[1]));
    expect(headerAt.every((at) => at > 0)).toBe(true);
    expect([...headerAt].sort((a, b) => a - b)).toEqual(headerAt);
    const measured = lines.filter((l) => /^ {8}.{30}\s*[\d.]+ ops\/sec\s+\d+ usecs\/op( {2}unstable)?$/.test(l) || /^ {8}.{30}\s+n\/a\*?$/.test(l));
    expect(measured).toHaveLength(5 + 5 + 5 + 2 + 1);
    expect(measured.map((l) => l.slice(8, 38).trim())).toEqual([
      'open_datasync', 'fdatasync', 'fsync', 'fsync_writethrough', 'open_sync',
      'open_datasync', 'fdatasync', 'fsync', 'fsync_writethrough', 'open_sync',
      '1 * 16kB open_sync write', '2 *  8kB open_sync writes', '4 *  4kB open_sync writes', '8 *  2kB open_sync writes', '16 *  1kB open_sync writes',
      'write, fsync, close', 'write, close, fsync', 'write',
    ]);
    const doc = readBenchFile(json);
    expect(doc.kind).toBe('pg');
    expect(doc.results).toHaveLength(18);
    expect(fs.readdirSync(dir)).toEqual(['pg.json']);
    fs.rmSync(dir, { recursive: true });
  });

  it.skipIf(!hasPg)('matches the real pg_test_fsync line for line (skipped without postgresql-15)', async () => {
    const dir = tempDir('hs-pg-');
    // Asynchronously: pg_test_fsync runs its 16 one-second tests, longer on a loaded disk.
    const real = await spawnAsync(PG_TEST_FSYNC, ['-s', '1', '-f', path.join(dir, 'pg.out')]);
    expect(real.status, real.stderr).toBe(0);
    const theirs = real.stdout;
    fs.rmSync(path.join(dir, 'pg.out'), { force: true });
    const ours = await runCli(['pg', dir, '-s', '1']);
    expect(ours.code).toBe(0);
    // pg_test_fsync's lines, then what hardsync adds after them: the wal_sync_method it would choose
    const end = ours.stdout.indexOf('\nwal_sync_method');
    expect(end).toBeGreaterThan(0);
    expect(shape(ours.stdout.slice(0, end))).toEqual(shape(theirs));
    fs.rmSync(dir, { recursive: true });
  });
});
