import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as hs from '../dist/lib/index.js';
import { readBenchFile, SCHEMA } from '../dist/bench/engine/schema.js';
import { runCli, startCli } from './fixtures/bench/run-cli';

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'hs-cli-'));
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

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
    for (const word of ['bench', 'compare', 'pg', 'check', '--writes-per-sync', '--json', '--html', '--quick']) expect(run.stdout).toContain(word);
  });
});

describe('hardsync bench', () => {
  it('runs a chosen suite and writes the documented JSON schema', async () => {
    const dir = freshDir('run');
    const json = path.join(work, 'run.json');
    const run = await runCli(['bench', dir, '--methods', 'write,fdatasync,direct,node-fdatasync', '--sizes', '4k,1000', '--modes', 'overwrite,append',
      '--writes-per-sync', '1,2', '--duration', '0.05', '--json', json]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    // stdout is a pipe here: no progress bar, no carriage returns
    expect(run.stdout).not.toContain('\r');
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
      expect(r.usPerOp).toBeCloseTo(1e6 / (r.opsPerSec as number), 1);
    }
    // 1000 B is not a multiple of the direct-I/O alignment here (or direct I/O is refused)
    const direct1000 = doc.results.find((r) => r.method === 'direct' && r.size === 1000);
    expect(direct1000?.supported).toBe(false);
    expect(direct1000?.reason).toBeTruthy();
    expect(doc.results.find((r) => r.method === 'node-fdatasync')?.runner).toBe('js');
    expect(doc.results.find((r) => r.method === 'fdatasync')?.runner).toBe('native');
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

describe('hardsync bench from the project directory', () => {
  it('the bin entry points at the compiled CLI, which starts with a shebang', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8'));
    const bin = path.join(__dirname, '..', pkg.bin.hardsync);
    expect(fs.readFileSync(bin, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
    expect(execFileSync(process.execPath, [bin, '--help'], { encoding: 'utf8' })).toMatch(/^usage: hardsync/);
  });
});
