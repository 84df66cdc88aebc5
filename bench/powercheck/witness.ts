/**
 * The witness of `hardsync powercheck`: a TCP server, run on a machine that keeps its power,
 * that records what the machine under test announces (about to write block B with write number
 * S; S is durable) so that after a power cut the machine's disk can be checked against it.
 *
 * Its own state must survive its own crash, so it is kept with hardsync itself: every record
 * goes through a DurableLog (group commit, checksummed frames, torn-tail recovery), and every
 * reply is sent only after every record applied before it is durable. The log is compacted now
 * and then into a snapshot written with writeFileAtomic, after which older log segments are
 * dropped. Nothing outside the state directory is written.
 *
 * Hostile input never crashes it: a malformed line gets an ERR line; too many errors, an
 * over-long line, a wrong protocol version or an idle connection end the connection; input is
 * not read faster than replies can be sent.
 * @module
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { DurableLog, writeFileAtomic } from '../../lib/index';
import {
  encodeToken,
  formatBegin,
  MAX_LINE,
  parseBegin,
  parseDecimal,
  parseTestId,
  PROTOCOL,
  ProtocolError,
  quote,
  tokenize,
  type Method,
  type TestParams,
} from './protocol';

/** What the witness knows of one block of one test. */
export interface BlockState {
  /** The last write acknowledged durable (0: none) and when (witness clock, ms). */
  durableSeq: number;
  durableAt: number;
  /** The last write announced (>= durableSeq; equal when it was acknowledged) and when. */
  pendingSeq: number;
  pendingAt: number;
}

/** What the witness knows of one test. */
export interface TestState extends TestParams {
  /** Order in which the witness first heard of the test (1, 2, ...). */
  number: number;
  began: number;
  /** The machine said the file and its header are durable (READY). */
  ready: boolean;
  readyAt: number;
  /** The machine stopped the test cleanly (END). */
  ended: boolean;
  /** The last record of this test (witness clock): the latest moment the machine was known up. */
  last: number;
  lastSeq: number;
  lastBlock: number;
  announced: number;
  durable: number;
  blockStates: Map<number, BlockState>;
}

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
  onRecord?: (record: { kind: RecordKind; test: string; seq?: number; block?: number }) => void;
}

export type RecordKind = 'begin' | 'ready' | 'pre' | 'post' | 'end';

const SNAPSHOT = 'snapshot.json';
const SNAPSHOT_FORMAT = 'hardsync-powercheck-witness/1';
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
  readonly tests = new Map<string, TestState>();
  private server!: net.Server;
  private readonly connections = new Set<Connection>();
  /** Resolves once every record appended so far is durable. */
  private barrier: Promise<void> = Promise.resolve();
  /** LSN of the last record applied to memory (durable or on its way). */
  private appliedLsn = 0;
  private snapshotLsn = 0;
  private recordsSinceSnapshot = 0;
  /** The compaction under way, if any. */
  private snapshotting: Promise<void> | undefined;
  private failure: Error | undefined;
  private closing: Promise<void> | undefined;
  private readonly failureListeners: ((error: Error) => void)[] = [];

  private constructor(
    private readonly options: WitnessOptions,
    private readonly log: DurableLog,
  ) {}

  /** Opens (or creates) the state, replays it, and starts listening. */
  static async start(options: WitnessOptions): Promise<Witness> {
    const stateDir = path.resolve(options.stateDir);
    fs.mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    const log = await DurableLog.open(path.join(stateDir, 'log'), { flush: 'full', segmentSize: options.segmentSize ?? 8 << 20 });
    const witness = new Witness({ ...options, stateDir }, log);
    try {
      await witness.load();
      await witness.listen();
    } catch (error) {
      await log.close();
      throw error;
    }
    return witness;
  }

  /** Where it listens. */
  address(): { host: string; port: number } {
    const address = this.server.address() as net.AddressInfo;
    return { host: address.address, port: address.port };
  }

  /** Calls `listener` if the state can no longer be written (the witness then stops serving). */
  onFailure(listener: (error: Error) => void): void {
    this.failureListeners.push(listener);
  }

  /** Stops listening, ends every connection once its replies are sent, and closes the log. */
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
      await this.barrier;
      await this.snapshotting;
      await this.log.close();
    })();
    return this.closing;
  }

  // -------------------------------------------------------------------------------------------
  // State: snapshot + log replay

  private async load(): Promise<void> {
    const file = path.join(this.options.stateDir, SNAPSHOT);
    let text: string | undefined;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    if (text !== undefined) this.loadSnapshot(text, file);
    const lastLsn = this.log.lastLsn;
    const firstRetained = lastLsn - this.log.recovery.records + 1;
    if (lastLsn < this.snapshotLsn) {
      throw new Error(`witness state ${this.options.stateDir} is inconsistent: the snapshot covers record ${this.snapshotLsn} but the log ends at ${lastLsn}`);
    }
    if (lastLsn > this.snapshotLsn) {
      if (firstRetained > this.snapshotLsn + 1) {
        throw new Error(`witness state ${this.options.stateDir} is inconsistent: records ${this.snapshotLsn + 1} to ${firstRetained - 1} are in neither the snapshot nor the log`);
      }
      for await (const { lsn, data } of this.log.records(this.snapshotLsn + 1)) {
        try {
          this.applyRecord(data.toString('latin1'));
        } catch (error) {
          throw new Error(`witness state ${this.options.stateDir}: log record ${lsn} cannot be applied: ${(error as Error).message}`);
        }
        this.recordsSinceSnapshot++;
      }
    }
    this.appliedLsn = lastLsn;
  }

  private loadSnapshot(text: string, file: string): void {
    let doc: { format?: unknown; lsn?: unknown; tests?: unknown };
    try {
      doc = JSON.parse(text);
    } catch (error) {
      throw new Error(`${file} is not JSON: ${(error as Error).message}`);
    }
    if (doc.format !== SNAPSHOT_FORMAT || !Number.isSafeInteger(doc.lsn) || !Array.isArray(doc.tests)) {
      throw new Error(`${file} is not a ${SNAPSHOT_FORMAT} snapshot`);
    }
    for (const t of doc.tests as SnapshotTest[]) {
      const blockStates = new Map<number, BlockState>();
      for (const [block, durableSeq, durableAt, pendingSeq, pendingAt] of t.blockStates) blockStates.set(block, { durableSeq, durableAt, pendingSeq, pendingAt });
      this.tests.set(t.test, { ...t, blockStates });
    }
    this.snapshotLsn = doc.lsn as number;
  }

  private snapshotText(): string {
    const tests: SnapshotTest[] = [...this.tests.values()].map((t) => ({
      ...t,
      blockStates: [...t.blockStates].map(([block, s]) => [block, s.durableSeq, s.durableAt, s.pendingSeq, s.pendingAt]),
    }));
    return JSON.stringify({ format: SNAPSHOT_FORMAT, lsn: this.appliedLsn, tests });
  }

  /**
   * Compacts: the state as of the record just applied is serialized now; once that record is
   * durable in the log, the snapshot is written atomically, and then the log segments it
   * covers are dropped. A crash at any point leaves a snapshot and a log that together hold
   * every record.
   */
  private maybeSnapshot(): void {
    if (this.snapshotting || this.recordsSinceSnapshot < (this.options.snapshotEvery ?? 200_000)) return;
    const lsn = this.appliedLsn;
    const text = this.snapshotText();
    this.recordsSinceSnapshot = 0;
    const durable = this.barrier;
    this.snapshotting = (async () => {
      await durable;
      if (this.failure) return;
      await writeFileAtomic(path.join(this.options.stateDir, SNAPSHOT), text, { mode: 0o600 });
      this.snapshotLsn = lsn;
      await this.log.truncateBefore(lsn + 1);
    })()
      .catch((error) => this.fail(error as Error))
      .finally(() => {
        this.snapshotting = undefined;
      });
  }

  /** Appends a record durably, applying it to memory at once. */
  private record(text: string, kind: RecordKind, test: string, seq?: number, block?: number): void {
    this.applyRecord(text);
    this.appliedLsn++;
    this.recordsSinceSnapshot++;
    const onRecord = this.options.onRecord;
    this.barrier = this.log.append(text).then(
      () => onRecord?.({ kind, test, seq, block }),
      (error) => this.fail(error as Error),
    );
    this.maybeSnapshot();
  }

  private fail(error: Error): void {
    if (this.failure) return;
    this.failure = error;
    this.options.log?.(`cannot write the witness state: ${(error as NodeJS.ErrnoException).code ?? ''} ${error.message}; no more records are accepted`);
    for (const listener of this.failureListeners) listener(error);
  }

  /**
   * Applies one record (the same text that goes into the log) to memory. Records are checked
   * before they are made, so a failure here means a damaged state.
   */
  private applyRecord(text: string): void {
    const [kind, ...f] = text.split(' ');
    switch (kind) {
      case 'B': {
        const params = parseBegin(f.slice(0, 6));
        const at = Number(f[6]);
        this.tests.set(params.test, {
          ...params,
          number: this.tests.size + 1,
          began: at,
          ready: false,
          readyAt: 0,
          ended: false,
          last: at,
          lastSeq: 0,
          lastBlock: 0,
          announced: 0,
          durable: 0,
          blockStates: new Map(),
        });
        return;
      }
      case 'R': {
        const t = this.mustTest(f[0]);
        t.ready = true;
        t.readyAt = t.last = Number(f[1]);
        return;
      }
      case 'E': {
        const t = this.mustTest(f[0]);
        t.ended = true;
        t.last = Number(f[1]);
        return;
      }
      case 'P': {
        const t = this.mustTest(f[0]);
        const seq = Number(f[1]);
        const block = Number(f[2]);
        const at = Number(f[3]);
        const s = t.blockStates.get(block) ?? { durableSeq: 0, durableAt: 0, pendingSeq: 0, pendingAt: 0 };
        s.pendingSeq = seq;
        s.pendingAt = at;
        t.blockStates.set(block, s);
        t.lastSeq = seq;
        t.lastBlock = block;
        t.announced++;
        t.last = at;
        return;
      }
      case 'D': {
        const t = this.mustTest(f[0]);
        const s = t.blockStates.get(Number(f[2]));
        if (!s) throw new Error(`durable write ${f[1]} of block ${f[2]} was never announced`);
        s.durableSeq = Number(f[1]);
        s.durableAt = t.last = Number(f[3]);
        t.durable++;
        return;
      }
      default:
        throw new Error(`unknown record ${quote(kind)}`);
    }
  }

  private mustTest(id: string): TestState {
    const t = this.tests.get(id);
    if (!t) throw new ProtocolError('unknown-test', `no test ${id} is known to this witness`);
    return t;
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
      if (this.failure) throw new ProtocolError('internal', `the witness cannot write its state (${this.failure.message})`, true);
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
    await this.barrier;
    if (this.failure) throw new ProtocolError('internal', `the witness cannot write its state (${this.failure.message})`, true);
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
    const known = this.tests.get(params.test);
    if (known) {
      for (const key of ['blockSize', 'blocks', 'method', 'host', 'path'] as const) {
        if (known[key] !== params[key]) throw new ProtocolError('conflict', `test ${params.test} was begun with ${key} ${quote(String(known[key]))}, not ${quote(String(params[key]))}`);
      }
      return this.afterDurable(() => [`OK BEGIN ${params.test} known`]);
    }
    if (this.tests.size >= (this.options.maxTests ?? 10_000)) throw new ProtocolError('full', `this witness holds ${this.tests.size} tests, its maximum`);
    this.record(`${formatBegin(params).replace(/^BEGIN/, 'B')} ${Date.now()}`, 'begin', params.test);
    this.options.log?.(`test ${params.test} begun by ${params.host}: ${params.path}, ${params.blocks} blocks of ${params.blockSize} B, method ${params.method}`);
    return this.afterDurable(() => [`OK BEGIN ${params.test} new`]);
  }

  private ready(args: string[]): Promise<Reply> {
    arity(args, 1, 'READY');
    const t = this.mustTest(parseTestId(args[0]));
    if (!t.ready) this.record(`R ${t.test} ${Date.now()}`, 'ready', t.test);
    return this.afterDurable(() => [`OK READY ${t.test}`]);
  }

  private writeArgs(args: string[], command: string): { t: TestState; seq: number; block: number } {
    arity(args, 3, command);
    const t = this.mustTest(parseTestId(args[0]));
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
    this.record(`P ${t.test} ${seq} ${block} ${Date.now()}`, 'pre', t.test, seq, block);
    return this.afterDurable(() => [`OK PRE ${t.test} ${seq}`]);
  }

  private post(args: string[]): Promise<Reply> {
    const { t, seq, block } = this.writeArgs(args, 'POST');
    const s = t.blockStates.get(block);
    if (s && s.durableSeq === seq) return this.afterDurable(() => [`OK POST ${t.test} ${seq}`]);
    if (!s || s.pendingSeq !== seq || s.pendingSeq <= s.durableSeq) {
      throw new ProtocolError('sequence', `write ${seq} to block ${block} was not the last one announced for that block (${s ? s.pendingSeq : 'none'})`);
    }
    this.record(`D ${t.test} ${seq} ${block} ${Date.now()}`, 'post', t.test, seq, block);
    return this.afterDurable(() => [`OK POST ${t.test} ${seq}`]);
  }

  private end(args: string[]): Promise<Reply> {
    arity(args, 1, 'END');
    const t = this.mustTest(parseTestId(args[0]));
    if (!t.ended) {
      this.record(`E ${t.test} ${Date.now()}`, 'end', t.test);
      this.options.log?.(`test ${t.test} ended cleanly after ${t.durable} durable writes`);
    }
    return this.afterDurable(() => [`OK END ${t.test}`]);
  }

  private state(args: string[]): Promise<Reply> {
    arity(args, 1, 'STATE');
    const t = this.mustTest(parseTestId(args[0]));
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
      const tests = [...this.tests.values()];
      return [...tests.map(testLine), `OK LIST ${tests.length}`];
    });
  }
}

interface SnapshotTest extends Omit<TestState, 'blockStates'> {
  blockStates: [number, number, number, number, number][];
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
