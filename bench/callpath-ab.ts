/**
 * Two builds of hardsync in one process, side by side: this one and another checkout's (for
 * example the commit before a change, built with `npm run build`), each addon loaded from its
 * own path with its own engine, against `FileHandle.datasync()` on tmpfs, rounds interleaved
 * (the order flips every round): awaited Promise `fdatasync` one at a time, and 64 in flight.
 * Ratios are per round, then the median; [lowest-highest round].
 *
 * Usage: node dist/bench/callpath-ab.js --other DIR [--rounds N]
 *   DIR: the other checkout's root (its dist/lib/index.js and build/ are loaded).
 */
import fs from 'node:fs';
import path from 'node:path';
import * as self from '../lib/index';
import { median } from './measure/stats';

const USAGE = 'usage: node dist/bench/callpath-ab.js --other DIR [--rounds N]\n';

function parseArgs(argv: string[]): { other: string; rounds: number } {
  let other: string | undefined;
  let rounds = 9;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--other') other = argv[++i];
    else if (argv[i] === '--rounds') rounds = Number(argv[++i]);
    else {
      process.stderr.write(USAGE);
      process.exit(argv[i] === '--help' ? 0 : 2);
    }
  }
  if (other === undefined || !Number.isInteger(rounds) || rounds < 2) {
    process.stderr.write(USAGE);
    process.exit(2);
  }
  return { other: path.resolve(other), rounds };
}

const CALLS = 20_000;

async function awaited(call: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  for (let i = 0; i < CALLS; i++) await call();
  return Number(process.hrtime.bigint() - start) / CALLS;
}

async function inFlight(call: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  for (let done = 0; done < CALLS; done += 64) await Promise.all(Array.from({ length: 64 }, call));
  return Number(process.hrtime.bigint() - start) / CALLS;
}

async function main(): Promise<void> {
  const { other, rounds } = parseArgs(process.argv.slice(2));
  const them = require(path.join(other, 'dist', 'lib', 'index.js')) as typeof self;
  if (them === self) throw new Error('--other names this very build');
  const file = path.join('/dev/shm', `hardsync-ab-${process.pid}`);
  fs.writeFileSync(file, 'x');
  const fd = fs.openSync(file, 'r+');
  const handle = await fs.promises.open(file, 'r+');
  const who: Record<string, () => Promise<unknown>> = {
    this: () => self.fdatasync(fd),
    other: () => them.fdatasync(fd),
    'node:fs': () => handle.datasync(),
  };
  const results: Record<string, Record<string, number[]>> = { awaited: {}, inFlight: {} };
  try {
    for (const name of Object.keys(who)) {
      await awaited(who[name]);
      results.awaited[name] = [];
      results.inFlight[name] = [];
    }
    for (let round = 0; round < rounds; round++) {
      const order = Object.keys(who);
      if (round % 2 === 1) order.reverse();
      for (const name of order) results.awaited[name].push(await awaited(who[name]));
      for (const name of order) results.inFlight[name].push(await inFlight(who[name]));
    }
  } finally {
    await handle.close();
    fs.closeSync(fd);
    fs.rmSync(file, { force: true });
  }
  const range = (values: number[], d: number) => `${median(values).toFixed(d)} [${Math.min(...values).toFixed(d)}-${Math.max(...values).toFixed(d)}]`;
  const lines = [`engines: this ${self.engine.name}, other ${them.engine.name} (${other}); ${rounds} interleaved rounds on /dev/shm`];
  for (const [figure, label] of [['awaited', 'awaited fdatasync'], ['inFlight', 'fdatasync, 64 in flight']] as const) {
    const r = results[figure];
    lines.push(`${label}, ns/call: this ${range(r.this, 0)}, other ${range(r.other, 0)}, node:fs FileHandle.datasync() ${range(r['node:fs'], 0)}`);
    const ratio = (name: string) => r[name].map((v, i) => v / r['node:fs'][i]);
    lines.push(`  vs FileHandle.datasync(): this ${range(ratio('this'), 3)}, other ${range(ratio('other'), 3)}`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((error) => {
  process.stderr.write(`${error.stack ?? error}\n`);
  process.exit(1);
});
