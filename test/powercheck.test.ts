// `hardsync powercheck` (README: "Does your disk keep its promise?"): the block format, the witness against hostile and broken
// clients and its own restarts, and the whole check on the power-cut simulator: an honest
// filesystem gives "honest" after every cut, a lying one "lied" every time. Everything talks
// over 127.0.0.1 only. HARDSYNC_POWERCUT_RUNS raises the number of cut runs per configuration,
// HARDSYNC_POWERCUT_SEED replays a campaign.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import readline from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WitnessClient } from '../dist/bench/powercheck/client.js';
import * as protocol from '../dist/bench/powercheck/protocol.js';
import { runPowercheck, type RunResult } from '../dist/bench/powercheck/run.js';
import { verifyPowercheck, type VerifyReport } from '../dist/bench/powercheck/verify.js';
import { Witness, type WitnessOptions } from '../dist/bench/powercheck/witness.js';
import { runCli, startCli } from './fixtures/bench/run-cli';
import { PowercutFs, powercutUnavailable, runsFromEnv, seedFromEnv } from './helpers/powercut';
import { mix } from './helpers/seeded.cjs';
import { hasStrace } from './helpers/strace';
import { tempDir } from './helpers/tmp';

const LOCAL = '127.0.0.1';
const { PROTOCOL } = protocol;
const freshDir = (name: string) => tempDir(`hs-powercheck-${name}-`);

async function startWitness(options: Partial<WitnessOptions> = {}): Promise<Witness> {
  return Witness.start({ stateDir: freshDir('state'), port: 0, host: LOCAL, ...options });
}


/** A small seeded PRNG for the fuzz inputs. */
function prng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
}

/**
 * Sends raw bytes on a fresh connection and collects the witness's reply lines until it closes
 * the connection, or until `untilLines` lines came (then this side closes). `halfClose` ends
 * the sending side after the input (the witness must still answer, then close).
 */
function converse(port: number, input: Buffer | string, options: { halfClose?: boolean; untilLines?: number } = {}): Promise<{ lines: string[]; closedByWitness: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: LOCAL, port, allowHalfOpen: true });
    let text = '';
    let done = false;
    const finish = (closedByWitness: boolean) => {
      if (done) return;
      done = true;
      resolve({ lines: text.split('\n').filter(Boolean), closedByWitness });
    };
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      text += chunk;
      if (options.untilLines !== undefined && text.split('\n').filter(Boolean).length >= options.untilLines) {
        finish(false);
        socket.destroy();
      }
    });
    socket.on('end', () => {
      finish(true);
      socket.destroy();
    });
    socket.on('error', (error: NodeJS.ErrnoException) => (done ? undefined : error.code === 'ECONNRESET' ? finish(true) : reject(error)));
    socket.on('connect', () => {
      socket.write(input);
      if (options.halfClose) socket.end();
    });
  });
}

const HELLO = `HELLO ${PROTOCOL}\n`;
const TEST = '00112233aabbccdd';
const begin = (test = TEST, blocks = 64) => `BEGIN ${test} 4096 ${blocks} data host1 %2Ftmp%2Ff\n`;

// ---------------------------------------------------------------------------------------------

describe('powercheck: block and header format', () => {
  it('a block read back names its write; a torn mix of two writes is recognized as such', () => {
    const a = Buffer.alloc(4096);
    const b = Buffer.alloc(4096);
    protocol.fillBlock(a, TEST, 7, 41);
    protocol.fillBlock(b, TEST, 7, 42);
    expect(protocol.parseBlock(a, TEST, 7)).toEqual({ kind: 'write', seq: 41 });
    expect(protocol.parseBlock(Buffer.alloc(4096), TEST, 7)).toEqual({ kind: 'zeros' });
    expect(protocol.parseBlock(a, TEST, 8)).toMatchObject({ kind: 'foreign', block: 7, seq: 41 });
    expect(protocol.parseBlock(a, 'ffffffffffffffff', 7)).toMatchObject({ kind: 'foreign', test: TEST });
    const torn = Buffer.concat([b.subarray(0, 2048), a.subarray(2048)]);
    expect(protocol.parseBlock(torn, TEST, 7)).toEqual({ kind: 'garbage', seqs: [41, 42] });
    const flipped = Buffer.from(a);
    flipped[3000] ^= 1;
    expect(protocol.parseBlock(flipped, TEST, 7).kind).toBe('garbage');
  });

  it('the header round-trips and a damaged one is refused', () => {
    const h = Buffer.alloc(4096);
    const header = { test: TEST, blockSize: 4096, blocks: 1 << 18, method: 'direct-dsync' as const, createdMs: 1_700_000_000_000 };
    protocol.fillHeader(h, header);
    expect(protocol.parseHeader(h)).toEqual(header);
    h[100] ^= 1;
    expect(protocol.parseHeader(h)).toBeUndefined();
    expect(protocol.parseHeader(Buffer.alloc(4096))).toBeUndefined();
  });

  it('parses addresses and sizes, refusing malformed ones', () => {
    expect(protocol.parseAddress('10.0.0.2:5401')).toEqual({ host: '10.0.0.2', port: 5401 });
    expect(protocol.parseAddress('witness')).toEqual({ host: 'witness', port: 5400 });
    expect(protocol.parseAddress('[::1]:7')).toEqual({ host: '::1', port: 7 });
    expect(protocol.parseAddress('::1')).toEqual({ host: '::1', port: 5400 });
    for (const bad of ['', ':5400', 'h:0', 'h:65536', 'h:x', 'a b:1', '[::1]:']) expect(protocol.parseAddress(bad), bad).toBeUndefined();
    expect(protocol.parseSizeWithUnits('1g')).toBe(1 << 30);
    expect(protocol.parseSizeWithUnits('4k')).toBe(4096);
    expect(protocol.parseSizeWithUnits('64MiB')).toBe(64 << 20);
    for (const bad of ['', '1x', '-1', '1.5g', 'g']) expect(protocol.parseSizeWithUnits(bad), bad).toBeNaN();
  });
});

describe('powercheck witness: hostile and broken clients', () => {
  let witness: Witness;
  let port: number;
  const logged: string[] = [];

  beforeAll(async () => {
    witness = await startWitness({ log: (line) => logged.push(line) });
    port = witness.address().port;
  });
  afterAll(async () => {
    await witness?.close();
  });

  it('answers a well-formed session, and a repeated request (a resend after a lost connection) as already done', async () => {
    const t = 'a000000000000001';
    const { lines } = await converse(
      port,
      HELLO + begin(t) + `READY ${t}\nPRE ${t} 1 5\nPOST ${t} 1 5\nPOST ${t} 1 5\nPRE ${t} 1 5\nBEGIN ${t} 4096 64 data host1 %2Ftmp%2Ff\nPING\nQUIT\n`,
    );
    expect(lines).toEqual([
      `OK HELLO ${PROTOCOL}`,
      `OK BEGIN ${t} new`,
      `OK READY ${t}`,
      `OK PRE ${t} 1`,
      `OK POST ${t} 1`,
      `OK POST ${t} 1`,
      `OK PRE ${t} 1`,
      `OK BEGIN ${t} known`,
      'OK PONG',
      'OK BYE',
    ]);
    const state = await converse(port, `${HELLO}STATE ${t}\nQUIT\n`);
    expect(state.lines[1]).toMatch(new RegExp(`^TEST ${t} 4096 64 data host1 %2Ftmp%2Ff ready=1 ended=0 .* announced=1 durable=1 last-seq=1 `));
    expect(state.lines[2]).toMatch(/^BLOCK 5 1 \d+ 1 \d+$/);
    expect(state.lines[3]).toBe(`OK STATE ${t} 1`);
  });

  it('refuses every malformed or out-of-order request with an ERR line and a reason, and records nothing for it', async () => {
    const t = 'b000000000000002';
    const cases: [string, string][] = [
      ['FROB', 'unknown-command'],
      ['hello', 'unknown-command'],
      ['PRE', 'malformed'],
      ['PRE abc 1 1', 'malformed'],
      [`PRE ${t.toUpperCase()} 1 1`, 'malformed'],
      [`PRE ${t} 1 1`, 'unknown-test'],
      [`BEGIN ${t} 1000 64 data h %2Fp`, 'range'],
      [`BEGIN ${t} 4096 1 data h %2Fp`, 'range'],
      [`BEGIN ${t} 4096 64 bogus h %2Fp`, 'range'],
      [`BEGIN ${t} 4096 64 data %zz %2Fp`, 'malformed'],
      [`BEGIN ${t} 4096 64 data h %0A`, 'malformed'],
      [`BEGIN ${t} 4096 64 data h`, 'malformed'],
      [`BEGIN ${t} 4096 64 data h %2Fp`, ''], // the test, for what follows
      [`PRE ${t} 1 1`, 'not-ready'],
      [`READY ${t}`, ''],
      [`POST ${t} 1 3`, 'sequence'],
      [`PRE ${t} 5 3`, ''],
      [`PRE ${t} 4 3`, 'sequence'],
      [`PRE ${t} 6 64`, 'range'],
      [`PRE ${t} 6 0`, 'range'],
      [`PRE ${t} -1 3`, 'malformed'],
      [`PRE ${t} 1e3 3`, 'malformed'],
      [`PRE ${t} 0x10 3`, 'malformed'],
      [`PRE ${t} 007 3`, 'malformed'],
      [`PRE ${t} 99999999999999999999 3`, 'malformed'],
      [`PRE ${t} 9007199254740993 3`, 'range'],
      [`PRE  ${t} 6 3`, 'malformed'],
      [`POST ${t} 5 4`, 'sequence'],
      [`BEGIN ${t} 4096 128 data h %2Fp`, 'conflict'],
      [`PING extra`, 'malformed'],
      [`HELLO ${PROTOCOL}`, 'malformed'],
    ];
    // A fresh connection per case keeps each case's reply apart (and avoids the error limit).
    for (const [line, code] of cases) {
      const { lines } = await converse(port, `${HELLO}${line}\nQUIT\n`);
      expect(lines[0], line).toBe(`OK HELLO ${PROTOCOL}`);
      if (code === '') expect(lines[1], line).toMatch(/^OK /);
      else expect(lines[1], line).toMatch(new RegExp(`^ERR ${code} \\S`));
      expect(lines[lines.length - 1], line).toBe('OK BYE');
    }
    const state = await converse(port, `${HELLO}STATE ${t}\nQUIT\n`);
    expect(state.lines[1]).toMatch(/ ready=1 .* announced=1 durable=0 last-seq=5 /);
    expect(state.lines[2]).toMatch(/^BLOCK 3 0 0 5 \d+$/);
  });

  it('ends the connection on a wrong version, on anything before HELLO, on an over-long line and after too many errors', async () => {
    const version = await converse(port, 'HELLO hardsync-powercheck/2\nPING\n');
    expect(version).toEqual({ lines: [`ERR version this witness speaks ${PROTOCOL}, not "hardsync-powercheck/2"`], closedByWitness: true });
    const http = await converse(port, 'GET / HTTP/1.1\r\nHost: witness\r\n\r\n');
    expect(http.lines).toEqual([`ERR hello-first send "HELLO ${PROTOCOL}" first`]);
    expect(http.closedByWitness).toBe(true);
    const long = await converse(port, `${HELLO}PING ${'A'.repeat(20_000)}`);
    expect(long.lines).toEqual([`OK HELLO ${PROTOCOL}`, `ERR too-long a line is at most ${protocol.MAX_LINE} bytes`]);
    expect(long.closedByWitness).toBe(true);
    const longWithNewline = await converse(port, `${HELLO}PING ${'A'.repeat(20_000)}\nPING\n`);
    expect(longWithNewline.lines[1]).toMatch(/^ERR too-long /);
    const many = await converse(port, HELLO + 'FROB\n'.repeat(20));
    expect(many.closedByWitness).toBe(true);
    expect(many.lines.filter((l) => l.startsWith('ERR unknown-command')).length).toBe(8);
    expect(many.lines[many.lines.length - 1]).toMatch(/^ERR too-many-errors /);
  });

  it('answers what a half-closed client sent, then closes; an incomplete last line gets an ERR', async () => {
    const t = 'c000000000000003';
    const whole = await converse(port, HELLO + begin(t) + `READY ${t}\nPRE ${t} 1 2\nPING\n`, { halfClose: true });
    expect(whole).toEqual({ lines: [`OK HELLO ${PROTOCOL}`, `OK BEGIN ${t} new`, `OK READY ${t}`, `OK PRE ${t} 1`, 'OK PONG'], closedByWitness: true });
    const partial = await converse(port, `${HELLO}PIN`, { halfClose: true });
    expect(partial.lines).toEqual([`OK HELLO ${PROTOCOL}`, 'ERR malformed incomplete line at the end of the input (no newline)']);
    expect(partial.closedByWitness).toBe(true);
    const silent = await converse(port, '', { halfClose: true });
    expect(silent).toEqual({ lines: [], closedByWitness: true });
  });

  it('survives clients that reset the connection mid-request, and one that does not read its replies', async () => {
    for (let i = 0; i < 20; i++) {
      await new Promise<void>((resolve) => {
        const s = net.connect({ host: LOCAL, port }, () => {
          s.write(HELLO + begin(`d0000000000000${String(i).padStart(2, '0')}`) + 'STATE 00');
          if (i % 2) s.resetAndDestroy();
          else s.destroy();
          resolve();
        });
        s.on('error', () => undefined);
      });
    }
    // 100 000 requests from a client that reads nothing for a while: the witness stops reading
    // too once its replies back up (bounded memory), and catches up once the client reads.
    const pings = 100_000;
    const lines = await new Promise<string[]>((resolve, reject) => {
      const s = net.connect({ host: LOCAL, port }, () => {
        s.pause();
        s.write(HELLO + 'PING\n'.repeat(pings));
        setTimeout(() => s.resume(), 300);
      });
      let text = '';
      s.setEncoding('latin1');
      s.on('data', (chunk: string) => {
        text += chunk;
        if (text.length >= `OK HELLO ${PROTOCOL}\n`.length + pings * 'OK PONG\n'.length) {
          s.destroy();
          resolve(text.split('\n').filter(Boolean));
        }
      });
      s.on('error', reject);
    });
    expect(lines.length).toBe(pings + 1);
    expect(lines.every((l, i) => (i === 0 ? l === `OK HELLO ${PROTOCOL}` : l === 'OK PONG'))).toBe(true);
  });

  it('fuzz: thousands of random and half-valid lines, split anywhere, never crash it or corrupt its state', async () => {
    const seed = seedFromEnv();
    const random = prng(seed);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)];
    const fuzzTest = 'e000000000000005';
    const tokens = [
      'HELLO', 'BEGIN', 'READY', 'PRE', 'POST', 'END', 'STATE', 'LIST', 'PING', 'QUIT', PROTOCOL, fuzzTest, TEST, 'ffffffffffffffff',
      '0', '1', '2', '63', '64', '4096', '-1', '1e9', '9007199254740992', '18446744073709551616', 'data', 'dsync', '%2F', '%', '%00', '',
      '\u0000', '\u00ff', '\r', '\t', 'A'.repeat(300),
    ];
    const connections = 300;
    let sessions = 0;
    for (let c = 0; c < connections; c += 20) {
      await Promise.all(
        Array.from({ length: 20 }, async () => {
          const lines: string[] = [HELLO.trim()];
          const n = 1 + Math.floor(random() * 30);
          for (let i = 0; i < n; i++) {
            if (random() < 0.2) lines.push(Buffer.from(Array.from({ length: Math.floor(random() * 60) }, () => Math.floor(random() * 256))).toString('latin1'));
            else lines.push(Array.from({ length: Math.floor(random() * 8) }, () => pick(tokens)).join(random() < 0.9 ? ' ' : '  '));
          }
          const input = Buffer.from(`${lines.join('\n')}${random() < 0.5 ? '\n' : ''}`, 'latin1');
          const how = random();
          await new Promise<void>((resolve) => {
            const s = net.connect({ host: LOCAL, port, allowHalfOpen: true }, () => {
              // Split the input at random points across several writes.
              let at = 0;
              while (at < input.length) {
                const next = Math.min(input.length, at + 1 + Math.floor(random() * 40));
                s.write(input.subarray(at, next));
                at = next;
              }
              if (how < 0.6) s.end();
              else if (how < 0.8) s.destroy();
              else setTimeout(() => s.destroy(), 5);
            });
            s.on('data', () => undefined);
            s.on('error', () => undefined);
            s.on('close', () => resolve());
          });
          sessions++;
        }),
      );
    }
    expect(sessions).toBe(connections);
    // Still serving, and its state is exactly what valid requests made.
    const client = await WitnessClient.connect(LOCAL, port, 10_000);
    const list = await client.request('LIST');
    client.close();
    expect(list[list.length - 1]).toMatch(/^OK LIST \d+$/);
    for (const line of list.slice(0, -1)) expect(line).toMatch(/^TEST [0-9a-f]{16} \d+ \d+ [a-z-]+ \S+ \S+ ready=[01] ended=[01] /);
    console.log(`[powercheck] fuzz: ${connections} hostile sessions (seed ${seed}); witness still serving, ${list.length - 1} tests known`);
  });
});

describe('powercheck witness: its state survives it', () => {
  it('closes an idle connection', async () => {
    const witness = await startWitness({ idleTimeoutMs: 200 });
    try {
      const { lines, closedByWitness } = await converse(witness.address().port, HELLO);
      expect(lines).toEqual([`OK HELLO ${PROTOCOL}`, 'ERR timeout no request for 0.2 s']);
      expect(closedByWitness).toBe(true);
    } finally {
      await witness.close();
    }
  });

  it('a restart (with snapshots and log compaction in between) gives back the same state; a second witness on the same state is refused', async () => {
    const stateDir = freshDir('restart');
    // Small segments, so that compaction really drops some of the log.
    const first = await startWitness({ stateDir, snapshotEvery: 25, segmentSize: 8192 });
    await expect(Witness.start({ stateDir, port: 0, host: LOCAL })).rejects.toMatchObject({ code: 'ERR_HARDSYNC_LOG_LOCKED' });
    const client = await WitnessClient.connect(LOCAL, first.address().port);
    const tests = ['f000000000000001', 'f000000000000002'];
    for (const t of tests) {
      await client.request(begin(t, 16).trim());
      await client.request(`READY ${t}`);
    }
    const random = prng(7);
    for (let seq = 1; seq <= 200; seq++) {
      const t = tests[seq % 2];
      const block = 1 + Math.floor(random() * 15);
      await client.request(`PRE ${t} ${seq} ${block}`);
      if (seq % 7 !== 0) await client.request(`POST ${t} ${seq} ${block}`);
    }
    await client.request(`END ${tests[0]}`);
    const before = await Promise.all(tests.map((t) => client.request(`STATE ${t}`)));
    client.close();
    await first.close();
    expect(fs.readdirSync(stateDir).sort()).toEqual(['log', 'snapshot.json']);
    const segments = fs.readdirSync(path.join(stateDir, 'log')).filter((name) => name !== 'LOCK');
    // ~380 records of ~50 bytes in 8 KiB segments would be 3 or more without compaction.
    expect(segments.length).toBeLessThanOrEqual(2);

    const second = await startWitness({ stateDir, segmentSize: 8192 });
    try {
      const again = await WitnessClient.connect(LOCAL, second.address().port);
      const after = await Promise.all(tests.map((t) => again.request(`STATE ${t}`)));
      again.close();
      expect(after).toEqual(before);
      expect(before[0][0]).toMatch(/ ended=1 /);
    } finally {
      await second.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// A witness in its own process, killed with SIGKILL and started again

interface WitnessProcess {
  child: ChildProcess;
  port: number;
  exited: Promise<void>;
}

async function spawnWitness(stateDir: string, port = 0): Promise<WitnessProcess> {
  const { child, done } = startCli(['powercheck', 'listen', '--host', LOCAL, '--port', String(port), '--state', stateDir]);
  const lines = readline.createInterface({ input: child.stdout! });
  const listening = await new Promise<number>((resolve, reject) => {
    lines.on('line', (line) => {
      const m = /listening on 127\.0\.0\.1:(\d+) /.exec(line);
      if (m) resolve(Number(m[1]));
    });
    done.then((run) => reject(new Error(`the witness exited (${run.code}): ${run.stderr}`)));
  });
  return { child, port: listening, exited: done.then(() => undefined) };
}

async function kill9(w: WitnessProcess): Promise<void> {
  w.child.kill('SIGKILL');
  await w.exited;
}

describe('powercheck: a witness killed (SIGKILL) and restarted mid-run', () => {
  it('the run reconnects, resends what was not acknowledged, and the check still holds (no cut, plain file)', async () => {
    const stateDir = freshDir('killed');
    let witness = await spawnWitness(stateDir);
    const port = witness.port;
    const file = path.join(freshDir('run'), 'pc.bin');
    const restarts: Promise<void>[] = [];
    try {
      const result = await runPowercheck({
        witness: { host: LOCAL, port },
        file,
        size: 256 << 10,
        blockSize: 4096,
        method: 'data',
        maxWrites: 60,
        reconnectMs: 30_000,
        seed: 1,
        hooks: {
          beforeWrite: async (seq) => {
            if (seq === 20 || seq === 40) {
              await kill9(witness);
              // Started again in the background: the run meets a refused connection first.
              restarts.push(spawnWitness(stateDir, port).then((w) => void (witness = w)));
            }
          },
        },
      });
      await Promise.all(restarts);
      expect(result).toMatchObject({ stop: 'writes', writes: 60 });
      expect(result.reconnects).toBe(2);
      // Once more, after the run: everything it was told is still there.
      await kill9(witness);
      witness = await spawnWitness(stateDir, port);
      const report = await verifyPowercheck({ witness: { host: LOCAL, port }, file });
      expect(report.verdict, report.reason).toBe('honest');
      expect(report.testInfo).toMatchObject({ announced: 60, durable: 60, ended: true });
    } finally {
      await Promise.allSettled(restarts);
      await kill9(witness);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// The check itself, on the power-cut simulator

const unavailable = powercutUnavailable();
if (unavailable) console.warn(`[powercut] skipped: ${unavailable}`);

const RUNS_PER_METHOD = runsFromEnv(10);
const SEED = seedFromEnv();
const METHODS = protocol.METHODS;

describe.skipIf(unavailable !== undefined)('powercheck on the power-cut simulator', () => {
  let pfs: PowercutFs;
  let witness: Witness;
  let address: { host: string; port: number };
  let fileNumber = 0;
  // A second witness for the CLI runs, whose records the test watches to know when to cut.
  let cliWitness: Witness;
  const listeners = new Set<(r: { kind: string }) => void>();
  let armedCleanup: () => void = () => undefined;

  beforeAll(async () => {
    pfs = await PowercutFs.mount();
    witness = await startWitness();
    address = { host: LOCAL, port: witness.address().port };
    cliWitness = await startWitness({ onRecord: (r) => listeners.forEach((l) => l(r)) });
  });
  afterAll(async () => {
    await witness?.close();
    await cliWitness?.close();
    await pfs?.unmount();
  });

  interface CutRun {
    method: string;
    seed: number;
    result: RunResult | Error;
    report: VerifyReport;
  }

  /**
   * One run: the runner writes on the mount; just before write `cutSeq` the power switch is
   * armed to cut `armOps` filesystem operations later (the write, its flush, or later ones);
   * then a reboot, and verify. With `lie`, flushes lie from the moment the file is durable.
   */
  async function cutRun(method: (typeof METHODS)[number], runSeed: number, lie: boolean): Promise<CutRun> {
    const cutSeq = (lie ? 2 : 1) + (runSeed % 12);
    const armOps = 1 + ((runSeed >>> 8) % 4);
    const file = path.join(pfs.mountpoint, `pc-${++fileNumber}.bin`);
    pfs.reset();
    let result: RunResult | Error;
    try {
      result = await runPowercheck({
        witness: address,
        file,
        size: 256 << 10,
        blockSize: 4096,
        method,
        maxWrites: 10_000,
        seed: runSeed,
        hooks: {
          afterReady: () => (lie ? pfs.setLie(true) : undefined),
          beforeWrite: (seq) => (seq === cutSeq ? pfs.arm(armOps) : undefined),
        },
      });
    } catch (error) {
      result = error as Error;
    }
    pfs.setLie(false);
    pfs.reboot();
    const report = await verifyPowercheck({ witness: address, file });
    const status = pfs.status();
    expect(status.backingErrors, pfs.log).toBe(0);
    expect(status.unmodelled, pfs.log).toBe(0);
    fs.rmSync(file, { force: true });
    pfs.sync();
    return { method, seed: runSeed, result, report };
  }

  function summarize(name: string, runs: CutRun[]): void {
    const verdicts = new Map<string, number>();
    for (const r of runs) verdicts.set(r.report.verdict, (verdicts.get(r.report.verdict) ?? 0) + 1);
    const acked = runs.reduce((n, r) => n + r.report.counts.acknowledged, 0);
    const lost = runs.reduce((n, r) => n + r.report.counts.lost, 0);
    console.log(`[powercheck] ${name}: ${runs.length} cuts (seed ${SEED}): ${[...verdicts].map(([v, n]) => `${n} ${v}`).join(', ')}; ${acked} blocks acknowledged durable, ${lost} lost`);
  }

  it(`honest filesystem: "honest" after every cut (${RUNS_PER_METHOD} cuts per method, each method)`, { timeout: 240_000 }, async () => {
    const runs: CutRun[] = [];
    for (const method of METHODS) {
      for (let i = 0; i < RUNS_PER_METHOD; i++) runs.push(await cutRun(method, mix(SEED, runs.length), false));
    }
    summarize('honest', runs);
    for (const r of runs) {
      const where = `${r.method}, seed ${r.seed}`;
      expect(r.result, where).not.toBeInstanceOf(Error);
      expect((r.result as RunResult).stop, where).toBe('io-error');
      expect((r.result as RunResult).error?.code, where).toBe('EIO');
      expect(r.report.verdict, `${where}: ${r.report.reason}`).toBe('honest');
      expect(r.report.counts.lost, where).toBe(0);
    }
    // The check did check something: acknowledged writes were read back after the cuts.
    expect(runs.filter((r) => r.report.counts.acknowledged > 0).length).toBeGreaterThan(runs.length / 2);
  });

  it(`lying filesystem (lie on once the file is durable): "lied" after every cut (${RUNS_PER_METHOD} cuts per method, each method)`, { timeout: 240_000 }, async () => {
    const runs: CutRun[] = [];
    for (const method of METHODS) {
      for (let i = 0; i < RUNS_PER_METHOD; i++) runs.push(await cutRun(method, mix(SEED ^ 0x5eed, runs.length), true));
    }
    summarize('lying', runs);
    for (const r of runs) {
      const where = `${r.method}, seed ${r.seed}`;
      expect((r.result as RunResult).stop, where).toBe('io-error');
      expect(r.report.verdict, `${where}: ${r.report.reason}`).toBe('lied');
      expect(r.report.counts.lost, where).toBeGreaterThan(0);
      expect(r.report.header, where).toBe('intact');
      // Each lost write says when it was acknowledged, relative to the machine's last message.
      for (const l of r.report.lost) expect(l.beforeLastContactMs, where).toBeGreaterThanOrEqual(0);
    }
  });

  it('a cut before the file is durable: "could not check" (nothing was acknowledged), never a verdict', async () => {
    for (let arm = 1; arm <= 6; arm++) {
      const file = path.join(pfs.mountpoint, `early-${arm}.bin`);
      pfs.arm(arm);
      await expect(runPowercheck({ witness: address, file, size: 64 << 10, blockSize: 4096, method: 'data', maxWrites: 100 })).rejects.toMatchObject({ code: 'EIO' });
      pfs.reboot();
      const report = await verifyPowercheck({ witness: address, file });
      expect(report.verdict, `arm ${arm}: ${report.reason}`).toBe('could-not-check');
      expect(['witness', 'header'], `arm ${arm}`).toContain(report.testFrom);
      fs.rmSync(file, { force: true });
      pfs.sync();
    }
  });

  it('the CLI end to end: run until the cut (exit 1), verify after the reboot: exit 0 honest, exit 1 lied (-o lie from the start)', { timeout: 120_000 }, async () => {
    const liar = await PowercutFs.mount({ lie: true });
    try {
      for (const [fsys, expected] of [
        [pfs, 'honest'],
        [liar, 'lied'],
        [pfs, 'honest'],
        [liar, 'lied'],
      ] as const) {
        const file = path.join(fsys.mountpoint, `cli-${++fileNumber}.bin`);
        // Cut once the witness has recorded 5 durable writes of this run (whatever the speed).
        let durable = 0;
        const armed = new Promise<void>((resolve) => {
          const listener = ({ kind }: { kind: string }) => {
            if (kind === 'post' && ++durable === 5) resolve();
          };
          listeners.add(listener);
          armedCleanup = () => listeners.delete(listener);
        });
        const run = startCli(['powercheck', 'run', '--witness', `${LOCAL}:${cliWitness.address().port}`, '--file', file, '--size', '256k', '--method', 'dsync', '--json', '-']);
        await Promise.race([armed, run.done]);
        armedCleanup();
        fsys.arm(2);
        const ran = await run.done;
        expect(ran.code, ran.stderr).toBe(1);
        expect(ran.stderr).toMatch(/failed: EIO: i\/o error, .*stopped/);
        const summary = JSON.parse(ran.stdout);
        expect(summary).toMatchObject({ kind: 'run', stop: 'io-error', method: 'dsync' });
        expect(summary.writes).toBeGreaterThanOrEqual(5);
        fsys.reboot();
        const verify = await runCli(['powercheck', 'verify', '--witness', `${LOCAL}:${cliWitness.address().port}`, '--file', file]);
        expect(verify.code, verify.stdout + verify.stderr).toBe(expected === 'honest' ? 0 : 1);
        expect(verify.stdout).toMatch(expected === 'honest' ? /verdict: HONEST: / : /verdict: LIED: .* is gone/);
        const json = await runCli(['powercheck', 'verify', '--witness', `${LOCAL}:${cliWitness.address().port}`, '--file', file, '--json', '-']);
        expect(JSON.parse(json.stdout)).toMatchObject({ schema: 'hardsync-powercheck/1', kind: 'verify', verdict: expected, test: summary.test });
        fs.rmSync(file, { force: true });
        fsys.sync();
      }
    } finally {
      await liar.unmount();
    }
  });

  it('a witness killed and restarted mid-run, then killed again after the cut: still "honest", nothing it acknowledged forgotten', { timeout: 120_000 }, async () => {
    for (let run = 0; run < 3; run++) {
      const runSeed = mix(SEED ^ 0xdead, run);
      const stateDir = freshDir('cut-killed');
      let w = await spawnWitness(stateDir);
      const port = w.port;
      const restarts: Promise<void>[] = [];
      const killAt = 3 + (runSeed % 5);
      const cutAt = killAt + 3 + ((runSeed >>> 4) % 5);
      const file = path.join(pfs.mountpoint, `killed-${run}.bin`);
      try {
        const result = await runPowercheck({
          witness: { host: LOCAL, port },
          file,
          size: 256 << 10,
          blockSize: 4096,
          method: METHODS[run % METHODS.length],
          maxWrites: 10_000,
          reconnectMs: 30_000,
          seed: runSeed,
          hooks: {
            beforeWrite: async (seq) => {
              if (seq === killAt) {
                await kill9(w);
                restarts.push(spawnWitness(stateDir, port).then((x) => void (w = x)));
              }
              if (seq === cutAt) pfs.arm(1 + ((runSeed >>> 8) % 3));
            },
          },
        });
        await Promise.all(restarts);
        expect(result.stop).toBe('io-error');
        expect(result.reconnects).toBe(1);
        await kill9(w);
        w = await spawnWitness(stateDir, port);
        pfs.reboot();
        const report = await verifyPowercheck({ witness: { host: LOCAL, port }, file });
        expect(report.verdict, report.reason).toBe('honest');
        expect(report.testInfo!.durable).toBeGreaterThanOrEqual(result.writes);
        expect(report.testInfo!.announced).toBeGreaterThanOrEqual(cutAt);
        fs.rmSync(file, { force: true });
        pfs.sync();
      } finally {
        await Promise.allSettled(restarts);
        await kill9(w);
      }
    }
  });
});

describe('powercheck CLI: signals', () => {
  it('run stops cleanly on SIGINT (exit 0, the witness told END); listen closes its state on SIGTERM (exit 0)', async () => {
    const stateDir = freshDir('signals');
    const w = await spawnWitness(stateDir);
    const file = path.join(freshDir('signals-run'), 'pc.bin');
    const run = startCli(['powercheck', 'run', '--witness', `${LOCAL}:${w.port}`, '--file', file, '--size', '64k']);
    // Interrupt once it is writing (stderr says so), whatever the speed.
    await new Promise<void>((resolve) => {
      let text = '';
      run.child.stderr!.on('data', (chunk) => {
        text += chunk;
        if (text.includes('writing until the power is cut')) resolve();
      });
      run.done.then(() => resolve());
    });
    run.child.kill('SIGINT');
    const ran = await run.done;
    expect(ran.code, ran.stderr).toBe(0);
    expect(ran.stdout).toMatch(/writes acknowledged durable in .*; stopped: interrupted\n$/);
    const report = await verifyPowercheck({ witness: { host: LOCAL, port: w.port }, file });
    expect(report.verdict).toBe('honest');
    expect(report.testInfo!.ended).toBe(true);
    expect(report.reason).toMatch(/no power cut was tested/);
    w.child.kill('SIGTERM');
    await w.exited;
    expect(w.child.exitCode).toBe(0);
    // Its lock is released: another witness opens the same state, and knows the test.
    const again = await startWitness({ stateDir });
    try {
      const client = await WitnessClient.connect(LOCAL, again.address().port);
      const list = await client.request('LIST');
      client.close();
      expect(list).toHaveLength(2);
      expect(list[0]).toMatch(/ ready=1 ended=1 /);
    } finally {
      await again.close();
    }
  });
});

// The witness writes nothing but its own state directory: every call of the listening process
// that creates, opens for writing, renames, links, removes or truncates a path, as strace
// records them, names a path inside --state.
describe.skipIf(!hasStrace)('powercheck witness: writes only its state directory', () => {
  it('over a whole session and a clean shutdown (strace -f of the listening process)', async () => {
    const stateDir = fs.realpathSync(freshDir('confined'));
    const log = path.join(fs.realpathSync(freshDir('strace')), 'witness.strace');
    const cli = path.join(__dirname, '..', 'dist', 'bench', 'cli.js');
    const child = spawn('strace', ['-f', '-qq', '-o', log, '-e', 'trace=openat,creat,mkdir,mkdirat,rename,renameat,renameat2,unlink,unlinkat,link,linkat,symlink,symlinkat,truncate,ftruncate', process.execPath, cli, 'powercheck', 'listen', '--host', LOCAL, '--port', '0', '--state', stateDir], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const port = await new Promise<number>((resolve, reject) => {
      readline.createInterface({ input: child.stdout! }).on('line', (line) => {
        const m = /listening on 127\.0\.0\.1:(\d+) /.exec(line);
        if (m) resolve(Number(m[1]));
      });
      exited.then((code) => reject(new Error(`the witness exited (${code})`)));
    });
    const t = 'c000000000000001';
    const { lines } = await converse(port, HELLO + begin(t) + `READY ${t}\nPRE ${t} 1 5\nPOST ${t} 1 5\nPRE ${t} 2 9\nPOST ${t} 2 9\nEND ${t}\nQUIT\n`);
    expect(lines[lines.length - 1]).toBe('OK BYE');
    // SIGTERM to the witness itself (strace's child), which closes its state and exits; strace
    // then exits with the witness's status. Its pid comes from /proc, not from pgrep: procps
    // deadlocks at start-up with the sanitizer runtime preloaded (npm run test:asan), and a
    // spawnSync that never returns blocks this worker's event loop, test timeout included.
    const witnessPid = Number(fs.readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(' ')[0]);
    expect(witnessPid).toBeGreaterThan(0);
    process.kill(witnessPid, 'SIGTERM');
    expect(await exited).toBe(0);
    const calls = fs.readFileSync(log, 'utf8').split('\n').filter((line) => /^\d+\s+[a-z_0-9]+\(/.test(line) && !/= -1 E/.test(line));
    const mutating = calls.filter((line) => !/^\d+\s+openat\(/.test(line) || /O_WRONLY|O_RDWR|O_CREAT|O_TRUNC/.test(line));
    expect(mutating.length, 'the witness wrote its state').toBeGreaterThan(0);
    const outside = mutating.filter((line) => {
      const paths = [...line.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]);
      return paths.length === 0 ? !/ftruncate\(/.test(line) : paths.some((p) => !(p === stateDir || p.startsWith(`${stateDir}/`)));
    });
    expect(outside).toEqual([]);
  });
});

describe('powercheck CLI: usage and unreachable witness (exit 2)', () => {
  it('refuses bad arguments before any I/O, and says why', async () => {
    const dir = freshDir('cli');
    const file = path.join(dir, 'f');
    for (const args of [
      ['powercheck', 'frob'],
      ['powercheck', 'run', '--file', file],
      ['powercheck', 'run', '--witness', 'h:99999', '--file', file],
      ['powercheck', 'run', '--witness', `${LOCAL}:1`, '--file', file, '--size', '1x'],
      ['powercheck', 'run', '--witness', `${LOCAL}:1`, '--file', file, '--block-size', '1000'],
      ['powercheck', 'run', '--witness', `${LOCAL}:1`, '--file', file, '--method', 'osync'],
      ['powercheck', 'run', '--witness', `${LOCAL}:1`, '--file', file, '--writes', '0'],
      ['powercheck', 'run', '--witness', `${LOCAL}:1`, '--file', file, '--bogus'],
      ['powercheck', 'run', '--witness', `${LOCAL}:1`, file],
      ['powercheck', 'verify', '--witness', `${LOCAL}:1`],
      ['powercheck', 'verify', '--witness', `${LOCAL}:1`, '--file', file, '--test', 'xyz'],
      ['powercheck', 'listen', '--port', '70000'],
    ]) {
      const run = await runCli(args);
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.stderr, args.join(' ')).toMatch(/^hardsync: /);
    }
    expect(fs.readdirSync(dir)).toEqual([]);
    const help = await runCli(['powercheck', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/hardsync powercheck listen/);
  });

  it('never replaces a file that is not a powercheck file; exit 2 when the witness cannot be reached', async () => {
    const witness = await startWitness();
    const port = witness.address().port;
    const dir = freshDir('cli');
    const precious = path.join(dir, 'precious.db');
    fs.writeFileSync(precious, 'do not touch');
    try {
      const refused = await runCli(['powercheck', 'run', '--witness', `${LOCAL}:${port}`, '--file', precious, '--replace', '--size', '64k']);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(/not a powercheck file/);
      expect(fs.readFileSync(precious, 'utf8')).toBe('do not touch');
      const exists = await runCli(['powercheck', 'run', '--witness', `${LOCAL}:${port}`, '--file', precious, '--size', '64k']);
      expect(exists.code).toBe(2);
      expect(exists.stderr).toMatch(/exists; remove it, or pass --replace/);
      // A clean run and a verify without a cut: honest.
      const file = path.join(dir, 'pc.bin');
      const ran = await runCli(['powercheck', 'run', '--witness', `${LOCAL}:${port}`, '--file', file, '--size', '64k', '--writes', '20']);
      expect(ran.code, ran.stderr).toBe(0);
      expect(ran.stdout).toMatch(/^test [0-9a-f]{16}: 20 writes acknowledged durable in /);
      const again = await runCli(['powercheck', 'run', '--witness', `${LOCAL}:${port}`, '--file', file, '--size', '64k', '--writes', '5', '--replace', '--method', 'full']);
      expect(again.code, again.stderr).toBe(0);
      const verify = await runCli(['powercheck', 'verify', '--witness', `${LOCAL}:${port}`, '--file', file]);
      expect(verify.code, verify.stdout).toBe(0);
      expect(verify.stdout).toMatch(/stopped cleanly: there was no power cut/);
    } finally {
      await witness.close();
    }
    // Nothing listens there any more.
    const closedRun = await runCli(['powercheck', 'run', '--witness', `${LOCAL}:${port}`, '--file', path.join(dir, 'x.bin'), '--size', '64k', '--reconnect', '0']);
    expect(closedRun.code).toBe(2);
    expect(closedRun.stderr).toMatch(/cannot reach the witness 127\.0\.0\.1:\d+: ECONNREFUSED/);
    const closedVerify = await runCli(['powercheck', 'verify', '--witness', `${LOCAL}:${port}`, '--file', path.join(dir, 'pc.bin')]);
    expect(closedVerify.code).toBe(2);
    expect(closedVerify.stdout).toMatch(/verdict: COULD NOT CHECK: cannot reach the witness/);
  });
});
