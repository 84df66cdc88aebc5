import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as hs from '../dist/lib/index.js';
import { readBenchFile, SCHEMA } from '../dist/bench/measure/schema.js';
import { CLI, haveScript, runCli, startCli } from './fixtures/bench/run-cli';
import { tempDir } from './helpers/tmp';

const work = tempDir('hs-cli-');

function freshDir(name: string): string {
  const dir = path.join(work, name);
  fs.mkdirSync(dir);
  return dir;
}

/** The first block device in /dev, if the machine shows one. */
function blockDevice(): string | null {
  for (const name of fs.readdirSync('/dev')) {
    try {
      if (fs.statSync(path.join('/dev', name)).isBlockDevice()) return path.join('/dev', name);
    } catch {
      // vanished or unreadable: try the next one
    }
  }
  return null;
}

const device = blockDevice();

describe('hardsync CLI: refusals (exit code 2, nothing written)', () => {
  it.skipIf(device === null)('refuses a block device', async () => {
    const run = await runCli(['bench', device as string, '--quick']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/refusing .*: it is a block device/);
  });

  it('refuses a path that does not exist', async () => {
    const run = await runCli(['bench', path.join(work, 'missing')]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/cannot use .*missing: ENOENT/);
  });

  it('refuses a regular file', async () => {
    const file = path.join(work, 'plain-file');
    fs.writeFileSync(file, 'x');
    const run = await runCli(['check', file]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/refusing .*plain-file: not a directory/);
  });

  it('refuses a directory it cannot create a file in', async () => {
    // /proc refuses every mkdir, even root's; elsewhere a read-only directory is skipped for root.
    const target = fs.existsSync('/proc/self') ? '/proc/self' : null;
    if (target === null) return;
    const run = await runCli(['pg', target]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/refusing \/proc\/self: cannot create a file there/);
  });

  it('refuses unknown options, methods, modes and sizes before any I/O', async () => {
    const dir = freshDir('usage');
    for (const args of [
      ['bench', dir, '--bogus'],
      ['bench', dir, '--methods', 'fdatasync,nope'],
      ['bench', dir, '--modes', 'sideways'],
      ['bench', dir, '--sizes', '4x'],
      ['bench', dir, '--sizes', '0'],
      ['bench', dir, '--threads', '0'],
      ['bench', dir, '--duration'],
      ['bench', dir, '--writes-per-sync', '1.5'],
      ['frobnicate'],
    ]) {
      const run = await runCli(args);
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.stderr, args.join(' ')).toMatch(/^hardsync: /);
    }
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('prints usage with --help and exit 0', async () => {
    const run = await runCli(['--help']);
    expect(run.code).toBe(0);
    for (const word of ['bench', 'compare', 'pg', 'check', 'powercheck', '--version', '<command> --help']) expect(run.stdout).toContain(word);
  });

  it('each command has its own --help, not the global one', { timeout: 120_000 }, async () => {
    const texts = new Map<string, string>();
    const commands = [['bench'], ['compare'], ['pg'], ['check'], ['powercheck', 'run'], ['powercheck', 'verify'], ['powercheck', 'listen']];
    // All at once: seven Node starts one after another outlast the timeout on a loaded machine.
    const runs = await Promise.all(commands.map((command) => runCli([...command, '--help'])));
    commands.forEach((command, i) => {
      const run = runs[i];
      expect(run.code, command.join(' ')).toBe(0);
      expect(run.stdout, command.join(' ')).toMatch(new RegExp(`^usage: hardsync ${command.join(' ')}`));
      // every line fits an 80-column terminal
      for (const line of run.stdout.split('\n')) expect(line.length, `${command.join(' ')}: ${line}`).toBeLessThanOrEqual(80);
      texts.set(command.join(' '), run.stdout);
    });
    expect(texts.get('bench')).toMatch(/--writes-per-sync N\[,M\]/);
    expect(texts.get('bench')).toMatch(/--until-stable/);
    expect(texts.get('bench')).not.toMatch(/--threshold-ms|--witness/);
    expect(texts.get('check')).toMatch(/--threshold-ms MS/);
    expect(texts.get('check')).toMatch(/3\s+UNCERTAIN/);
    expect(texts.get('check')).toMatch(/4\s+NOT-DURABLE/);
    expect(texts.get('check')).not.toMatch(/--sizes/);
    expect(texts.get('compare')).toMatch(/--noise PCT/);
    expect(texts.get('pg')).toMatch(/-s, --secs-per-test N/);
    expect(texts.get('powercheck run')).toMatch(/--block-size SIZE/);
    expect(new Set(texts.values()).size).toBe(texts.size);
    expect((await runCli(['bench', '-h'])).stdout).toBe(texts.get('bench'));
  });

  it('--version prints the package version', async () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8'));
    const run = await runCli(['--version']);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(`hardsync ${pkg.version}\n`);
  });

  it('a mistyped option, command or method suggests the closest', async () => {
    const size = await runCli(['bench', '--size', '4k']);
    expect(size.code).toBe(2);
    expect(size.stderr).toMatch(/^hardsync: bench: unknown option --size; did you mean --sizes\?\n\(hardsync bench --help for usage\)\n$/);
    expect((await runCli(['check', '--threshold', '5'])).stderr).toMatch(/did you mean --threshold-ms\?/);
    expect((await runCli(['bench', '--method', 'fsync'])).stderr).toMatch(/did you mean --methods\?/);
    expect((await runCli(['bnech'])).stderr).toMatch(/unknown command "bnech"; did you mean "bench"\?/);
    expect((await runCli(['--verison'])).stderr).toMatch(/did you mean "--version"\?/);
    expect((await runCli(['bench', '--methods', 'fdatasnyc'])).stderr).toMatch(/unknown method "fdatasnyc" \(did you mean "fdatasync"\?\)/);
    expect((await runCli(['bench', '--quick=yes'])).stderr).toMatch(/option --quick takes no value/);
    expect((await runCli(['bench', '--json'])).stderr).toMatch(/option --json needs a value/);
  });

  it('checks --json and --html paths before measuring: exit 2 at once, nothing created', async () => {
    const dir = freshDir('paths');
    for (const [option, target] of [['--json', path.join(work, 'no-such-dir', 'r.json')], ['--html', path.join(work, 'no-such-dir', 'r.html')], ['--json', dir]]) {
      const run = await runCli(['bench', dir, option, target]);
      expect(run.code, `${option} ${target}`).toBe(2);
      expect(run.stderr).toMatch(option === '--json' && target === dir ? /--json .*: is a directory/ : /the directory .*no-such-dir does not exist/);
      expect(run.stdout).toBe('');
    }
    expect((await runCli(['check', dir, '--json', path.join(work, 'nope', 'c.json')])).code).toBe(2);
    expect((await runCli(['pg', dir, '--json', path.join(work, 'nope', 'p.json')])).code).toBe(2);
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('error messages say the code once and hold no raw newline', async () => {
    const { errorLine } = await import('../dist/bench/cli.js');
    const e = Object.assign(new Error('ENOENT: no such file or directory, open \'x\''), { code: 'ENOENT' });
    expect(errorLine(e)).toBe("ENOENT: no such file or directory, open 'x'");
    expect(errorLine(Object.assign(new Error('bad\nthing\n  here'), { code: 'EIO' }))).toBe('EIO: bad thing here');
    const run = await runCli(['compare', path.join(work, 'missing.json')]);
    expect(run.code).toBe(2);
    expect(run.stderr).not.toMatch(/ENOENT: ENOENT/);
    expect(run.stderr.trimEnd().split('\n')).toHaveLength(2);
  });
});

describe('hardsync bench', () => {
  it('runs a chosen suite and writes the documented JSON schema', async () => {
    const dir = freshDir('run');
    const json = path.join(work, 'run.json');
    const run = await runCli(['bench', dir, '--methods', 'write,fdatasync,direct,node-fdatasync', '--sizes', '4k,1000', '--modes', 'overwrite,append',
      '--writes-per-sync', '1,2', '--duration', '0.05', '--rounds', '2', '--json', json]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    // stdout is a pipe here: no progress bar, no carriage returns
    expect(run.stdout).not.toContain('\r');
    expect(run.stdout + run.stderr).not.toContain('\x1b');
    expect(run.stdout).toMatch(/^method\s+mode\s+size/m);
    const doc = readBenchFile(json);
    expect(doc.schema).toBe(SCHEMA);
    expect(doc.kind).toBe('bench');
    expect(doc.env.node).toBe(process.version);
    // the CLI child inherits HARDSYNC_ENGINE, so it runs this process's engine and says so
    expect(doc.env.engine).toEqual({ name: hs.engine.name, flushThreads: hs.engine.flushThreads, reason: hs.engine.reason });
    const keys = doc.results.map((r) => `${r.method}/${r.mode}/${r.size}/${r.writesPerSync}`);
    // write and direct are not amortizable: no writes-per-sync 2 rows for them
    expect(keys).toContain('fdatasync/append/4096/2');
    expect(keys).not.toContain('write/overwrite/4096/2');
    expect(keys).not.toContain('direct/overwrite/4096/2');
    for (const r of doc.results) {
      expect(r.syscalls.length).toBeGreaterThan(0);
      if (!r.supported) continue;
      const l = r.latencyUs as NonNullable<typeof r.latencyUs>;
      expect(l.min).toBeLessThanOrEqual(l.p50);
      expect(l.p50).toBeLessThanOrEqual(l.p90);
      expect(l.p90).toBeLessThanOrEqual(l.p99);
      expect(l.p99).toBeLessThanOrEqual(l.p999);
      expect(l.p999).toBeLessThanOrEqual(l.max);
      expect(r.ops).toBeGreaterThan(0);
      // usPerOp = 1e6 / opsPerSec, each rounded to 3 decimals: equal to 1 part in 10^4 at any speed from 1 op/s up
      expect(Math.abs(((r.usPerOp as number) * (r.opsPerSec as number)) / 1e6 - 1)).toBeLessThan(1e-3);
    }
    // 1000 B is not a multiple of the direct-I/O alignment here (or direct I/O is refused)
    const direct1000 = doc.results.find((r) => r.method === 'direct' && r.size === 1000);
    expect(direct1000?.supported).toBe(false);
    expect(direct1000?.reason).toBeTruthy();
    expect(doc.results.find((r) => r.method === 'node-fdatasync')?.runner).toBe('js');
    // version 2: settings, intervals from the rounds, stability
    expect(doc.settings).toMatchObject({ rounds: 2, secondsPerCase: 0.05, quick: false, untilStable: false, methods: ['write', 'fdatasync', 'direct', 'node-fdatasync'] });
    for (const r of doc.results.filter((x) => x.supported)) {
      expect(r.rounds).toBe(2);
      for (const key of ['opsPerSec', 'p50', 'p99'] as const) {
        const e = r.estimates![key];
        expect(e.rounds).toHaveLength(2);
        expect(e.low).toBeLessThanOrEqual(e.value);
        expect(e.value).toBeLessThanOrEqual(e.high);
      }
      expect(typeof r.stability?.unstable).toBe('boolean');
    }
    expect(doc.stability).toMatchObject({ limitPct: 10, untilStable: null });
    expect(doc.stability!.cases).toBe(doc.results.filter((r) => r.supported).length);
    // durable: what the method guarantees here (fdatasync(2) on Linux), and the portable meaning
    expect(doc.results.find((r) => r.method === 'write')).toMatchObject({ durable: false, durablePortable: false });
    expect(doc.results.find((r) => r.method === 'direct')).toMatchObject({ durable: false, durablePortable: false });
    expect(doc.results.find((r) => r.method === 'fdatasync')).toMatchObject({ durable: hs.capabilitiesSync().calls.fdatasync.durable, durablePortable: true });
    // the text table marks what is not durable, and says what the mark means
    expect(run.stdout).toMatch(/^write\*!? +overwrite +4k /m);
    expect(run.stdout).toMatch(/"\*": not durable on this OS/);
    expect(run.stdout).toMatch(/^Stability: /m);
    // on a pipe every line fits in 80 columns, the table's too
    for (const line of run.stdout.split('\n')) expect(line.length, line).toBeLessThanOrEqual(80);
    expect(doc.results.find((r) => r.method === 'fdatasync')?.runner).toBe('native');
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('--until-stable records its budget and what it did; --max-duration alone is refused', async () => {
    const dir = freshDir('until');
    const json = path.join(work, 'until.json');
    const run = await runCli(['bench', dir, '--methods', 'write,fdatasync', '--rounds', '2', '--duration', '0.04', '--until-stable', '--max-duration', '3', '--json', json]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const doc = readBenchFile(json);
    expect(doc.settings).toMatchObject({ untilStable: true, maxDurationSeconds: 3, rounds: 2 });
    const until = doc.stability!.untilStable!;
    expect(until.addedRounds).toBe(doc.results.reduce((s, r) => s + (r.rounds ?? 0) - 2, 0));
    expect(until.stillUnstable).toEqual(doc.results.filter((r) => r.stability?.unstable).map((r) => `${r.label} ${r.mode} 8k`));
    expect(run.stdout).toMatch(/^--until-stable: \d+ rounds added/m);
    const refused = await runCli(['bench', dir, '--max-duration', '3']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/--max-duration bounds --until-stable/);
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('--js runs the loop through the public API', async () => {
    const dir = freshDir('js');
    const json = path.join(work, 'js.json');
    const run = await runCli(['bench', dir, '--js', '--methods', 'fdatasync,dir-fsync,atomic-replace,sfr-fdatasync', '--modes', 'overwrite,new', '--duration', '0.05', '--json', json]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const doc = readBenchFile(json);
    expect(doc.results.every((r) => r.runner === 'js')).toBe(true);
    expect(doc.results.filter((r) => r.supported).length).toBeGreaterThan(3);
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('removes its files when interrupted with SIGINT', async () => {
    const dir = freshDir('sigint');
    const { child, done } = startCli(['bench', dir, '--methods', 'fdatasync,write', '--modes', 'new,append', '--duration', '60']);
    // Wait until the run has made its scratch directory and files in it.
    const deadline = Date.now() + 20_000;
    let seen = false;
    while (Date.now() < deadline) {
      const scratch = fs.readdirSync(dir).filter((n) => n.startsWith('.hardsync-bench-'));
      if (scratch.length > 0 && fs.readdirSync(path.join(dir, scratch[0])).length > 0) {
        seen = true;
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(seen).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 200));
    child.kill('SIGINT');
    const run = await done;
    expect(run.code).toBe(130);
    expect(run.stderr).toMatch(/interrupted \(SIGINT\); removed /);
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('writes a self-contained HTML report', async () => {
    const dir = freshDir('html');
    const html = path.join(work, 'report.html');
    const run = await runCli(['bench', dir, '--methods', 'write,fdatasync', '--sizes', '4k', '--duration', '0.05', '--html', html]);
    expect(run.code).toBe(0);
    const text = fs.readFileSync(html, 'utf8');
    expect(text).toMatch(/^<!doctype html>/);
    // self-contained: no external script, stylesheet or image
    expect(text).not.toMatch(/<script[^>]+src=|<link[^>]+href=|<img /i);
    expect(text).toContain('hardsync-data');
  });
});

// A terminal, from util-linux's script(1): the CLI's standard streams are a pty.

describe.skipIf(!haveScript)('hardsync bench on a terminal', () => {
  const onTerminal = (args: string[]) => spawn('script', ['-qfec', [process.execPath, CLI, ...args].map((a) => `'${a}'`).join(' '), '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const CLEAR = '\r\x1b[2K';

  it("draws a progress line with the table's names and an ETA, and clears it before the report", async () => {
    const dir = freshDir('tty');
    const child = onTerminal(['bench', dir, '--methods', 'dsync,write', '--rounds', '2', '--duration', '0.2']);
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    const code = await new Promise((resolve) => child.on('close', resolve));
    expect(code).toBe(0);
    expect(out).toContain(`${CLEAR}[....................] 0/4 0s: O_DSYNC open overwrite 8k`);
    expect(out).toMatch(/\] [123]\/4 \d+s, \d+s left: (O_DSYNC open|write only \(page cache\)) overwrite 8k/);
    expect(out).not.toMatch(/\] \d+\/\d+[^\r]*: dsync /);
    // the line is cleared right before the report starts
    expect(out).toContain(`${CLEAR}hardsync bench: ${dir}`);
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('clears the progress line before the message on Ctrl-C', async () => {
    const dir = freshDir('tty-int');
    const child = onTerminal(['bench', dir, '--methods', 'fdatasync,write', '--duration', '60']);
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    const closed = new Promise((resolve) => child.on('close', resolve));
    const deadline = Date.now() + 30_000;
    while (!out.includes('left:') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(out).toContain('left:');
    child.stdin.write('\x03');
    expect(await closed).toBe(130);
    expect(out).toMatch(/\r\x1b\[2Khardsync: interrupted \(SIGINT\); removed /);
    expect(fs.readdirSync(dir)).toEqual([]);
  });
});

describe('hardsync bench from the project directory', () => {
  it('the bin entry points at the compiled CLI, which starts with a shebang', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8'));
    const bin = path.join(__dirname, '..', pkg.bin.hardsync);
    expect(fs.readFileSync(bin, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
    expect(execFileSync(process.execPath, [bin, '--help'], { encoding: 'utf8' })).toMatch(/^usage: hardsync/);
  });
});
