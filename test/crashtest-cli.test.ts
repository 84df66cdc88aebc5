// `hardsync crashtest` end to end: its usage and exit codes, the environment it refuses, the
// JSON report, a replay that reproduces the failure, --keep, a check of one's own, a run as a
// user who is not root, and that no mount, process or scratch file is left after a success, a
// failure, Ctrl-C, a workload that crashes and one that hangs.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it, onTestFinished, vi } from 'vitest';
import { powercutUnavailable } from './helpers/powercut';
import { tempDir } from './helpers/tmp';

const ROOT = path.join(__dirname, '..');
const CLI = path.join(ROOT, 'dist', 'bench', 'cli.js');
const WORKLOAD = path.join(ROOT, 'test', 'fixtures', 'crashtest', 'workload.mjs');
const CHECK = path.join(ROOT, 'test', 'fixtures', 'crashtest', 'check.mjs');

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A test's own temporary directory for the CLI (its TMPDIR), its pid notes and its cwd. */
function sandbox(): { tmp: string; pids: string; cwd: string; checks: string } {
  const base = tempDir('hardsync-crashtest-cli-');
  const dirs = { tmp: path.join(base, 'tmp'), pids: path.join(base, 'pids'), cwd: path.join(base, 'cwd'), checks: path.join(base, 'checks') };
  for (const dir of Object.values(dirs)) fs.mkdirSync(dir);
  return dirs;
}

function start(args: string[], box: ReturnType<typeof sandbox>, env: Record<string, string> = {}) {
  return spawn(process.execPath, [CLI, 'crashtest', ...args], {
    cwd: box.cwd,
    env: { ...process.env, TMPDIR: box.tmp, FIXTURE_PIDS: box.pids, FIXTURE_CHECKS: box.checks, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
}

function finish(child: ReturnType<typeof start>): Promise<Ran> {
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c) => (stdout += c));
  child.stderr!.on('data', (c) => (stderr += c));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

function crashtest(args: string[], box = sandbox(), env: Record<string, string> = {}): Promise<Ran> {
  return finish(start(args, box, env));
}

/** Live processes whose command line or environment names `text` (zombies have neither). */
function processesMentioning(text: string): string[] {
  const found: string[] = [];
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      const environ = fs.readFileSync(`/proc/${pid}/environ`, 'utf8');
      if (cmdline.includes(text) || environ.includes(text)) found.push(`${pid}: ${cmdline.replace(/\0/g, ' ')}`);
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return found;
}

/** Nothing left of a run: no mount, no process, no file in its TMPDIR; every pid it noted is gone. */
function expectNothingLeft(box: ReturnType<typeof sandbox>): void {
  expect(fs.readFileSync('/proc/mounts', 'utf8').split('\n').filter((line) => line.includes(box.tmp))).toEqual([]);
  expect(processesMentioning(box.tmp)).toEqual([]);
  expect(fs.readdirSync(box.tmp)).toEqual([]);
  for (const note of fs.readdirSync(box.pids)) {
    const pid = Number(note.split('-').pop());
    if (!Number.isInteger(pid)) continue;
    let alive = true;
    try {
      process.kill(pid, 0);
      alive = !fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.startsWith('Z');
    } catch {
      alive = false;
    }
    expect(alive, `process ${note}`).toBe(false);
  }
}

/** Starts a campaign whose run 0 hangs, and waits until it does (the workload noted it). */
async function hangingRun(box: ReturnType<typeof sandbox>): Promise<{ child: ReturnType<typeof start>; done: Promise<Ran> }> {
  const child = start(['--expect', 'files', '--runs', '3', '--cut', 'op', '--timeout', '120', '--', process.execPath, WORKLOAD], box, { FIXTURE_MODE: 'hang' });
  const done = finish(child);
  const hanging = path.join(box.pids, '0-hanging');
  await vi.waitFor(() => expect(fs.existsSync(hanging)).toBe(true), { timeout: 60_000, interval: 50 });
  return { child, done };
}

// Each test starts crashtest (a node process, a mount, several runs) one or more times: under a
// loaded machine that takes minutes, which is waiting, not a hang.
const SLOW = { timeout: 600_000 };

describe('hardsync crashtest: usage', SLOW, () => {
  it('--help describes it, and hardsync --help lists it', async () => {
    const help = await crashtest(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('usage: hardsync crashtest');
    for (const option of ['--check', '--expect', '--setup', '--runs', '--seed', '--cut', '--timeout', '--keep', '--lie', '--json']) expect(help.stdout).toContain(option);
    expect(help.stdout).toContain('exit codes: 0 every run passed, 1 a run failed');
    const global = await finish(spawn(process.execPath, [CLI, '--help'], { stdio: ['ignore', 'pipe', 'pipe'] }) as ReturnType<typeof start>);
    expect(global.stdout).toContain('crashtest [options] -- CMD...');
  });

  it('refuses a wrong command line with exit 2 and a reason, before mounting anything', async () => {
    const cases: [string[], RegExp][] = [
      [['--expect', 'files'], /no workload/],
      [['--', 'node', 'x.js'], /nothing would judge the runs/],
      [['--expect', 'files', 'node', 'x.js'], /put the workload after "--"/],
      [['--expect', 'dirs', '--', 'node'], /--expect: "dirs" is not one of files, durable-log/],
      [['--expect', 'durable-log=../up', '--', 'node'], /is not one of/],
      [['--expect', 'files', '--cut', 'op,later', '--', 'node'], /--cut: "later" is not a cut point/],
      [['--expect', 'files', '--seed', '-1', '--', 'node'], /--seed/],
      [['--expect', 'files', '--runs', '0', '--', 'node'], /--runs must be an integer from 1/],
      [['--expect', 'files', '--check', '', '--', 'node'], /--check needs a command/],
      [['--expect', 'files', '--json', '/nonexistent/dir/x.json', '--', 'node'], /does not exist/],
      [['--expect', 'files', '--rnus', '3', '--', 'node'], /unknown option --rnus; did you mean --runs\?/],
      [['--expect', 'files', '--cut-at', 'op:0', '--', 'node'], /--cut-at: "op:0" is not op:N, flush:N, write:N \(N from 1\), time:MS or exit/],
      [['--expect', 'files', '--cut-at', 'later:3', '--', 'node'], /--cut-at: "later:3"/],
      [['--expect', 'files', '--cut-at', 'op:3', '--cut', 'op', '--', 'node'], /--cut-at fixes the cut point: --cut has nothing to choose/],
    ];
    for (const [args, message] of cases) {
      const box = sandbox();
      const ran = await crashtest(args, box);
      expect(ran.code, args.join(' ')).toBe(2);
      expect(ran.stderr, args.join(' ')).toMatch(message);
      expect(fs.readdirSync(box.tmp)).toEqual([]);
    }
  });
});

const unavailable = powercutUnavailable();
if (unavailable) console.warn(`[powercut] skipped: ${unavailable}`);

describe.skipIf(unavailable !== undefined)('hardsync crashtest: runs', SLOW, () => {
  it('an environment that cannot build or run the simulator: exit 2, saying what is missing', async () => {
    const given = await crashtest(['--expect', 'files', '--runs', '1', '--', process.execPath, WORKLOAD], sandbox(), { HARDSYNC_POWERCUT_FS: '/nonexistent/powercut-fs' });
    expect(given.code).toBe(2);
    expect(given.stderr).toContain('HARDSYNC_POWERCUT_FS=/nonexistent/powercut-fs is not an executable file');
    const empty = tempDir();
    const noHeaders = await crashtest(['--expect', 'files', '--runs', '1', '--', process.execPath, WORKLOAD], sandbox(), { HARDSYNC_POWERCUT_CACHE: tempDir(), PKG_CONFIG_LIBDIR: empty, PKG_CONFIG_PATH: empty });
    expect(noHeaders.code).toBe(2);
    expect(noHeaders.stderr).toMatch(/built on first use, and cannot be: libfuse3's headers are not installed .*apt-get install gcc pkg-config libfuse3-dev fuse3/);
    const noCompiler = await crashtest(['--expect', 'files', '--runs', '1', '--', process.execPath, WORKLOAD], sandbox(), { HARDSYNC_POWERCUT_CACHE: tempDir(), CC: '/nonexistent/cc' });
    expect(noCompiler.code).toBe(2);
    expect(noCompiler.stderr).toMatch(/no C compiler \(\/nonexistent\/cc\)/);
  });

  it('a workload or a check that fails without any power cut: exit 2, nothing left', async () => {
    const box = sandbox();
    const failing = await crashtest(['--expect', 'files', '--runs', '2', '--', process.execPath, WORKLOAD], box, { FIXTURE_MODE: 'fail' });
    expect(failing.code).toBe(2);
    expect(failing.stderr).toContain('the workload fails without any power cut (exit 4)');
    expectNothingLeft(box);
    const box2 = sandbox();
    const strict = await crashtest(['--check', 'echo never satisfied; exit 1', '--runs', '2', '--', process.execPath, WORKLOAD], box2);
    expect(strict.code).toBe(2);
    expect(strict.stderr).toMatch(/the check fails without any power cut, so it cannot tell a loss:\n.*the check failed \(exit 1\)\n +never satisfied/);
    expectNothingLeft(box2);
    const box3 = sandbox();
    const setup = await crashtest(['--setup', 'echo cannot prepare >&2; exit 7', '--expect', 'files', '--runs', '2', '--', process.execPath, WORKLOAD], box3);
    expect(setup.code).toBe(2);
    expect(setup.stderr).toMatch(/the setup command failed \(exit 7\)\n +cannot prepare/);
    expectNothingLeft(box3);
    const box4 = sandbox();
    const missing = await crashtest(['--expect', 'files', '--runs', '2', '--', '/nonexistent/program'], box4);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('the workload fails without any power cut (could not start: spawn /nonexistent/program ENOENT)');
    expectNothingLeft(box4);
  });

  it('a workload that keeps what it acknowledged passes every run: exit 0, nothing left', async () => {
    const box = sandbox();
    // The setup's file was made durable before each run: every cut leaves it.
    const setup = 'echo ready > "$HARDSYNC_CRASHTEST_DIR/initial"';
    const check = `test -s "$HARDSYNC_CRASHTEST_DIR/initial" && node ${CHECK}`;
    const ran = await crashtest(['--setup', setup, '--expect', 'files', '--check', check, '--runs', '6', '--seed', '11', '--', process.execPath, WORKLOAD], box);
    expect(ran.code, ran.stderr + ran.stdout).toBe(0);
    expect(ran.stdout).toContain('calibration (no cut):');
    expect(ran.stdout).toContain('PASS: all 6 runs kept what was acknowledged');
    expectNothingLeft(box);
    // The check got the run's directory, acknowledgements, seed and cut point.
    const envs = fs.readFileSync(path.join(box.checks, 'env.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(envs).toHaveLength(7);
    expect(envs[0]).toMatchObject({ HARDSYNC_CRASHTEST_RUN: 'calibration', HARDSYNC_CRASHTEST_CUT: 'none', HARDSYNC_CRASHTEST_SEED: '11' });
    expect(envs[1]).toMatchObject({ HARDSYNC_CRASHTEST_RUN: '0', HARDSYNC_CRASHTEST_SEED: '11' });
    for (const env of envs.slice(1)) {
      expect(env.HARDSYNC_CRASHTEST_CUT).toMatch(/^(op \d+|flush \d+|write \d+|time \d+ms|exit)$/);
      expect(env.HARDSYNC_CRASHTEST_DIR).toMatch(new RegExp(`^${box.tmp}/.*/mnt/data$`));
      expect(env.HARDSYNC_CRASHTEST_ACKS.startsWith(box.tmp)).toBe(true);
    }
  });

  it('a workload that loses acknowledged writes fails: exit 1, the JSON report, a replay that reproduces it, --keep, nothing left', async () => {
    const box = sandbox();
    const ran = await crashtest(['--expect', 'files', '--runs', '8', '--seed', '5', '--cut', 'op,write', '--json', '-', '--', process.execPath, WORKLOAD], box, { FIXTURE_MODE: 'lose' });
    expect(ran.code, ran.stderr).toBe(1);
    expectNothingLeft(box);
    const report = JSON.parse(ran.stdout);
    expect(report).toMatchObject({ schema: 'hardsync-crashtest/1', seed: 5, runsRequested: 8, runs: 8, exitCode: 1, interrupted: false, cutKinds: ['op', 'write'] });
    expect(report.failed).toBeGreaterThan(0);
    expect(report.results).toHaveLength(8);
    expect(report.calibration).toMatchObject({ acks: 5, intents: 5 });
    expect(report.calibration.ops).toBeGreaterThan(0);
    const first = report.firstFailure;
    expect(first.problems.join('\n')).toMatch(/^k\d: acknowledged as \d+ bytes 'value \d of run \d+\\n' \(line \d+\), but it is missing/);
    const cutAt = first.landed === 'after-exit' ? 'exit' : `${first.cut.kind}:${first.cut.at}`;
    expect(first.replay).toBe(`hardsync crashtest --seed ${first.seed} --cut-at ${cutAt} --runs 1 --keep --expect files -- ${process.execPath} ${WORKLOAD}`);
    // The text report (on stderr with --json -) says the same and how to replay.
    expect(ran.stderr).toContain(`FAIL run ${first.run} (seed ${first.seed})`);
    expect(ran.stderr).toContain(first.replay);

    const replayBox = sandbox();
    const args = first.replay.split(' ').slice(2);
    const replay = await crashtest([...args.slice(0, args.indexOf('--')), '--json', '-', ...args.slice(args.indexOf('--'))], replayBox, { FIXTURE_MODE: 'lose' });
    expect(replay.code, replay.stderr).toBe(1);
    const again = JSON.parse(replay.stdout);
    expect(again.firstFailure.cut).toEqual(first.cut);
    expect(again.firstFailure.seed).toBe(first.seed);
    expect(again.results[0].problems).toEqual(first.problems.map((p: string) => p.replace(/of run \d+/g, 'of run 0')));
    const kept = path.join(replayBox.cwd, `hardsync-crashtest-${first.seed}`);
    expect(again.kept).toBe(kept);
    expect(fs.readdirSync(kept).sort()).toEqual(['acks.jsonl', 'files', 'run.json', 'workload.log']);
    expect(JSON.parse(fs.readFileSync(path.join(kept, 'run.json'), 'utf8'))).toMatchObject({ seed: first.seed, cut: first.cut, passed: false });
    // What was kept is what the check saw: an acknowledged key is missing from files/.
    const lostKey = /^(k\d)/.exec(again.results[0].problems[0])![1];
    expect(fs.existsSync(path.join(kept, 'files', lostKey))).toBe(false);
    expect(fs.readFileSync(path.join(kept, 'acks.jsonl'), 'utf8')).toContain(`"key":"${lostKey}"`);
    expectNothingLeft(replayBox);
  });

  it('a workload in another language (sh) acknowledges by writing lines to fd 3 itself', async () => {
    const box = sandbox();
    const ran = await crashtest(['--expect', 'files', '--runs', '3', '--cut-at', 'exit', '--json', '-', '--', 'sh', path.join(ROOT, 'test', 'fixtures', 'crashtest', 'workload.sh')], box);
    expect(ran.code, ran.stderr).toBe(1);
    const report = JSON.parse(ran.stdout);
    expect(report.calibration.acks).toBe(3);
    expect(report.firstFailure.problems).toEqual([expect.stringMatching(/^a: acknowledged as 3 bytes 'v3\\n' \(line 3\), but it is missing$/)]);
    expectNothingLeft(box);
  });

  it('--cut-at exit: the power fails once the workload has ended; what it never flushed is gone', async () => {
    const box = sandbox();
    const ran = await crashtest(['--expect', 'files', '--runs', '1', '--cut-at', 'exit', '--json', '-', '--', process.execPath, WORKLOAD], box, { FIXTURE_MODE: 'lose' });
    expect(ran.code, ran.stderr).toBe(1);
    const report = JSON.parse(ran.stdout);
    expect(report.results[0]).toMatchObject({ cut: { kind: 'exit' }, landed: 'after-exit', acks: 5 });
    expect(report.results[0].problems).toHaveLength(5);
    expect(report.firstFailure.replay).toContain('--cut-at exit --runs 1');
    expectNothingLeft(box);
  });

  it('a workload that crashes before the cut is a failed run, said plainly; nothing left', async () => {
    const box = sandbox();
    const ran = await crashtest(['--expect', 'files', '--runs', '2', '--cut', 'op', '--', process.execPath, WORKLOAD], box, { FIXTURE_MODE: 'crash' });
    expect(ran.code).toBe(1);
    expect(ran.stdout).toContain('the workload failed before the power cut (exit 3)');
    expectNothingLeft(box);
  });

  it('a workload that hangs (with a grandchild) is killed at the timeout, a failed run; nothing left', async () => {
    const box = sandbox();
    const ran = await crashtest(['--expect', 'files', '--runs', '1', '--cut', 'op', '--timeout', '3', '--', process.execPath, WORKLOAD], box, { FIXTURE_MODE: 'hang' });
    expect(ran.code).toBe(1);
    expect(ran.stdout).toContain('the workload hung: it neither finished nor reached its cut point within 3 s');
    expect(fs.readdirSync(box.pids).filter((n) => n.startsWith('0-')).length).toBe(3); // the workload, its grandchild, "hanging"
    expectNothingLeft(box);
  });

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`${signal} in the middle of a run (Ctrl-C on the terminal's process group) stops it: exit ${signal === 'SIGINT' ? 130 : 143}, nothing left`, async () => {
      const box = sandbox();
      const { child, done } = await hangingRun(box);
      process.kill(-child.pid!, signal);
      const ran = await done;
      expect(ran.code, ran.stderr).toBe(signal === 'SIGINT' ? 130 : 143);
      expect(ran.stdout).toContain('interrupted after 0 of 3 runs');
      expectNothingLeft(box);
    });
  }

  it('SIGKILL of crashtest itself (nothing of it can clean up): the simulator, stopped by the death of its parent, ends the workload; only its temporary directory stays', async () => {
    const box = sandbox();
    const { child, done } = await hangingRun(box);
    process.kill(child.pid!, 'SIGKILL');
    await done;
    await vi.waitFor(() => expect(processesMentioning(box.tmp)).toEqual([]), { timeout: 20_000, interval: 100 });
    expect(fs.readFileSync('/proc/mounts', 'utf8').split('\n').filter((line) => line.includes(box.tmp))).toEqual([]);
    expect(fs.readdirSync(box.tmp)).toEqual([expect.stringMatching(/^hardsync-powercut-/)]);
  });

  /**
   * Adds search permission for others to every directory above `file` that lacks it; returns
   * what puts their modes back.
   */
  function searchableBy(file: string): () => void {
    const changed: [string, number][] = [];
    for (let dir = path.dirname(file); ; dir = path.dirname(dir)) {
      const mode = fs.statSync(dir).mode & 0o7777;
      if ((mode & 0o001) === 0) {
        fs.chmodSync(dir, mode | 0o001);
        changed.push([dir, mode]);
      }
      if (dir === path.dirname(dir)) break;
    }
    return () => {
      for (const [dir, mode] of changed) fs.chmodSync(dir, mode);
    };
  }

  it('runs as a user who is not root (mounting through fusermount3)', async () => {
    const setpriv = spawnSync('setpriv', ['--version']);
    if (setpriv.status !== 0 || !fs.existsSync('/usr/bin/fusermount3')) {
      console.warn('[crashtest] user run skipped: needs setpriv and fusermount3');
      return;
    }
    // The simulator is built (as root) by the runs above or on this first use; the user only runs it.
    const built = await crashtest(['--expect', 'files', '--runs', '1', '--', process.execPath, WORKLOAD]);
    expect(built.code, built.stderr).toBe(0);
    const box = sandbox();
    for (const dir of [path.dirname(box.tmp), ...Object.values(box)]) fs.chownSync(dir, 65534, 65534);
    // The user must reach the package: a checkout under a directory only root may enter (a
    // fresh clone in a mktemp -d folder is mode 700) is opened to it for this run, then closed.
    const restore = searchableBy(CLI);
    onTestFinished(restore);
    const child = spawn('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, CLI, 'crashtest', '--expect', 'files', '--runs', '3', '--json', '-', '--', process.execPath, WORKLOAD], {
      cwd: box.cwd,
      env: { ...process.env, TMPDIR: box.tmp, HOME: box.cwd, FIXTURE_PIDS: box.pids },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const ran = await finish(child as ReturnType<typeof start>);
    expect(ran.code, ran.stderr).toBe(0);
    expect(JSON.parse(ran.stdout).environment.user).toBe('uid 65534');
    expectNothingLeft(box);
  });
});
