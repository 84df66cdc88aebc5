// The crashtest examples (examples/crashtest/) as the README states them: `hardsync crashtest`
// catches a rename without fsync and the write-file-atomic package losing acknowledged writes,
// hardsync's writeFileAtomic and DurableLog survive every run, and each of those has a negative
// control (the same program with its flush removed, or on a disk that ignores flushes) that is
// caught. Fewer runs than the benchmark (node dist/bench/crashtest/examples.js, 200 each):
// HARDSYNC_CRASHTEST_EXAMPLE_RUNS, default 10; a fixed seed, so a failure here replays.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXAMPLES, renderExamples, runExample, type ExampleResult } from '../dist/bench/crashtest/examples.js';
import { powercutUnavailable } from './helpers/powercut';
import { tempDir } from './helpers/tmp';

const ROOT = path.join(__dirname, '..');

const unavailable = powercutUnavailable();
if (unavailable) console.warn(`[powercut] skipped: ${unavailable}`);

const RUNS = Number(process.env.HARDSYNC_CRASHTEST_EXAMPLE_RUNS ?? 10);
const SEED = Number(process.env.HARDSYNC_CRASHTEST_EXAMPLE_SEED ?? 20261207);

describe.skipIf(unavailable !== undefined)('crashtest examples', () => {
  const results: ExampleResult[] = [];

  for (const example of EXAMPLES) {
    const must = example.verdict === 'survives' ? 'survives every run' : example.controlOf ? `is caught (negative control of ${example.controlOf})` : 'is caught losing acknowledged writes';
    it(`${example.name} (${example.what}) ${must}`, async () => {
      const result = await runExample(example, RUNS, SEED);
      results.push(result);
      console.log(`[crashtest] ${renderExamples([result]).split('\n')[2]}`);
      expect(result.error).toBeNull();
      expect(result.runs).toBe(RUNS);
      if (example.verdict === 'survives') {
        expect(result.failed, result.firstProblem ?? '').toBe(0);
        expect(result.exitCode).toBe(0);
        // A run that acknowledged nothing before its cut proves nothing: most must have.
        expect(result.runsWithAck).toBeGreaterThan(RUNS / 3);
      } else {
        // The README reports write-file-atomic as caught; this keeps that statement true.
        expect(result.exitCode).toBe(1);
        expect(result.failed).toBeGreaterThan(0);
      }
    }, 600_000);
  }
});

describe.skipIf(unavailable !== undefined)("the README's crashtest example", () => {
  it('is caught losing the settings file it acknowledged, as the README shows', async () => {
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Does your program keep its promises?'));
    const code = /```js\n([^]*?)```/.exec(section)?.[1];
    expect(code, 'the js block of the crashtest section').toBeDefined();
    const dir = tempDir('hardsync-readme-crashtest-');
    fs.mkdirSync(path.join(dir, 'node_modules'));
    fs.symlinkSync(ROOT, path.join(dir, 'node_modules', 'hardsync'), 'dir');
    fs.writeFileSync(path.join(dir, 'save.mjs'), code!);
    // Not spawnSync: a minute of blocking would starve this worker's own messages to vitest.
    const args = [path.join(ROOT, 'dist', 'bench', 'cli.js'), 'crashtest', '--expect', 'files', '--runs', String(RUNS), '--seed', String(SEED), '--json', '-', '--', process.execPath, 'save.mjs'];
    const ran = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, args, { cwd: dir, encoding: 'utf8', maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
        const code = (error as { code?: unknown } | null)?.code;
        resolve({ status: error ? (typeof code === 'number' ? code : null) : 0, stdout, stderr });
      });
    });
    expect(ran.status, ran.stderr).toBe(1);
    const report = JSON.parse(ran.stdout);
    expect(report.failed).toBeGreaterThan(0);
    expect(report.firstFailure.problems[0]).toMatch(/^settings\.json: acknowledged as \d+ bytes '\{"version":\d+\}' \(line \d+\), but it (is missing|holds)/);
  }, 600_000);
});
