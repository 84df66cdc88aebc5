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
 * Hostile input never crashes it: a malformed line gets an ERR line; too many errors, an
 * over-long line, a wrong protocol version or an idle connection end the connection; input is
 * not read faster than replies can be sent.
 * @module
 */
import net from 'node:net';
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
import { WitnessStore, type BlockState, type DurableRecord, type RecordKind, type TestState } from './witness-store';

export type { BlockState, DurableRecord, RecordKind, TestState };

export interface WitnessOptions {
  /** Where the state lives (created if missing). Nothing else is written. */
  stateDir: string;
  /** TCP port (0: any free one). Default 5400. */
  port?: number;
  /** Address to listen on; default every interface. */
  host?: string;
  /** A connection with no request for this long is closed. Default 120 000 ms. */
  idleTimeoutMs?: number;
  /** Compact the log into a snapshot after this many records. Default 200 000. */
  snapshotEvery?: number;
  /** Size of each log segment (default 8 MiB); small ones make compaction testable. */
  segmentSize?: number;
  /** Most connections at once; more are refused with ERR busy. Default 128. */
  maxConnections?: number;
  /** Most tests kept; a BEGIN of a new one beyond that is refused with ERR full. Default 10 000. */
  maxTests?: number;
  /** Log lines (test begun, connection errors); default none. */
  log?: (line: string) => void;
  /** Called once a record is durable (for tests and progress displays). */
  onRecord?: (record: DurableRecord) => void;
}

const MAX_ERRORS_PER_CONNECTION = 8;
const MAX_INFLIGHT = 1024;

/** One reply: lines to send, and whether to close the connection after them. */
interface Reply {
  lines: Iterable<string>;
  close?: boolean;
}

interface Connection {
  socket: net.Socket;
  peer: string;
  hello: boolean;
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
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly options: WitnessOptions,
    private readonly store: WitnessStore,
  ) {}

  /** Opens (or creates) the state, replays it, and starts listening. */
  static async start(options: WitnessOptions): Promise<Witness> {
    const store = await WitnessStore.open({
      stateDir: options.stateDir,
      snapshotEvery: options.snapshotEvery,
      segmentSize: options.segmentSize,
      log: options.log,
      onRecord: options.onRecord,
    });
    const witness = new Witness({ ...options, stateDir: store.stateDir }, store);
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
      this.server.listen({ port: this.options.port ?? 5400, host: this.options.host }, () => {
        this.server.off('error', reject);
        this.server.on('error', (error) => this.options.log?.(`server error: ${error.message}`));
        resolve();
      });
    });
  }

  private accept(socket: net.Socket): void {
    const peer = `${socket.remoteAddress}:${socket.remotePort}`;
    socket.on('error', (error: NodeJS.ErrnoException) => {
      this.options.log?.(`${peer}: ${error.code ?? error.message}`);
      socket.destroy();
    });
    if (this.connections.size >= (this.options.maxConnections ?? 128) || this.closing) {
      socket.end(`ERR busy ${this.closing ? 'the witness is shutting down' : 'too many connections'}\n`);
      setTimeout(() => socket.destroy(), 2000).unref();
      return;
    }
    socket.setNoDelay(true);
    const conn: Connection = { socket, peer, hello: false, errors: 0, closing: false, pending: Buffer.alloc(0), chain: Promise.resolve(), inflight: 0, paused: false };
    this.connections.add(conn);
    socket.on('close', () => this.connections.delete(conn));
    const idle = this.options.idleTimeoutMs ?? 120_000;
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
      if (!conn.hello && command !== 'HELLO') throw new ProtocolError('hello-first', `send "HELLO ${PROTOCOL}" first`, true);
      switch (command) {
        case 'HELLO':
          return this.hello(conn, args);
        case 'BEGIN':
          return this.begin(args);
        case 'READY':
          return this.ready(args);
        case 'PRE':
          return this.pre(args);
        case 'POST':
          return this.post(args);
        case 'END':
          return this.end(args);
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
          throw new ProtocolError('unknown-command', `unknown command ${quote(command)}; commands: HELLO BEGIN READY PRE POST END STATE LIST PING QUIT`);
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
    arity(args, 1, 'HELLO');
    if (args[0] !== PROTOCOL) throw new ProtocolError('version', `this witness speaks ${PROTOCOL}, not ${quote(args[0])}`, true);
    if (conn.hello) throw new ProtocolError('malformed', 'HELLO was already sent on this connection');
    conn.hello = true;
    return { lines: [`OK HELLO ${PROTOCOL}`] };
  }

  private begin(args: string[]): Promise<Reply> {
    const params = parseBegin(args);
    const known = this.store.tests.get(params.test);
    if (known) {
      for (const key of ['blockSize', 'blocks', 'method', 'host', 'path'] as const) {
        if (known[key] !== params[key]) throw new ProtocolError('conflict', `test ${params.test} was begun with ${key} ${quote(String(known[key]))}, not ${quote(String(params[key]))}`);
      }
      return this.afterDurable(() => [`OK BEGIN ${params.test} known`]);
    }
    if (this.store.tests.size >= (this.options.maxTests ?? 10_000)) throw new ProtocolError('full', `this witness holds ${this.store.tests.size} tests, its maximum`);
    this.store.begin(params);
    this.options.log?.(`test ${params.test} begun by ${params.host}: ${params.path}, ${params.blocks} blocks of ${params.blockSize} B, method ${params.method}`);
    return this.afterDurable(() => [`OK BEGIN ${params.test} new`]);
  }

  private ready(args: string[]): Promise<Reply> {
    arity(args, 1, 'READY');
    const t = this.store.mustTest(parseTestId(args[0]));
    if (!t.ready) this.store.ready(t);
    return this.afterDurable(() => [`OK READY ${t.test}`]);
  }

  private writeArgs(args: string[], command: string): { t: TestState; seq: number; block: number } {
    arity(args, 3, command);
    const t = this.store.mustTest(parseTestId(args[0]));
    const seq = parseDecimal(args[1], 'seq', 1, Number.MAX_SAFE_INTEGER);
    const block = parseDecimal(args[2], 'block', 1, t.blocks - 1);
    return { t, seq, block };
  }

  private pre(args: string[]): Promise<Reply> {
    const { t, seq, block } = this.writeArgs(args, 'PRE');
    if (!t.ready) throw new ProtocolError('not-ready', `test ${t.test} has not said READY: its file is not durable yet`);
    if (t.ended) throw new ProtocolError('ended', `test ${t.test} has ended`);
    if (seq === t.lastSeq && block === t.lastBlock) return this.afterDurable(() => [`OK PRE ${t.test} ${seq}`]);
    if (seq <= t.lastSeq) throw new ProtocolError('sequence', `write ${seq} is not after the last one announced (${t.lastSeq})`);
    this.store.pre(t, seq, block);
    return this.afterDurable(() => [`OK PRE ${t.test} ${seq}`]);
  }

  private post(args: string[]): Promise<Reply> {
    const { t, seq, block } = this.writeArgs(args, 'POST');
    const s = t.blockStates.get(block);
    if (s && s.durableSeq === seq) return this.afterDurable(() => [`OK POST ${t.test} ${seq}`]);
    if (!s || s.pendingSeq !== seq || s.pendingSeq <= s.durableSeq) {
      throw new ProtocolError('sequence', `write ${seq} to block ${block} was not the last one announced for that block (${s ? s.pendingSeq : 'none'})`);
    }
    this.store.post(t, seq, block);
    return this.afterDurable(() => [`OK POST ${t.test} ${seq}`]);
  }

  private end(args: string[]): Promise<Reply> {
    arity(args, 1, 'END');
    const t = this.store.mustTest(parseTestId(args[0]));
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
