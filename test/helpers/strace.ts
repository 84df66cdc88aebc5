/**
 * Runs a Node child script under strace with syscall faults injected, and collects the JSON
 * result the child writes. Shared by the primitive injection tests and the pattern-level ones
 * (writeFileAtomic, DurableLog).
 *
 * How the injection is aimed at the one call under test, although Node's own startup makes
 * hundreds of openat / write / pwrite64 calls:
 *
 * - `-P PATH` (repeatable) makes strace trace only syscalls whose path argument is PATH or
 *   whose fd argument is open on PATH (strace reads /proc/PID/fd/N). strace injects only into
 *   traced syscalls, so `-P` is also the injection filter: a call on another file is never
 *   touched, however many Node makes. The child therefore works on a target path used by
 *   nothing but the calls under test, and on a control path (not given to -P) where the same
 *   call must succeed. For rename, strace 6.1 matches only the FIRST path (the source): aim at
 *   the file being renamed, not at the destination.
 * - `-e trace=SYSCALLS --seccomp-bpf` stops the child only on the syscalls under test, so the
 *   run is nearly as fast as without strace (seccomp-bpf needs -f, which we want anyway: the
 *   async forms run on libuv threadpool threads).
 * - `when=N` counts per THREAD (strace keeps the counter per traced task), not per process.
 *   The default `1+` (every matching call fails) needs no counting at all; use `when=1` with
 *   care once async calls are involved, since each threadpool thread has its own count.
 * - Node's own async fs calls may go through io_uring, which strace cannot see; the child
 *   runs with UV_USE_IO_URING=0 so node:fs calls made by the patterns stay visible.
 *
 * Every injected call appears in the strace log with "(INJECTED)"; {@link InjectRun.injected}
 * counts them, so a test can assert that the failure it saw came from its own injection.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * The engine a traced child must use. strace sees syscalls, and the io_uring engine makes
 * none for an async flush (the kernel runs it), so traced children run the thread engine
 * instead, or the libuv threadpool when that is the engine under test. The io_uring engine's
 * own behaviour is shown elsewhere: test/engine.test.ts (errors, teardown, the ring really
 * used) and the power-cut tests (what it makes durable), which need no strace.
 */
export const straceEngineEnv = {
  HARDSYNC_ENGINE: process.env.HARDSYNC_ENGINE === 'threadpool' ? 'threadpool' : 'threads',
};

/** One `-e inject=` clause. */
export interface Injection {
  /** Syscall names as strace spells them (`pwrite64`, `renameat2`, ...). */
  syscalls: string[];
  /** An errno name to fail with (`EIO`, `ENOSPC`, `EDQUOT`, `EINTR`, ...). */
  error?: string;
  /** Instead of an error, a return value (the call is not made: a simulated short write). */
  retval?: number;
  /** strace's `when=` expression: `1+` (default: every matching call), `1`, `2..3`, ... */
  when?: string;
}

/** What a child run produced. */
export interface InjectRun {
  /** Exit status, or null when a signal ended strace or the child. */
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** The JSON the child wrote to $HARDSYNC_INJECT_RESULT, or undefined if it wrote none. */
  result: unknown;
  /** strace's log: only the traced (matching) calls. */
  log: string;
  /** How many calls strace reports as INJECTED. */
  injected: number;
}

/** Whether strace can inject faults here, and if not, why (for the skip message). */
export interface StraceStatus {
  available: boolean;
  reason: string;
}

/** The strace binary (from PATH). */
export const STRACE = 'strace';

/**
 * Whether strace exists and can trace a Node child here (ptrace may be forbidden in a
 * container). For the recording tests; the fault-injection tests ask {@link straceStatus}.
 */
export const hasStrace = spawnSync(STRACE, ['-qq', '-o', '/dev/null', '-e', 'trace=none', process.execPath, '-e', '0']).status === 0;

let cachedStatus: StraceStatus | undefined;

/**
 * Checks once that strace exists AND can inject into a Node child (ptrace may be forbidden in
 * some containers): fsync(0) fails with EINVAL on /dev/null or a pipe, or succeeds; under the
 * probe it must fail with the injected EIO.
 */
export function straceStatus(): StraceStatus {
  if (cachedStatus) return cachedStatus;
  const version = spawnSync(STRACE, ['-V'], { encoding: 'utf8' });
  if (version.error || version.status !== 0) {
    cachedStatus = { available: false, reason: 'strace is not installed (Debian package strace)' };
    return cachedStatus;
  }
  const probe = spawnSync(
    STRACE,
    ['-f', '-qq', '-o', '/dev/null', '--seccomp-bpf', '-e', 'trace=fsync', '-e', 'inject=fsync:error=EIO',
      process.execPath, '-e', "try { require('fs').fsyncSync(0); process.exit(3) } catch (e) { process.exit(e.code === 'EIO' ? 0 : 4) }"],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 },
  );
  cachedStatus = probe.status === 0
    ? { available: true, reason: version.stdout.split('\n')[0] }
    : { available: false, reason: `strace cannot inject here (probe exit ${probe.status}): ${probe.stderr.trim().slice(0, 300)}` };
  return cachedStatus;
}

/** The absolute path as /proc/PID/fd shows it (symlinks in the directory part resolved). */
export function canonicalPath(file: string): string {
  const absolute = path.resolve(file);
  try {
    return fs.realpathSync(absolute);
  } catch {
    return path.join(fs.realpathSync(path.dirname(absolute)), path.basename(absolute));
  }
}

/**
 * Runs `node script ...args` under strace, injecting `inject` into the calls that touch one of
 * `paths`. The child finds the file to write its JSON result to in $HARDSYNC_INJECT_RESULT.
 */
export function runInjected(options: {
  script: string;
  args?: string[];
  paths: string[];
  inject: Injection[];
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}): InjectRun {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'hardsync-strace-'));
  try {
    const logFile = path.join(work, 'strace.log');
    const resultFile = path.join(work, 'result.json');
    const traced = [...new Set(options.inject.flatMap((rule) => rule.syscalls))];
    const straceArgs = ['-f', '-qq', '--seccomp-bpf', '-o', logFile, '-e', `trace=${traced.join(',')}`];
    for (const target of options.paths) straceArgs.push('-P', canonicalPath(target));
    for (const rule of options.inject) {
      if ((rule.error === undefined) === (rule.retval === undefined)) {
        throw new Error('an injection needs exactly one of error and retval');
      }
      const action = rule.error !== undefined ? `error=${rule.error}` : `retval=${rule.retval}`;
      straceArgs.push('-e', `inject=${rule.syscalls.join(',')}:${action}:when=${rule.when ?? '1+'}`);
    }
    straceArgs.push(process.execPath, options.script, ...(options.args ?? []));
    const child = spawnSync(STRACE, straceArgs, {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: options.timeoutMs ?? 60_000,
      env: { ...process.env, UV_USE_IO_URING: '0', ...straceEngineEnv, ...options.env, HARDSYNC_INJECT_RESULT: resultFile },
    });
    if (child.error) throw child.error;
    const log = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '';
    const result = fs.existsSync(resultFile) ? JSON.parse(fs.readFileSync(resultFile, 'utf8')) : undefined;
    return {
      status: child.status,
      signal: child.signal,
      stdout: child.stdout,
      stderr: child.stderr,
      result,
      log,
      injected: log.split('\n').filter((line) => line.endsWith('(INJECTED)')).length,
    };
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

// Recording: the patterns tests run a child script under `strace -f -y` and read what it did.

/** The patterns' child scripts (atomic-child.js, log-child.js, ...). */
export const FIXTURES = path.join(__dirname, '..', 'fixtures', 'patterns');

/** One syscall from an strace -f -y log; `unfinished`/`resumed` halves are joined by pid. */
export interface Syscall {
  pid: number;
  name: string;
  args: string;
  result: string;
  /** Index in the log of the line where the call started / ended: overlapping calls interleave. */
  start: number;
  end: number;
}

/** Parses `strace -f -y -qq` output. */
export function parseStrace(text: string): Syscall[] {
  const calls: Syscall[] = [];
  const open = new Map<string, { name: string; args: string; start: number }>();
  const lines = text.split('\n');
  lines.forEach((line, index) => {
    let m = /^(\d+)\s+(\w+)\((.*) <unfinished \.\.\.>$/.exec(line);
    if (m) {
      open.set(`${m[1]}:${m[2]}`, { name: m[2], args: m[3], start: index });
      return;
    }
    m = /^(\d+)\s+<\.\.\. (\w+) resumed>(.*)\)\s+=\s+(.*)$/.exec(line);
    if (m) {
      const begun = open.get(`${m[1]}:${m[2]}`);
      open.delete(`${m[1]}:${m[2]}`);
      calls.push({ pid: Number(m[1]), name: m[2], args: (begun?.args ?? '') + m[3], result: m[4], start: begun?.start ?? index, end: index });
      return;
    }
    m = /^(\d+)\s+(\w+)\((.*)\)\s+=\s+(.*)$/.exec(line);
    if (m) calls.push({ pid: Number(m[1]), name: m[2], args: m[3], result: m[4], start: index, end: index });
  });
  return calls.sort((a, b) => a.start - b.start);
}

/** What a fixture run produced. */
export interface ChildRun {
  status: number | null;
  stdout: string;
  stderr: string;
  /** The JSON object the fixture printed on its last stdout line. */
  result: any;
  /** The recorded syscalls (empty without strace). */
  calls: Syscall[];
}

/**
 * Runs test/fixtures/patterns/<script> with `args`. With `trace`, under
 * `strace -f -y -qq -e trace=<trace> [-e inject=...]`.
 */
export function runFixture(
  script: string,
  args: string[],
  options: { trace?: string; inject?: string[]; timeoutMs?: number; env?: Record<string, string> } = {},
): ChildRun {
  const scriptPath = path.join(FIXTURES, script);
  const logFile = path.join(os.tmpdir(), `hardsync-strace-${process.pid}-${Math.random().toString(36).slice(2)}.log`);
  let command = process.execPath;
  let argv = [scriptPath, ...args];
  if (options.trace) {
    command = STRACE;
    const injects = (options.inject ?? []).flatMap((spec) => ['-e', `inject=${spec}`]);
    argv = ['-f', '-y', '-qq', '-o', logFile, '-e', `trace=${options.trace}`, ...injects, process.execPath, scriptPath, ...args];
  }
  // strace's inject=...:when=N counts calls per thread: with one threadpool thread and one
  // flush thread, "the N-th fdatasync" is the N-th the program makes, whichever thread would
  // have run it.
  const oneThread = { UV_THREADPOOL_SIZE: '1', HARDSYNC_FLUSH_THREADS: '1' };
  const env = { ...process.env, ...(options.trace ? straceEngineEnv : {}), ...(options.inject ? oneThread : {}), ...options.env };
  const child = spawnSync(command, argv, { encoding: 'utf8', timeout: options.timeoutMs ?? 60_000, env });
  let calls: Syscall[] = [];
  if (options.trace) {
    calls = parseStrace(fs.readFileSync(logFile, 'utf8'));
    fs.rmSync(logFile, { force: true });
  }
  const lines = child.stdout.trim().split('\n');
  let result: any;
  try {
    result = JSON.parse(lines[lines.length - 1]);
  } catch {
    throw new Error(`fixture ${script} printed no JSON result.\nstdout: ${child.stdout}\nstderr: ${child.stderr}`);
  }
  return { status: child.status, stdout: child.stdout, stderr: child.stderr, result, calls };
}

/** Starts a fixture without waiting (for the lock test), with stdin/stdout piped. */
export function startFixture(script: string, args: string[]) {
  return spawn(process.execPath, [path.join(FIXTURES, script), ...args], { stdio: ['pipe', 'pipe', 'inherit'], env: process.env });
}

/** The fd number of a `N</path>` strace argument, and its path. */
export function fdOf(args: string): { fd: number; path: string } | undefined {
  const m = /^(\d+)<([^>]*)>/.exec(args);
  return m ? { fd: Number(m[1]), path: m[2] } : undefined;
}

/**
 * The lines of an `strace -f` log with the pid column removed and each call whole: a call that
 * another thread's call interrupted is logged in two lines, `NAME(args <unfinished ...>` and
 * later, from the same pid, `<... NAME resumed>rest`; they are joined into `NAME(argsrest`.
 */
export function joinedStraceLines(text: string): string[] {
  const open = new Map<string, { index: number; head: string }>();
  const out: string[] = [];
  for (const raw of text.split('\n')) {
    const match = /^(\d+)\s+(.*)$/.exec(raw);
    const pid = match?.[1] ?? '';
    const line = match ? match[2] : raw;
    const unfinished = /^(.*?)\s*<unfinished \.\.\.>$/.exec(line);
    if (unfinished) {
      open.set(pid, { index: out.length, head: unfinished[1] });
      out.push(unfinished[1]);
      continue;
    }
    const resumed = /^<\.\.\. \S+ resumed>\s?(.*)$/.exec(line);
    const start = open.get(pid);
    if (resumed && start) {
      out[start.index] = `${start.head}${resumed[1]}`;
      open.delete(pid);
      continue;
    }
    out.push(line);
  }
  return out;
}
