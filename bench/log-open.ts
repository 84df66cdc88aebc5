/**
 * What opening a DurableLog costs (bench/README.md, "Opening a DurableLog"), side by side in one run:
 *
 * 1. a log of 10 records in one fresh zero-filled segment of 1, 16, 64 and 256 MiB, opened
 *    with `verify: 'tail'` (the default: the records and a bounded stretch of the zero fill
 *    after them) and with `verify: 'all'` (every record and the whole zero fill: what the
 *    default open read before). Goal: 'tail' under 5 ms at every segment size.
 * 2. logs of 1, 4 and 16 segments of 64 MiB (16: about 1 GiB) of 4 KiB records, the newest
 *    segment half full in each, opened with 'tail' (cost: the newest segment's records,
 *    whatever the log's size) and with 'all' (cost: the whole log; its MB/s is the speed of
 *    verification).
 *
 * Every open is timed from the call to the resolved promise; close is not counted. The
 * contenders take turns (one open of each per round, in a fresh order every round) so that
 * noise from other load hits all alike; the figures are medians over rounds, after one
 * uncounted warm-up round, with the range (min-max) beside them. The files were just written,
 * so reads come from the page cache: the figures are CPU and syscall cost, not disk reads.
 *
 *   node dist/bench/log-open.js [--dir /tmp] [--rounds 7] [--quick] [--json out.json]
 * @module
 */
import fs from 'node:fs';
import os from 'node:os';
import nodePath from 'node:path';
import { performance } from 'node:perf_hooks';
import { DurableLog } from '../lib/index';
import type { LogVerify } from '../lib/index';
import type { CommandSpec } from './measure/args';
import { inScratchDir, runScript, scriptArgs, scriptOptions, shuffle } from './measure/script';
import { median } from './measure/stats';

const SPEC: CommandSpec = {
  program: 'node dist/bench/log-open.js',
  name: '',
  args: '',
  summary: 'What opening a DurableLog costs, verify \'tail\' against \'all\', side by side in one run.',
  options: {
    ...scriptOptions(7),
    quick: { type: 'boolean', help: 'segment sizes 1 and 16 MiB and logs up to 64 MiB, at most 3 rounds (a smoke run)' },
  },
};

interface Args {
  dir: string;
  rounds: number;
  quick: boolean;
  json?: string;
}

function parseArgs(argv: string[]): Args {
  const { dir, rounds, json, parsed } = scriptArgs(SPEC, argv, 7);
  const quick = parsed.values.quick === true;
  return { dir, rounds: quick ? Math.min(rounds, 3) : rounds, quick, json };
}

const MiB = 1024 * 1024;

/** A log to open, made once. */
interface Subject {
  label: string;
  dir: string;
  segmentSize: number;
  logBytes: number;
}

/** Writes `bytes` of `recordSize`-byte records (flush 'none': durability is not what is measured here). */
async function makeLog(dir: string, segmentSize: number, count: number, recordSize: number): Promise<void> {
  const log = await DurableLog.open(dir, { segmentSize, flush: 'none' });
  const record = Buffer.alloc(recordSize, 0x61);
  for (let done = 0; done < count; ) {
    const batch: Promise<unknown>[] = [];
    for (let i = 0; i < 256 && done < count; i++, done++) batch.push(log.append(record));
    await Promise.all(batch);
  }
  await log.close();
}

function bytesOf(dir: string): number {
  return fs
    .readdirSync(dir)
    .filter((name) => name.endsWith('.wal'))
    .reduce((sum, name) => sum + fs.statSync(nodePath.join(dir, name)).size, 0);
}

interface Sample {
  ms: number[];
  verifiedBytes: number;
  zeroFillBytes: number;
  verifiedSegments: number;
  segments: number;
}

async function timeOpen(subject: Subject, verify: LogVerify): Promise<{ ms: number; verifiedBytes: number; zeroFillBytes: number; verifiedSegments: number; segments: number }> {
  const start = performance.now();
  const log = await DurableLog.open(subject.dir, { segmentSize: subject.segmentSize, verify });
  const ms = performance.now() - start;
  const { verified, segments } = log.recovery;
  await log.close();
  return { ms, verifiedBytes: verified.bytes, zeroFillBytes: verified.zeroFillBytes, verifiedSegments: verified.segments, segments };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  await inScratchDir(args.dir, 'hardsync-log-open-', async (root) => {
    const subjects: Subject[] = [];
    const segmentSizes = args.quick ? [1, 16] : [1, 16, 64, 256];
    for (const size of segmentSizes) {
      const dir = nodePath.join(root, `ten-${size}`);
      await makeLog(dir, size * MiB, 10, 100);
      subjects.push({ label: `10 records, ${size} MiB segment`, dir, segmentSize: size * MiB, logBytes: bytesOf(dir) });
    }
    const segmentCounts = args.quick ? [1, 2] : [1, 4, 16];
    const recordSize = 4096;
    const frame = recordSize + 24;
    const perSegment = Math.floor((64 * MiB - 32) / frame);
    for (const segments of segmentCounts) {
      const dir = nodePath.join(root, `log-${segments}`);
      const count = (segments - 1) * perSegment + Math.floor(perSegment / 2);
      await makeLog(dir, 64 * MiB, count, recordSize);
      const label = `${segments} x 64 MiB segments, ${((count * frame) / MiB).toFixed(0)} MiB of 4 KiB records`;
      subjects.push({ label, dir, segmentSize: 64 * MiB, logBytes: bytesOf(dir) });
    }
    const contenders = subjects.flatMap((subject) => (['tail', 'all'] as const).map((verify) => ({ subject, verify })));
    const samples = new Map<string, Sample>();
    for (let round = 0; round <= args.rounds; round++) {
      for (const { subject, verify } of shuffle(contenders)) {
        const result = await timeOpen(subject, verify);
        if (round === 0) continue; // warm-up
        const key = `${subject.label}|${verify}`;
        const sample = samples.get(key) ?? { ms: [], verifiedBytes: result.verifiedBytes, zeroFillBytes: result.zeroFillBytes, verifiedSegments: result.verifiedSegments, segments: result.segments };
        sample.ms.push(result.ms);
        samples.set(key, sample);
      }
    }
    const rows = contenders.map(({ subject, verify }) => {
      const sample = samples.get(`${subject.label}|${verify}`) as Sample;
      const ms = median(sample.ms);
      return {
        log: subject.label,
        fileBytes: subject.logBytes,
        verify,
        medianMs: Math.round(ms * 1000) / 1000,
        minMs: Math.round(Math.min(...sample.ms) * 1000) / 1000,
        maxMs: Math.round(Math.max(...sample.ms) * 1000) / 1000,
        segmentsRead: `${sample.verifiedSegments}/${sample.segments}`,
        recordBytes: sample.verifiedBytes,
        zeroFillBytes: sample.zeroFillBytes,
        // verification speed: headers and records checked (zero fill not counted)
        mbPerS: Math.round(sample.verifiedBytes / MiB / (ms / 1000)),
      };
    });
    console.log(`DurableLog.open, ${args.rounds} interleaved rounds, median (min-max) ms; ${args.dir}, ${os.cpus().length} CPUs, Node ${process.version}`);
    console.log('| log | files | verify | open ms, median (min-max) | segments checked | records checked | zero fill read | records checked per s |');
    console.log('|---|--:|---|--:|--:|--:|--:|--:|');
    for (const row of rows) {
      console.log(
        `| ${row.log} | ${(row.fileBytes / MiB).toFixed(0)} MiB | ${row.verify} | ${row.medianMs.toFixed(2)} (${row.minMs.toFixed(2)}-${row.maxMs.toFixed(2)}) | ${row.segmentsRead} | ${(row.recordBytes / MiB).toFixed(2)} MiB | ${(row.zeroFillBytes / MiB).toFixed(2)} MiB | ${row.recordBytes >= MiB ? `${row.mbPerS} MiB/s` : '-'} |`,
      );
    }
    const ten = rows.filter((row) => row.log.startsWith('10 records') && row.verify === 'tail');
    const worst = Math.max(...ten.map((row) => row.medianMs));
    console.log(`goal: 10 records open in < 5 ms at every segment size with verify 'tail': worst median ${worst.toFixed(2)} ms: ${worst < 5 ? 'met' : 'NOT met'}`);
    if (args.json) fs.writeFileSync(args.json, `${JSON.stringify({ rounds: args.rounds, dir: args.dir, node: process.version, rows }, null, 2)}\n`);
  });
}

runScript(main);
