/**
 * The text report of `hardsync bench`: its header, the answer (summary.ts), the table
 * (table.ts), and what follows it; and the number formats every text output shares: sizes as
 * --sizes takes them, latencies in their own unit, rates, ratios, intervals.
 * @module
 */
import type { BenchFile, BenchResult } from './schema';
import { notPinnedReason } from './stats';
import { instability } from './run';
import { pageCacheRow, sampleNoun, shortLabel, summaryLines, summaryOf } from './summary';
import { tableHeader, tableLayout, tableLegend, tableRow, type PlannedCase, type TableLayout } from './table';
import { wrapText } from './text';

export { wrapText };

/** "512", "4k", "1m" style: what --sizes takes and the tables print. */
export function formatSize(bytes: number): string {
  if (bytes >= 1 << 20 && bytes % (1 << 20) === 0) return `${bytes / (1 << 20)}m`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024}k`;
  return String(bytes);
}

/** Parses a size like "512", "4k", "8K", "1m", "2300" into bytes; NaN when it is not one. */
export function parseSize(text: string): number {
  const match = /^(\d+)([kKmM]?)[bB]?$/.exec(text.trim());
  if (!match) return NaN;
  const unit = match[2].toLowerCase() === 'k' ? 1024 : match[2].toLowerCase() === 'm' ? 1 << 20 : 1;
  return Number(match[1]) * unit;
}

/** Decimals that give a figure 3 significant digits (2 at most: "1.45", "14.5", "145", "1450"). */
function decimalsOf(v: number): number {
  const a = Math.abs(v);
  return a >= 99.95 ? 0 : a >= 9.995 ? 1 : 2;
}

/** The unit a latency reads best in: ns below a microsecond, us, ms from a millisecond, s. */
export function latencyUnit(us: number): { unit: string; perUs: number } {
  if (us < 1) return { unit: 'ns', perUs: 1000 };
  if (us < 999.5) return { unit: 'us', perUs: 1 };
  if (us < 999_500) return { unit: 'ms', perUs: 1e-3 };
  return { unit: 's', perUs: 1e-6 };
}

/** A latency in its own unit with 3 significant digits: "520ns", "1.45us", "145us", "14.5ms" (`space`: "14.5 ms"). */
export function formatLatency(us: number, space = false): string {
  const { unit, perUs } = latencyUnit(us);
  const v = us * perUs;
  return `${v.toFixed(decimalsOf(v))}${space ? ' ' : ''}${unit}`;
}

/**
 * A latency and its 95% interval in the latency's own unit: "1.45ms [0.98-2.10]", or
 * "101us +-3" when the interval is symmetric at the printed precision. The interval part is
 * left out (value only) when it does not fit in `width` characters; `space` puts a blank
 * between the number and its unit.
 */
export function latencyInterval(e: { value: number; low: number | null; high: number | null }, width = Infinity, space = false): string {
  const value = formatLatency(e.value, space);
  if (e.low === null || e.high === null) return value;
  const { perUs } = latencyUnit(e.value);
  const digits = decimalsOf(e.value * perUs);
  const f = (us: number): string => (us * perUs).toFixed(digits);
  const below = f(e.value - e.low);
  const above = f(e.high - e.value);
  const symmetric = below === above;
  const text = symmetric ? `${value} +-${below}` : `${value} [${f(e.low)}-${f(e.high)}]`;
  if (text.length <= width) return text;
  // The shorter form: the farther side's distance, "+-" in the same unit.
  const reach = `${value} +-${f(Math.max(e.value - e.low, e.high - e.value))}`;
  return reach.length <= width ? reach : value;
}

/** ops/s in 3 significant digits, k and M above ten thousand: "412", "9.9k" is "9900", "885k", "1.2M". */
export function formatRate(v: number): string {
  if (v >= 999_500) return `${Number((v / 1e6).toPrecision(3))}M`;
  if (v >= 9_999.5) return `${Number((v / 1e3).toPrecision(3))}k`;
  if (v >= 100) return v.toFixed(0);
  return String(Number(v.toPrecision(3)));
}

/** A ratio for "times slower": "48x", "1.9x", "1230x". */
export function formatTimes(ratio: number): string {
  return `${ratio >= 99.5 ? ratio.toFixed(0) : ratio >= 9.95 ? ratio.toFixed(0) : ratio.toFixed(1)}x`;
}

/** A number with at most 3 significant decimals, for latencies. */
export function formatUs(us: number): string {
  if (us >= 1000) return us.toFixed(0);
  if (us >= 100) return us.toFixed(1);
  if (us >= 10) return us.toFixed(2);
  return us.toFixed(3);
}

/** Pads cells into aligned columns: text left, numbers right. */
export function renderTable(header: string[], rows: string[][], rightAligned: boolean[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells.map((cell, i) => (rightAligned[i] ? cell.padStart(widths[i]) : cell.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** Text wrapped to `width`, each line after the first indented by `indent`, the first by `first`. */
function paragraph(text: string, width: number, first: string, indent: string): string {
  return `${first}${wrapText(text, width - first.length, indent.slice(first.length)).replace(/\n/g, `\n${first}`)}`;
}

/**
 * Why a row is unstable, in words: from its estimates with today's wording (files written
 * before it said "+-17794%"), else as the file recorded it.
 */
export function unstableReasons(r: BenchResult): string[] {
  return r.estimates ? instability(r.estimates) : r.stability?.reasons ?? [];
}

/** How to print the report: the width of its lines, and --wide. */
export interface ReportOptions {
  width?: number;
  wide?: boolean;
}

/** The report's first line(s): where, on what filesystem and device, and how long per case. */
export function reportHeader(doc: Pick<BenchFile, 'env' | 'settings'>, width = 80): string[] {
  const env = doc.env;
  const fs = env.filesystem;
  const device = env.device.name ? `; device ${env.device.name}, write cache ${env.device.writeCache ?? '?'}` : '';
  const s = doc.settings;
  const plan = s ? `; ${s.rounds} rounds of ${formatSeconds(s.secondsPerCase / s.rounds)} per case` : '';
  return paragraph(`hardsync bench: ${env.directory} on ${fs.type ?? 'an unknown filesystem'}${fs.source ? ` (${fs.source})` : ''}${device}${plan}`, width, '', '  ').split('\n');
}

/** The legend and the header of the table. */
export function tableStart(layout: TableLayout, limitPct: number, width = 80): string[] {
  return [paragraph(tableLegend(layout, limitPct), layout.wide ? Math.max(width, 80) : width, '', ''), '', ...tableHeader(layout)];
}

/** The page-cache write a row's "x page cache" is measured against. */
export function baselineFor(results: readonly BenchResult[], r: Pick<BenchResult, 'mode' | 'size'>): BenchResult | null {
  return pageCacheRow(results, r.mode, r.size);
}

/** The planned cases of a finished run: its rows. */
function plannedOf(doc: BenchFile): PlannedCase[] {
  return doc.results.map((r) => ({ method: r.method, label: r.label ?? r.method, mode: r.mode, size: r.size, writesPerSync: r.writesPerSync }));
}

/**
 * What follows the table: the figures the rounds do not pin down (with the reason), n/a rows,
 * the calls of each method, the environment, the stability summary and the warnings.
 */
export function reportTail(doc: BenchFile, width = 80, byId = false): string[] {
  const out: string[] = [];
  const unpinned: string[] = [];
  for (const r of doc.results) {
    for (const key of ['p50', 'p99'] as const) {
      const e = r.estimates?.[key];
      const why = e ? notPinnedReason(e, key === 'p50' ? 50 : 99, e.fewestSamples, sampleNoun(r)) : null;
      if (why) unpinned.push(paragraph(`${caseTitle(r, byId)} ${key} ${formatLatency(e!.value, true)}: ${why}`, width, '  ', '    '));
    }
  }
  if (unpinned.length > 0) {
    out.push('', 'Not pinned down by the rounds (rerun longer, or with --until-stable):', ...unpinned);
  }
  const na = doc.results.filter((r) => !r.supported);
  if (na.length > 0) {
    out.push('', 'n/a:');
    const seen = new Set<string>();
    for (const r of na) {
      const line = paragraph(`${byId ? r.method : shortLabel(r.label)}${r.reason?.includes('size') ? ` ${formatSize(r.size)}` : ''}: ${r.reason}`, width, '  ', '    ');
      if (!seen.has(line)) out.push(line);
      seen.add(line);
    }
  }
  out.push('', 'calls per operation:');
  const shown = new Set<string>();
  for (const r of doc.results) {
    if (shown.has(r.method)) continue;
    shown.add(r.method);
    out.push(paragraph(`${byId ? `${r.method} (${r.label})` : r.label}: ${r.syscalls.join(', ')}`, width, '  ', '    '));
  }
  out.push('', ...environmentLines(doc, width));
  if (doc.stability) out.push('', ...stabilityLines(doc, width));
  for (const w of doc.warnings) out.push('', paragraph(`WARNING: ${w.message}`, width, '', '  '));
  return out;
}

function environmentLines(doc: BenchFile, width: number): string[] {
  const env = doc.env;
  const out = ['environment:'];
  out.push(paragraph(`${env.os.type} ${env.os.release} ${env.os.arch}, ${env.cpu.model} x${env.cpu.cores}, Node ${env.node}, engine ${env.engine?.name ?? '?'}`, width, '  ', '    '));
  const fsLine = [env.filesystem.type ?? 'unknown filesystem', env.filesystem.mountPoint ? `mounted on ${env.filesystem.mountPoint}` : '', env.filesystem.source ? `from ${env.filesystem.source}` : ''].filter(Boolean).join(' ');
  out.push(paragraph(fsLine, width, '  ', '    '));
  if (env.filesystem.mountOptions) {
    // /proc/self/mountinfo gives the mount's own options and the filesystem's (superblock) options.
    const [mount, superblock] = env.filesystem.mountOptions.split(' | ');
    out.push(paragraph(`mount options: ${mount}${superblock ? `; filesystem options: ${superblock}` : ''}`, width, '  ', '    '));
  }
  if (env.device.name) {
    out.push(paragraph(`device ${env.device.name}${env.device.model ? ` (${env.device.model})` : ''}: write cache ${env.device.writeCache ?? '?'}, FUA ${fmtFlag(env.device.fua)}, rotational ${fmtFlag(env.device.rotational)}, ${env.device.logicalBlockSize ?? '?'}-byte logical blocks`, width, '  ', '    '));
  }
  if (env.dioAlignment) out.push(paragraph(`direct I/O alignment: memory ${env.dioAlignment.memory} B, offset ${env.dioAlignment.offset} B (${env.dioAlignment.source})`, width, '  ', '    '));
  const runner = doc.results.some((r) => r.runner === 'native') ? 'a native loop on a worker thread' : 'a JavaScript loop (--js)';
  const s = doc.settings;
  out.push(paragraph(`timed by ${runner}${s ? `, ${s.rounds} interleaved rounds of ${formatSeconds(s.secondsPerCase / s.rounds)} per case` : ''}`, width, '  ', '    '));
  return out;
}

/**
 * The whole text report of a finished run: the header, the answer (summary) first, then the
 * table with its legend, then the details. Every line fits `width` except with `wide`.
 */
export function renderBenchReport(doc: BenchFile, options: ReportOptions | number = {}): string {
  const { width = 80, wide = false } = typeof options === 'number' ? { width: options } : options;
  const layout = tableLayout(plannedOf(doc), width, wide);
  const summary = doc.summary ?? summaryOf(doc);
  const out = [
    ...reportHeader(doc, width),
    '',
    ...summaryLines(summary, doc, width),
    '',
    ...tableStart(layout, doc.stability?.limitPct ?? 10, width),
    ...doc.results.map((r) => tableRow(layout, r, baselineFor(doc.results, r))),
    ...reportTail(doc, width, layout.byId),
  ];
  return `${out.join('\n')}\n`;
}

function formatSeconds(seconds: number): string {
  return seconds >= 1 ? `${seconds.toFixed(seconds >= 10 ? 0 : 1)} s` : `${(seconds * 1000).toFixed(0)} ms`;
}

/** The end-of-run summary: how many cases were unstable, which, and the likely causes measured. */
export function stabilityLines(doc: BenchFile, width = 80): string[] {
  const stability = doc.stability as NonNullable<BenchFile['stability']>;
  const out: string[] = [];
  const unstable = doc.results.filter((r) => r.stability?.unstable);
  if (unstable.length === 0) {
    out.push(paragraph(`Stability: all ${stability.cases} measured cases are stable (every interval within +-${stability.limitPct}%, rounds within ${stability.roundsRatioLimit}x of each other).`, width, '', '  '));
  } else {
    out.push(paragraph(`Stability: ${unstable.length} of ${stability.cases} measured cases are UNSTABLE: their figures may differ in another run by more than +-${stability.limitPct}%, so treat them as rough.`, width, '', '  '));
    for (const r of unstable) {
      out.push(paragraph(`${caseTitle(r)}: ${unstableReasons(r).join('; ')}`, width, '  ', '    '));
    }
    out.push(paragraph(stability.causes.length > 0
      ? `Likely causes measured during the run: ${stability.causes.join('; ')}.`
      : 'No cause measured during the run (load, CPU steal, other I/O on the device were all low): the device itself varies.', width, '', '  '));
  }
  const until = stability.untilStable;
  if (until) {
    out.push(paragraph(until.stillUnstable.length === 0
      ? `--until-stable: ${until.addedRounds} rounds added; every case is stable now.`
      : `--until-stable: ${until.addedRounds} rounds added${until.budgetSpent ? ' before the time budget (--max-duration) was spent' : ''}; still unstable: ${until.stillUnstable.join(', ')}.`, width, '', '  '));
  } else if (unstable.length > 0) {
    out.push(paragraph('To measure them more: --until-stable adds rounds to unstable cases until they are stable or --max-duration is spent.', width, '', '  '));
  }
  return out;
}

function caseTitle(r: BenchResult, byId = false): string {
  return `${byId ? r.method : shortLabel(r.label)} ${r.mode} ${formatSize(r.size)}${r.writesPerSync > 1 ? ` x${r.writesPerSync}` : ''}`;
}

function fmtFlag(value: boolean | null): string {
  return value === null ? '?' : value ? 'yes' : 'no';
}
