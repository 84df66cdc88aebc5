/**
 * One measurement of bench/log-profile.ts, in a process of its own: appenders awaiting their
 * own 256-byte appends to a fresh DurableLog, each batch traced, the timed window opened and
 * closed for the tool watching this process. argv[2]: the JSON {@link ChildArgs}; prints one
 * JSON {@link ChildResult} line.
 *
 * The trace replaces lib/primitives' writeDurable export before anything else of the library
 * is loaded (so a module that keeps a reference to it, not only one that calls it through the
 * module object, gets the wrapper), and fails if no batch went through it.
 * @module
 */
import fs from 'node:fs';
import nodePath from 'node:path';
import { PerformanceObserver, performance } from 'node:perf_hooks';
// stats.ts loads nothing of the library: the trace must be in place before the library loads.
import { percentile } from './measure/stats';

/** The JavaScript thread's time on a CPU so far, ns (Linux: /proc/self/task/PID/schedstat), or NaN. */
function mainThreadCpuNs(): number {
  try {
    return Number(fs.readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]);
  } catch {
    return Number.NaN;
  }
}

const RECORD_BYTES = 256;
const FRAME = 24 + RECORD_BYTES;
const WARMUP_APPENDS = 20;

/** What a child is asked to do. */
export interface ChildArgs {
  dir: string;
  appenders: number;
  seconds: number;
  segmentBytes: number;
  /** perf's control and acknowledgement FIFOs: events are enabled for the timed window only. */
  perfControl?: [string, string];
  /** Mark the window for strace with two failing access() calls on these paths. */
  straceMarks?: [string, string];
  /** Write a CPU profile of the window (node:inspector, 250 us sampling) to this file. */
  cpuProfile?: string;
}

/** Opens and closes the timed window for whatever tool watches the child. */
class Window {
  #control: number | undefined;
  #ack: number | undefined;
  #session: import('node:inspector').Session | undefined;

  constructor(private readonly args: ChildArgs) {
    if (args.perfControl) {
      this.#control = fs.openSync(args.perfControl[0], 'w');
      this.#ack = fs.openSync(args.perfControl[1], 'r');
    }
  }

  #perf(command: string): void {
    if (this.#control === undefined) return;
    fs.writeSync(this.#control, `${command}\n`);
    const ack = Buffer.alloc(16);
    fs.readSync(this.#ack as number, ack, 0, ack.length, null);
  }

  #mark(path: string | undefined): void {
    if (path === undefined) return;
    try {
      fs.accessSync(path);
    } catch {
      // the point is the call, which strace records
    }
  }

  async start(): Promise<void> {
    if (this.args.cpuProfile) {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const inspector = require('node:inspector') as typeof import('node:inspector');
      const session = new inspector.Session();
      session.connect();
      const post = (method: string, params?: object) => new Promise<void>((resolve, reject) => session.post(method, params ?? {}, (error) => (error ? reject(error) : resolve())));
      await post('Profiler.enable');
      await post('Profiler.setSamplingInterval', { interval: 250 });
      await post('Profiler.start');
      this.#session = session;
    }
    this.#mark(this.args.straceMarks?.[0]);
    this.#perf('enable');
  }

  async end(): Promise<void> {
    this.#perf('disable');
    this.#mark(this.args.straceMarks?.[1]);
    const session = this.#session;
    if (session !== undefined) {
      const profile = await new Promise<object>((resolve, reject) =>
        session.post('Profiler.stop', (error, result) => (error ? reject(error) : resolve(result.profile))),
      );
      session.disconnect();
      fs.writeFileSync(this.args.cpuProfile as string, JSON.stringify(profile));
    }
    if (this.#control !== undefined) fs.closeSync(this.#control);
    if (this.#ack !== undefined) fs.closeSync(this.#ack);
  }
}

/** What a child reports. */
export interface ChildResult {
  records: number;
  seconds: number;
  recordsPerSec: number;
  cycles: number;
  batchRecordsP50: number;
  /** Write + flush, from the call to the moment JavaScript sees it done, us. */
  flushP50: number;
  flushP90: number;
  /** JavaScript from a batch's completion to the next batch's write call, us. */
  jsP50: number;
  jsP90: number;
  /** The synchronous part of the writeDurable call, us. */
  callP50: number;
  cycleP50: number;
  cycleMean: number;
  appendP50: number;
  /** Event loop utilization over the run (1 - idle share). */
  loopUtilization: number;
  gcMs: number;
  gcCount: number;
  /**
   * CPU time per cycle, us: of the JavaScript thread (its run time in /proc, Linux; NaN
   * elsewhere), and of the whole process (every thread: the flush threads, io_uring's workers,
   * the garbage collector's helpers). Unlike the times above, these hardly move when other
   * processes load the machine: they are what the log itself costs.
   */
  mainCpuUsPerCycle: number;
  processCpuUsPerCycle: number;
  /** The JavaScript thread's CPU time per record, us. */
  mainCpuUsPerRecord: number;
  /** The child's pid (perf's symbol map for it is /tmp/perf-PID.map). */
  pid: number;
}

async function child(args: ChildArgs): Promise<ChildResult> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const primitives = require('../lib/primitives') as typeof import('../lib/primitives');
  const original = primitives.writeDurable;
  let tracing = false;
  let lastDone = -1;
  const flush: number[] = [];
  const js: number[] = [];
  const call: number[] = [];
  const cycle: number[] = [];
  const batch: number[] = [];
  let lastCall = -1;
  (primitives as { writeDurable: typeof original }).writeDurable = ((fd: number, data: ArrayBufferView, position: number | null, options?: Parameters<typeof original>[3]) => {
    const t0 = performance.now();
    const promise = original(fd, data, position, options);
    if (tracing) {
      const t1 = performance.now();
      call.push((t1 - t0) * 1000);
      if (lastDone >= 0) js.push((t0 - lastDone) * 1000);
      if (lastCall >= 0) cycle.push((t0 - lastCall) * 1000);
      lastCall = t0;
      batch.push(data.byteLength / FRAME);
      promise.then(() => {
        lastDone = performance.now();
        flush.push((lastDone - t0) * 1000);
      }, () => undefined);
    }
    return promise;
  }) as typeof original;
  // Only now: a module that keeps a reference to writeDurable (the log's LogIo) takes the wrapper.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { DurableLog } = require('../lib/index') as typeof import('../lib/index');

  const record = Buffer.alloc(RECORD_BYTES, 0x5a);
  const dir = fs.mkdtempSync(nodePath.join(args.dir, 'hardsync-log-profile-'));
  try {
    const log = await DurableLog.open(dir, { segmentSize: args.segmentBytes });
    await new Promise((resolve) => setTimeout(resolve, 500));
    let gcMs = 0;
    let gcCount = 0;
    const observer = new PerformanceObserver((list) => {
      if (!tracing) return;
      for (const entry of list.getEntries()) {
        gcMs += entry.duration;
        gcCount++;
      }
    });
    observer.observe({ entryTypes: ['gc'] });
    const cap = Math.floor(args.segmentBytes / 2 / FRAME) - args.appenders * WARMUP_APPENDS;
    // Preallocated: a growing array of every latency would be the benchmark's own garbage.
    const latencies = new Float64Array(cap + args.appenders);
    let count = 0;
    let stop = false;
    let start = 0;
    let timer: NodeJS.Timeout | undefined;
    let elu = performance.eventLoopUtilization();
    const window = new Window(args);
    // Every appender warms up, then the window opens once, before any timed append.
    let warm = 0;
    let cpuAtStart = { main: 0, process: process.cpuUsage() };
    let opened!: () => void;
    const open = new Promise<void>((resolve) => (opened = resolve));
    await Promise.all(
      Array.from({ length: args.appenders }, async () => {
        for (let i = 0; i < WARMUP_APPENDS; i++) await log.append(record);
        if (++warm === args.appenders) {
          await window.start();
          cpuAtStart = { main: mainThreadCpuNs(), process: process.cpuUsage() };
          opened();
        }
        await open;
        if (start === 0) {
          start = performance.now();
          elu = performance.eventLoopUtilization();
          tracing = true;
          timer = setTimeout(() => (stop = true), args.seconds * 1000);
        }
        while (!stop) {
          const t = performance.now();
          await log.append(record);
          latencies[count++] = (performance.now() - t) * 1000;
          if (count >= cap) stop = true;
        }
      }),
    );
    const elapsed = (performance.now() - start) / 1000;
    tracing = false;
    const mainCpuNs = mainThreadCpuNs() - cpuAtStart.main;
    const processCpu = process.cpuUsage(cpuAtStart.process);
    await window.end();
    const utilization = performance.eventLoopUtilization(elu).utilization;
    clearTimeout(timer);
    observer.disconnect();
    await log.close();
    if (call.length === 0) throw new Error('no batch went through the traced writeDurable: the log no longer writes through lib/primitives');
    const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
    const [f, g, c, cy, b] = [flush, js, call, cycle, batch].map(sorted);
    const a = latencies.subarray(0, count).sort();
    return {
      records: count,
      seconds: elapsed,
      recordsPerSec: count / elapsed,
      cycles: call.length,
      batchRecordsP50: percentile(b, 50),
      flushP50: percentile(f, 50),
      flushP90: percentile(f, 90),
      jsP50: percentile(g, 50),
      jsP90: percentile(g, 90),
      callP50: percentile(c, 50),
      cycleP50: percentile(cy, 50),
      cycleMean: cy.reduce((x, y) => x + y, 0) / Math.max(1, cy.length),
      appendP50: percentile(a, 50),
      loopUtilization: utilization,
      gcMs,
      gcCount,
      mainCpuUsPerCycle: mainCpuNs / 1000 / call.length,
      processCpuUsPerCycle: (processCpu.user + processCpu.system) / call.length,
      mainCpuUsPerRecord: mainCpuNs / 1000 / count,
      pid: process.pid,
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}


child(JSON.parse(process.argv[2]) as ChildArgs).then(
  (result) => process.stdout.write(`${JSON.stringify(result)}\n`),
  (error: unknown) => {
    process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
