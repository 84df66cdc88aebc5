/**
 * What DurableLog's batch write saves by reading its arena in place: awaited writeDurable of a
 * batch (which copies it first) against awaited writeArena of the same bytes from an arena
 * (native/arena.h), on a file in /dev/shm, where the write and its flush run on the JavaScript
 * thread, so that the time is the call path and the copies, not a device. Interleaved rounds
 * (the order flips every round); us per call, median [lowest-highest round], and the
 * difference per round.
 *
 * Usage: node dist/bench/arena-write.js [--bytes 71680,1048576] [--rounds 15]
 * @module
 */
import fs from 'node:fs';
import path from 'node:path';
import { writeDurable } from '../lib/index';
import { native } from '../lib/native';
import { type CommandSpec, listValue } from './measure/args';
import { UsageError } from './measure/schema';
import { runScript, scriptArgs, scriptOptions, usageChecked } from './measure/script';
import { median } from './measure/stats';

const SPEC: CommandSpec = {
  program: 'node dist/bench/arena-write.js',
  name: '',
  args: '',
  summary: "Awaited writeDurable of a log batch (copied) against writeArena of the same bytes (read in place), on /dev/shm, interleaved rounds.",
  options: {
    ...scriptOptions(15),
    bytes: { type: 'string', value: 'LIST', help: 'batch sizes (default 71680,1048576: 256 frames of 256-byte records, and maxBatchBytes)' },
  },
};

const CALLS = 3000;

async function perCall(call: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  for (let i = 0; i < CALLS; i++) await call();
  return Number(process.hrtime.bigint() - start) / CALLS / 1000;
}

async function main(): Promise<void> {
  const { rounds, parsed } = scriptArgs(SPEC, process.argv.slice(2), 15);
  const sizes = usageChecked(SPEC, () =>
    (listValue(parsed, 'bytes') ?? ['71680', '1048576']).map((raw) => {
      const n = Number(raw);
      if (!Number.isInteger(n) || n < 1 || n > 1 << 26) throw new UsageError(`--bytes: "${raw}" is not a size from 1 to 64 MiB`);
      return n;
    }),
  );
  const file = path.join('/dev/shm', `hardsync-arena-write-${process.pid}`);
  fs.writeFileSync(file, Buffer.alloc(Math.max(...sizes)));
  const fd = fs.openSync(file, 'r+');
  const flush = native.flushKinds.data;
  const range = (values: number[]): string => `${median(values).toFixed(2)} [${Math.min(...values).toFixed(2)}-${Math.max(...values).toFixed(2)}]`;
  try {
    for (const size of sizes) {
      const arena = native.logArena(size).fill(7);
      const plain = Buffer.alloc(size, 7);
      const calls = { copied: () => writeDurable(fd, plain, 0, { flush: 'data' }), inPlace: () => native.writeArena(fd, arena, 0, flush) };
      const us: Record<keyof typeof calls, number[]> = { copied: [], inPlace: [] };
      for (const name of ['copied', 'inPlace'] as const) await perCall(calls[name]);
      for (let round = 0; round < rounds; round++) {
        const order = round % 2 === 0 ? (['inPlace', 'copied'] as const) : (['copied', 'inPlace'] as const);
        for (const name of order) us[name].push(await perCall(calls[name]));
      }
      const saved = us.copied.map((copied, i) => copied - us.inPlace[i]);
      process.stdout.write(`${size} bytes, us per awaited call: writeDurable (copied) ${range(us.copied)}, writeArena (in place) ${range(us.inPlace)}; saved per call ${range(saved)}\n`);
    }
  } finally {
    fs.closeSync(fd);
    fs.rmSync(file, { force: true });
  }
}

runScript(main);
