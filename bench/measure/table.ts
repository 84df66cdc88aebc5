/**
 * The figures table of `hardsync bench` on a terminal or a pipe. Its columns are fixed before
 * the first case is measured (from the planned cases and the width), so that on a pipe each row
 * can be printed as its case ends and a killed run keeps what it printed. The default table fits
 * the width (the terminal's, 80 on a pipe): method, mode, size, ops/s, p50 and p99 with their
 * 95% intervals, and times the page-cache write; `--wide` adds every other figure and may be
 * as wide as it needs.
 * @module
 */
import { formatLatency, formatRate, formatSize, formatTimes, formatUs, latencyInterval } from './report';
import type { BenchResult, Estimate } from './schema';
import { notPinnedReason } from './stats';
import { sampleNoun, shortLabel, timesPageCache } from './summary';

/** What the table knows of a case before it is measured. */
export interface PlannedCase {
  method: string;
  label: string;
  mode: string;
  size: number;
  writesPerSync: number;
}

/** A row's cells are computed from its result and the page-cache write of its mode and size. */
type Cell = (r: BenchResult, base: BenchResult | null, width: number) => string;

interface Column {
  title: string;
  width: number;
  right: boolean;
  cell: Cell;
}

/** The table's columns, fixed up front. */
export interface TableLayout {
  columns: Column[];
  /** The width of every line (the widest with --wide). */
  width: number;
  /** Methods shown by id (narrow) rather than by label. */
  byId: boolean;
  wide: boolean;
}

const SEP = ' ';

/** "8k", or "8k x8" for 8 writes per flush. */
export function sizeText(c: Pick<PlannedCase, 'size' | 'writesPerSync'>): string {
  return `${formatSize(c.size)}${c.writesPerSync > 1 ? ` x${c.writesPerSync}` : ''}`;
}

function has(r: BenchResult): r is BenchResult & { latencyUs: NonNullable<BenchResult['latencyUs']>; opsPerSec: number } {
  return r.supported && r.latencyUs !== null && r.opsPerSec !== null;
}

function marks(r: BenchResult): string {
  return `${r.durable ? '' : '*'}${r.stability?.unstable ? '!' : ''}`;
}

/** A latency cell: the figure and its interval, or the figure and "not pinned" (the reason is listed below the table). */
function latencyCell(key: 'p50' | 'p99'): Cell {
  return (r, _base, width) => {
    if (!has(r)) return '';
    const e = r.estimates?.[key];
    const point = r.latencyUs[key];
    if (!e) return formatLatency(point);
    if (notPinnedReason(e, key === 'p50' ? 50 : 99, e.fewestSamples, sampleNoun(r))) {
      const long = `${formatLatency(e.value)} not pinned`;
      return long.length <= width ? long : `${formatLatency(e.value)} ?`;
    }
    return latencyInterval(e, width);
  };
}

function opsCell(withInterval: boolean): Cell {
  return (r) => {
    if (!has(r)) return 'n/a';
    const e = r.estimates?.opsPerSec;
    if (!withInterval || !e) return formatRate(r.opsPerSec);
    return `${formatRate(e.value)} [${formatRate(e.low)}-${formatRate(e.high)}]`;
  };
}

const timesCell: Cell = (r, base) => {
  if (!has(r)) return '';
  if (r.method === 'write' && r.writesPerSync === 1) return '1x';
  const t = timesPageCache(r, base);
  return t ? formatTimes(t.value) : '-';
};

function column(title: string, width: number, right: boolean, cell: Cell): Column {
  return { title, width: Math.max(width, title.length), right, cell };
}

function roundsRange(e: Estimate | undefined, format: (v: number) => string): string {
  return e ? `${format(Math.min(...e.rounds))}-${format(Math.max(...e.rounds))}` : '';
}

/** The widest cell of a latency column: a 6-character figure and an interval of two 5-character ends. */
const LATENCY_CELL = 19;
/** The narrowest latency column: the figure and "+-" a short distance. */
const LATENCY_CELL_MIN = 12;

/**
 * Fixes the table's columns for `cases` in `width` characters (ignored with `wide`): methods by
 * label when that fits, else by id; the latency columns share what is left.
 */
export function tableLayout(cases: readonly PlannedCase[], width: number, wide = false): TableLayout {
  const modeWidth = Math.max(4, ...cases.map((c) => c.mode.length));
  const sizeWidth = Math.max(4, ...cases.map((c) => sizeText(c).length));
  const nameOf = (byId: boolean) => (c: PlannedCase): string => (byId ? c.method : shortLabel(c.label));
  const nameWidth = (byId: boolean): number => Math.max(6, ...cases.map((c) => nameOf(byId)(c).length + 2));
  const method = (byId: boolean): Column => column('method', nameWidth(byId), false, (r) => `${byId ? r.method : shortLabel(r.label)}${marks(r)}`);
  const mode = column('mode', modeWidth, false, (r) => r.mode);
  const size = column('size', sizeWidth, true, (r) => sizeText(r));
  if (wide) {
    const columns = [
      method(false), mode, size,
      column('ops/s [95%]', 19, true, opsCell(true)),
      column('rounds ops/s', 13, true, (r) => roundsRange(r.estimates?.opsPerSec, formatRate)),
      column('p50 [95%]', LATENCY_CELL, false, latencyCell('p50')),
      column('p90', 7, true, (r) => (has(r) ? formatLatency(r.latencyUs.p90) : '')),
      column('p99 [95%]', LATENCY_CELL, false, latencyCell('p99')),
      column('rounds p99 us', 13, true, (r) => roundsRange(r.estimates?.p99, formatUs)),
      column('p99.9', 7, true, (r) => (has(r) ? formatLatency(r.latencyUs.p999) : '')),
      column('max', 7, true, (r) => (has(r) ? formatLatency(r.latencyUs.max) : '')),
      column('MB/s', 7, true, (r) => (has(r) ? (r.mbPerSec ?? 0).toFixed(1) : '')),
      column('rounds', 6, true, (r) => (has(r) && r.rounds !== undefined ? String(r.rounds) : '')),
      column('x page cache', 12, true, timesCell),
    ];
    return { columns, width: lineWidth(columns), byId: false, wide };
  }
  const ops = column('ops/s', 6, true, opsCell(false));
  const times = column('x pc', 5, true, timesCell);
  for (const byId of [false, true]) {
    const fixed = [method(byId), mode, size, ops];
    const room = width - lineWidth([...fixed, times]) - 2 * SEP.length;
    const latency = Math.min(LATENCY_CELL, Math.floor(room / 2));
    if (latency >= LATENCY_CELL_MIN || byId) {
      const cellWidth = Math.max(8, latency);
      const columns = [...fixed, column('p50', cellWidth, false, latencyCell('p50')), column('p99', cellWidth, false, latencyCell('p99')), times];
      return { columns, width: lineWidth(columns), byId, wide };
    }
  }
  throw new Error('unreachable');
}

function lineWidth(columns: readonly Column[]): number {
  return columns.reduce((n, c) => n + c.width, 0) + SEP.length * (columns.length - 1);
}

function line(layout: TableLayout, cells: readonly string[]): string {
  return cells.map((cell, i) => {
    const c = layout.columns[i];
    return c.right ? cell.padStart(c.width) : cell.padEnd(c.width);
  }).join(SEP).trimEnd();
}

/** The header line and the rule under it. */
export function tableHeader(layout: TableLayout): string[] {
  return [line(layout, layout.columns.map((c) => c.title)), line(layout, layout.columns.map((c) => '-'.repeat(c.width)))];
}

/** One result's line; `base` is the page-cache write of its mode and size (null: not measured). */
export function tableRow(layout: TableLayout, r: BenchResult, base: BenchResult | null): string {
  return line(layout, layout.columns.map((c) => {
    const text = c.cell(r, base, c.width);
    return text.length > c.width && !layout.wide ? text.slice(0, c.width) : text;
  }));
}

/** The legend of the table, in words: exactly what each column and mark is. */
export function tableLegend(layout: TableLayout, limitPct: number): string {
  const parts = [
    `Per operation: latency in its own unit (ns, us, ms), ops/s as pg_test_fsync counts them. [low-high]: the 95% interval of the figure from the spread of its rounds (t on a log scale; a percentile's never beyond the fastest or slowest operation measured); "+-d" when symmetric. "not pinned" or "?": the rounds cannot pin that figure down (why: below the table). ${layout.wide ? '"x page cache"' : '"x pc"'}: p50 per write over the page-cache write's p50. "*": not durable on this OS; "!": unstable (an interval reaching over ${limitPct}% from its figure, or rounds that disagree).`,
  ];
  if (layout.byId) parts.push('Methods by id (their calls: below).');
  if (!layout.wide) parts.push('More columns: --wide.');
  return parts.join(' ');
}
