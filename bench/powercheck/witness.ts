/**
 * The witness of `hardsync powercheck`: a TCP server, run on a machine that keeps its power,
 * that records what the machine under test announces (about to write block B with write number
 * S; S is durable) so that after a power cut the machine's disk can be checked against it.
 *
 * What it records lives in a WitnessStore (bench/powercheck/witness-store.ts: a DurableLog and
 * a snapshot, surviving the witness's own crash); this file is the server: connections, the
 * protocol's commands, and the rule that every reply is sent only after every record applied
 * before it is durable.
 *
 * No stranger can write to it: every connection proves it knows the witness's secret before
 * anything else (a challenge-response with HMAC; the secret never crosses the wire), and a test
 * accepts READY/PRE/POST/END only on a connection that sent its BEGIN with the run key of the
 * run that began it. Connections (in all and per client address), tests and the state's size
 * are bounded, each with its own refusal.
 *
 * Hostile input never crashes it: a malformed line gets an ERR line; too many errors, an
 * over-long line, a wrong protocol version, a wrong secret, a connection that does not
 * authenticate in time or an idle one end the connection; input is not read faster than
 * replies can be sent.
 * @module
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import {
  encodeToken,
  MAX_LINE,
  parseBegin,
  parseDecimal,
  parseTestId,
  PROTOCOL,
  ProtocolError,
  quote,
  tokenize,
  type Method,
} from './protocol';
import { checkStateDir, isNonce, makeNonce, makeProof, ownerHash, ownerMatches, proofMatches, stateSecret, type WitnessSecret } from './secret';
import { BLOCK_STATE_COST, testStateCost, WitnessStore, type BlockState, type DurableRecord, type RecordKind, type TestState } from './witness-store';

export type { BlockState, DurableRecord, RecordKind, TestState };

export interface WitnessOptions {
  /** Where the state lives (created if missing, mode 700). Nothing else is written. */
  stateDir: string;
  /**
   * The secret every client must prove it knows. Default: the one kept in `stateDir/secret`,
   * made (and written there, mode 600) at the first start.
   */
  secret?: string;
  /** TCP port (0: any free one). Default 5400. */
  port?: number;
  /** Address to listen on; default 127.0.0.1 (this machine only). */
  host?: string;
  /** A connection with no request for this long is closed. Default 120 000 ms. */
  idleTimeoutMs?: number;
  /** A connection that has not proved it knows the secret this long after it opened is closed. Default 10 000 ms. */
  authTimeoutMs?: number;
  /** Compact the log into a snapshot after this many records. Default 200 000. */
  snapshotEvery?: number;
  /** Size of each log segment (default 8 MiB); small ones make compaction testable. */
  segmentSize?: number;
  /** Most connections at once; more are refused with ERR busy. Default 128. */
  maxConnections?: number;
  /** Most connections at once from one client address; more are refused with ERR busy. Default 16. */
  maxConnectionsPerAddress?: number;
  /** Most tests kept; a BEGIN of a new one beyond that is refused with ERR full. Default 10 000. */
  maxTests?: number;
  /**
   * Most bytes of state (an upper bound of its snapshot's size: each test and each block it
   * tracks); a BEGIN or a PRE to a new block beyond that is refused with ERR full. Default 256 MiB.
   */
  maxStateBytes?: number;
  /** Log lines (test begun, connection errors); default none. */
  log?: (line: string) => void;
  /** Called once a record is durable (for tests and progress displays). */
  onRecord?: (record: DurableRecord) => void;
}

const MAX_ERRORS_PER_CONNECTION = 8;
const MAX_INFLIGHT = 1024;

/** The defaults of the limits, for the CLI's help. */
export const WITNESS_DEFAULTS = {
  host: '127.0.0.1',
  port: 5400,
  idleTimeoutMs: 120_000,
  authTimeoutMs: 10_000,
  maxConnections: 128,
  maxConnectionsPerAddress: 16,
  maxTests: 10_000,
  maxStateBytes: 256 * 1024 * 1024,
} as const;

/** What the witness is holding, for tests and monitoring. */
export interface WitnessStats {
  /** Connections open now, and the most there ever were at once. */
  connections: number;
  peakConnections: number;
  /** Connections refused at once (ERR busy) and connections closed for a wrong secret or none in time. */
  refusedBusy: number;
  refusedAuth: number;
  tests: number;
  /** See {@link WitnessOptions.maxStateBytes}. */
  stateBytes: number;
}

/** One reply: lines to send, and whether to close the connection after them. */
interface Reply {
  lines: Iterable<string>;
  close?: boolean;
}

interface Connection {
  socket: net.Socket;
  peer: string;
  /** The client's address, for the per-address limit. */
  address: string;
  hello: boolean;
  /** The two nonces of the handshake (set by HELLO). */
  clientNonce: string;
  witnessNonce: string;
  /** The client proved it knows the secret (AUTH). */
  authenticated: boolean;
  authTimer: NodeJS.Timeout | undefined;
  /** Tests whose BEGIN, with their run key, came on this connection: the only ones it may write. */
  owned: Set<string>;
  errors: number;
  closing: boolean;
  pending: Buffer;
  chain: Promise<void>;
  inflight: number;
  paused: boolean;
}

/** A witness: `await Witness.start(options)`, then `close()`. */
export class Witness {
  private server!: net.Server;
  private readonly connections = new Set<Connection>();
  private readonly perAddress = new Map<string, number>();
  private closing: Promise<void> | undefined;
  private peak = 0;
  private refusedBusy = 0;
  private refusedAuth = 0;

  private constructor(
    private readonly options: WitnessOptions,
    private readonly store: WitnessStore,
    /** The secret, and where it is kept. */
    readonly secret: WitnessSecret,
  ) {}

  /**
   * Opens (or creates) the state and its secret, replays the state, and starts listening.
   * Rejects with a SecretError if other users could change the state directory, or read or
   * change the secret file.
   */
  static async start(options: WitnessOptions): Promise<Witness> {
    const stateDir = path.resolve(options.stateDir);
    fs.mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    checkStateDir(stateDir);
    const secret: WitnessSecret = options.secret !== undefined ? { secret: options.secret, file: null, created: false } : stateSecret(stateDir);
    const store = await WitnessStore.open({
      stateDir: options.stateDir,
      snapshotEvery: options.snapshotEvery,
      segmentSize: options.segmentSize,
      log: options.log,
      onRecord: options.onRecord,
    });
    const witness = new Witness({ ...options, stateDir: store.stateDir }, store, secret);
    try {
      await witness.listen();
    } catch (error) {
      await store.close();
      throw error;
    }
    return witness;
  }

  /** What the witness knows of each test, by test id. */
  get tests(): ReadonlyMap<string, TestState> {
    return this.store.tests;
  }

  /** Connections, tests and state size now. */
  stats(): WitnessStats {
    return {
      connections: this.connections.size,
      peakConnections: this.peak,
      refusedBusy: this.refusedBusy,
      refusedAuth: this.refusedAuth,
      tests: this.store.tests.size,
      stateBytes: this.store.stateBytes,
    };
  }

  /** Where it listens. */
  address(): { host: string; port: number } {
    const address = this.server.address() as net.AddressInfo;
    return { host: address.address, port: address.port };
  }

  /** Calls `listener` if the state can no longer be written (the witness then stops serving). */
  onFailure(listener: (error: Error) => void): void {
    this.store.onFailure(listener);
  }

  /** Stops listening, ends every connection once its replies are sent, and closes the state. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
      for (const conn of this.connections) {
        conn.closing = true;
        conn.chain.finally(() => conn.socket.end());
        setTimeout(() => conn.socket.destroy(), 2000).unref();
      }
      await Promise.allSettled([...this.connections].map((c) => c.chain));
      for (const conn of this.connections) conn.socket.destroy();
      await closed;
      await this.store.close();
    })();
    return this.closing;
  }

  // -------------------------------------------------------------------------------------------
  // Connections

  private listen(): Promise<void> {
    this.server = net.createServer({ allowHalfOpen: true }, (socket) => this.accept(socket));
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ port: this.options.port ?? WITNESS_DEFAULTS.port, host: this.options.host ?? WITNESS_DEFAULTS.host }, () => {
        this.server.off('error', reject);
        this.server.on('error', (error) => this.options.log?.(`server error: ${error.message}`));
        resolve();
      });
    });
  }

  private accept(socket: net.Socket): void {
    const address = socket.remoteAddress ?? '?';
    const peer = `${address}:${socket.remotePort}`;
    socket.on('error', (error: NodeJS.ErrnoException) => {
      this.options.log?.(`${peer}: ${error.code ?? error.message}`);
      socket.destroy();
    });
    const fromAddress = this.perAddress.get(address) ?? 0;
    const maxConnections = this.options.maxConnections ?? WITNESS_DEFAULTS.maxConnections;
    const maxPerAddress = this.options.maxConnectionsPerAddress ?? WITNESS_DEFAULTS.maxConnectionsPerAddress;
    const busy = this.closing
      ? 'the witness is shutting down'
      : this.connections.size >= maxConnections
        ? `too many connections (${maxConnections}, the witness's maximum)`
        : fromAddress >= maxPerAddress
          ? `too many connections from ${address} (${maxPerAddress}, the witness's maximum per address)`
          : undefined;
    if (busy !== undefined) {
      this.refusedBusy++;
      socket.end(`ERR busy ${busy}\n`);
      setTimeout(() => socket.destroy(), 2000).unref();
      return;
    }
    socket.setNoDelay(true);
    const conn: Connection = {
      socket, peer, address, hello: false, clientNonce: '', witnessNonce: '', authenticated: false, authTimer: undefined, owned: new Set(),
      errors: 0, closing: false, pending: Buffer.alloc(0), chain: Promise.resolve(), inflight: 0, paused: false,
    };
    this.connections.add(conn);
    this.perAddress.set(address, fromAddress + 1);
    this.peak = Math.max(this.peak, this.connections.size);
    socket.on('close', () => {
      clearTimeout(conn.authTimer);
      this.connections.delete(conn);
      const left = (this.perAddress.get(address) ?? 1) - 1;
      if (left > 0) this.perAddress.set(address, left);
      else this.perAddress.delete(address);
    });
    // A deadline, not an idle timer: a client that trickles bytes without ever authenticating
    // does not hold its connection longer.
    const authMs = this.options.authTimeoutMs ?? WITNESS_DEFAULTS.authTimeoutMs;
    conn.authTimer = setTimeout(() => {
      if (conn.authenticated || conn.closing) return;
      this.refusedAuth++;
      this.options.log?.(`${peer}: not authenticated within ${authMs} ms, closed`);
      this.send(conn, { lines: [`ERR timeout not authenticated within ${authMs / 1000} s`], close: true });
    }, authMs);
    conn.authTimer.unref();
    const idle = this.options.idleTimeoutMs ?? WITNESS_DEFAULTS.idleTimeoutMs;
    socket.setTimeout(idle);
    socket.on('timeout', () => {
      if (conn.inflight > 0 || conn.closing) return;
      this.options.log?.(`${peer}: idle for ${idle} ms, closed`);
      this.send(conn, { lines: [`ERR timeout no request for ${idle / 1000} s`], close: true });
    });
    socket.on('data', (chunk: Buffer) => this.receive(conn, chunk));
    socket.on('end', () => {
      // The client half-closed: answer what it sent, then close our side.
      if (conn.pending.length > 0 && !conn.closing) {
        conn.pending = Buffer.alloc(0);
        this.send(conn, { lines: ['ERR malformed incomplete line at the end of the input (no newline)'] });
      }
      conn.closing = true;
      conn.chain = conn.chain.finally(() => socket.end());
    });
  }

  private receive(conn: Connection, chunk: Buffer): void {
    if (conn.closing) return;
    let data = conn.pending.length > 0 ? Buffer.concat([conn.pending, chunk]) : chunk;
    for (;;) {
      const newline = data.indexOf(0x0a);
      if (newline < 0) break;
      if (newline > MAX_LINE) break;
      const line = data.subarray(0, newline);
      data = data.subarray(newline + 1);
      this.send(conn, this.handle(conn, line));
      if (conn.closing) return;
    }
    const overlong = data.indexOf(0x0a) > MAX_LINE || (data.indexOf(0x0a) < 0 && data.length > MAX_LINE);
    if (overlong) {
      this.send(conn, { lines: [`ERR too-long a line is at most ${MAX_LINE} bytes`], close: true });
      return;
    }
    conn.pending = Buffer.from(data);
  }

  /** Queues a reply after the ones before it; closes the connection after it if asked. */
  private send(conn: Connection, reply: Reply | Promise<Reply>): void {
    if (conn.closing) return;
    conn.inflight++;
    if (conn.inflight >= MAX_INFLIGHT && !conn.paused) {
      conn.paused = true;
      conn.socket.pause();
    }
    const sync = !(reply instanceof Promise);
    if (sync && (reply as Reply).close) conn.closing = true;
    conn.chain = conn.chain.then(async () => {
      let r: Reply;
      try {
        r = await reply;
      } catch (error) {
        r = this.errorReply(conn, error);
      }
      try {
        if (r.close) conn.closing = true;
        await this.write(conn, r.lines);
        conn.inflight--;
        if (conn.paused && conn.inflight < MAX_INFLIGHT / 4) {
          conn.paused = false;
          conn.socket.resume();
        }
        if (r.close) {
          conn.socket.end();
          setTimeout(() => conn.socket.destroy(), 2000).unref();
        }
      } catch (error) {
        // The chain must never reject (nothing awaits it to handle that): drop the connection.
        this.options.log?.(`${conn.peer}: ${(error as Error).message}`);
        conn.closing = true;
        conn.socket.destroy();
      }
    });
  }

  /** Writes lines in chunks, waiting for the socket to drain (a client that does not read is not buffered for). */
  private async write(conn: Connection, lines: Iterable<string>): Promise<void> {
    const socket = conn.socket;
    let chunk = '';
    for (const line of lines) {
      chunk += `${line}\n`;
      if (chunk.length >= 65536) {
        if (socket.destroyed || socket.writableEnded) return;
        if (!socket.write(chunk)) await drained(socket);
        chunk = '';
      }
    }
    if (chunk.length > 0 && !socket.destroyed && !socket.writableEnded) {
      if (!socket.write(chunk)) await drained(socket);
    }
  }

  private errorReply(conn: Connection, error: unknown): Reply {
    if (error instanceof ProtocolError) {
      conn.errors++;
      const tooMany = conn.errors >= MAX_ERRORS_PER_CONNECTION;
      if (error.fatal || tooMany) this.options.log?.(`${conn.peer}: ${error.code}: ${error.message}; closed`);
      const lines = [`ERR ${error.code} ${error.message}`];
      if (tooMany && !error.fatal) lines.push(`ERR too-many-errors ${conn.errors} errors on this connection; closing it`);
      return { lines, close: error.fatal || tooMany };
    }
    const e = error as NodeJS.ErrnoException;
    this.options.log?.(`${conn.peer}: internal error: ${e.stack ?? e.message}`);
    return { lines: [`ERR internal ${e.code ? `${e.code} ` : ''}${e.message.replace(/\s+/g, ' ')}`], close: true };
  }

  /**
   * Handles one request line. Checking and applying happen now, in arrival order (so pipelined
   * requests see each other); the reply waits until every record so far is durable.
   */
  private handle(conn: Connection, raw: Buffer): Reply | Promise<Reply> {
    try {
      const failure = this.store.failure;
      if (failure) throw new ProtocolError('internal', `the witness cannot write its state (${failure.message})`, true);
      const [command, ...args] = tokenize(raw);
      if (!conn.hello && command !== 'HELLO') throw new ProtocolError('hello-first', `send "HELLO ${PROTOCOL} NONCE" first`, true);
      if (!conn.authenticated && command !== 'HELLO' && command !== 'AUTH' && command !== 'QUIT') {
        this.refusedAuth++;
        throw new ProtocolError('auth-first', `authenticate (AUTH) before ${quote(command)}`, true);
      }
      switch (command) {
        case 'HELLO':
          return this.hello(conn, args);
        case 'AUTH':
          return this.auth(conn, args);
        case 'BEGIN':
          return this.begin(conn, args);
        case 'READY':
          return this.ready(conn, args);
        case 'PRE':
          return this.pre(conn, args);
        case 'POST':
          return this.post(conn, args);
        case 'END':
          return this.end(conn, args);
        case 'STATE':
          return this.state(args);
        case 'LIST':
          return this.list(args);
        case 'PING':
          arity(args, 0, 'PING');
          return { lines: ['OK PONG'] };
        case 'QUIT':
          arity(args, 0, 'QUIT');
          return { lines: ['OK BYE'], close: true };
        default:
          throw new ProtocolError('unknown-command', `unknown command ${quote(command)}; commands: HELLO AUTH BEGIN READY PRE POST END STATE LIST PING QUIT`);
      }
    } catch (error) {
      return this.errorReply(conn, error);
    }
  }

  /** A reply sent once every record so far is durable (or an error if the state failed). */
  private async afterDurable(lines: () => Iterable<string>): Promise<Reply> {
    await this.store.durable();
    const failure = this.store.failure;
    if (failure) throw new ProtocolError('internal', `the witness cannot write its state (${failure.message})`, true);
    return { lines: lines() };
  }

  private hello(conn: Connection, args: string[]): Reply {
    // The version first, whatever follows it: a client of another version gets this refusal.
    if (args[0] !== PROTOCOL) {
      throw new ProtocolError('version', `this witness speaks ${PROTOCOL}, not ${quote(args[0])}: run the same version of hardsync on both machines`, true);
    }
    if (conn.hello) throw new ProtocolError('malformed', 'HELLO was already sent on this connection');
    if (args.length !== 2 || !isNonce(args[1])) throw new ProtocolError('malformed', `HELLO is "HELLO ${PROTOCOL} NONCE", NONCE 32 lowercase hex digits`, true);
    conn.hello = true;
    conn.clientNonce = args[1];
    conn.witnessNonce = makeNonce();
    return { lines: [`OK HELLO ${PROTOCOL} ${conn.witnessNonce}`] };
  }

  private auth(conn: Connection, args: string[]): Reply {
    if (conn.authenticated) throw new ProtocolError('malformed', 'AUTH was already accepted on this connection');
    arity(args, 1, 'AUTH');
    const { secret } = this.secret;
    if (!proofMatches(secret, 'client', conn.clientNonce, conn.witnessNonce, args[0])) {
      this.refusedAuth++;
      this.options.log?.(`${conn.peer}: wrong secret, closed`);
      throw new ProtocolError('auth', "the proof does not match this witness's secret (see hardsync powercheck listen --help)", true);
    }
    conn.authenticated = true;
    clearTimeout(conn.authTimer);
    return { lines: [`OK AUTH ${makeProof(secret, 'witness', conn.clientNonce, conn.witnessNonce)}`] };
  }

  /** Refuses what would grow the state beyond its limit. */
  private reserve(bytes: number): void {
    const max = this.options.maxStateBytes ?? WITNESS_DEFAULTS.maxStateBytes;
    if (this.store.stateBytes + bytes > max) {
      throw new ProtocolError('full', `the witness's state is full (${this.store.stateBytes} of ${max} bytes): its operator can start it with a new --state directory or a larger --max-state`);
    }
  }

  private begin(conn: Connection, args: string[]): Promise<Reply> {
    const { params, runKey } = parseBegin(args);
    const known = this.store.tests.get(params.test);
    if (known) {
      if (!ownerMatches(known.owner, runKey)) {
        throw new ProtocolError('not-owner', known.owner === '' ? `test ${params.test} was begun by an older protocol and cannot be continued` : `test ${params.test} was begun by another run (its run key differs)`);
      }
      for (const key of ['blockSize', 'blocks', 'method', 'host', 'path'] as const) {
        if (known[key] !== params[key]) throw new ProtocolError('conflict', `test ${params.test} was begun with ${key} ${quote(String(known[key]))}, not ${quote(String(params[key]))}`);
      }
      conn.owned.add(params.test);
      return this.afterDurable(() => [`OK BEGIN ${params.test} known`]);
    }
    const maxTests = this.options.maxTests ?? WITNESS_DEFAULTS.maxTests;
    if (this.store.tests.size >= maxTests) throw new ProtocolError('full', `this witness holds ${this.store.tests.size} tests, its maximum: its operator can start it with a new --state directory or a larger --max-tests`);
    this.reserve(testStateCost(params));
    this.store.begin(params, ownerHash(runKey));
    conn.owned.add(params.test);
    this.options.log?.(`test ${params.test} begun by ${params.host}: ${params.path}, ${params.blocks} blocks of ${params.blockSize} B, method ${params.method}`);
    return this.afterDurable(() => [`OK BEGIN ${params.test} new`]);
  }

  /** The test named by `token`, if this connection began it (or resumed it with its BEGIN); else ERR not-owner. */
  private ownedTest(conn: Connection, token: string | undefined): TestState {
    const t = this.store.mustTest(parseTestId(token));
    if (!conn.owned.has(t.test)) throw new ProtocolError('not-owner', `test ${t.test} was not begun on this connection: only its run, after sending its BEGIN (with its run key) on this connection, may write to it`);
    return t;
  }

  private ready(conn: Connection, args: string[]): Promise<Reply> {
    arity(args, 1, 'READY');
    const t = this.ownedTest(conn, args[0]);
    if (!t.ready) this.store.ready(t);
    return this.afterDurable(() => [`OK READY ${t.test}`]);
  }

  private writeArgs(conn: Connection, args: string[], command: string): { t: TestState; seq: number; block: number } {
    arity(args, 3, command);
    const t = this.ownedTest(conn, args[0]);
    const seq = parseDecimal(args[1], 'seq', 1, Number.MAX_SAFE_INTEGER);
    const block = parseDecimal(args[2], 'block', 1, t.blocks - 1);
    return { t, seq, block };
  }

  private pre(conn: Connection, args: string[]): Promise<Reply> {
    const { t, seq, block } = this.writeArgs(conn, args, 'PRE');
    if (!t.ready) throw new ProtocolError('not-ready', `test ${t.test} has not said READY: its file is not durable yet`);
    if (t.ended) throw new ProtocolError('ended', `test ${t.test} has ended`);
    if (seq === t.lastSeq && block === t.lastBlock) return this.afterDurable(() => [`OK PRE ${t.test} ${seq}`]);
    if (seq <= t.lastSeq) throw new ProtocolError('sequence', `write ${seq} is not after the last one announced (${t.lastSeq})`);
    if (!t.blockStates.has(block)) this.reserve(BLOCK_STATE_COST);
    this.store.pre(t, seq, block);
    return this.afterDurable(() => [`OK PRE ${t.test} ${seq}`]);
  }

  private post(conn: Connection, args: string[]): Promise<Reply> {
    const { t, seq, block } = this.writeArgs(conn, args, 'POST');
    const s = t.blockStates.get(block);
    if (s && s.durableSeq === seq) return this.afterDurable(() => [`OK POST ${t.test} ${seq}`]);
    if (!s || s.pendingSeq !== seq || s.pendingSeq <= s.durableSeq) {
      throw new ProtocolError('sequence', `write ${seq} to block ${block} was not the last one announced for that block (${s ? s.pendingSeq : 'none'})`);
    }
    this.store.post(t, seq, block);
    return this.afterDurable(() => [`OK POST ${t.test} ${seq}`]);
  }

  private end(conn: Connection, args: string[]): Promise<Reply> {
    arity(args, 1, 'END');
    const t = this.ownedTest(conn, args[0]);
    if (!t.ended) {
      this.store.end(t);
      this.options.log?.(`test ${t.test} ended cleanly after ${t.durable} durable writes`);
    }
    return this.afterDurable(() => [`OK END ${t.test}`]);
  }

  private state(args: string[]): Promise<Reply> {
    arity(args, 1, 'STATE');
    const t = this.store.mustTest(parseTestId(args[0]));
    return this.afterDurable(() => {
      const blocks = [...t.blockStates].sort((a, b) => a[0] - b[0]);
      return (function* () {
        yield testLine(t);
        for (const [block, s] of blocks) yield `BLOCK ${block} ${s.durableSeq} ${s.durableAt} ${s.pendingSeq} ${s.pendingAt}`;
        yield `OK STATE ${t.test} ${blocks.length}`;
      })();
    });
  }

  private list(args: string[]): Promise<Reply> {
    arity(args, 0, 'LIST');
    return this.afterDurable(() => {
      const tests = [...this.store.tests.values()];
      return [...tests.map(testLine), `OK LIST ${tests.length}`];
    });
  }
}

/** The TEST line of STATE and LIST. */
function testLine(t: TestState): string {
  return (
    `TEST ${t.test} ${t.blockSize} ${t.blocks} ${t.method} ${encodeToken(t.host)} ${encodeToken(t.path)} ` +
    `ready=${t.ready ? 1 : 0} ended=${t.ended ? 1 : 0} began=${t.began} ready-at=${t.readyAt} last=${t.last} ` +
    `announced=${t.announced} durable=${t.durable} last-seq=${t.lastSeq} number=${t.number}`
  );
}

function arity(args: string[], n: number, command: string): void {
  if (args.length !== n) throw new ProtocolError('malformed', `${command} takes ${n} field${n === 1 ? '' : 's'}, got ${args.length}`);
}

function drained(socket: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      socket.off('drain', done);
      socket.off('close', done);
      resolve();
    };
    socket.on('drain', done);
    socket.on('close', done);
  });
}

export type { Method };
