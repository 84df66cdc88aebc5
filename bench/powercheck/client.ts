/**
 * The client side of the powercheck protocol: one TCP connection to the witness, requests
 * pipelined, replies matched in order (each reply ends with an OK or ERR line).
 * @module
 */
import net from 'node:net';
import { PROTOCOL } from './protocol';

/** The witness answered ERR: a refusal, not a lost connection (retrying will not help). */
export class WitnessRefusal extends Error {
  constructor(
    readonly request: string,
    readonly errCode: string,
    readonly detail: string,
  ) {
    super(`the witness refused "${request.length > 60 ? `${request.slice(0, 60)}...` : request}": ${errCode} ${detail}`);
  }
}

/** The connection failed or was lost (refused, reset, closed, timed out): worth a reconnect. */
export class WitnessUnreachable extends Error {
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

interface Waiting {
  request: string;
  lines: string[];
  resolve: (lines: string[]) => void;
  reject: (error: Error) => void;
}

/** The most bytes of one reply line the client accepts (the witness never sends more). */
const MAX_REPLY_LINE = 16384;

export class WitnessClient {
  private readonly waiting: Waiting[] = [];
  private buffer = '';
  private failed: Error | undefined;
  private timer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly socket: net.Socket,
    private readonly timeoutMs: number,
    readonly address: string,
  ) {
    socket.setNoDelay(true);
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => this.receive(chunk));
    socket.on('error', (error: NodeJS.ErrnoException) => this.fail(new WitnessUnreachable(`connection to the witness ${address}: ${error.code ?? error.message}`, error.code)));
    socket.on('close', () => this.fail(new WitnessUnreachable(`the witness ${address} closed the connection`, 'ECONNRESET')));
  }

  /** Connects and says HELLO. Rejects with WitnessUnreachable or WitnessRefusal. */
  static async connect(host: string, port: number, timeoutMs = 30_000): Promise<WitnessClient> {
    const address = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect({ host, port });
      const timer = setTimeout(() => {
        s.destroy();
        reject(new WitnessUnreachable(`no connection to the witness ${address} within ${timeoutMs / 1000} s`, 'ETIMEDOUT'));
      }, timeoutMs);
      s.once('connect', () => {
        clearTimeout(timer);
        s.removeAllListeners('error');
        resolve(s);
      });
      s.once('error', (error: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(new WitnessUnreachable(`cannot reach the witness ${address}: ${error.code ?? error.message}`, error.code));
      });
    });
    const client = new WitnessClient(socket, timeoutMs, address);
    try {
      const [reply] = await client.request(`HELLO ${PROTOCOL}`);
      if (reply !== `OK HELLO ${PROTOCOL}`) throw new WitnessUnreachable(`${address} is not a powercheck witness (it answered ${JSON.stringify(reply.slice(0, 80))})`, 'EPROTO');
    } catch (error) {
      client.close();
      throw error;
    }
    return client;
  }

  /** Sends one request; resolves with its reply lines (the last is the OK line). */
  request(line: string): Promise<string[]> {
    return this.requestMany([line]).then((replies) => replies[0]);
  }

  /** Sends requests in one write and waits for all their replies, in order. */
  requestMany(lines: string[]): Promise<string[][]> {
    if (this.failed) return Promise.reject(this.failed);
    const replies = lines.map(
      (request) =>
        new Promise<string[]>((resolve, reject) => {
          this.waiting.push({ request, lines: [], resolve, reject });
        }),
    );
    this.socket.write(lines.map((l) => `${l}\n`).join(''));
    this.arm();
    // Settle together; the first failure wins (the rest fail the same way or were answered).
    return Promise.all(replies);
  }

  /** Ends the connection (QUIT is not needed: the witness takes a close as the end). */
  close(): void {
    this.fail(new WitnessUnreachable('connection closed by this side', 'ECONNABORTED'));
  }

  private arm(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.waiting.length === 0) return;
    this.timer = setTimeout(() => {
      this.fail(new WitnessUnreachable(`the witness ${this.address} did not answer within ${this.timeoutMs / 1000} s`, 'ETIMEDOUT'));
    }, this.timeoutMs);
  }

  private receive(chunk: string): void {
    this.buffer += chunk;
    for (;;) {
      const newline = this.buffer.indexOf('\n');
      if (newline < 0) break;
      const line = this.buffer.slice(0, newline);
      this.buffer = this.buffer.slice(newline + 1);
      const head = this.waiting[0];
      if (!head) {
        this.fail(new WitnessUnreachable(`the witness ${this.address} sent a line nobody asked for: ${JSON.stringify(line.slice(0, 80))}`, 'EPROTO'));
        return;
      }
      if (line.startsWith('OK ')) {
        head.lines.push(line);
        this.waiting.shift();
        head.resolve(head.lines);
        this.arm();
      } else if (line.startsWith('ERR ')) {
        const [, code = '', ...rest] = line.split(' ');
        this.waiting.shift();
        head.reject(new WitnessRefusal(head.request, code, rest.join(' ')));
        // After an ERR the witness may close the connection; this side does not go on either.
        this.fail(new WitnessUnreachable(`the witness ${this.address} refused an earlier request`, 'EPROTO'));
        return;
      } else {
        head.lines.push(line);
      }
    }
    if (this.buffer.length > MAX_REPLY_LINE) this.fail(new WitnessUnreachable(`the witness ${this.address} sent an over-long line`, 'EPROTO'));
  }

  private fail(error: Error): void {
    if (this.failed) return;
    this.failed = error;
    if (this.timer !== undefined) clearTimeout(this.timer);
    for (const w of this.waiting.splice(0)) w.reject(error);
    this.socket.destroy();
  }
}
