/**
 * Summarizes a V8 CPU profile (`node --cpu-prof` writes one `.cpuprofile` per thread) by
 * function: the share of samples each function was running itself (self), the share it was
 * on the stack (total), and the self time grouped into the parts of DurableLog's cycle
 * ({@link CATEGORIES}). V8 has no separate frames for its builtins (a Promise's resolve, a
 * Buffer copy's memmove), so their time is the calling function's self time; "(program)" is
 * native code V8 could not attribute to a JavaScript function (the addon, libuv, Node's C++),
 * "(idle)" the event loop waiting in epoll.
 *
 *   node dist/bench/measure/cpuprofile.js FILE.cpuprofile [--top N] [--json]
 * @module
 */
import fs from 'node:fs';
import path from 'node:path';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

/** The parts of a .cpuprofile this reads. */
export interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** One function's share of the samples. */
export interface FunctionRow {
  /** "name (file:line)". */
  name: string;
  category: string;
  /** Samples with this function on top, over all samples. */
  self: number;
  /** Samples with this function anywhere on the stack, over all samples. */
  total: number;
}

/** What {@link summarizeProfile} finds. */
export interface ProfileSummary {
  /** Wall time the profile covers, in ms. */
  durationMs: number;
  samples: number;
  /** Share of samples that were not "(idle)". */
  busy: number;
  /** Self time per category, over all samples. */
  categories: Record<string, number>;
  functions: FunctionRow[];
}

/**
 * What each part of the log's cycle is called in the profile, tried in order on the
 * function's name and then its file; the first match wins. Anything else is "other JS".
 */
const WRITE_CALL = 'write call (validation, the addon call)';

export const CATEGORIES: readonly { name: string; test: (frame: CallFrame) => boolean }[] = [
  { name: 'idle (waiting in epoll)', test: (f) => f.functionName === '(idle)' },
  { name: 'garbage collection', test: (f) => f.functionName === '(garbage collector)' },
  { name: 'native, unattributed (addon, libuv, node C++)', test: (f) => f.functionName === '(program)' || f.functionName === '(root)' },
  { name: 'CRC-32C', test: (f) => /crc32c|frameBatch|completeFrames/i.test(f.functionName) && f.url !== '' },
  { name: 'framing (frame headers, payload copy)', test: (f) => /^(startFrame|encodeRecord|chunkBytes|copy|writeUInt32LE|writeU_Int32LE|_copyActual|copyWithin|subarray|allocUnsafe|fill)$/.test(f.functionName) },
  { name: WRITE_CALL, test: (f) => /^(writeDurable|writeArguments|promise|validate\w*|toFlushKind|flushCode|rethrowWithCallerStack)$/.test(f.functionName) },
  { name: 'append (the call, its promise)', test: (f) => /^(#?append|#reserve|Pending|#schedule|#batchFull|validateArgumentCount)$/.test(f.functionName) },
  { name: 'batch: drain, settle, acknowledge', test: (f) => /^(#drain|#startBatch|#batchWritten|#slotFreed|#notifyIdle|nextTick|resolve|then)$/.test(f.functionName) },
  { name: 'node internals (ticks, microtasks, timers)', test: (f) => /^node:internal/.test(f.url) || /processTicksAndRejections|runMicrotasks|listOnTimeout/.test(f.functionName) },
  { name: 'the benchmark itself', test: (f) => /\/bench\//.test(f.url) },
];

/**
 * The part a frame's time belongs to. A native function (no file) is the part of its caller,
 * because V8 may give a Node-API function the name of another export (the addon's writeDurable
 * appeared as "crc32c" and as "capabilities"); called from lib/primitives it is the write call.
 */
function categoryOf(frame: CallFrame, caller?: CallFrame): string {
  if (frame.url === '' && !frame.functionName.startsWith('(') && caller !== undefined) {
    if (/primitives\.js$/.test(caller.url)) return WRITE_CALL;
    return categoryOf(caller);
  }
  for (const c of CATEGORIES) if (c.test(frame)) return c.name;
  return 'other JS';
}

/**
 * "name (file:line)". A function without a file is native (a Node-API export, a Node
 * builtin); V8 may give a Node-API function another export's name, so it is named after its
 * caller instead.
 */
function label(frame: CallFrame, caller?: CallFrame): string {
  if (frame.url === '') {
    if (frame.functionName.startsWith('(') || caller === undefined) return frame.functionName || '(anonymous)';
    return `native, called from ${label(caller)}`;
  }
  const file = frame.url.replace(/^file:\/\//, '');
  return `${frame.functionName || '(anonymous)'} (${path.basename(file)}:${frame.lineNumber + 1})`;
}

/** Self and total shares per function, and self shares per category. */
export function summarizeProfile(profile: CpuProfile): ProfileSummary {
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const node of profile.nodes) {
    byId.set(node.id, node);
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  const categoryOfLabel = new Map<string, string>();
  const categories: Record<string, number> = {};
  let idle = 0;
  const n = profile.samples.length;
  const callerOf = (id: number): CallFrame | undefined => {
    const up = parent.get(id);
    return up === undefined ? undefined : (byId.get(up) as ProfileNode).callFrame;
  };
  const labelOf = (id: number): string => label((byId.get(id) as ProfileNode).callFrame, callerOf(id));
  for (const id of profile.samples) {
    const top = byId.get(id) as ProfileNode;
    const topLabel = labelOf(id);
    const category = categoryOf(top.callFrame, callerOf(id));
    categoryOfLabel.set(topLabel, category);
    self.set(topLabel, (self.get(topLabel) ?? 0) + 1);
    categories[category] = (categories[category] ?? 0) + 1;
    if (top.callFrame.functionName === '(idle)') idle++;
    // A function counts once per sample however deep it recurses.
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = (byId.get(at) as ProfileNode).callFrame;
      const name = labelOf(at);
      if (seen.has(name)) continue;
      seen.add(name);
      categoryOfLabel.set(name, categoryOf(frame, callerOf(at)));
      total.set(name, (total.get(name) ?? 0) + 1);
    }
  }
  const functions = [...total.keys()]
    .map((name) => ({ name, category: categoryOfLabel.get(name) as string, self: (self.get(name) ?? 0) / n, total: (total.get(name) ?? 0) / n }))
    .sort((a, b) => b.self - a.self || b.total - a.total);
  for (const key of Object.keys(categories)) categories[key] /= n;
  return { durationMs: (profile.endTime - profile.startTime) / 1000, samples: n, busy: 1 - idle / n, categories, functions };
}

/** The summary as text: categories, then the top functions by self time. */
export function renderProfile(summary: ProfileSummary, top = 25): string {
  const pct = (x: number) => `${(x * 100).toFixed(1).padStart(5)}%`;
  const busyPct = (x: number) => (summary.busy > 0 ? `${((x / summary.busy) * 100).toFixed(1).padStart(5)}%` : '    -');
  const lines = [`${summary.samples} samples over ${(summary.durationMs / 1000).toFixed(2)} s; busy (not idle) ${pct(summary.busy)}`, '', 'self time by part  (of all samples | of busy samples)'];
  for (const [name, share] of Object.entries(summary.categories).sort((a, b) => b[1] - a[1])) {
    lines.push(`  ${pct(share)}  ${name.startsWith('idle') ? '     -' : busyPct(share)}  ${name}`);
  }
  lines.push('', `top ${top} functions by self time  (self | total, of all samples)`);
  for (const row of summary.functions.slice(0, top)) lines.push(`  ${pct(row.self)}  ${pct(row.total)}  ${row.name}  [${row.category}]`);
  return `${lines.join('\n')}\n`;
}

if (require.main === module) {
  const args = process.argv.slice(2);
  const file = args.find((a) => !a.startsWith('--'));
  if (file === undefined || args.includes('--help')) {
    process.stdout.write('usage: node dist/bench/measure/cpuprofile.js FILE.cpuprofile [--top N] [--json]\n');
    process.exit(file === undefined ? 2 : 0);
  }
  const topAt = args.indexOf('--top');
  const summary = summarizeProfile(JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile);
  if (args.includes('--json')) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  else process.stdout.write(renderProfile(summary, topAt >= 0 ? Number(args[topAt + 1]) : 25));
}
