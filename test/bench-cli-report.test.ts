// The CLI as a newcomer meets it: the answer in the first lines on a terminal, every line within
// the width (COLUMNS, or 80 on a pipe), the table streamed on a pipe so that a killed run keeps
// what it printed, and the small habits (no command, -v, compare with one file, pg's -f).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PG_HEADERS } from '../dist/bench/measure/pg.js';
import { CLI, haveScript, runCli, startCli } from './fixtures/bench/run-cli';
import { tempDir } from './helpers/tmp';

const work = tempDir('hs-cli-report-');
const fixtures = path.join(__dirname, 'fixtures', 'bench');

function freshDir(name: string): string {
  const dir = path.join(work, name);
  fs.mkdirSync(dir);
  return dir;
}

/** The page-cache write's row of the table. */
const PAGE_CACHE_ROW = /^write( only \(page cache\))?\*!? +overwrite +8k /m;

// A short suite: the page-cache write and two flushes at 8 KiB, three rounds.
const SHORT = ['--quick', '--methods', 'write,fdatasync,fsync', '--sizes', '8k'];


/** The report as a terminal shows it: progress lines dropped (each ends where the next clears it). */
function screen(raw: string): string[] {
  return raw.replace(/\r\n/g, '\n').split('\n').map((line) => line.split('\r\x1b[2K').pop() as string);
}

describe.skipIf(!haveScript)('hardsync bench on a 100-column terminal (script(1), COLUMNS=100)', () => {
  it('answers in its first ten lines, and no line is wider than 100', async () => {
    const dir = freshDir('tty100');
    const child = spawn('script', ['-qfec', [process.execPath, CLI, 'bench', dir, ...SHORT].map((a) => `'${a}'`).join(' '), '/dev/null'], {
      stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, COLUMNS: '100' },
    });
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    expect(await new Promise((resolve) => child.on('close', resolve))).toBe(0);
    const lines = screen(out).filter((line, i, all) => i < all.length - 1 || line !== '');
    const start = lines.findIndex((l) => l.startsWith('hardsync bench: '));
    expect(start).toBeGreaterThanOrEqual(0);
    const report = lines.slice(start);
    for (const line of report) expect(line.length, line).toBeLessThanOrEqual(100);
    const first = report.slice(0, 10).join('\n');
    // The sentence wraps at 100 wherever its figures put the break (an interval after the
    // ratio moves "durable:" to the next line), so any space may be a line break.
    expect(first, report.join('\n')).toMatch(/At\s+8k\s+\(overwrite\),\s+a\s+durable\s+write\s+costs\s+(about\s+)?\d+(\.\d)?x/);
    expect(first, report.join('\n')).toMatch(/Cheapest\s+durable:\s+write\+f(data)?sync/);
    expect(fs.readdirSync(dir)).toEqual([]);
  });
});

describe('hardsync bench on a pipe', () => {
  it('prints the header first, a row per case as it ends, then the answer; no line over 80', async () => {
    const dir = freshDir('pipe');
    const run = await runCli(['bench', dir, ...SHORT]);
    expect(run.code).toBe(0);
    expect(run.stderr).toBe('');
    const lines = run.stdout.split('\n');
    for (const line of lines) expect(line.length, line).toBeLessThanOrEqual(80);
    expect(lines[0]).toMatch(/^hardsync bench: /);
    const header = lines.findIndex((l) => /^method +mode +size +ops\/s +p50 +p99 +x pc$/.test(l));
    const answer = lines.findIndex((l) => l.startsWith('At 8k (overwrite)'));
    expect(header).toBeGreaterThan(0);
    expect(answer).toBeGreaterThan(header + 4);
    // methods by label when they fit, by id otherwise; "*" not durable, "!" unstable
    const rows = lines.slice(header + 2, header + 5);
    expect(rows[0]).toMatch(PAGE_CACHE_ROW);
    expect(rows[1]).toMatch(/^(write\+)?fdatasync!? +overwrite +8k /);
    expect(rows[2]).toMatch(/^(write\+)?fsync!? +overwrite +8k /);
  });

  it('keeps what it printed when it is killed: the header and the cases that had ended', async () => {
    const dir = freshDir('killed');
    // Two rounds of 1.5 s per case: the page-cache write's row is out after its second round,
    // while the two flushes still have theirs to run.
    const { child, done } = startCli(['bench', dir, '--methods', 'write,fdatasync,fsync', '--sizes', '8k', '--rounds', '2', '--duration', '3']);
    let out = '';
    child.stdout?.on('data', (chunk) => (out += chunk));
    const deadline = Date.now() + 60_000;
    while (!PAGE_CACHE_ROW.test(out) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    child.kill('SIGTERM');
    const run = await done;
    expect(run.code).toBe(143);
    expect(run.stdout).toMatch(/^hardsync bench: /);
    expect(run.stdout).toMatch(/^method +mode/m);
    expect(run.stdout).toMatch(PAGE_CACHE_ROW);
    expect(run.stdout).not.toMatch(/^At 8k/m);
    expect(run.stderr).toMatch(/interrupted \(SIGTERM\)/);
    expect(fs.readdirSync(dir)).toEqual([]);
  }, 90_000);
});

describe('small CLI habits', () => {
  it('no command: the usage on standard error, exit 2', async () => {
    const run = await runCli([]);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/^usage: hardsync <command>/);
    for (const line of run.stderr.split('\n')) expect(line.length, line).toBeLessThanOrEqual(80);
  });

  it('-v is --version', async () => {
    const short = await runCli(['-v']);
    const long = await runCli(['--version']);
    expect(short.code).toBe(0);
    expect(short.stdout).toMatch(/^hardsync \d+\.\d+\.\d+/);
    expect(short.stdout).toBe(long.stdout);
  });

  it('compare with one file is a usage error', async () => {
    const run = await runCli(['compare', path.join(fixtures, 'v2-ext4-a.json')]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/compare needs at least two result files/);
    expect(run.stdout).toBe('');
  });

  it("pg takes pg_test_fsync's -f and -s, removes its file, and ends with a wal_sync_method", async () => {
    const dir = freshDir('pg-f');
    const file = path.join(dir, 'pgfile');
    const run = await runCli(['pg', '-f', file, '--duration', '0.05']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    for (const header of Object.values(PG_HEADERS)) expect(run.stdout).toContain(header.split('\n')[1]);
    expect(run.stdout).toMatch(/\nwal_sync_method( = \w+|: no recommendation)\nWhy: /);
    expect(fs.readdirSync(dir)).toEqual([]);
    // an existing file is never written over
    fs.writeFileSync(file, 'keep me');
    const refused = await runCli(['pg', '-f', file, '-s', '1']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/the file exists/);
    expect(fs.readFileSync(file, 'utf8')).toBe('keep me');
    expect((await runCli(['pg', dir, '-f', path.join(dir, 'other')])).code).toBe(2);
    expect((await runCli(['pg', '-s', '0.5'])).code).toBe(2);
  });
});
