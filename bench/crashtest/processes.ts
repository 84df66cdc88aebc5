/**
 * The processes crashtest starts (the workload, the setup and the check commands), each in a
 * process group of its own so that everything it started dies with it: at the power cut, at a
 * timeout, on Ctrl-C, and when crashtest itself exits.
 * @module
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';

/** How a process ended: its exit code, or the signal that ended it. */
export interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Why it could not be started at all (spawn's error: the command does not exist...). */
  spawnError?: string;
}

/** Output kept per process: the last this many bytes of its stdout and stderr together. */
const OUTPUT_TAIL = 64 * 1024;

/** Every group started and not yet known to be gone, for {@link killAllNow}. */
const live = new Set<GroupProcess>();

/** A command running in its own process group. */
export class GroupProcess {
  /** Resolves once the process has exited (or could not start). */
  readonly exited: Promise<Finished>;
  private readonly child: ChildProcess;
  private tail = '';
  private finished: Finished | null = null;

  private constructor(argv: string[], options: { cwd: string; env: NodeJS.ProcessEnv; extraFd?: number }) {
    const stdio: StdioOptions = options.extraFd === undefined ? ['ignore', 'pipe', 'pipe'] : ['ignore', 'pipe', 'pipe', options.extraFd];
    this.child = spawn(argv[0], argv.slice(1), { cwd: options.cwd, env: options.env, stdio, detached: true });
    live.add(this);
    const collect = (chunk: Buffer) => {
      this.tail += chunk.toString('utf8');
      if (this.tail.length > 2 * OUTPUT_TAIL) this.tail = this.tail.slice(-OUTPUT_TAIL);
    };
    this.child.stdout?.on('data', collect);
    this.child.stderr?.on('data', collect);
    this.exited = new Promise<Finished>((resolve) => {
      this.child.once('error', (error) => {
        this.finished = { code: null, signal: null, spawnError: error.message };
        live.delete(this);
        resolve(this.finished);
      });
      // 'close': its output has been read to the end by then.
      this.child.once('close', (code, signal) => {
        this.finished ??= { code, signal };
        resolve(this.finished);
      });
    });
  }

  /** Starts `argv` (no shell) in a new process group. `extraFd` becomes its file descriptor 3. */
  static start(argv: string[], options: { cwd: string; env: NodeJS.ProcessEnv; extraFd?: number }): GroupProcess {
    return new GroupProcess(argv, options);
  }

  /** Starts a shell command line (`sh -c`) in a new process group. */
  static shell(command: string, options: { cwd: string; env: NodeJS.ProcessEnv }): GroupProcess {
    return new GroupProcess(['sh', '-c', command], options);
  }

  /** Its process id, which is also its process group's (undefined if it could not start). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /** What it wrote on stdout and stderr (the last 64 KiB or more). */
  get output(): string {
    return this.tail.length > OUTPUT_TAIL ? this.tail.slice(-OUTPUT_TAIL) : this.tail;
  }

  /** How it ended, once it has. */
  get result(): Finished | null {
    return this.finished;
  }

  /** Sends SIGKILL to the whole group (nothing is sent once the group is known to be gone). */
  killNow(): void {
    const pid = this.child.pid;
    if (pid === undefined || !live.has(this)) return;
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // the group is empty already
    }
  }

  /**
   * Kills the whole group and waits until its leader has exited and no process is left in it
   * (bounded: a process of the group that became a zombie of a parent that does not reap it
   * cannot be waited for).
   */
  async kill(): Promise<Finished> {
    this.killNow();
    const finished = await this.exited;
    const pid = this.child.pid;
    const deadline = Date.now() + 2000;
    while (pid !== undefined && groupAlive(pid) && Date.now() < deadline) {
      this.killNow();
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    live.delete(this);
    return finished;
  }

  /** Waits for it to end on its own for at most `ms`; then kills the group. Resolves how it ended and whether it was killed. */
  async waitOrKill(ms: number): Promise<{ finished: Finished; timedOut: boolean }> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), ms);
    });
    const outcome = await Promise.race([this.exited, timeout]);
    clearTimeout(timer);
    if (outcome === 'timeout') return { finished: await this.kill(), timedOut: true };
    // The leader is gone; whatever it left running in its group goes too.
    await this.kill();
    return { finished: outcome, timedOut: false };
  }
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** SIGKILL to every group still running: for an `exit` handler, where nothing can be awaited. */
export function killAllNow(): void {
  for (const group of live) group.killNow();
}

/** "exit 3", "signal SIGKILL", or why it could not start. */
export function describeFinished(finished: Finished): string {
  if (finished.spawnError) return `could not start: ${finished.spawnError}`;
  return finished.signal ? `killed by ${finished.signal}` : `exit ${finished.code}`;
}
