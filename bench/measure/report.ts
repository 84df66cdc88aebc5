/**
 * The human table on the terminal, and the size notation the CLI reads and prints.
 * @module
 */
import type { BenchFile, BenchResult, Estimate } from './schema';

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

/**
 * Wraps text at spaces into lines of at most `width` characters (a word longer than that
 * stays whole); later lines start with `indent`, which counts toward their width.
 */
export function wrapText(text: string, width: number, indent = ''): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    const limit = lines.length === 0 ? width : width - indent.length;
    if (line.length > 0 && line.length + 1 + word.length > limit) {
      lines.push(line);
      line = word;
    } else {
      line = line.length > 0 ? `${line} ${word}` : word;
    }
  }
  lines.push(line);
  return lines.join(`\n${indent}`);
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

function pct(e: Estimate | undefined): string {
  return e ? `${e.halfWidthPct < 10 ? e.halfWidthPct.toFixed(1) : e.halfWidthPct.toFixed(0)}%` : '';
}

function range(e: Estimate | undefined, format: (v: number) => string): string {
  return e ? `${format(Math.min(...e.rounds))}-${format(Math.max(...e.rounds))}` : '';
}

const opsText = (v: number): string => v.toFixed(0);

/** The table's columns. */
const HEADER = ['method', 'mode', 'size', 'w/sync', 'ops/s', '+-95%', 'rounds ops/s', 'p50 us', '+-95%', 'rounds p50', 'p99 us', '+-95%', 'rounds p99', 'p99.9', 'max', 'MB/s', 'note'];

function resultRow(r: BenchResult): string[] {
  const head = [r.durable ? r.label : `${r.label} *`, r.mode, formatSize(r.size), String(r.writesPerSync)];
  if (!r.supported || !r.latencyUs) return [...head, 'n/a', ...new Array(HEADER.length - 5).fill('')];
  const l = r.latencyUs;
  const e = r.estimates;
  return [
    ...head,
    opsText(r.opsPerSec ?? 0), pct(e?.opsPerSec), range(e?.opsPerSec, opsText),
    formatUs(l.p50), pct(e?.p50), range(e?.p50, formatUs),
    formatUs(l.p99), pct(e?.p99), range(e?.p99, formatUs),
    formatUs(l.p999),
    formatUs(l.max),
    (r.mbPerSec ?? 0).toFixed(1),
    r.stability?.unstable ? 'UNSTABLE' : '',
  ];
}

/** Text wrapped to `width`, each line after the first indented by `indent`, the first by `first`. */
function paragraph(text: string, width: number, first: string, indent: string): string {
  return `${first}${wrapText(text, width - first.length, indent.slice(first.length)).replace(/\n/g, `\n${first}`)}`;
}

/**
 * The terminal report of a bench run: environment (every field named), the table with each
 * figure's 95% interval and the rounds' spread, n/a reasons, syscalls, the stability summary
 * and warnings, wrapped to `width` columns (the table itself is as wide as it needs).
 */
export function renderBenchReport(doc: BenchFile, width = 80): string {
  const env = doc.env;
  const out: string[] = [];
  const fsLine = [env.filesystem.type ?? 'unknown filesystem', env.filesystem.mountPoint ? `mounted on ${env.filesystem.mountPoint}` : '', env.filesystem.source ? `from ${env.filesystem.source}` : '']
    .filter(Boolean).join(' ');
  out.push(paragraph(`hardsync bench: ${env.directory}`, width, '', '  '));
  out.push(paragraph(`${env.os.type} ${env.os.release} ${env.os.arch}, ${env.cpu.model} x${env.cpu.cores}, Node ${env.node}, engine ${env.engine?.name ?? '?'}`, width, '  ', '    '));
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
  const plan = s ? `${s.rounds} interleaved rounds of ${formatSeconds(s.secondsPerCase / s.rounds)} per case` : 'rounds not recorded';
  out.push(paragraph(`Timed by ${runner}, ${plan}. Latencies in microseconds; ops/s as pg_test_fsync computes them. Each figure is from all rounds together; +-95% is the half-width of its 95% confidence interval (from the spread of the rounds' own figures); "rounds" is the lowest and highest single-round figure. UNSTABLE: an interval wider than +-${doc.stability?.limitPct ?? 10}% or rounds that disagree (see the end). "*": not durable on this OS.`, width, '  ', '  '));
  out.push('');
  out.push(renderTable(HEADER, doc.results.map(resultRow), HEADER.map((_, i) => i >= 2 && i < HEADER.length - 1)));
  const na = doc.results.filter((r) => !r.supported);
  if (na.length > 0) {
    out.push('');
    out.push('n/a:');
    const seen = new Set<string>();
    for (const r of na) {
      const line = paragraph(`${r.label}${r.reason?.includes('size') ? ` ${formatSize(r.size)}` : ''}: ${r.reason}`, width, '  ', '    ');
      if (!seen.has(line)) out.push(line);
      seen.add(line);
    }
  }
  out.push('');
  out.push('calls per operation:');
  const shown = new Set<string>();
  for (const r of doc.results) {
    if (shown.has(r.method)) continue;
    shown.add(r.method);
    out.push(paragraph(`${r.label}: ${r.syscalls.join(', ')}`, width, '  ', '    '));
  }
  const stability = doc.stability;
  if (stability) {
    out.push('');
    out.push(...stabilityLines(doc, width));
  }
  for (const w of doc.warnings) {
    out.push('');
    out.push(paragraph(`WARNING: ${w.message}`, width, '', '  '));
  }
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
      out.push(paragraph(`${caseTitle(r)}: ${(r.stability?.reasons ?? []).join('; ')}`, width, '  ', '    '));
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

function caseTitle(r: BenchResult): string {
  return `${r.label} ${r.mode} ${formatSize(r.size)}${r.writesPerSync > 1 ? ` x${r.writesPerSync}` : ''}`;
}

function fmtFlag(value: boolean | null): string {
  return value === null ? '?' : value ? 'yes' : 'no';
}
