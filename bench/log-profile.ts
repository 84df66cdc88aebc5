/**
 * Where DurableLog's cycle spends its time. Appenders that each await their own append move
 * in lockstep, so the log runs in cycles: its batch's write and flush return (F), then every
 * append of the batch is acknowledged, each appender appends again, the next batch is framed
 * and its write handed to the addon (G). The C model of the same pattern
 * (bench/c/inflight_fdatasync.c) pays only for the device's part of F.
 *
 * Each measurement runs in a child process on a fresh log, for --seconds or until the log is
 * half a segment further (no segment is prepared or rolled while timed), per device and
 * appender count, under each of --tools:
 * - `trace`: the cycle itself. The log's writeDurable is wrapped (the module's export is
 *   replaced in the child; the log calls it through the module object), so each batch gives
 *   the time its write took to come back to JavaScript (F), the JavaScript between that and
 *   the next batch's write (G), the synchronous part of the writeDurable call, and the
 *   records it carried; plus the event loop's utilization and the garbage collector's time.
 *   The wrapper itself costs about a microsecond per cycle.
 * - `cpu-prof`: a V8 CPU profile of the timed window (node:inspector, 250 us sampling, as
 *   `node --cpu-prof` takes), summarized by function and by part of the cycle
 *   (bench/measure/cpuprofile.ts).
 * - `strace`: `strace -f`, system calls per cycle in the timed window (strace slows every call:
 *   only the counts mean anything).
 * The perf tools count the timed window only (`-D -1 --control fifo:...`: the child enables
 * and disables the events).
 * - `perf-stat`: `perf stat` software counters (task clock, context switches, migrations,
 *   page faults) per cycle; hardware counters where the machine has them.
 * - `perf-record`: `perf record -e cpu-clock -g` with `node --perf-basic-prof`, the samples
 *   split by thread and by object (kernel, node, JIT-compiled JavaScript, libc).
 *
 *   node dist/bench/log-profile.js [--dir DIR] [--device disk,ram-xfs] [--appenders 16,64,256]
 *     [--seconds 2] [--tools trace,cpu-prof,strace,perf-stat,perf-record] [--out DIR] [--json FILE]
 * @module
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import nodePath from 'node:path';
import { type CommandSpec, listValue, numberValue, stringValue } from './measure/args';
import { renderProfile, summarizeProfile, type CpuProfile, type ProfileSummary } from './measure/cpuprofile';
import { DEVICE_OPTION, openDevices, parseDevices, removeDevices } from './measure/ramdev';
import { UsageError } from './measure/schema';
import { runScript, scriptArgs, scriptOptions, usageChecked } from './measure/script';

const TOOLS = ['trace', 'cpu-prof', 'strace', 'perf-stat', 'perf-record'] as const;
type Tool = (typeof TOOLS)[number];

const SPEC: CommandSpec = {
  program: 'node dist/bench/log-profile.js',
  name: '',
  args: '',
  summary: "Where DurableLog's cycle spends its time: per device and appender count, a child process per tool (cycle trace, CPU profile, strace, perf).",
  options: {
    ...scriptOptions(1),
    ...DEVICE_OPTION,
    appenders: { type: 'string', value: 'LIST', help: 'appender counts (default 16,64,256)' },
    seconds: { type: 'string', value: 'S', help: 'length of each run, at most (default 2)' },
    'segment-mib': { type: 'string', value: 'N', help: 'segment size; a run stops half a segment on (default 512)' },
    tools: { type: 'string', value: 'LIST', help: `any of ${TOOLS.join(', ')} (default all that work here)` },
    out: { type: 'string', value: 'DIR', help: 'where profiles and tool outputs are kept (default a temporary directory, removed)' },
  },
};

/** What a child is asked to do (see bench/log-profile-child.ts). */
type ChildArgs = import('./log-profile-child').ChildArgs;
type ChildResult = import('./log-profile-child').ChildResult;
const CHILD = nodePath.join(__dirname, 'log-profile-child.js');

/** Which tools work here (strace and perf must exist; perf must be allowed to sample). */
function availableTools(): Tool[] {
  const works = (command: string, args: string[]) => spawnSync(command, args, { stdio: 'ignore' }).status === 0;
  return TOOLS.filter((tool) => {
    if (tool === 'strace') return works('strace', ['-V']);
    if (tool === 'perf-stat' || tool === 'perf-record') return works('perf', ['stat', '-e', 'task-clock', 'true']);
    return true;
  });
}

/** Runs one child under `tool`; returns its result and the tool's own output (a path). */
function runChild(tool: Tool, base: ChildArgs, out: string): { result: ChildResult; output: string } {
  const args: ChildArgs = { ...base };
  const toolFile = nodePath.join(out, tool === 'perf-record' ? 'perf.data' : tool === 'cpu-prof' ? 'window.cpuprofile' : `${tool}.txt`);
  let command = process.execPath;
  let prefix: string[] = [];
  if (tool === 'cpu-prof') args.cpuProfile = toolFile;
  if (tool === 'strace') {
    args.straceMarks = [nodePath.join(out, 'window-start'), nodePath.join(out, 'window-end')];
    command = 'strace';
    prefix = ['-f', '-qq', '-o', toolFile, process.execPath];
  }
  if (tool === 'perf-stat' || tool === 'perf-record') {
    const fifos: [string, string] = [nodePath.join(out, 'perf-ctl'), nodePath.join(out, 'perf-ack')];
    for (const fifo of fifos) {
      fs.rmSync(fifo, { force: true });
      if (spawnSync('mkfifo', [fifo]).status !== 0) throw new Error(`mkfifo ${fifo} failed`);
    }
    args.perfControl = fifos;
    command = 'perf';
    const control = ['-D', '-1', '--control', `fifo:${fifos[0]},${fifos[1]}`];
    prefix =
      tool === 'perf-stat'
        ? ['stat', ...control, '-x', ',', '-o', toolFile, '-e', 'task-clock,context-switches,cpu-migrations,page-faults,instructions,cycles', process.execPath]
        : ['record', ...control, '-q', '-e', 'cpu-clock', '-F', '4999', '-g', '-o', toolFile, process.execPath, '--perf-basic-prof'];
  }
  // In `out`: node --perf-basic-prof leaves V8 log files in its working directory.
  const run = spawnSync(command, [...prefix, CHILD, JSON.stringify(args)], { cwd: out, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, timeout: 600_000 });
  if (run.status !== 0) throw new Error(`${tool} child failed (${run.status ?? run.signal}): ${run.stderr}`);
  const result = JSON.parse(run.stdout.trim().split('\n').pop() as string) as ChildResult;
  return { result, output: toolFile };
}

/** System calls per cycle, all threads, between the child's two window marks in strace's log. */
function straceCalls(file: string, marks: [string, string], cycles: number): { syscall: string; perCycle: number }[] {
  const counts = new Map<string, number>();
  let inside = false;
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (line.includes(marks[0])) {
      inside = true;
      continue;
    }
    if (line.includes(marks[1])) break;
    if (!inside || line.includes('resumed>')) continue;
    const m = /^\d+\s+(\w+)\(/.exec(line);
    if (m) counts.set(m[1], (counts.get(m[1]) ?? 0) + 1);
  }
  return [...counts.entries()].map(([syscall, n]) => ({ syscall, perCycle: n / cycles })).sort((a, b) => b.perCycle - a.perCycle);
}

/** perf stat -x, output as value per cycle per counter (missing counters are left out). */
function perfCounters(file: string, cycles: number): Record<string, number> {
  const counters: Record<string, number> = {};
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const fields = line.split(',');
    if (fields.length < 3 || !/^[\d.]+$/.test(fields[0])) continue;
    counters[fields[2]] = Number(fields[0]) / cycles;
  }
  return counters;
}

/** perf report's shares by thread name and by object. */
function perfShares(file: string): { byThread: string; byObject: string; topSymbols: string } {
  const report = (sort: string, extra: string[] = []) => {
    const run = spawnSync('perf', ['report', '-i', file, '--stdio', '--no-children', '--sort', sort, '--percent-limit', '1', '-g', 'none', ...extra], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    return run.stdout
      .split('\n')
      .filter((l) => /^\s+[\d.]+%/.test(l))
      .map((l) => `    ${l.trim()}`)
      .join('\n');
  };
  return { byThread: report('comm'), byObject: report('comm,dso'), topSymbols: report('comm,sym', ['--percent-limit', '0.7']) };
}

function renderTrace(r: ChildResult): string[] {
  const f = (n: number, d = 1) => n.toFixed(d);
  return [
    `    ${f(r.recordsPerSec, 0)} records/s over ${f(r.seconds, 2)} s; ${r.cycles} cycles of ${f(r.batchRecordsP50, 0)} records (p50); append p50 ${f(r.appendP50)} us`,
    `    cycle p50 ${f(r.cycleP50)} us (mean ${f(r.cycleMean)}) = write+flush back in JS (F) p50 ${f(r.flushP50)} us [p90 ${f(r.flushP90)}] + JavaScript to the next write (G) p50 ${f(r.jsP50)} us [p90 ${f(r.jsP90)}]`,
    `    CPU per cycle: the JavaScript thread ${f(r.mainCpuUsPerCycle)} us, the whole process ${f(r.processCpuUsPerCycle)} us`,
    `    the writeDurable call itself (sync part) p50 ${f(r.callP50, 2)} us; event loop utilization ${f(r.loopUtilization * 100)}%; GC ${f(r.gcMs)} ms in ${r.gcCount} pauses (${f((r.gcMs / 1000 / r.seconds) * 100)}% of the run)`,
  ];
}

async function main(): Promise<void> {
  const { dir, json, parsed } = scriptArgs(SPEC, process.argv.slice(2), 1);
  const { appenders, seconds, segmentBytes, tools, devices } = usageChecked(SPEC, () => {
    const counts = (listValue(parsed, 'appenders') ?? ['16', '64', '256']).map(Number);
    if (counts.some((n) => !Number.isInteger(n) || n < 1 || n > 4096)) throw new UsageError('--appenders: integers from 1 to 4096');
    const available = availableTools();
    const asked = listValue(parsed, 'tools') ?? available;
    for (const t of asked) if (!(TOOLS as readonly string[]).includes(t)) throw new UsageError(`--tools: unknown tool "${t}" (one of ${TOOLS.join(', ')})`);
    return {
      appenders: counts,
      seconds: numberValue(parsed, 'seconds', 2, 0.1, 600, false),
      segmentBytes: numberValue(parsed, 'segment-mib', 512, 1, 2048, true) * 1024 * 1024,
      tools: (asked as Tool[]).filter((t) => {
        if (available.includes(t)) return true;
        process.stderr.write(`tool ${t} skipped: not available here\n`);
        return false;
      }),
      devices: parseDevices(parsed.values.device as string | undefined),
    };
  });
  const keep = stringValue(parsed, 'out');
  const outRoot = keep ?? fs.mkdtempSync(nodePath.join(os.tmpdir(), 'hardsync-log-profile-'));
  const { devices: made, skipped } = openDevices(devices, dir);
  for (const s of skipped) process.stderr.write(`device ${s.name} skipped: ${s.reason}\n`);
  const report: Record<string, unknown>[] = [];
  const lines = [`DurableLog's cycle: node ${process.version}, kernel ${os.release()}, ${os.cpus().length} CPUs, load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} at the start`];
  try {
    for (const device of made) {
      for (const count of appenders) {
        const out = nodePath.join(outRoot, `${device.name}-${count}`);
        fs.mkdirSync(out, { recursive: true });
        const args: ChildArgs = { dir: device.dir, appenders: count, seconds, segmentBytes };
        lines.push('', `${device.name} (${device.describe}), ${count} appenders`);
        const entry: Record<string, unknown> = { device: device.name, describe: device.describe, appenders: count };
        for (const tool of tools) {
          const { result, output } = runChild(tool, args, out);
          entry[tool] = { result };
          if (tool === 'trace') {
            lines.push('  cycle trace', ...renderTrace(result));
          } else if (tool === 'cpu-prof') {
            const summary = summarizeProfile(JSON.parse(fs.readFileSync(output, 'utf8')) as CpuProfile);
            entry[tool] = { result, summary: { ...summary, functions: summary.functions.slice(0, 60) } };
            lines.push(`  CPU profile (${Math.round(result.recordsPerSec)} records/s while profiled)`, ...renderProfile(summary, 20).trimEnd().split('\n').map((l) => `    ${l}`));
          } else if (tool === 'strace') {
            const calls = straceCalls(output, [nodePath.join(out, 'window-start'), nodePath.join(out, 'window-end')], result.cycles);
            entry[tool] = { result, calls };
            lines.push(`  system calls per cycle (strace -f, the timed window; ${result.cycles} cycles, all threads)`, `    ${calls.filter((c) => c.perCycle >= 0.05).map((c) => `${c.syscall} ${c.perCycle.toFixed(2)}`).join(', ')}`);
          } else if (tool === 'perf-stat') {
            const counters = perfCounters(output, result.cycles);
            entry[tool] = { result, counters };
            lines.push(`  perf stat per cycle (${result.cycles} cycles, the timed window)`, `    ${Object.entries(counters).map(([k, v]) => `${k} ${v.toFixed(k === 'task-clock' ? 4 : 2)}`).join(', ')}  (task-clock in ms)`);
          } else if (tool === 'perf-record') {
            const shares = perfShares(output);
            entry[tool] = { result, shares };
            lines.push('  perf record -e cpu-clock, samples by thread', shares.byThread, '  by thread and object', shares.byObject, '  top symbols', shares.topSymbols);
            fs.rmSync(`/tmp/perf-${result.pid}.map`, { force: true });
          }
          process.stderr.write(`${device.name} ${count} appenders: ${tool} done\n`);
        }
        report.push(entry);
      }
    }
  } finally {
    removeDevices();
    if (keep === undefined) fs.rmSync(outRoot, { recursive: true, force: true });
  }
  for (const s of skipped) lines.push('', `${s.name}: skipped (${s.reason})`);
  process.stdout.write(`${lines.join('\n')}\n`);
  if (json) fs.writeFileSync(json, `${JSON.stringify({ date: new Date().toISOString(), node: process.version, kernel: os.release(), loadAverage: os.loadavg(), seconds, segmentBytes, results: report }, null, 2)}\n`);
}

runScript(main);
