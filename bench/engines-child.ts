/**
 * One measurement of bench/engines.ts, in a process of its own (the engine is chosen once, when
 * the addon loads, from HARDSYNC_ENGINE). argv[2]: scenario, argv[3]: JSON arguments. Prints one
 * JSON line with the engine that actually ran and the figures.
 * @module
 */
import fs from 'node:fs';
import path from 'node:path';
import { DurableLog, engine, fdatasync, writeDurable } from '../lib/index';
import { percentile, sequentialLatencies } from './measure/stats';

interface Args {
  file?: string;
  ops?: number;
  size?: number;
  slots?: number;
  dir?: string;
  appenders?: number;
  perAppender?: number;
  flushDir?: string;
  readFile?: string;
  flushers?: number;
  seconds?: number;
  node?: boolean;
}

const NS_PER_US = 1000;
const now = (): bigint => process.hrtime.bigint();
const us = (from: bigint): number => Number(now() - from) / NS_PER_US;

/** Sequential `await writeDurable(fd, size bytes, slot, { flush: 'data' })`; latencies in us. */
async function latency(args: Required<Pick<Args, 'file' | 'ops' | 'size' | 'slots'>>) {
  const fd = fs.openSync(args.file, 'r+');
  const buffer = Buffer.alloc(args.size, 0x5a);
  for (let i = 0; i < 50; i++) await writeDurable(fd, buffer, (i % args.slots) * args.size, { flush: 'data' });
  const samples = await sequentialLatencies(args.ops, (i) => writeDurable(fd, buffer, (i % args.slots) * args.size, { flush: 'data' }));
  fs.closeSync(fd);
  return { p50: percentile(samples, 50), p99: percentile(samples, 99) };
}

/** `appenders` loops each awaiting `perAppender` 256-byte appends to one DurableLog. */
async function log(args: Required<Pick<Args, 'dir' | 'appenders' | 'perAppender'>>) {
  const record = Buffer.alloc(256, 0x61);
  const dir = fs.mkdtempSync(path.join(args.dir, 'log-'));
  const durable = await DurableLog.open(dir, { flush: 'data', segmentSize: 64 * 1024 * 1024 });
  for (let i = 0; i < 50; i++) await durable.append(record);
  const start = now();
  await Promise.all(
    Array.from({ length: args.appenders }, async () => {
      for (let i = 0; i < args.perAppender; i++) await durable.append(record);
    }),
  );
  const seconds = us(start) / 1e6;
  await durable.close();
  fs.rmSync(dir, { recursive: true, force: true });
  return { recordsPerSecond: (args.appenders * args.perAppender) / seconds };
}

/**
 * `flushers` loops, each flushing its own file under flushDir (a filesystem whose flushes are
 * slow) as fast as it completes, for `seconds`; meanwhile one loop reads `readFile` (4 KiB, on
 * an ordinary disk) with fs.promises.readFile, back to back. The read latencies show whether
 * the flushes starve the rest of node's I/O. node: true flushes with FileHandle.datasync().
 */
async function starve(args: Required<Pick<Args, 'flushDir' | 'readFile' | 'flushers' | 'seconds' | 'node'>>) {
  const files = Array.from({ length: args.flushers }, (_, i) => path.join(args.flushDir, `flush-${process.pid}-${i}`));
  const handles = await Promise.all(files.map((file) => fs.promises.open(file, 'w')));
  await Promise.all(handles.map((handle) => handle.write(Buffer.alloc(4096, 1))));
  const deadline = now() + BigInt(Math.round(args.seconds * 1e9));
  let flushes = 0;
  const flushing = handles.map(async (handle) => {
    while (now() < deadline) {
      if (args.node) await handle.datasync();
      else await fdatasync(handle.fd);
      flushes++;
    }
  });
  // Let every flusher get its first flush in before reads are timed.
  await new Promise((resolve) => setTimeout(resolve, 50));
  const reads: number[] = [];
  while (now() < deadline) {
    const start = now();
    await fs.promises.readFile(args.readFile);
    reads.push(us(start) / 1000);
    await new Promise((resolve) => setImmediate(resolve));
  }
  await Promise.all(flushing);
  await Promise.all(handles.map((handle) => handle.close()));
  for (const file of files) fs.rmSync(file, { force: true });
  reads.sort((a, b) => a - b);
  return {
    reads: reads.length,
    readP50Ms: percentile(reads, 50),
    readP99Ms: percentile(reads, 99),
    readMaxMs: reads[reads.length - 1],
    flushesPerSecond: flushes / args.seconds,
  };
}

async function main(): Promise<void> {
  const scenario = process.argv[2];
  const args = JSON.parse(process.argv[3] ?? '{}') as Args;
  let result: object;
  if (scenario === 'latency') result = await latency(args as Required<Args>);
  else if (scenario === 'log') result = await log(args as Required<Args>);
  else if (scenario === 'starve') result = await starve(args as Required<Args>);
  else throw new Error(`unknown scenario ${scenario}`);
  process.stdout.write(`${JSON.stringify({ engine: engine.name, ...result })}\n`);
}

main().catch((error) => {
  process.stderr.write(`${error.stack ?? error}\n`);
  process.exit(1);
});
