/**
 * The client side of the powercheck protocol: one TCP connection to the witness, opened with the
 * handshake that proves both ends know the secret (PROTOCOL.md), then requests pipelined,
 * replies matched in order (each reply ends with an OK or ERR line).
 * @module
 */
import net from 'node:net';
import { PROTOCOL } from './protocol';
import { isNonce, makeNonce, makeProof, proofMatches } from './secret';

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

/**
 * The handshake failed: the witness refused this side's secret, or could not prove it knows
 * it, or speaks another protocol version. Retrying will not help: the fix is the secret or the
 * version.
 */
export class WitnessHandshakeError extends Error {
  constructor(
    readonly reason: 'secret' | 'witness-proof' | 'version',
    message: string,
  ) {
    super(message);
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

  /**
   * Connects, and proves to the witness that this side knows `secret` and checks that the
   * witness knows it too. Rejects with WitnessUnreachable, WitnessRefusal (ERR busy, say) or
   * WitnessHandshakeError.
   */
  static async connect(host: string, port: number, secret: string, timeoutMs = 30_000): Promise<WitnessClient> {
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
      await client.handshake(secret);
    } catch (error) {
      client.close();
      throw error;
    }
    return client;
  }

  private async handshake(secret: string): Promise<void> {
    const address = this.address;
    const clientNonce = makeNonce();
    let hello: string;
    try {
      [hello] = await this.request(`HELLO ${PROTOCOL} ${clientNonce}`);
    } catch (error) {
      // An older witness answers a HELLO it cannot parse with ERR version or ERR malformed.
      if (error instanceof WitnessRefusal && (error.errCode === 'version' || error.errCode === 'malformed')) {
        throw new WitnessHandshakeError('version', `the witness ${address} does not speak ${PROTOCOL} (it answered: ${error.errCode} ${error.detail}): run the same version of hardsync on both machines`);
      }
      throw error;
    }
    const [ok, command, version, witnessNonce, ...extra] = hello.split(' ');
    if (ok !== 'OK' || command !== 'HELLO' || extra.length > 0) {
      throw new WitnessUnreachable(`${address} is not a powercheck witness (it answered ${JSON.stringify(hello.slice(0, 80))})`, 'EPROTO');
    }
    if (version !== PROTOCOL || !isNonce(witnessNonce)) {
      throw new WitnessHandshakeError('version', `the witness ${address} speaks ${JSON.stringify((version ?? '').slice(0, 40))}, not ${PROTOCOL}: run the same version of hardsync on both machines`);
    }
    let authReply: string;
    try {
      [authReply] = await this.request(`AUTH ${makeProof(secret, 'client', clientNonce, witnessNonce)}`);
    } catch (error) {
      if (error instanceof WitnessRefusal && error.errCode === 'auth') {
        throw new WitnessHandshakeError(
          'secret',
          `the witness ${address} refused the secret: it is not this witness's (the witness printed its secret at its first start and keeps it in the file "secret" of its --state directory; give it with --secret-file FILE or $HARDSYNC_POWERCHECK_SECRET)`,
        );
      }
      throw error;
    }
    const [, , witnessProof] = authReply.split(' ');
    if (!authReply.startsWith('OK AUTH ') || !proofMatches(secret, 'witness', clientNonce, witnessNonce, witnessProof)) {
      throw new WitnessHandshakeError('witness-proof', `the witness ${address} accepted the secret without proving that it knows it: it is not the witness you meant (or something between pretends to be it)`);
    }
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
