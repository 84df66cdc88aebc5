// hardsync/crashtest, the workload's side of `hardsync crashtest`: acknowledge() and intend()
// record a line before they return (through the simulator, so none after a power cut), do
// nothing outside crashtest, validate like every hardsync call; readAcknowledgements() parses
// what they wrote; the entry point loads no addon and works from ESM.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as ct from '../dist/lib/crashtest.js';
import { PowercutFs, powercutUnavailable } from './helpers/powercut';
import { tempDir } from './helpers/tmp';

const ROOT = path.join(__dirname, '..');
const ENTRY = path.join(ROOT, 'dist', 'lib', 'crashtest.js');

/** Runs `code` (an ES module) in a child with `env` and, as its fd 3, `fd3`; its stdout, stderr and exit code. */
function runChild(code: string, env: Record<string, string>, fd3?: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', code], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: fd3 === undefined ? ['ignore', 'pipe', 'pipe'] : ['ignore', 'pipe', 'pipe', fd3],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (c) => (stdout += c));
    child.stderr!.on('data', (c) => (stderr += c));
    child.on('error', reject);
    child.on('close', (exit) => resolve({ code: exit, stdout, stderr }));
  });
}

describe('hardsync/crashtest outside crashtest', () => {
  it('does nothing, and still refuses bad arguments the way every hardsync call does', async () => {
    expect(process.env.HARDSYNC_CRASHTEST_ACK_FD).toBeUndefined();
    expect(process.env.HARDSYNC_CRASHTEST_ACK_PATH).toBeUndefined();
    await expect(ct.acknowledge('k', 'v')).resolves.toBeUndefined();
    expect(ct.acknowledgeSync('k', Buffer.from('v'))).toBeUndefined();
    await expect(ct.intend('k', null)).resolves.toBeUndefined();
    expect(ct.intendSync('k')).toBeUndefined();
    const refused = [
      [() => ct.acknowledgeSync(1 as unknown as string), 'ERR_INVALID_ARG_TYPE', TypeError],
      [() => ct.acknowledgeSync(''), 'ERR_INVALID_ARG_VALUE', TypeError],
      [() => ct.acknowledgeSync('x'.repeat(4097)), 'ERR_OUT_OF_RANGE', RangeError],
      [() => ct.acknowledgeSync('k', 5 as unknown as string), 'ERR_INVALID_ARG_TYPE', TypeError],
      [() => ct.intendSync('k', {} as unknown as string), 'ERR_INVALID_ARG_TYPE', TypeError],
      [() => (ct.acknowledgeSync as (...a: unknown[]) => void)('k', 'v', () => {}), 'ERR_INVALID_ARG_TYPE', TypeError],
      [() => (ct.intendSync as (...a: unknown[]) => void)('k', 'v', 3), 'ERR_INVALID_ARG_TYPE', TypeError],
    ] as const;
    for (const [call, code, type] of refused) {
      expect(call).toThrow(type);
      expect(call).toThrow(expect.objectContaining({ code }));
    }
    await expect(ct.acknowledge(undefined as unknown as string)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    await expect((ct.intend as (...a: unknown[]) => Promise<void>)('k', 'v', () => {})).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
  });

  it('loads no native addon, and its ESM entry exports the same names', async () => {
    const code = `
      import { createRequire } from 'node:module';
      const require = createRequire(import.meta.url);
      const cjs = require(${JSON.stringify(ENTRY)});
      const esm = await import('hardsync/crashtest');
      const loaded = Object.keys(require.cache).filter((f) => f.endsWith('.node') || f.endsWith('native.js'));
      console.log(JSON.stringify({ loaded, cjs: Object.keys(cjs).sort(), esm: Object.keys(esm).filter((k) => k !== 'default').sort() }));`;
    const { code: exit, stdout, stderr } = await runChild(code, {});
    expect(exit, stderr).toBe(0);
    const result = JSON.parse(stdout);
    expect(result.loaded).toEqual([]);
    expect(result.esm).toEqual(result.cjs);
    expect(result.cjs).toEqual(expect.arrayContaining(['acknowledge', 'acknowledgeSync', 'intend', 'intendSync', 'readAcknowledgements', 'readAcknowledgementsSync', 'matchesAcknowledgement', 'CRASHTEST_ENV']));
  });
});

describe('readAcknowledgements', () => {
  const sha = (s: string | Buffer) => createHash('sha256').update(s).digest('hex');

  it('parses every form of line, in order; a last line without its newline was cut short and does not count', async () => {
    const file = path.join(tempDir(), 'acks.jsonl');
    const big = Buffer.alloc(100, 7);
    fs.writeFileSync(file, [
      JSON.stringify({ op: 'intend', key: 'a', size: 2, sha256: sha('v1'), value: 'v1' }),
      JSON.stringify({ op: 'ack', key: 'a', size: 2, sha256: sha('v1'), value: 'v1' }),
      JSON.stringify({ op: 'ack', key: 'b', size: 100, sha256: sha(big), base64: big.toString('base64') }),
      JSON.stringify({ op: 'ack', key: 'c', size: 5, sha256: sha('large') }),
      JSON.stringify({ op: 'ack', key: 'd', deleted: true }),
      JSON.stringify({ op: 'ack', key: 'e' }),
      '{"op":"ack","key":"torn","val',
    ].join('\n'));
    const acks = await ct.readAcknowledgements(file);
    expect(ct.readAcknowledgementsSync(file)).toEqual(acks);
    expect(acks.map((a) => [a.op, a.key, a.line])).toEqual([['intend', 'a', 1], ['ack', 'a', 2], ['ack', 'b', 3], ['ack', 'c', 4], ['ack', 'd', 5], ['ack', 'e', 6]]);
    expect(acks[1].value).toEqual(Buffer.from('v1'));
    expect(acks[2].value).toEqual(big);
    expect(acks[3]).toMatchObject({ size: 5, sha256: sha('large') });
    expect(acks[3].value).toBeUndefined();
    expect(ct.matchesAcknowledgement(acks[1], Buffer.from('v1'))).toBe(true);
    expect(ct.matchesAcknowledgement(acks[1], Buffer.from('v2'))).toBe(false);
    expect(ct.matchesAcknowledgement(acks[1], null)).toBe(false);
    expect(ct.matchesAcknowledgement(acks[3], Buffer.from('large'))).toBe(true);
    expect(ct.matchesAcknowledgement(acks[4], null)).toBe(true);
    expect(ct.matchesAcknowledgement(acks[4], Buffer.alloc(0))).toBe(false);
    expect(ct.matchesAcknowledgement(acks[5], Buffer.from('anything'))).toBe(true);
    expect(ct.matchesAcknowledgement(acks[5], null)).toBe(false);
  });

  it('refuses a malformed line, naming it', () => {
    const dir = tempDir();
    const bad = [
      'not json',
      '[1]',
      JSON.stringify({ op: 'promise', key: 'a' }),
      JSON.stringify({ op: 'ack', key: '' }),
      JSON.stringify({ op: 'ack', key: 'a', value: 3 }),
      JSON.stringify({ op: 'ack', key: 'a', size: 2, sha256: 'nothex' }),
      JSON.stringify({ op: 'ack', key: 'a', size: 3, sha256: sha('v1'), value: 'v1' }),
    ];
    for (const [i, line] of bad.entries()) {
      const file = path.join(dir, `bad${i}`);
      fs.writeFileSync(file, `${JSON.stringify({ op: 'ack', key: 'ok' })}\n${line}\n`);
      expect(() => ct.readAcknowledgementsSync(file), line).toThrow(expect.objectContaining({ code: 'ERR_HARDSYNC_CRASHTEST_ACK', line: 2 }));
    }
  });
});

const unavailable = powercutUnavailable();
if (unavailable) console.warn(`[powercut] skipped: ${unavailable}`);

describe.skipIf(unavailable !== undefined)('hardsync/crashtest under crashtest', () => {
  let pfs: PowercutFs;
  let acks: string;
  let fd: number;

  beforeAll(async () => {
    pfs = await PowercutFs.mount();
    acks = path.join(tempDir(), 'acks.jsonl');
    fd = fs.openSync(pfs.ackFile, 'a');
  });
  afterAll(async () => {
    if (fd !== undefined) fs.closeSync(fd);
    await pfs?.unmount();
  });

  function env(extra: Record<string, string> = {}): Record<string, string> {
    return { HARDSYNC_CRASHTEST_ACK_FD: '3', HARDSYNC_CRASHTEST_ACK_PATH: pfs.ackFile, ...extra };
  }

  it('each call records its line before it returns, in the documented format, sync and async', async () => {
    fs.rmSync(acks, { force: true });
    pfs.recordAcks(acks);
    const code = `
      import fs from 'node:fs';
      import { acknowledge, acknowledgeSync, intend, intendSync } from 'hardsync/crashtest';
      const lines = () => fs.readFileSync(${JSON.stringify(acks)}, 'utf8').split('\\n').length - 1;
      const seen = [];
      intendSync('cfg', 'v1'); seen.push(lines());
      await acknowledge('cfg', 'v1'); seen.push(lines());
      acknowledgeSync('bin', new Uint8Array([0, 1, 255])); seen.push(lines());
      await intend('gone', null); seen.push(lines());
      acknowledgeSync('gone', null); seen.push(lines());
      await acknowledge('there'); seen.push(lines());
      acknowledgeSync('big', Buffer.alloc(70 * 1024, 1)); seen.push(lines());
      console.log(JSON.stringify(seen));`;
    const { code: exit, stdout, stderr } = await runChild(code, env(), fd);
    expect(exit, stderr).toBe(0);
    expect(JSON.parse(stdout)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    const raw = fs.readFileSync(acks, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
    const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
    expect(raw.slice(0, 6)).toEqual([
      { op: 'intend', key: 'cfg', size: 2, sha256: sha(Buffer.from('v1')), value: 'v1' },
      { op: 'ack', key: 'cfg', size: 2, sha256: sha(Buffer.from('v1')), value: 'v1' },
      { op: 'ack', key: 'bin', size: 3, sha256: sha(Buffer.from([0, 1, 255])), base64: 'AAH/' },
      { op: 'intend', key: 'gone', deleted: true },
      { op: 'ack', key: 'gone', deleted: true },
      { op: 'ack', key: 'there' },
    ]);
    // A value past ACK_INLINE_BYTES is recorded by its size and hash only.
    expect(raw[6]).toEqual({ op: 'ack', key: 'big', size: 70 * 1024, sha256: sha(Buffer.alloc(70 * 1024, 1)) });
    expect(ct.readAcknowledgementsSync(acks)).toHaveLength(7);
  });

  it('once the power is cut, an acknowledgement fails with EIO and records nothing', async () => {
    fs.rmSync(acks, { force: true });
    pfs.recordAcks(acks);
    const code = `
      import fs from 'node:fs';
      import { acknowledgeSync, acknowledge } from 'hardsync/crashtest';
      acknowledgeSync('before', 'x');
      fs.writeFileSync(${JSON.stringify(path.join(pfs.mountpoint, '.powercut'))}, 'cut\\n');
      const out = [];
      try { acknowledgeSync('after', 'y'); out.push('sync recorded'); } catch (e) { out.push(e.code); }
      try { await acknowledge('after', 'z'); out.push('async recorded'); } catch (e) { out.push(e.code); }
      console.log(JSON.stringify(out));`;
    const { code: exit, stdout, stderr } = await runChild(code, env(), fd);
    pfs.reboot();
    expect(exit, stderr).toBe(0);
    expect(JSON.parse(stdout)).toEqual(['EIO', 'EIO']);
    expect(ct.readAcknowledgementsSync(acks).map((a) => a.key)).toEqual(['before']);
  });

  it('a process whose fd 3 is something else (a child forked with IPC) acknowledges through the path instead', async () => {
    fs.rmSync(acks, { force: true });
    pfs.recordAcks(acks);
    const code = `
      import { acknowledgeSync } from 'hardsync/crashtest';
      acknowledgeSync('by-path', 'p');`;
    const pipeFd = fs.openSync(path.join(tempDir(), 'not-acks'), 'w');
    try {
      const { code: exit, stderr } = await runChild(code, env(), pipeFd);
      expect(exit, stderr).toBe(0);
    } finally {
      fs.closeSync(pipeFd);
    }
    expect(ct.readAcknowledgementsSync(acks).map((a) => a.key)).toEqual(['by-path']);
    // Without the path, a wrong descriptor is refused instead of written to.
    const { code: exit, stderr } = await runChild(code, { HARDSYNC_CRASHTEST_ACK_FD: '3' });
    expect(exit).not.toBe(0);
    expect(stderr).toContain('is not open on the crashtest acknowledgements file');
  });
});
