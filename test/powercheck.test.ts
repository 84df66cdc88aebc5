// `hardsync powercheck` (README: "Does your disk keep its promise?"): the block format, the witness against hostile and broken
// clients, strangers (no or a wrong secret, forged requests, floods) and its own restarts, and
// the whole check on the power-cut simulator: an honest filesystem gives "honest" after every
// cut, a lying one "lied" every time, also when it lost the whole file. Everything talks over
// 127.0.0.x only. HARDSYNC_POWERCUT_RUNS raises the number of cut runs per configuration,
// HARDSYNC_POWERCUT_SEED replays a campaign.
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WitnessClient, WitnessHandshakeError } from '../dist/bench/powercheck/client.js';
import { DurableLog } from '../dist/lib/index.js';
import * as protocol from '../dist/bench/powercheck/protocol.js';
import { runPowercheck, type RunResult } from '../dist/bench/powercheck/run.js';
import * as secrets from '../dist/bench/powercheck/secret.js';
import { chooseTest, verifyPowercheck, type VerifyReport, type WitnessTest } from '../dist/bench/powercheck/verify.js';
import { Witness, type WitnessOptions } from '../dist/bench/powercheck/witness.js';
import { CLI, runCli, startCli, type CliRun } from './fixtures/bench/run-cli';
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

/** The secret of an in-process witness (made in its state directory at its first start). */
const secretOf = (w: Witness): string => w.secret.secret;

/** A client of an in-process witness. */
const connect = (w: Witness): Promise<WitnessClient> => WitnessClient.connect(LOCAL, w.address().port, secretOf(w), 10_000);

/** Rejects if `promise` has not settled in `ms` (a wait that must not hang the file). */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** A digest of every file under `dir` (names, sizes, bytes): equal digests, unchanged state. */
function digestTree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (at: string) => {
    for (const entry of fs.readdirSync(at, { withFileTypes: true })) {
      const full = path.join(at, entry.name);
      if (entry.isDirectory()) walk(full);
      else out[path.relative(dir, full)] = crypto.createHash('sha256').update(fs.readFileSync(full)).digest('hex');
    }
  };
  walk(dir);
  return out;
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
 * the connection, or until `untilLines` lines came (then this side closes). With `secret`, the
 * handshake (HELLO, AUTH) comes first and its two replies are not among the lines returned.
 * `halfClose` ends the sending side after the input (the witness must still answer, then close).
 */
function converse(
  port: number,
  input: Buffer | string,
  options: { halfClose?: boolean; untilLines?: number; secret?: string; localAddress?: string } = {},
): Promise<{ lines: string[]; closedByWitness: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: LOCAL, port, allowHalfOpen: true, localAddress: options.localAddress });
    let text = '';
    let done = false;
    // Handshake state: the client nonce once HELLO is sent; lines of the handshake to drop.
    const clientNonce = secrets.makeNonce();
    let handshake = options.secret === undefined ? 2 : 0;
    const lines = () => text.split('\n').filter(Boolean);
    const finish = (closedByWitness: boolean) => {
      if (done) return;
      done = true;
      resolve({ lines: lines().slice(options.secret === undefined ? 0 : 2), closedByWitness });
    };
    const sendInput = () => {
      socket.write(input);
      if (options.halfClose) socket.end();
    };
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      text += chunk;
      const got = lines();
      if (handshake === 0 && got.length >= 1) {
        const [ok, , , witnessNonce] = got[0].split(' ');
        if (ok !== 'OK') return;
        handshake = 1;
        socket.write(`AUTH ${secrets.makeProof(options.secret!, 'client', clientNonce, witnessNonce)}\n`);
      }
      if (handshake === 1 && got.length >= 2) {
        handshake = 2;
        sendInput();
      }
      if (handshake === 2 && options.untilLines !== undefined && got.length - (options.secret === undefined ? 0 : 2) >= options.untilLines) {
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
      if (options.secret === undefined) sendInput();
      else socket.write(`HELLO ${PROTOCOL} ${clientNonce}\n`);
    });
  });
}

/**
 * A connection that has done the handshake with `secret` (the witness sends nothing more
 * unasked). `role: 'witness'` sends the witness's proof instead of the client's (a reflection).
 */
function openAuthenticated(
  port: number,
  secret: string,
  options: { allowHalfOpen?: boolean; localAddress?: string; role?: 'client' | 'witness' } = {},
): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: LOCAL, port, allowHalfOpen: options.allowHalfOpen, localAddress: options.localAddress });
    const clientNonce = secrets.makeNonce();
    let text = '';
    const onData = (chunk: Buffer) => {
      text += chunk.toString('latin1');
      const lines = text.split('\n');
      if (lines.length === 2 && lines[0].startsWith('OK HELLO ')) {
        socket.write(`AUTH ${secrets.makeProof(secret, options.role ?? 'client', clientNonce, lines[0].split(' ')[3])}\n`);
      } else if (lines.length >= 3) {
        socket.off('data', onData);
        socket.off('error', reject);
        if (lines[1].startsWith('OK AUTH ')) resolve(socket);
        else reject(new Error(`handshake refused: ${lines[1]}`));
      }
    };
    socket.on('data', onData);
    socket.on('error', reject);
    socket.on('close', () => reject(new Error(`closed during the handshake: ${JSON.stringify(text)}`)));
    socket.on('connect', () => socket.write(`HELLO ${PROTOCOL} ${clientNonce}\n`));
  });
}

/** A HELLO line (a fresh nonce each time). */
const hello = () => `HELLO ${PROTOCOL} ${secrets.makeNonce()}\n`;
const TEST = '00112233aabbccdd';
/** The run key of the tests' hand-made runs (a run draws a random one). */
const RUN_KEY = '0123456789abcdef0123456789abcdef';
const begin = (test = TEST, blocks = 64, runKey = RUN_KEY) => `BEGIN ${test} 4096 ${blocks} data host1 %2Ftmp%2Ff ${runKey}\n`;

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

  let secret: string;

  beforeAll(async () => {
    witness = await startWitness({ log: (line) => logged.push(line) });
    port = witness.address().port;
    secret = secretOf(witness);
  });
  afterAll(async () => {
    await witness?.close();
  });

  it('answers a well-formed session, and a repeated request (a resend after a lost connection) as already done', async () => {
    const t = 'a000000000000001';
    const { lines } = await converse(
      port,
      begin(t) + `READY ${t}\nPRE ${t} 1 5\nPOST ${t} 1 5\nPOST ${t} 1 5\nPRE ${t} 1 5\n${begin(t)}PING\nQUIT\n`,
      { secret },
    );
    expect(lines).toEqual([
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
    const state = await converse(port, `STATE ${t}\nQUIT\n`, { secret });
    expect(state.lines[0]).toMatch(new RegExp(`^TEST ${t} 4096 64 data host1 %2Ftmp%2Ff ready=1 ended=0 .* announced=1 durable=1 last-seq=1 `));
    expect(state.lines[1]).toMatch(/^BLOCK 5 1 \d+ 1 \d+$/);
    expect(state.lines[2]).toBe(`OK STATE ${t} 1`);
  });

  it('refuses every malformed or out-of-order request with an ERR line and a reason, and records nothing for it', async () => {
    const t = 'b000000000000002';
    const own = `BEGIN ${t} 4096 64 data h %2Fp ${RUN_KEY}`;
    const cases: [string, string][] = [
      ['FROB', 'unknown-command'],
      ['hello', 'unknown-command'],
      ['PRE', 'malformed'],
      ['PRE abc 1 1', 'malformed'],
      [`PRE ${t.toUpperCase()} 1 1`, 'malformed'],
      [`PRE ${t} 1 1`, 'unknown-test'],
      [`BEGIN ${t} 1000 64 data h %2Fp ${RUN_KEY}`, 'range'],
      [`BEGIN ${t} 4096 1 data h %2Fp ${RUN_KEY}`, 'range'],
      [`BEGIN ${t} 4096 64 bogus h %2Fp ${RUN_KEY}`, 'range'],
      [`BEGIN ${t} 4096 64 data %zz %2Fp ${RUN_KEY}`, 'malformed'],
      [`BEGIN ${t} 4096 64 data h %0A ${RUN_KEY}`, 'malformed'],
      [`BEGIN ${t} 4096 64 data h ${RUN_KEY}`, 'malformed'],
      [`BEGIN ${t} 4096 64 data h %2Fp`, 'malformed'],
      [`BEGIN ${t} 4096 64 data h %2Fp ${RUN_KEY.toUpperCase()}`, 'malformed'],
      [`BEGIN ${t} 4096 64 data h %2Fp 0123`, 'malformed'],
      [own, ''], // the test, for what follows (later connections send it first, to own the test)
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
      [`BEGIN ${t} 4096 128 data h %2Fp ${RUN_KEY}`, 'conflict'],
      [`PING extra`, 'malformed'],
      [`HELLO ${PROTOCOL} ${secrets.makeNonce()}`, 'malformed'],
      [`AUTH ${'0'.repeat(64)}`, 'malformed'],
    ];
    // A fresh connection per case keeps each case's reply apart (and avoids the error limit).
    let owned = false;
    for (const [line, code] of cases) {
      const { lines } = await converse(port, `${owned ? `${own}\n` : ''}${line}\nQUIT\n`, { secret });
      const reply = lines[owned ? 1 : 0];
      if (owned) expect(lines[0], line).toBe(`OK BEGIN ${t} known`);
      if (code === '') expect(reply, line).toMatch(/^OK /);
      else expect(reply, line).toMatch(new RegExp(`^ERR ${code} \\S`));
      expect(lines[lines.length - 1], line).toBe('OK BYE');
      if (line === own) owned = true;
    }
    const state = await converse(port, `STATE ${t}\nQUIT\n`, { secret });
    expect(state.lines[0]).toMatch(/ ready=1 .* announced=1 durable=0 last-seq=5 /);
    expect(state.lines[1]).toMatch(/^BLOCK 3 0 0 5 \d+$/);
  });

  it('ends the connection on a wrong version, on anything before HELLO, on an over-long line and after too many errors', async () => {
    const version = await converse(port, `HELLO hardsync-powercheck/1\nPING\n`);
    expect(version).toEqual({ lines: [`ERR version this witness speaks ${PROTOCOL}, not "hardsync-powercheck/1": run the same version of hardsync on both machines`], closedByWitness: true });
    const http = await converse(port, 'GET / HTTP/1.1\r\nHost: witness\r\n\r\n');
    expect(http.lines).toEqual([`ERR hello-first send "HELLO ${PROTOCOL} NONCE" first`]);
    expect(http.closedByWitness).toBe(true);
    const noNonce = await converse(port, `HELLO ${PROTOCOL}\nPING\n`);
    expect(noNonce.lines).toEqual([`ERR malformed HELLO is "HELLO ${PROTOCOL} NONCE", NONCE 32 lowercase hex digits`]);
    expect(noNonce.closedByWitness).toBe(true);
    const long = await converse(port, `PING ${'A'.repeat(20_000)}`, { secret });
    expect(long.lines).toEqual([`ERR too-long a line is at most ${protocol.MAX_LINE} bytes`]);
    expect(long.closedByWitness).toBe(true);
    const longWithNewline = await converse(port, `PING ${'A'.repeat(20_000)}\nPING\n`, { secret });
    expect(longWithNewline.lines[0]).toMatch(/^ERR too-long /);
    const longBeforeAuth = await converse(port, `${hello()}AUTH ${'A'.repeat(20_000)}`);
    expect(longBeforeAuth.lines[1]).toMatch(/^ERR too-long /);
    const many = await converse(port, 'FROB\n'.repeat(20), { secret });
    expect(many.closedByWitness).toBe(true);
    expect(many.lines.filter((l) => l.startsWith('ERR unknown-command')).length).toBe(8);
    expect(many.lines[many.lines.length - 1]).toMatch(/^ERR too-many-errors /);
  });

  it('answers what a half-closed client sent, then closes; an incomplete last line gets an ERR', async () => {
    const t = 'c000000000000003';
    const whole = await converse(port, begin(t) + `READY ${t}\nPRE ${t} 1 2\nPING\n`, { halfClose: true, secret });
    expect(whole).toEqual({ lines: [`OK BEGIN ${t} new`, `OK READY ${t}`, `OK PRE ${t} 1`, 'OK PONG'], closedByWitness: true });
    const partial = await converse(port, 'PIN', { halfClose: true, secret });
    expect(partial.lines).toEqual(['ERR malformed incomplete line at the end of the input (no newline)']);
    expect(partial.closedByWitness).toBe(true);
    const silent = await converse(port, '', { halfClose: true });
    expect(silent).toEqual({ lines: [], closedByWitness: true });
  });

  it('survives clients that reset the connection mid-request, and one that does not read its replies', async () => {
    for (let i = 0; i < 20; i++) {
      const s = i < 10 ? await openAuthenticated(port, secret) : await new Promise<net.Socket>((resolve) => {
        const raw = net.connect({ host: LOCAL, port }, () => resolve(raw));
      });
      s.on('error', () => undefined);
      s.write((i < 10 ? '' : hello()) + begin(`d0000000000000${String(i).padStart(2, '0')}`) + 'STATE 00');
      if (i % 2) s.resetAndDestroy();
      else s.destroy();
    }
    // 100 000 requests from a client that reads nothing for a while: the witness stops reading
    // too once its replies back up (bounded memory), and catches up once the client reads.
    const pings = 100_000;
    const s = await openAuthenticated(port, secret);
    const lines = await new Promise<string[]>((resolve, reject) => {
      s.pause();
      s.write('PING\n'.repeat(pings));
      setTimeout(() => s.resume(), 300);
      let text = '';
      s.setEncoding('latin1');
      s.on('data', (chunk: string) => {
        text += chunk;
        if (text.length >= pings * 'OK PONG\n'.length) {
          s.destroy();
          resolve(text.split('\n').filter(Boolean));
        }
      });
      s.on('error', reject);
    });
    expect(lines.length).toBe(pings);
    expect(lines.every((l) => l === 'OK PONG')).toBe(true);
  });

  it('fuzz: thousands of random and half-valid lines, split anywhere, authenticated or not, never crash it or corrupt its state', async () => {
    const seed = seedFromEnv();
    const random = prng(seed);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)];
    const fuzzTest = 'e000000000000005';
    const tokens = [
      'HELLO', 'AUTH', 'BEGIN', 'READY', 'PRE', 'POST', 'END', 'STATE', 'LIST', 'PING', 'QUIT', PROTOCOL, fuzzTest, TEST, 'ffffffffffffffff', RUN_KEY,
      '0', '1', '2', '63', '64', '4096', '-1', '1e9', '9007199254740992', '18446744073709551616', 'data', 'dsync', '%2F', '%', '%00', '',
      '\u0000', '\u00ff', '\r', '\t', 'A'.repeat(300), '0'.repeat(32), '0'.repeat(64),
    ];
    const connections = 300;
    let sessions = 0;
    let authenticated = 0;
    for (let c = 0; c < connections; c += 20) {
      await Promise.all(
        Array.from({ length: 20 }, async () => {
          // Most sessions fuzz the authenticated commands; the rest the handshake itself.
          const authed = random() < 0.8;
          const lines: string[] = authed ? [] : [pick([hello().trim(), `HELLO ${PROTOCOL}`, 'HELLO', ''])];
          const n = 1 + Math.floor(random() * 30);
          for (let i = 0; i < n; i++) {
            if (random() < 0.2) lines.push(Buffer.from(Array.from({ length: Math.floor(random() * 60) }, () => Math.floor(random() * 256))).toString('latin1'));
            else lines.push(Array.from({ length: Math.floor(random() * 8) }, () => pick(tokens)).join(random() < 0.9 ? ' ' : '  '));
          }
          const input = Buffer.from(`${lines.join('\n')}${random() < 0.5 ? '\n' : ''}`, 'latin1');
          const how = random();
          const s = authed
            ? await openAuthenticated(port, secret, { allowHalfOpen: true })
            : await new Promise<net.Socket>((resolve) => {
                const raw = net.connect({ host: LOCAL, port, allowHalfOpen: true }, () => resolve(raw));
              });
          if (authed) authenticated++;
          await new Promise<void>((resolve) => {
            s.on('data', () => undefined);
            s.on('error', () => undefined);
            s.on('close', () => resolve());
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
          sessions++;
        }),
      );
    }
    expect(sessions).toBe(connections);
    expect(authenticated).toBeGreaterThan(connections / 2);
    // Still serving, and its state is exactly what valid requests made.
    const client = await connect(witness);
    const list = await client.request('LIST');
    client.close();
    expect(list[list.length - 1]).toMatch(/^OK LIST \d+$/);
    for (const line of list.slice(0, -1)) expect(line).toMatch(/^TEST [0-9a-f]{16} \d+ \d+ [a-z-]+ \S+ \S+ ready=[01] ended=[01] /);
    console.log(`[powercheck] fuzz: ${connections} hostile sessions, ${authenticated} authenticated (seed ${seed}); witness still serving, ${list.length - 1} tests known`);
  });
});

describe('powercheck witness: no stranger can write to it', () => {
  let witness: Witness;
  let port: number;
  let secret: string;
  let stateDir: string;
  let records = 0;

  beforeAll(async () => {
    stateDir = freshDir('strangers');
    witness = await startWitness({ stateDir, onRecord: () => void records++ });
    port = witness.address().port;
    secret = secretOf(witness);
  });
  afterAll(async () => {
    await witness?.close();
  });

  /** What the witness holds: its LIST (asked with the secret), its state files, its record count. */
  async function held(): Promise<{ list: string[]; files: Record<string, string>; records: number; tests: number }> {
    const client = await connect(witness);
    const list = await client.request('LIST');
    client.close();
    return { list, files: digestTree(stateDir), records, tests: witness.stats().tests };
  }

  it('makes its secret at the first start (256 bits, mode 600, in a mode 700 directory), keeps it, and refuses one that others could read or change', async () => {
    const dir = path.join(freshDir('secret-home'), 'state');
    const first = await Witness.start({ stateDir: dir, port: 0, host: LOCAL });
    const made = first.secret;
    await first.close();
    expect(made).toMatchObject({ file: path.join(dir, 'secret'), created: true });
    expect(made.secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(fs.statSync(dir).mode & 0o777).toBe(0o700);
    expect(fs.statSync(made.file!).mode & 0o777).toBe(0o600);
    expect(fs.readFileSync(made.file!, 'latin1')).toBe(`${made.secret}\n`);
    const again = await Witness.start({ stateDir: dir, port: 0, host: LOCAL });
    expect(again.secret).toEqual({ ...made, created: false });
    await again.close();
    fs.chmodSync(made.file!, 0o640);
    await expect(Witness.start({ stateDir: dir, port: 0, host: LOCAL })).rejects.toMatchObject({ code: 'ERR_HARDSYNC_POWERCHECK_SECRET', message: expect.stringMatching(/mode 640: other users could read or change it; chmod 600/) });
    fs.chmodSync(made.file!, 0o600);
    fs.chmodSync(dir, 0o770);
    await expect(Witness.start({ stateDir: dir, port: 0, host: LOCAL })).rejects.toMatchObject({ message: expect.stringMatching(/state directory .* mode 770: other users could change it; chmod 700/) });
    fs.chmodSync(dir, 0o700);
    // A secret given by the user replaces the file's; too short a one is refused by the CLI (below).
    const given = await Witness.start({ stateDir: dir, port: 0, host: LOCAL, secret: 'a-secret-of-my-own-choosing' });
    try {
      expect(given.secret).toEqual({ secret: 'a-secret-of-my-own-choosing', file: null, created: false });
      const client = await WitnessClient.connect(LOCAL, given.address().port, 'a-secret-of-my-own-choosing', 10_000);
      expect(await client.request('PING')).toEqual(['OK PONG']);
      client.close();
      await expect(WitnessClient.connect(LOCAL, given.address().port, made.secret, 10_000)).rejects.toMatchObject({ reason: 'secret' });
    } finally {
      await given.close();
    }
  });

  it('refuses a connection without the secret or with a wrong one, and records nothing', async () => {
    const t = '5000000000000001';
    const before = await held();
    const refusedBefore = witness.stats().refusedAuth;
    // Nothing but HELLO before AUTH; anything else ends the connection.
    const noHello = await converse(port, begin(t));
    expect(noHello).toEqual({ lines: [`ERR hello-first send "HELLO ${PROTOCOL} NONCE" first`], closedByWitness: true });
    for (const line of [begin(t).trim(), 'LIST', `STATE ${t}`, 'PING', `POST ${TEST} 1 1`]) {
      const skipped = await converse(port, `${hello()}${line}\nLIST\n`);
      expect(skipped.lines[0]).toMatch(new RegExp(`^OK HELLO ${PROTOCOL} [0-9a-f]{32}$`));
      expect(skipped.lines.slice(1), line).toEqual([`ERR auth-first authenticate (AUTH) before ${JSON.stringify(line.split(' ')[0])}`]);
      expect(skipped.closedByWitness).toBe(true);
    }
    // Wrong proofs: zeros, one made with another secret, one for another connection's nonces
    // (a replay), the witness's own proof reflected back, a malformed one.
    const clientNonce = secrets.makeNonce();
    const wrong = [
      '0'.repeat(64),
      secrets.makeProof('not-the-witness-secret', 'client', clientNonce, '0'.repeat(32)),
      secrets.makeProof(secret, 'client', clientNonce, 'f'.repeat(32)),
      'abc',
    ];
    for (const proof of wrong) {
      const { lines, closedByWitness } = await converse(port, `HELLO ${PROTOCOL} ${clientNonce}\nAUTH ${proof}\n${begin(t)}LIST\n`);
      expect(lines[1], proof).toBe("ERR auth the proof does not match this witness's secret (see hardsync powercheck listen --help)");
      expect(lines, proof).toHaveLength(2);
      expect(closedByWitness).toBe(true);
    }
    await expect(openAuthenticated(port, secret, { role: 'witness' })).rejects.toThrow(/handshake refused: ERR auth /);
    // The client: a wrong secret is a clear refusal, never retried as a lost connection.
    const refused = await WitnessClient.connect(LOCAL, port, 'not-the-witness-secret', 10_000).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(WitnessHandshakeError);
    expect(refused).toMatchObject({ reason: 'secret', message: expect.stringMatching(/refused the secret: it is not this witness's .*--secret-file FILE or \$HARDSYNC_POWERCHECK_SECRET/) });
    // verify with a wrong secret: could not check, with that message.
    const report = await verifyPowercheck({ witness: { host: LOCAL, port }, secret: 'not-the-witness-secret', file: path.join(freshDir('nofile'), 'f') });
    expect(report).toMatchObject({ verdict: 'could-not-check', reason: expect.stringMatching(/refused the secret/) });
    expect(await held()).toEqual(before);
    expect(witness.stats().refusedAuth - refusedBefore).toBeGreaterThanOrEqual(11);
  });

  it('refuses a forged READY/PRE/POST/END/BEGIN from a connection that did not begin the test, and changes nothing; the run that began it goes on', async () => {
    const t = '5000000000000002';
    const owner = await connect(witness);
    try {
      await owner.request(begin(t).trim());
      await owner.request(`READY ${t}`);
      await owner.request(`PRE ${t} 1 5`);
      const before = await held();
      const otherKey = 'f'.repeat(32);
      for (const forged of [`POST ${t} 1 5`, `PRE ${t} 2 6`, `READY ${t}`, `END ${t}`, begin(t, 64, otherKey).trim(), `BEGIN ${t} 4096 128 data host1 %2Ftmp%2Ff ${otherKey}`]) {
        // Another client that knows the witness's secret, but not the run's key.
        const forger = await connect(witness);
        await expect(forger.request(forged), forged).rejects.toMatchObject({ errCode: 'not-owner' });
        forger.close();
      }
      expect(await held()).toEqual(before);
      // The run that began it goes on; after a reconnect, its BEGIN (with its key) makes the new connection its own.
      await owner.request(`POST ${t} 1 5`);
      const resumed = await connect(witness);
      expect(await resumed.request(begin(t).trim())).toEqual([`OK BEGIN ${t} known`]);
      expect(await resumed.request(`PRE ${t} 2 6`)).toEqual([`OK PRE ${t} 2`]);
      const state = await resumed.request(`STATE ${t}`);
      resumed.close();
      expect(state[0]).toMatch(/ announced=2 durable=1 last-seq=2 /);
    } finally {
      owner.close();
    }
  });

  it('a client of another protocol version, or a witness that cannot prove it knows the secret, gets a clear refusal', async () => {
    const old = await converse(port, 'HELLO hardsync-powercheck/1\n');
    expect(old.lines).toEqual([`ERR version this witness speaks ${PROTOCOL}, not "hardsync-powercheck/1": run the same version of hardsync on both machines`]);
    // Fake witnesses: one of protocol 1 (it takes no nonce), one that accepts any proof.
    const fake = (answer: (line: string) => string) =>
      new Promise<net.Server>((resolve) => {
        const server = net.createServer((socket) => {
          readline.createInterface({ input: socket }).on('line', (line) => socket.write(answer(line)));
          socket.on('error', () => undefined);
        });
        server.listen(0, LOCAL, () => resolve(server));
      });
    const v1 = await fake(() => 'ERR malformed HELLO takes 1 field, got 2\n');
    const liar = await fake((line) => (line.startsWith('HELLO') ? `OK HELLO ${PROTOCOL} ${'1'.repeat(32)}\n` : `OK AUTH ${'0'.repeat(64)}\n`));
    try {
      await expect(WitnessClient.connect(LOCAL, (v1.address() as net.AddressInfo).port, secret, 10_000)).rejects.toMatchObject({
        reason: 'version',
        message: expect.stringMatching(/does not speak hardsync-powercheck\/2 .*run the same version of hardsync on both machines/),
      });
      await expect(WitnessClient.connect(LOCAL, (liar.address() as net.AddressInfo).port, secret, 10_000)).rejects.toMatchObject({
        reason: 'witness-proof',
        message: expect.stringMatching(/without proving that it knows it/),
      });
    } finally {
      v1.close();
      liar.close();
    }
  });
});

describe('powercheck witness: its limits hold under a flood from localhost', () => {
  it('connections: at most N per address and M in all, the rest refused at once with ERR busy; a client from another address is served during the flood', { timeout: 120_000 }, async () => {
    const stateDir = freshDir('flood');
    const witness = await startWitness({ stateDir, maxConnections: 8, maxConnectionsPerAddress: 4, authTimeoutMs: 600_000 });
    const port = witness.address().port;
    const secret = secretOf(witness);
    const flood: { socket: net.Socket; text: string; closed: Promise<void> }[] = [];
    const open = (localAddress: string) => {
      const socket = net.connect({ host: LOCAL, port, localAddress });
      const entry = { socket, text: '', closed: new Promise<void>((resolve) => socket.on('close', () => resolve())) };
      socket.setEncoding('latin1');
      socket.on('data', (chunk: string) => void (entry.text += chunk));
      socket.on('error', () => undefined);
      flood.push(entry);
      return entry;
    };
    /** Waits until the witness has taken in (or refused) every connection opened so far. */
    const settled = () =>
      within(
        (async () => {
          while (witness.stats().connections + witness.stats().refusedBusy < flood.length) await new Promise((resolve) => setTimeout(resolve, 20));
        })(),
        60_000,
        'the witness to take in the flood',
      );
    try {
      const client = await connect(witness);
      const before = await client.request('LIST');
      client.close();
      await within((async () => { while (witness.stats().connections > 0) await new Promise((resolve) => setTimeout(resolve, 20)); })(), 30_000, 'the first client to go');
      const filesBefore = digestTree(stateDir);
      for (let i = 0; i < 200; i++) open('127.0.0.1');
      await settled();
      expect(witness.stats()).toMatchObject({ connections: 4, refusedBusy: 196 });
      const refused = flood.filter((f) => f.text.length > 0);
      expect(refused).toHaveLength(196);
      for (const f of refused) expect(f.text).toBe("ERR busy too many connections from 127.0.0.1 (4, the witness's maximum per address)\n");
      await within(Promise.all(refused.map((f) => f.closed)), 30_000, 'the refused connections to be closed by the witness');
      // Another address still gets in, up to the total.
      const others = await Promise.all([1, 2, 3, 4].map(() => openAuthenticated(port, secret, { localAddress: '127.0.0.2' })));
      const during = await within(
        new Promise<string>((resolve) => {
          others[0].once('data', (chunk) => resolve(chunk.toString('latin1')));
          others[0].write('PING\n');
        }),
        30_000,
        'PING during the flood',
      );
      expect(during).toBe('OK PONG\n');
      const beyond = open('127.0.0.3');
      await settled();
      await within(beyond.closed, 30_000, 'the connection beyond the total to be closed');
      expect(beyond.text).toBe("ERR busy too many connections (8, the witness's maximum)\n");
      expect(witness.stats().peakConnections).toBe(8);
      // The flood goes; the witness serves again, and nothing of it was recorded.
      for (const f of flood) f.socket.destroy();
      for (const s of others) s.destroy();
      await within((async () => { while (witness.stats().connections > 0) await new Promise((resolve) => setTimeout(resolve, 20)); })(), 30_000, 'the flood to go');
      const after = await connect(witness);
      expect(await after.request('LIST')).toEqual(before);
      after.close();
      expect(digestTree(stateDir)).toEqual(filesBefore);
      console.log(`[powercheck] flood: ${flood.length} connections, ${witness.stats().refusedBusy} refused busy, peak ${witness.stats().peakConnections} (limits 4 per address, 8 in all)`);
    } finally {
      for (const f of flood) f.socket.destroy();
      await witness.close();
    }
  });

  it('a connection that does not authenticate in time is closed, however it trickles bytes; one that did is not', { timeout: 120_000 }, async () => {
    const witness = await startWitness({ authTimeoutMs: 300, idleTimeoutMs: 600_000, maxConnectionsPerAddress: 1000 });
    const port = witness.address().port;
    try {
      const silent = await within(converse(port, ''), 60_000, 'a silent connection to be closed');
      expect(silent).toEqual({ lines: ['ERR timeout not authenticated within 0.3 s'], closedByWitness: true });
      // A trickle of bytes (a line that never ends) does not hold the connection open past the deadline.
      const trickled = await within(
        new Promise<string>((resolve) => {
          const socket = net.connect({ host: LOCAL, port });
          let text = '';
          const drip = setInterval(() => socket.write('A'), 20);
          socket.on('connect', () => socket.write(hello()));
          socket.on('data', (chunk) => void (text += chunk.toString('latin1')));
          socket.on('error', () => undefined);
          socket.on('close', () => {
            clearInterval(drip);
            resolve(text);
          });
        }),
        60_000,
        'a trickling connection to be closed',
      );
      // (Its HELLO may or may not have been answered before the deadline, on a loaded machine.)
      expect(trickled.split('\n').filter(Boolean).at(-1)).toBe('ERR timeout not authenticated within 0.3 s');
      // 100 silent connections at once: each is closed by the witness.
      const flood = await within(Promise.all(Array.from({ length: 100 }, () => converse(port, ''))), 60_000, 'a silent flood to be closed');
      expect(flood.every((f) => f.closedByWitness && f.lines[0] === 'ERR timeout not authenticated within 0.3 s')).toBe(true);
      expect(witness.stats().tests).toBe(0);
    } finally {
      await witness.close();
    }
    // A connection that authenticated outlives its deadline: once a connection opened after it
    // has been closed at its own deadline, the first one's has passed too, and it still answers.
    // (A deadline of 5 s: the handshake has that long, even on a loaded machine.)
    const patient = await startWitness({ authTimeoutMs: 5000, idleTimeoutMs: 600_000 });
    try {
      const port = patient.address().port;
      const authed = await openAuthenticated(port, secretOf(patient));
      const later = await within(converse(port, ''), 60_000, 'a later silent connection to be closed');
      expect(later.lines).toEqual(['ERR timeout not authenticated within 5 s']);
      const pong = await within(
        new Promise<string>((resolve) => {
          authed.once('data', (chunk) => resolve(chunk.toString('latin1')));
          authed.write('PING\n');
        }),
        30_000,
        'PING after the deadline',
      );
      expect(pong).toBe('OK PONG\n');
      authed.destroy();
    } finally {
      await patient.close();
    }
  });

  it('tests and state size: a BEGIN or a new block beyond the limits gets ERR full and records nothing; the snapshot stays within the bound', { timeout: 120_000 }, async () => {
    const many = await startWitness({ maxTests: 20 });
    try {
      const begins = Array.from({ length: 40 }, (_, i) => begin(`60000000000000${String(i).padStart(2, '0')}`)).join('');
      const { lines } = await converse(many.address().port, begins, { secret: secretOf(many) });
      expect(lines.slice(0, 20).every((l) => /^OK BEGIN 60{13}\d\d new$/.test(l))).toBe(true);
      expect(lines[20]).toBe("ERR full this witness holds 20 tests, its maximum: its operator can start it with a new --state directory or a larger --max-tests");
      expect(lines[lines.length - 1]).toMatch(/^ERR too-many-errors /);
      expect(many.stats().tests).toBe(20);
      const client = await connect(many);
      expect(await client.request('LIST')).toHaveLength(21);
      client.close();
    } finally {
      await many.close();
    }
    // Room for one test and 10 blocks: the 11th new block and a second test are refused.
    const stateDir = freshDir('full');
    const hostName = 'h'.repeat(255);
    const filePath = `/${'"\\'.repeat(1000)}`;
    const cost = 512 + Buffer.byteLength(JSON.stringify(hostName)) + Buffer.byteLength(JSON.stringify(filePath)) + 10 * 80;
    const small = await startWitness({ stateDir, maxStateBytes: cost });
    const t = '7000000000000001';
    const seq0 = Number.MAX_SAFE_INTEGER - 1000;
    const big = `BEGIN ${t} 4096 ${2 ** 32} data ${encodeURIComponent(hostName)} ${encodeURIComponent(filePath)} ${RUN_KEY}`;
    let statsBefore = small.stats();
    try {
      const client = await connect(small);
      await client.request(big);
      await client.request(`READY ${t}`);
      for (let i = 0; i < 10; i++) {
        await client.request(`PRE ${t} ${seq0 + 2 * i} ${2 ** 32 - 1 - i}`);
        await client.request(`POST ${t} ${seq0 + 2 * i} ${2 ** 32 - 1 - i}`);
      }
      // An already tracked block costs nothing more.
      await client.request(`PRE ${t} ${seq0 + 100} ${2 ** 32 - 1}`);
      client.close();
      const filesBefore = digestTree(stateDir);
      const refused = await converse(small.address().port, `${big}\nPRE ${t} ${seq0 + 101} 7\n${begin('7000000000000002')}QUIT\n`, { secret: secretOf(small) });
      expect(refused.lines[0]).toBe(`OK BEGIN ${t} known`);
      expect(refused.lines[1]).toMatch(/^ERR full the witness's state is full \(\d+ of \d+ bytes\): its operator can start it with a new --state directory or a larger --max-state$/);
      expect(refused.lines[2]).toMatch(/^ERR full /);
      expect(digestTree(stateDir)).toEqual(filesBefore);
      statsBefore = small.stats();
      expect(statsBefore.stateBytes).toBeLessThanOrEqual(cost);
      expect(statsBefore.tests).toBe(1);
    } finally {
      await small.close();
    }
    // Started again, the state adds up to the same bound; with a snapshot after every record, the
    // next record writes the whole state, which is no larger than the bound.
    const reopened = await startWitness({ stateDir, maxStateBytes: cost, snapshotEvery: 1 });
    try {
      expect(reopened.stats().stateBytes).toBe(statsBefore.stateBytes);
      const client = await connect(reopened);
      await client.request(big);
      await client.request(`PRE ${t} ${seq0 + 200} ${2 ** 32 - 1}`);
      client.close();
    } finally {
      await reopened.close();
    }
    const snapshot = fs.statSync(path.join(stateDir, 'snapshot.json')).size;
    expect(snapshot).toBeGreaterThan(cost / 2);
    expect(snapshot).toBeLessThanOrEqual(statsBefore.stateBytes);
  });
});

describe('powercheck verify: a file whose header is gone, checked without --test', () => {
  const at = (over: Partial<WitnessTest> & Pick<WitnessTest, 'test' | 'number' | 'began' | 'last'>): WitnessTest => ({
    blockSize: 4096, blocks: 64, method: 'data', host: 'm1', path: '/d/pc.bin', ready: true, ended: false, readyAt: over.began, announced: 1, durable: 1, lastSeq: 1, ...over,
  });

  it('chooses the last unfinished test of this host and path, and says why when it cannot', () => {
    const clean = at({ test: 'a', number: 1, began: 1000, last: 2000, ended: true });
    const replaced = at({ test: 'b', number: 2, began: 3000, last: 4000 });
    const cut = at({ test: 'c', number: 3, began: 5000, last: 6000 });
    const elsewhere = at({ test: 'd', number: 4, began: 5500, last: 7000, host: 'm2' });
    const otherPath = at({ test: 'e', number: 5, began: 8000, last: 9000, path: '/d/other.bin' });
    expect(chooseTest([clean, replaced, cut, elsewhere, otherPath], 'm1', '/d/pc.bin')).toEqual({ test: cut });
    // A later run that began and was cut before its file was durable replaced (or removed) the file: it is the one.
    const early = at({ test: 'f', number: 6, began: 9500, last: 9600, ready: false });
    expect(chooseTest([clean, replaced, cut, early], 'm1', '/d/pc.bin')).toEqual({ test: early });
    const none = chooseTest([clean], 'm1', '/d/pc.bin');
    expect(none).toMatchObject({ test: null, candidates: [clean] });
    expect(none.test === null && none.why).toMatch(/latest test of m1 for that path, a, ended cleanly/);
    const twin = at({ test: 'g', number: 7, began: 5500, last: 6500 });
    const both = chooseTest([clean, replaced, cut, twin], 'm1', '/d/pc.bin');
    expect(both).toMatchObject({ test: null, candidates: [cut, twin] });
    expect(both.test === null && both.why).toMatch(/2 unfinished tests of m1 for that path overlapped in time \(c, g\)/);
    const stranger = chooseTest([elsewhere], 'm1', '/d/pc.bin');
    expect(stranger).toMatchObject({ test: null, candidates: [elsewhere] });
    expect(stranger.test === null && stranger.why).toBe('the witness knows no test of m1 for that path (it knows 1 of other hosts: m2)');
    expect(chooseTest([], 'm1', '/d/pc.bin')).toMatchObject({ test: null, candidates: [] });
  });

  it('on a plain file: a lost header or file of an unfinished run is "lied"; after a clean run, or with overlapping runs, "could not check" naming the candidates', { timeout: 120_000 }, async () => {
    const witness = await startWitness();
    const address = { host: LOCAL, port: witness.address().port };
    const secret = secretOf(witness);
    const secretFile = witness.secret.file!;
    const dir = freshDir('headerless');
    const file = path.join(dir, 'pc.bin');
    const headerOf = (f: string) => protocol.parseHeader(fs.readFileSync(f).subarray(0, 4096))!.test;
    try {
      const clean = await runPowercheck({ witness: address, secret, file, size: 64 << 10, blockSize: 4096, method: 'data', maxWrites: 10 });
      fs.rmSync(file);
      const afterClean = await verifyPowercheck({ witness: address, secret, file });
      expect(afterClean).toMatchObject({ verdict: 'could-not-check', header: 'no-file', test: null, candidates: [{ test: clean.test, ended: true }] });
      expect(afterClean.reason).toMatch(new RegExp(`ended cleanly .*; give --test ID to check one of: ${clean.test}$`));
      // A run that stops without END, as a power cut stops it.
      const cut = new Error('the power is cut');
      await expect(
        runPowercheck({ witness: address, secret, file, size: 64 << 10, blockSize: 4096, method: 'data', seed: 3, hooks: { beforeWrite: (seq) => { if (seq === 8) throw cut; } } }),
      ).rejects.toBe(cut);
      const unfinished = headerOf(file);
      const intact = await verifyPowercheck({ witness: address, secret, file });
      expect(intact).toMatchObject({ verdict: 'honest', testFrom: 'header', test: unfinished });
      // The disk lost block 0.
      const fd = fs.openSync(file, 'r+');
      fs.writeSync(fd, Buffer.alloc(4096), 0, 4096, 0);
      fs.closeSync(fd);
      const headerless = await verifyPowercheck({ witness: address, secret, file });
      expect(headerless).toMatchObject({ verdict: 'lied', header: 'missing', testFrom: 'witness', test: unfinished });
      // The disk lost the whole file.
      fs.rmSync(file);
      const gone = await verifyPowercheck({ witness: address, secret, file });
      expect(gone).toMatchObject({ verdict: 'lied', header: 'no-file', testFrom: 'witness', test: unfinished });
      expect(gone.reason).toMatch(/is gone, though its creation was acknowledged durable/);
      const cli = await runCli(['powercheck', 'verify', '--witness', `${LOCAL}:${address.port}`, '--secret-file', secretFile, '--file', file]);
      expect(cli.code, cli.stdout + cli.stderr).toBe(1);
      expect(cli.stdout).toMatch(new RegExp(`test ${unfinished} \\(the header is gone: the last unfinished test of this host and path\\)`));
      expect(cli.stdout).toMatch(/verdict: LIED: /);

      // Two runs that overlapped on one host name and path (two cloned machines): the witness cannot tell.
      const twin = path.join(dir, 'twin.bin');
      const ids = ['8000000000000001', '8000000000000002'];
      const clients = await Promise.all(ids.map(() => connect(witness)));
      const params = (test: string) => ({ test, blockSize: 4096, blocks: 16, method: 'data' as const, host: os.hostname(), path: twin });
      for (const [i, test] of ids.entries()) await clients[i].request(protocol.formatBegin(params(test), `${i}`.repeat(32)));
      for (const [i, test] of ids.entries()) await clients[i].request(`READY ${test}`);
      for (const [i, test] of ids.entries()) await clients[i].requestMany([`PRE ${test} 1 ${3 + i}`, `POST ${test} 1 ${3 + i}`]);
      for (const c of clients) c.close();
      const twins = await verifyPowercheck({ witness: address, secret, file: twin });
      expect(twins).toMatchObject({ verdict: 'could-not-check', test: null, candidates: ids.map((test) => ({ test, ended: false, ready: true })) });
      expect(twins.reason).toMatch(new RegExp(`2 unfinished tests of .* overlapped in time \\(${ids.join(', ')}\\).*give --test ID to check one of: ${ids.join(', ')}$`));
      const twinsCli = await runCli(['powercheck', 'verify', '--witness', `${LOCAL}:${address.port}`, '--secret-file', secretFile, '--file', twin]);
      expect(twinsCli.code).toBe(2);
      expect(twinsCli.stdout).toMatch(new RegExp(`tests of this path known to the witness:\\n  ${ids[0]}  host .*not ended \\(cut\\?\\)\\n  ${ids[1]}  `));
      // Told which one, verify judges it.
      expect(await verifyPowercheck({ witness: address, secret, file: twin, test: ids[1] })).toMatchObject({ verdict: 'lied', testFrom: 'option', header: 'no-file' });
    } finally {
      await witness.close();
    }
  });

  it('on a plain file: a file that still holds an older test although a later run replaced it durably is "lied"', async () => {
    const witness = await startWitness();
    const address = { host: LOCAL, port: witness.address().port };
    const secret = secretOf(witness);
    const file = path.join(freshDir('replaced'), 'pc.bin');
    try {
      const first = await runPowercheck({ witness: address, secret, file, size: 64 << 10, blockSize: 4096, method: 'data', maxWrites: 10 });
      const old = fs.readFileSync(file);
      const cut = new Error('the power is cut');
      await expect(
        runPowercheck({ witness: address, secret, file, replace: true, size: 64 << 10, blockSize: 4096, method: 'data', hooks: { beforeWrite: (seq) => { if (seq === 4) throw cut; } } }),
      ).rejects.toBe(cut);
      const second = protocol.parseHeader(fs.readFileSync(file).subarray(0, 4096))!.test;
      expect(await verifyPowercheck({ witness: address, secret, file })).toMatchObject({ verdict: 'honest', test: second, replacedBy: null });
      // The disk kept the old file and lost its replacement.
      fs.writeFileSync(file, old);
      const report = await verifyPowercheck({ witness: address, secret, file });
      expect(report).toMatchObject({ verdict: 'lied', testFrom: 'header', test: first.test, header: 'intact', replacedBy: second });
      expect(report.reason).toMatch(new RegExp(`holds test ${first.test}, but test ${second} of the same host and path, .* the disk lost the newer file and kept the older one`));
    } finally {
      await witness.close();
    }
  });
});

describe('powercheck witness: its state survives it', () => {
  it('reads a state written by protocol 1: its tests can be listed and verified, not continued', async () => {
    const stateDir = freshDir('v1-state');
    const t = '9000000000000001';
    const file = path.join(freshDir('v1-file'), 'pc.bin');
    // Protocol 1's records: BEGIN's six fields and the time, no run key.
    const log = await DurableLog.open(path.join(stateDir, 'log'), { flush: 'full' });
    for (const record of [`B ${t} 4096 16 data ${encodeURIComponent(os.hostname())} ${encodeURIComponent(file)} 1700000000000`, `R ${t} 1700000000001`, `P ${t} 1 3 1700000000002`, `D ${t} 1 3 1700000000003`]) {
      await log.append(record);
    }
    await log.close();
    const witness = await startWitness({ stateDir });
    try {
      const client = await connect(witness);
      expect((await client.request('LIST'))[0]).toMatch(new RegExp(`^TEST ${t} 4096 16 data .* ready=1 ended=0 .* announced=1 durable=1 `));
      await expect(client.request(begin(t, 16).trim())).rejects.toMatchObject({ errCode: 'not-owner', detail: `test ${t} was begun by an older protocol and cannot be continued` });
      client.close();
      // Its file is gone: the witness names the test, and the verdict follows.
      expect(await verifyPowercheck({ witness: { host: LOCAL, port: witness.address().port }, secret: secretOf(witness), file })).toMatchObject({ verdict: 'lied', testFrom: 'witness', test: t, header: 'no-file' });
    } finally {
      await witness.close();
    }
  });

  it('closes an idle connection', async () => {
    const witness = await startWitness({ idleTimeoutMs: 200 });
    try {
      // Before authenticating (the handshake's second line could itself be 0.2 s late on a loaded machine).
      const { lines, closedByWitness } = await converse(witness.address().port, hello());
      expect(lines).toEqual([expect.stringMatching(new RegExp(`^OK HELLO ${PROTOCOL} [0-9a-f]{32}$`)), 'ERR timeout no request for 0.2 s']);
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
    const client = await connect(first);
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
    expect(fs.readdirSync(stateDir).sort()).toEqual(['log', 'secret', 'snapshot.json']);
    const segments = fs.readdirSync(path.join(stateDir, 'log')).filter((name) => name !== 'LOCK');
    // ~380 records of ~50 bytes in 8 KiB segments would be 3 or more without compaction.
    expect(segments.length).toBeLessThanOrEqual(2);

    const second = await startWitness({ stateDir, segmentSize: 8192 });
    try {
      // The same secret as before: made once, at the first start.
      expect(second.secret).toEqual({ secret: first.secret.secret, file: path.join(stateDir, 'secret'), created: false });
      expect(first.secret.created).toBe(true);
      const again = await connect(second);
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
  /** Its standard output so far, line by line. */
  output: string[];
  /** Its secret (read from its state directory, as a user on the same machine could). */
  secret: string;
  exited: Promise<void>;
}

/** Witness processes still running: killed after each test, whatever happened in it. */
const running = new Set<ChildProcess>();
afterEach(async () => {
  const left = [...running];
  running.clear();
  await Promise.all(
    left.map((child) => {
      if (child.exitCode !== null || child.signalCode !== null) return undefined;
      const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGKILL');
      return within(gone, 30_000, `killing witness ${child.pid}`);
    }),
  );
});

async function spawnWitness(stateDir: string, port = 0): Promise<WitnessProcess> {
  const { child, done } = startCli(['powercheck', 'listen', '--host', LOCAL, '--port', String(port), '--state', stateDir]);
  running.add(child);
  const exited = done.then(() => void running.delete(child));
  const lines = readline.createInterface({ input: child.stdout! });
  const output: string[] = [];
  lines.on('line', (line) => output.push(line));
  const listening = await within(
    new Promise<number>((resolve, reject) => {
      lines.on('line', (line) => {
        const m = /listening on 127\.0\.0\.1:(\d+) /.exec(line);
        if (m) resolve(Number(m[1]));
      });
      done.then((run) => reject(new Error(`the witness exited (${run.code}): ${run.stderr}`)));
    }),
    60_000,
    'the witness to listen',
  );
  return { child, port: listening, output, secret: secrets.readSecretFile(path.join(stateDir, 'secret')), exited };
}

async function kill9(w: WitnessProcess): Promise<void> {
  w.child.kill('SIGKILL');
  await within(w.exited, 30_000, 'the witness to die');
}

describe('powercheck: a witness killed (SIGKILL) and restarted mid-run', () => {
  it('the run reconnects, resends what was not acknowledged, and the check still holds (no cut, plain file)', { timeout: 120_000 }, async () => {
    const stateDir = freshDir('killed');
    let witness = await spawnWitness(stateDir);
    const { port, secret } = witness;
    const file = path.join(freshDir('run'), 'pc.bin');
    const restarts: Promise<void>[] = [];
    try {
      const result = await runPowercheck({
        witness: { host: LOCAL, port },
        secret,
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
      const report = await verifyPowercheck({ witness: { host: LOCAL, port }, secret, file });
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

  let secret: string;

  beforeAll(async () => {
    pfs = await PowercutFs.mount();
    witness = await startWitness();
    address = { host: LOCAL, port: witness.address().port };
    secret = secretOf(witness);
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
        secret,
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
    const report = await verifyPowercheck({ witness: address, secret, file });
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
      const testsBefore = witness.stats().tests;
      pfs.arm(arm);
      await expect(runPowercheck({ witness: address, secret, file, size: 64 << 10, blockSize: 4096, method: 'data', maxWrites: 100 })).rejects.toMatchObject({ code: 'EIO' });
      pfs.reboot();
      const report = await verifyPowercheck({ witness: address, secret, file });
      expect(report.verdict, `arm ${arm}: ${report.reason}`).toBe('could-not-check');
      // A cut at the run's first look at the path comes before the witness hears of the test.
      if (witness.stats().tests === testsBefore) expect(report.reason, `arm ${arm}`).toMatch(/the witness knows no test of /);
      else expect(['witness', 'header'], `arm ${arm}`).toContain(report.testFrom);
      fs.rmSync(file, { force: true });
      pfs.sync();
    }
  });

  it('a disk that lost the whole file, or the file that replaced an older one: "lied" without --test; the same runs on an honest disk: "honest"', { timeout: 120_000 }, async () => {
    for (const [lost, lie] of [['file', true], ['replacement', true], ['replacement', false], ['file', false]] as const) {
      const where = `${lost} ${lie ? 'lying' : 'honest'}`;
      const file = path.join(pfs.mountpoint, `lost-${lost}-${lie}.bin`);
      pfs.reset();
      // A first run, stopped cleanly; its file durable (a clean shutdown), or removed durably.
      const first = await runPowercheck({ witness: address, secret, file, size: 64 << 10, blockSize: 4096, method: 'data', maxWrites: 5, seed: 1 });
      if (lost === 'file') fs.rmSync(file);
      pfs.sync();
      // The second run, on a disk that lies from its first flush (or not), cut while it writes.
      pfs.setLie(lie);
      const second = await runPowercheck({
        witness: address, secret, file, replace: lost === 'replacement', size: 64 << 10, blockSize: 4096, method: 'data', maxWrites: 10_000, seed: 2,
        hooks: { beforeWrite: (seq) => (seq === 6 ? pfs.arm(2) : undefined) },
      });
      pfs.setLie(false);
      pfs.reboot();
      expect(second.stop, where).toBe('io-error');
      const report = await verifyPowercheck({ witness: address, secret, file });
      if (!lie) {
        expect(report, where).toMatchObject({ verdict: 'honest', testFrom: 'header', test: second.test, replacedBy: null });
      } else if (lost === 'file') {
        expect(report, `${where}: ${report.reason}`).toMatchObject({ verdict: 'lied', header: 'no-file', testFrom: 'witness', test: second.test });
      } else {
        expect(report, `${where}: ${report.reason}`).toMatchObject({ verdict: 'lied', header: 'intact', testFrom: 'header', test: first.test, replacedBy: second.test });
      }
      expect(pfs.status().unmodelled, pfs.log).toBe(0);
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
        const run = startCli(['powercheck', 'run', '--witness', `${LOCAL}:${cliWitness.address().port}`, '--secret-file', cliWitness.secret.file!, '--file', file, '--size', '256k', '--method', 'dsync', '--json', '-']);
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
        const verify = await runCli(['powercheck', 'verify', '--witness', `${LOCAL}:${cliWitness.address().port}`, '--secret-file', cliWitness.secret.file!, '--file', file]);
        expect(verify.code, verify.stdout + verify.stderr).toBe(expected === 'honest' ? 0 : 1);
        expect(verify.stdout).toMatch(expected === 'honest' ? /verdict: HONEST: / : /verdict: LIED: .* is gone/);
        const json = await runCli(['powercheck', 'verify', '--witness', `${LOCAL}:${cliWitness.address().port}`, '--secret-file', cliWitness.secret.file!, '--file', file, '--json', '-']);
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
      const { port, secret } = w;
      const restarts: Promise<void>[] = [];
      const killAt = 3 + (runSeed % 5);
      const cutAt = killAt + 3 + ((runSeed >>> 4) % 5);
      const file = path.join(pfs.mountpoint, `killed-${run}.bin`);
      try {
        const result = await runPowercheck({
          witness: { host: LOCAL, port },
          secret,
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
        const report = await verifyPowercheck({ witness: { host: LOCAL, port }, secret, file });
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
  it('run stops cleanly on SIGINT (exit 0, the witness told END); listen closes its state on SIGTERM (exit 0)', { timeout: 120_000 }, async () => {
    const stateDir = freshDir('signals');
    const w = await spawnWitness(stateDir);
    const file = path.join(freshDir('signals-run'), 'pc.bin');
    const run = startCli(['powercheck', 'run', '--witness', `${LOCAL}:${w.port}`, '--secret-file', path.join(stateDir, 'secret'), '--file', file, '--size', '64k']);
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
    const report = await verifyPowercheck({ witness: { host: LOCAL, port: w.port }, secret: w.secret, file });
    expect(report.verdict).toBe('honest');
    expect(report.testInfo!.ended).toBe(true);
    expect(report.reason).toMatch(/no power cut was tested/);
    w.child.kill('SIGTERM');
    await within(w.exited, 60_000, 'the witness to exit on SIGTERM');
    expect(w.child.exitCode).toBe(0);
    // Its lock is released: another witness opens the same state, and knows the test.
    const again = await startWitness({ stateDir });
    try {
      const client = await connect(again);
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
  /** The processes whose parent is `pid`, from /proc (no child process: see below). */
  function childrenOf(pid: number): number[] {
    const found: number[] = [];
    for (const name of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      let stat: string;
      try {
        stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      } catch {
        continue; // gone meanwhile
      }
      // Field 2, the command, is in parentheses and may hold spaces; the parent's pid follows the state.
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) found.push(Number(name));
    }
    return found;
  }

  it('over a whole session, its secret included, and a clean shutdown (strace -f of the listening process)', { timeout: 120_000 }, async () => {
    const stateDir = fs.realpathSync(freshDir('confined'));
    const log = path.join(fs.realpathSync(freshDir('strace')), 'witness.strace');
    const cli = path.join(__dirname, '..', 'dist', 'bench', 'cli.js');
    // strace itself runs without the sanitizer's preload (npm run test:asan): uninstrumented
    // tools can hang under the ASan runtime (pgrep did, and blocked this file); the witness,
    // strace's child, gets the preload back through -E.
    const { LD_PRELOAD: preload, ...env } = process.env;
    const child = spawn(
      'strace',
      [
        '-f', '-qq', '-o', log, ...(preload ? ['-E', `LD_PRELOAD=${preload}`] : []),
        '-e', 'trace=openat,creat,mkdir,mkdirat,rename,renameat,renameat2,unlink,unlinkat,link,linkat,symlink,symlinkat,truncate,ftruncate',
        process.execPath, cli, 'powercheck', 'listen', '--host', LOCAL, '--port', '0', '--state', stateDir,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], env },
    );
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    let witnessPid = 0;
    try {
      const port = await within(
        new Promise<number>((resolve, reject) => {
          readline.createInterface({ input: child.stdout! }).on('line', (line) => {
            const m = /listening on 127\.0\.0\.1:(\d+) /.exec(line);
            if (m) resolve(Number(m[1]));
          });
          exited.then((code) => reject(new Error(`the witness exited (${code})`)));
        }),
        60_000,
        'the traced witness to listen',
      );
      // The witness is strace's only child. Found in /proc, not with pgrep: under the ASan
      // preload pgrep never returned, and a synchronous spawn of it froze the test worker.
      const children = childrenOf(child.pid!);
      expect(children).toHaveLength(1);
      witnessPid = children[0];
      const secret = secrets.readSecretFile(path.join(stateDir, 'secret'));
      const t = 'c000000000000001';
      const { lines } = await within(
        converse(port, begin(t) + `READY ${t}\nPRE ${t} 1 5\nPOST ${t} 1 5\nPRE ${t} 2 9\nPOST ${t} 2 9\nEND ${t}\nQUIT\n`, { secret }),
        30_000,
        'the session with the traced witness',
      );
      expect(lines[lines.length - 1]).toBe('OK BYE');
      // SIGTERM to the witness itself, which closes its state and exits; strace then exits
      // with the witness's status.
      process.kill(witnessPid, 'SIGTERM');
      expect(await within(exited, 60_000, 'the traced witness to exit on SIGTERM')).toBe(0);
    } finally {
      if (child.exitCode === null && child.signalCode === null) {
        for (const pid of [witnessPid, child.pid!]) {
          try {
            if (pid > 0) process.kill(pid, 'SIGKILL');
          } catch {
            // already gone
          }
        }
        await within(exited, 30_000, 'strace to exit after SIGKILL');
      }
    }
    const calls = fs.readFileSync(log, 'utf8').split('\n').filter((line) => /^\d+\s+[a-z_0-9]+\(/.test(line) && !/= -1 E/.test(line));
    const mutating = calls.filter((line) => !/^\d+\s+openat\(/.test(line) || /O_WRONLY|O_RDWR|O_CREAT|O_TRUNC/.test(line));
    expect(mutating.length, 'the witness wrote its state').toBeGreaterThan(0);
    expect(mutating.some((line) => line.includes(`${stateDir}/`) && /secret/.test(line)), 'the witness wrote its secret').toBe(true);
    const outside = mutating.filter((line) => {
      const paths = [...line.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]);
      return paths.length === 0 ? !/ftruncate\(/.test(line) : paths.some((p) => !(p === stateDir || p.startsWith(`${stateDir}/`)));
    });
    expect(outside).toEqual([]);
  });
});

/** Runs the CLI with `env` added to this process's environment. */
function runCliWithEnv(args: string[], env: Record<string, string>): Promise<CliRun> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  return new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
}

describe('powercheck CLI: the secret', () => {
  it('listen prints a new secret once, at its first start; run and verify take it from a file or the environment; a wrong one is exit 2, saying so', { timeout: 120_000 }, async () => {
    const stateDir = path.join(freshDir('cli-secret'), 'state');
    const first = await spawnWitness(stateDir);
    // The lines after "listening" come in the same write, or just after it.
    await within(
      (async () => {
        while (!first.output.some((l) => l.startsWith('give it to run and verify'))) await new Promise((resolve) => setTimeout(resolve, 20));
      })(),
      30_000,
      'the secret to be printed',
    );
    expect(first.output[1]).toBe(`new secret, printed only this once (it stays in ${path.join(stateDir, 'secret')}):`);
    expect(first.output[2]).toBe(`  ${first.secret}`);
    first.child.kill('SIGTERM');
    await within(first.exited, 60_000, 'the witness to exit on SIGTERM');
    const second = await spawnWitness(stateDir);
    const witness = `${LOCAL}:${second.port}`;
    const file = path.join(freshDir('cli-secret-run'), 'pc.bin');
    try {
      await within(
        (async () => {
          while (second.output.length < 2) await new Promise((resolve) => setTimeout(resolve, 20));
        })(),
        30_000,
        'the second start to say where its secret is',
      );
      expect(second.output[1]).toBe(`secret: the one in ${path.join(stateDir, 'secret')}`);
      expect(second.output.join('\n')).not.toContain(second.secret);
      expect(second.secret).toBe(first.secret);
      const ran = await runCliWithEnv(['powercheck', 'run', '--witness', witness, '--file', file, '--size', '64k', '--writes', '5'], { HARDSYNC_POWERCHECK_SECRET: second.secret });
      expect(ran.code, ran.stderr).toBe(0);
      const wrongEnv = await runCliWithEnv(['powercheck', 'run', '--witness', witness, '--file', `${file}.2`, '--size', '64k', '--writes', '5'], { HARDSYNC_POWERCHECK_SECRET: 'not-the-witness-secret' });
      expect(wrongEnv.code).toBe(2);
      expect(wrongEnv.stderr).toMatch(/^hardsync: the witness 127\.0\.0\.1:\d+ refused the secret: it is not this witness's /);
      expect(fs.existsSync(`${file}.2`)).toBe(false);
      const wrongFile = path.join(freshDir('cli-secret-wrong'), 'secret');
      fs.writeFileSync(wrongFile, 'not-the-witness-secret\n', { mode: 0o600 });
      const verify = await runCli(['powercheck', 'verify', '--witness', witness, '--secret-file', wrongFile, '--file', file]);
      expect(verify.code).toBe(2);
      expect(verify.stdout).toMatch(/verdict: COULD NOT CHECK: the witness 127\.0\.0\.1:\d+ refused the secret/);
      const right = await runCliWithEnv(['powercheck', 'verify', '--witness', witness, '--file', file], { HARDSYNC_POWERCHECK_SECRET: second.secret });
      expect(right.code, right.stdout).toBe(0);
    } finally {
      await kill9(second);
    }
  });
});

describe('powercheck CLI: usage and unreachable witness (exit 2)', () => {
  it('refuses bad arguments before any I/O, and says why', { timeout: 240_000 }, async () => {
    const dir = freshDir('cli');
    const file = path.join(dir, 'f');
    const keys = freshDir('cli-secret');
    const secretFile = path.join(keys, 'good');
    fs.writeFileSync(secretFile, `${secrets.generateSecret()}\n`, { mode: 0o600 });
    const readable = path.join(keys, 'readable');
    fs.writeFileSync(readable, `${secrets.generateSecret()}\n`, { mode: 0o644 });
    fs.chmodSync(readable, 0o644);
    const short = path.join(keys, 'short');
    fs.writeFileSync(short, 'abc\n', { mode: 0o600 });
    const withSecret = ['--secret-file', secretFile];
    for (const [args, why] of [
      [['powercheck', 'frob'], /unknown powercheck command/],
      [['powercheck', 'run', '--file', file, ...withSecret], /needs --witness/],
      [['powercheck', 'run', '--witness', 'h:99999', '--file', file, ...withSecret], /--witness must be/],
      [['powercheck', 'run', '--witness', `${LOCAL}:1`, '--file', file, '--size', '1x', ...withSecret], /--size must be/],
      [['powercheck', 'run', '--witness', `${LOCAL}:1`, '--file', file, '--block-size', '1000', ...withSecret], /--block-size must be/],
      [['powercheck', 'run', '--witness', `${LOCAL}:1`, '--file', file, '--method', 'osync', ...withSecret], /unknown method/],
      [['powercheck', 'run', '--witness', `${LOCAL}:1`, '--file', file, '--writes', '0', ...withSecret], /--writes must be/],
      [['powercheck', 'run', '--witness', `${LOCAL}:1`, '--file', file, '--bogus', ...withSecret], /unknown option --bogus/],
      [['powercheck', 'run', '--witness', `${LOCAL}:1`, file, ...withSecret], /takes no positional argument/],
      [['powercheck', 'run', '--witness', `${LOCAL}:1`, '--file', file], /needs the witness's secret: --secret-file FILE or \$HARDSYNC_POWERCHECK_SECRET/],
      [['powercheck', 'run', '--witness', `${LOCAL}:1`, '--file', file, '--secret-file', readable], /mode 644: other users could read or change it; chmod 600/],
      [['powercheck', 'run', '--witness', `${LOCAL}:1`, '--file', file, '--secret-file', short], /must be 16 to 1024 printable ASCII characters/],
      [['powercheck', 'run', '--witness', `${LOCAL}:1`, '--file', file, '--secret-file', path.join(keys, 'none')], /cannot read the secret file .*ENOENT/],
      [['powercheck', 'verify', '--witness', `${LOCAL}:1`, ...withSecret], /needs --file/],
      [['powercheck', 'verify', '--witness', `${LOCAL}:1`, '--file', file], /needs the witness's secret/],
      [['powercheck', 'verify', '--witness', `${LOCAL}:1`, '--file', file, '--test', 'xyz', ...withSecret], /--test must be/],
      [['powercheck', 'listen', '--port', '70000'], /--port must be/],
      [['powercheck', 'listen', '--port', '0', '--state', path.join(dir, 'never'), '--secret-file', readable], /mode 644/],
      [['powercheck', 'listen', '--port', '0', '--state', path.join(dir, 'never'), '--max-state', '1x'], /--max-state must be/],
    ] as const) {
      const run = await runCli([...args]);
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.stderr, args.join(' ')).toMatch(/^hardsync: /);
      expect(run.stderr, args.join(' ')).toMatch(why);
    }
    expect(fs.readdirSync(dir)).toEqual([]);
    const help = await runCli(['powercheck', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/hardsync powercheck listen/);
  });

  it('never replaces a file that is not a powercheck file; exit 2 when the witness cannot be reached', { timeout: 240_000 }, async () => {
    const witness = await startWitness();
    const port = witness.address().port;
    const secretFile = witness.secret.file!;
    const dir = freshDir('cli');
    const precious = path.join(dir, 'precious.db');
    fs.writeFileSync(precious, 'do not touch');
    try {
      const refused = await runCli(['powercheck', 'run', '--witness', `${LOCAL}:${port}`, '--secret-file', secretFile, '--file', precious, '--replace', '--size', '64k']);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(/not a powercheck file/);
      expect(fs.readFileSync(precious, 'utf8')).toBe('do not touch');
      const exists = await runCli(['powercheck', 'run', '--witness', `${LOCAL}:${port}`, '--secret-file', secretFile, '--file', precious, '--size', '64k']);
      expect(exists.code).toBe(2);
      expect(exists.stderr).toMatch(/exists; remove it, or pass --replace/);
      // Both refused before the witness heard of a test.
      expect(witness.stats().tests).toBe(0);
      // A clean run and a verify without a cut: honest.
      const file = path.join(dir, 'pc.bin');
      const ran = await runCli(['powercheck', 'run', '--witness', `${LOCAL}:${port}`, '--secret-file', secretFile, '--file', file, '--size', '64k', '--writes', '20']);
      expect(ran.code, ran.stderr).toBe(0);
      expect(ran.stdout).toMatch(/^test [0-9a-f]{16}: 20 writes acknowledged durable in /);
      const again = await runCli(['powercheck', 'run', '--witness', `${LOCAL}:${port}`, '--secret-file', secretFile, '--file', file, '--size', '64k', '--writes', '5', '--replace', '--method', 'full']);
      expect(again.code, again.stderr).toBe(0);
      const verify = await runCli(['powercheck', 'verify', '--witness', `${LOCAL}:${port}`, '--secret-file', secretFile, '--file', file]);
      expect(verify.code, verify.stdout).toBe(0);
      expect(verify.stdout).toMatch(/stopped cleanly: there was no power cut/);
    } finally {
      await witness.close();
    }
    // Nothing listens there any more.
    const closedRun = await runCli(['powercheck', 'run', '--witness', `${LOCAL}:${port}`, '--secret-file', secretFile, '--file', path.join(dir, 'x.bin'), '--size', '64k', '--reconnect', '0']);
    expect(closedRun.code).toBe(2);
    expect(closedRun.stderr).toMatch(/cannot reach the witness 127\.0\.0\.1:\d+: ECONNREFUSED/);
    const closedVerify = await runCli(['powercheck', 'verify', '--witness', `${LOCAL}:${port}`, '--secret-file', secretFile, '--file', path.join(dir, 'pc.bin')]);
    expect(closedVerify.code).toBe(2);
    expect(closedVerify.stdout).toMatch(/verdict: COULD NOT CHECK: cannot reach the witness/);
  });
});
