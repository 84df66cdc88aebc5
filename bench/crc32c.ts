/**
 * CRC-32C speed: the JavaScript implementation the library used before (slicing-by-8,
 * bench/measure/crc32c-js.ts) against the addon's (native/crc32c.cc: the CPU's instruction
 * where it has one), at 256 B (a log record), 4 KiB and 1 MiB. Contenders take turns within
 * each round, the order flipping every round; each figure is the median of the rounds with
 * [lowest-highest], each ratio the median of the per-round ratios.
 * - `JavaScript`: crc32cUpdateJs (no argument checks).
 * - `crc32cUpdate`: the public function (argument checks, then the addon).
 * - `addon`: native.crc32c called directly, as the log's frames call it (crc32cRange).
 * - `addon table`: the table-driven form, what CPUs without the instruction run.
 *
 *   node dist/bench/crc32c.js [--rounds 7] [--json FILE]
 * @module
 */
import fs from 'node:fs';
import os from 'node:os';
import { native } from '../lib/native';
import { crc32cImplementation, crc32cUpdate } from '../lib/patterns/crc32c';
import type { CommandSpec } from './measure/args';
import { crc32cUpdateJs } from './measure/crc32c-js';
import { runScript, scriptArgs, scriptOptions } from './measure/script';
import { median } from './measure/stats';

const SPEC: CommandSpec = {
  program: 'node dist/bench/crc32c.js',
  name: '',
  args: '',
  summary: 'CRC-32C in JavaScript against the addon (the CPU instruction or its table), MiB/s at 256 B, 4 KiB and 1 MiB, interleaved rounds.',
  options: scriptOptions(7),
};

const SIZES = [256, 4096, 1 << 20];
/** Bytes checksummed per contender, size and round. */
const BYTES_PER_ROUND = 32 * 1024 * 1024;

const CONTENDERS: Record<string, (data: Buffer) => number> = {
  JavaScript: (data) => crc32cUpdateJs(0, data),
  crc32cUpdate: (data) => crc32cUpdate(0, data),
  addon: (data) => native.crc32c(0, data, 0, data.length),
  'addon table': (data) => native.crc32cPortable(0, data, 0, data.length),
};

/** MiB/s of `fn` over `calls` calls on `data`. */
function speed(fn: (data: Buffer) => number, data: Buffer, calls: number): number {
  let sink = 0;
  const start = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) sink ^= fn(data);
  const ns = Number(process.hrtime.bigint() - start);
  if (sink === 0.5) process.stdout.write(''); // keeps the result alive
  return (calls * data.length) / (1024 * 1024) / (ns / 1e9);
}

async function main(): Promise<void> {
  const { rounds, json } = scriptArgs(SPEC, process.argv.slice(2), 7);
  const names = Object.keys(CONTENDERS);
  const results: Record<number, Record<string, number[]>> = {};
  const data = Buffer.alloc(1 << 20);
  for (let i = 0; i < data.length; i++) data[i] = (i * 2654435761) >>> 24;
  for (const size of SIZES) {
    results[size] = Object.fromEntries(names.map((n) => [n, []]));
    const view = data.subarray(0, size);
    // Warm-up: every contender compiled and its caches warm before the first round.
    for (const name of names) speed(CONTENDERS[name], view, Math.max(1, (4 * 1024 * 1024) / size));
  }
  for (let round = 0; round < rounds; round++) {
    for (const size of SIZES) {
      const order = round % 2 === 0 ? names : [...names].reverse();
      for (const name of order) results[size][name].push(speed(CONTENDERS[name], data.subarray(0, size), BYTES_PER_ROUND / size));
    }
  }
  const range = (values: number[], d = 0) => `${median(values).toFixed(d)} [${Math.min(...values).toFixed(d)}-${Math.max(...values).toFixed(d)}]`;
  const lines = [
    `CRC-32C, MiB/s: node ${process.version}, ${os.cpus()[0]?.model ?? 'cpu'}, addon uses ${crc32cImplementation}; ${rounds} interleaved rounds, median [lowest-highest]; load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`,
  ];
  const report: Record<string, unknown> = { node: process.version, implementation: crc32cImplementation, rounds, loadAverage: os.loadavg(), sizes: {} };
  for (const size of SIZES) {
    const r = results[size];
    const label = size >= 1 << 20 ? `${size >> 20} MiB` : size >= 1024 ? `${size >> 10} KiB` : `${size} B`;
    lines.push('', `${label}:`);
    for (const name of names) lines.push(`  ${name.padEnd(14)} ${range(r[name]).padStart(24)} MiB/s   ${((size / (median(r[name]) * 1024 * 1024)) * 1e9).toFixed(0).padStart(7)} ns/call`);
    const ratio = (name: string) => r[name].map((v, i) => v / r.JavaScript[i]);
    lines.push(`  addon / JavaScript ${range(ratio('addon'), 2)}x; crc32cUpdate / JavaScript ${range(ratio('crc32cUpdate'), 2)}x`);
    (report.sizes as Record<string, unknown>)[size] = { mibPerSecond: r, addonOverJs: ratio('addon'), publicOverJs: ratio('crc32cUpdate') };
  }
  process.stdout.write(`${lines.join('\n')}\n`);
  if (json) fs.writeFileSync(json, `${JSON.stringify(report, null, 2)}\n`);
}

runScript(main);
