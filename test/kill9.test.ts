// kill -9 stress: a child appending to a DurableLog from many concurrent writers is killed at
// random times, many times, on the same log. After each kill the log is reopened (recovery
// must never fail) and every record the child acknowledged must be there and intact; every
// record returned must be one that was appended. HARDSYNC_KILL9_RUNS raises the run count.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as hs from '../dist/lib/index.js';
import { diskTempDir } from './helpers/tmp';

const { parse } = require('./fixtures/kill9/record.js') as { parse: (data: Buffer) => { run: number; writer: number; index: number } | undefined };
const RUNS = Number(process.env.HARDSYNC_KILL9_RUNS ?? 40);
const root = path.resolve(__dirname, '..');
const DurableLog = (hs as unknown as { DurableLog?: { open: (dir: string, options?: object) => Promise<any> } }).DurableLog;

let dir: string;
let cleanup: () => void;
beforeAll(() => {
  ({ dir, cleanup } = diskTempDir('hardsync-kill9-'));
});
afterAll(() => cleanup());

function runAndKill(logDir: string, run: number, delayMs: number): Promise<{ acks: Map<number, string>; code: number | null; signal: string | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(__dirname, 'fixtures', 'kill9', 'appender.js'), logDir, String(run)], {
      env: { ...process.env, HARDSYNC_ROOT: root },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let stderr = '';
    let timer: NodeJS.Timeout | undefined;
    child.stdout.on('data', (chunk) => {
      out += chunk;
      // The clock starts once the log is open, so every run kills in the middle of appends.
      if (!timer && out.includes('open ')) timer = setTimeout(() => child.kill('SIGKILL'), delayMs);
    });
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      const acks = new Map<number, string>();
      for (const line of out.split('\n')) {
        const match = /^ack (\d+) (\d+) (\d+)$/.exec(line);
        if (match) acks.set(Number(match[1]), `${run}/${match[2]}/${match[3]}`);
      }
      resolve({ acks, code, signal, stderr });
    });
  });
}

describe.skipIf(!DurableLog)('DurableLog under kill -9', () => {
  it(`keeps every acknowledged record through ${RUNS} kills at random times`, async () => {
    const logDir = path.join(dir, 'log');
    const acked = new Map<number, string>();
    let totalAcks = 0;
    for (let run = 1; run <= RUNS; run++) {
      const result = await runAndKill(logDir, run, 5 + Math.floor(Math.random() * 120));
      expect(result.stderr).toBe('');
      expect(result.signal).toBe('SIGKILL');
      for (const [lsn, id] of result.acks) acked.set(lsn, id);
      totalAcks += result.acks.size;

      const log = await DurableLog!.open(logDir, { segmentSize: 64 * 1024 });
      try {
        const seen = new Map<number, string>();
        let previous = 0;
        for await (const { lsn, data } of log.records()) {
          if (previous) expect(lsn).toBe(previous + 1);
          previous = lsn;
          const id = parse(data);
          expect(id, `record ${lsn} is not one that was appended`).toBeDefined();
          seen.set(lsn, `${id!.run}/${id!.writer}/${id!.index}`);
        }
        for (const [lsn, id] of acked) expect(seen.get(lsn), `acknowledged record ${lsn}`).toBe(id);
      } finally {
        await log.close();
      }
    }
    expect(totalAcks).toBeGreaterThan(RUNS * 10);
    console.log(`kill -9 stress: ${RUNS} runs, ${totalAcks} acknowledged appends, all present after recovery`);
  }, 600_000);
});
