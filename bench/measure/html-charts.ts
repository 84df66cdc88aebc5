/**
 * The charts of the HTML report, as data: one section per mode / size / writes per flush, each
 * with an interval chart (ops/s of every method: the figure, its 95% interval, each round) and
 * latency CDF charts of at most {@link MAX_LINES} lines, methods grouped so that lines can be
 * told apart, each chart with the page-cache baseline. html-draw.ts draws them in the browser.
 * @module
 */
import { caseKey, casesAcross, compareFiles, fileTitle } from './compare';
import { formatSize } from './report';
import type { BenchFile, BenchResult, Estimate } from './schema';

/** The most lines a CDF chart has (the baseline included), so that each can be told apart. */
export const MAX_LINES = 4;

/**
 * Line colours (Okabe and Ito's colour-blind-safe palette), in the order lines get them. The
 * baseline has its own grey. Each line also has its own marker shape at p50 and p99.
 */
export const LINE_COLORS: readonly string[] = Object.freeze(['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000']);
/** The page-cache baseline's colour. */
export const BASELINE_COLOR = '#8a8a8a';
/** Dash pattern of a line whose method is not durable on the OS where it ran ('' = solid). */
export const NOT_DURABLE_DASH = '7,4';
/** Dash pattern of the baseline (not durable either, but drawn apart from the others). */
export const BASELINE_DASH = '2,3';
/** Marker shapes, by line index. */
const MARKERS = ['circle', 'square', 'triangle', 'diamond', 'down', 'cross', 'plus'] as const;

/** A figure's 95% interval as the charts need it. */
export interface Interval {
  value: number;
  low: number;
  high: number;
}

/** One line of a CDF chart. */
export interface Series {
  /** The legend's name. */
  name: string;
  method: string;
  /** The file it came from (index into the files given). */
  file: number;
  /** The page-cache baseline ('write' of the same mode and size). */
  baseline: boolean;
  /** Durable on the OS where it ran. */
  durable: boolean;
  /** Durable on every OS (null: the file does not say). */
  durablePortable: boolean | null;
  unstable: boolean;
  color: string;
  /** SVG stroke-dasharray ('' = solid). */
  dash: string;
  marker: (typeof MARKERS)[number];
  cdf: [number, number][];
  /** p50 and p99 with their 95% intervals (null in hardsync-bench/1 files). */
  p50: Interval | null;
  p99: Interval | null;
  /** The fastest and slowest operation measured: no whisker is drawn beyond them. */
  range: [number, number] | null;
}

/** A latency CDF chart. */
export interface Chart {
  id: string;
  title: string;
  series: Series[];
}

/** One row of an interval chart: a method (in one file) and its ops/s. */
export interface IntervalRow {
  /** Method label ('' on the further rows of the same method when comparing files). */
  label: string;
  /** With several files: the file's number ('1', '2', ...); '' otherwise. */
  tag: string;
  method: string;
  file: number;
  color: string;
  durable: boolean;
  unstable: boolean;
  /** Why the case has no figures (n/a here), or null. */
  na: string | null;
  /** ops/s with its interval, or null (n/a). Without an interval (version 1 file) low = high = value. */
  ops: Interval | null;
  /** Each round's ops/s ([] in version 1 files). */
  rounds: number[];
}

/** The ops/s of every method of one section, with intervals and rounds. */
export interface IntervalChart {
  id: string;
  title: string;
  rows: IntervalRow[];
}

/** The cases of one mode / size / writes-per-flush, with their charts. */
export interface Section {
  id: string;
  /** Long title ("overwrite, 8k writes"). */
  title: string;
  /** Short name for the contents bar ("8k overwrite"). */
  short: string;
  mode: string;
  size: number;
  writesPerSync: number;
  intervals: IntervalChart;
  charts: Chart[];
}

/**
 * The CDF charts' method groups for one file: a mode/size whose methods (with the baseline)
 * fit in {@link MAX_LINES} lines gets one chart; a bigger one gets one chart per group below,
 * each with the baseline, and with `reference` methods (when present) to compare against.
 */
const METHOD_GROUPS: readonly { title: string; methods: string[]; reference: string[] }[] = [
  { title: 'flush calls after a write', methods: ['fdatasync', 'fsync', 'fullFsync', 'barrierFsync', 'syncfs'], reference: [] },
  { title: "node:fs's own calls and sync_file_range+fdatasync", methods: ['node-fdatasync', 'node-fsync', 'sfr-fdatasync'], reference: ['fdatasync'] },
  { title: 'synchronous opens (a flush in every write)', methods: ['dsync', 'osync', 'direct-dsync'], reference: ['fdatasync'] },
  { title: 'page cache and writeback hints (not durable)', methods: ['direct', 'sfr-write', 'sfr-wait'], reference: [] },
  { title: 'new files: creation sequences', methods: ['dir-fsync', 'atomic-replace'], reference: ['fdatasync', 'fsync'] },
];

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

function bucketKey(r: Pick<BenchResult, 'mode' | 'size' | 'writesPerSync'>): string {
  return `${r.mode}|${r.size}|${r.writesPerSync}`;
}

export function perFlush(w: number): string {
  return `${w} write${w === 1 ? '' : 's'} per flush`;
}

function sectionTitle(r: BenchResult): { title: string; short: string } {
  const size = formatSize(r.size);
  return {
    title: `${r.mode}, ${size} writes${r.writesPerSync > 1 ? `, ${perFlush(r.writesPerSync)}` : ''}`,
    short: `${size} ${r.mode}${r.writesPerSync > 1 ? ` x${r.writesPerSync}` : ''}`,
  };
}

export function hasFigures(r: BenchResult): boolean {
  return r.supported && r.latencyUs !== null && r.opsPerSec !== null;
}

export function intervalOf(e: Estimate | undefined, point: number | null | undefined): Interval | null {
  if (e) return { value: e.value, low: e.low, high: e.high };
  if (point === null || point === undefined) return null;
  return { value: point, low: point, high: point };
}

export function isUnstable(r: BenchResult): boolean {
  return r.stability?.unstable === true;
}

/** The page-cache baseline of a case's mode and size in one file (one write per operation preferred). */
function baselineOf(doc: BenchFile, mode: string, size: number): BenchResult | null {
  const candidates = doc.results.filter((r) => r.method === 'write' && r.mode === mode && r.size === size && hasFigures(r) && r.cdf && r.cdf.length > 0);
  return candidates.find((r) => r.writesPerSync === 1) ?? candidates[0] ?? null;
}

function seriesOf(r: BenchResult, file: number, name: string, baseline: boolean): Omit<Series, 'color' | 'dash' | 'marker'> {
  return {
    name,
    method: r.method,
    file,
    baseline,
    durable: r.durable,
    durablePortable: r.durablePortable ?? null,
    unstable: isUnstable(r),
    cdf: r.cdf ?? [],
    p50: r.latencyUs ? intervalOf(r.estimates?.p50, r.latencyUs.p50) : null,
    p99: r.latencyUs ? intervalOf(r.estimates?.p99, r.latencyUs.p99) : null,
    range: r.latencyUs ? [r.latencyUs.min, r.latencyUs.max] : null,
  };
}

/** Gives a chart's lines their colours, dashes and markers: the baseline grey and dotted, the others in palette order. */
function styled(lines: Omit<Series, 'color' | 'dash' | 'marker'>[], colorOf?: (s: Omit<Series, 'color' | 'dash' | 'marker'>, i: number) => string): Series[] {
  let next = 0;
  return lines.map((s) => {
    if (s.baseline) return { ...s, color: BASELINE_COLOR, dash: BASELINE_DASH, marker: 'circle' };
    const i = next++;
    return {
      ...s,
      color: colorOf ? colorOf(s, i) : LINE_COLORS[i % LINE_COLORS.length],
      dash: s.durable ? '' : NOT_DURABLE_DASH,
      marker: MARKERS[i % MARKERS.length],
    };
  });
}

function baselineName(r: BenchResult, w: number): string {
  return `baseline: ${r.label}${w > 1 ? ', one write per operation' : ''}`;
}

/** The CDF charts of one mode/size/writes-per-flush of a single file. */
function singleFileCharts(doc: BenchFile, rows: BenchResult[], firstId: number): Chart[] {
  const sample = rows[0];
  const w = sample.writesPerSync;
  const drawable = rows.filter((r) => hasFigures(r) && r.cdf && r.cdf.length > 0);
  const base = baselineOf(doc, sample.mode, sample.size);
  const name = (r: BenchResult): string => (w > 1 ? `${r.label}, ${perFlush(r.writesPerSync)}` : r.label);
  const members = drawable.filter((r) => r !== base);
  const baseLine = base ? [seriesOf(base, 0, baselineName(base, w), true)] : [];
  const charts: { title: string; lines: ReturnType<typeof seriesOf>[] }[] = [];
  // With several writes per flush, the same methods at one write per flush are the reference.
  const references = (methods: string[]): BenchResult[] => w > 1
    ? doc.results.filter((r) => methods.includes(r.method) && r.mode === sample.mode && r.size === sample.size && r.writesPerSync === 1 && hasFigures(r) && r.cdf)
    : drawable.filter((r) => methods.includes(r.method));
  if (members.length + baseLine.length <= MAX_LINES) {
    const room = MAX_LINES - baseLine.length - members.length;
    const refs = w > 1 ? references(members.map((r) => r.method)).slice(0, room) : [];
    charts.push({
      title: w > 1 && refs.length > 0 ? `${perFlush(w)} against one` : 'all methods',
      lines: [...baseLine, ...members.map((r) => seriesOf(r, 0, name(r), false)), ...refs.map((r) => seriesOf(r, 0, name(r), false))],
    });
  } else {
    const grouped = new Set<BenchResult>();
    for (const group of METHOD_GROUPS) {
      const present = members.filter((r) => group.methods.includes(r.method));
      if (present.length === 0) continue;
      present.forEach((r) => grouped.add(r));
      const chunkSize = MAX_LINES - baseLine.length;
      for (let at = 0; at < present.length; at += chunkSize) {
        const chunk = present.slice(at, at + chunkSize);
        const room = MAX_LINES - baseLine.length - chunk.length;
        const refs = references(group.reference).filter((r) => !chunk.includes(r)).slice(0, room);
        charts.push({ title: group.title, lines: [...baseLine, ...chunk.map((r) => seriesOf(r, 0, name(r), false)), ...refs.map((r) => seriesOf(r, 0, name(r), false))] });
      }
    }
    const others = members.filter((r) => !grouped.has(r));
    const chunkSize = MAX_LINES - baseLine.length;
    for (let at = 0; at < others.length; at += chunkSize) {
      charts.push({ title: 'other methods', lines: [...baseLine, ...others.slice(at, at + chunkSize).map((r) => seriesOf(r, 0, name(r), false))] });
    }
    if (charts.length === 0 && baseLine.length > 0) charts.push({ title: 'all methods', lines: baseLine });
  }
  return charts.map((c, i) => ({ id: `cdf-${firstId + i}`, title: c.title, series: styled(c.lines) }));
}

/** The CDF charts of one mode/size/writes-per-flush across several files: one per case, a line per file and the first file's baseline. */
function compareCharts(files: { name: string; doc: BenchFile }[], rows: (BenchResult | undefined)[][], firstId: number): Chart[] {
  const charts: Chart[] = [];
  for (const perFile of rows) {
    const lines = perFile.flatMap((r, f) => (r && hasFigures(r) && r.cdf && r.cdf.length > 0 ? [seriesOf(r, f, fileTitle(files[f].name, files[f].doc), false)] : []));
    if (lines.length === 0) continue;
    const any = perFile.find((r) => r !== undefined) as BenchResult;
    let base: BenchResult | null = null;
    let baseFile = -1;
    if (any.method !== 'write') {
      baseFile = files.findIndex(({ doc }) => baselineOf(doc, any.mode, any.size) !== null);
      if (baseFile >= 0) base = baselineOf(files[baseFile].doc, any.mode, any.size);
    }
    const baseLine = base ? [seriesOf(base, baseFile, `${baselineName(base, any.writesPerSync)} (file ${baseFile + 1})`, true)] : [];
    const title = `${any.label ?? any.method}${any.writesPerSync > 1 ? `, ${perFlush(any.writesPerSync)}` : ''}`;
    charts.push({ id: `cdf-${firstId + charts.length}`, title, series: styled([...baseLine, ...lines], (s) => LINE_COLORS[s.file % LINE_COLORS.length]) });
  }
  return charts;
}

/**
 * The report's sections: one per mode / size / writes per flush, in the order the files first
 * have them, each with its interval chart and its CDF charts. With one file, the CDF charts
 * group methods (at most {@link MAX_LINES} lines each, the baseline in every one); with
 * several, one CDF chart per case with a line per file.
 */
export function sectionsOf(files: { name: string; doc: BenchFile }[]): Section[] {
  const single = files.length === 1;
  const order: string[] = [];
  const buckets = new Map<string, { first: BenchResult; cases: Map<string, (BenchResult | undefined)[]> }>();
  files.forEach(({ doc }, f) => {
    for (const r of doc.results) {
      const b = bucketKey(r);
      if (!buckets.has(b)) {
        buckets.set(b, { first: r, cases: new Map() });
        order.push(b);
      }
      const cases = (buckets.get(b) as { cases: Map<string, (BenchResult | undefined)[]> }).cases;
      const key = caseKey(r);
      if (!cases.has(key)) cases.set(key, new Array(files.length).fill(undefined));
      (cases.get(key) as (BenchResult | undefined)[])[f] = r;
    }
  });
  let chartCount = 0;
  return order.map((b, index) => {
    const { first, cases } = buckets.get(b) as { first: BenchResult; cases: Map<string, (BenchResult | undefined)[]> };
    const perCase = [...cases.values()];
    const rows: IntervalRow[] = [];
    for (const perFile of perCase) {
      perFile.forEach((r, f) => {
        if (!r) return;
        const firstOfCase = perFile.findIndex((x) => x !== undefined) === f;
        rows.push({
          label: single || firstOfCase ? r.label ?? r.method : '',
          tag: single ? '' : String(f + 1),
          method: r.method,
          file: f,
          color: single ? (r.method === 'write' ? BASELINE_COLOR : LINE_COLORS[0]) : LINE_COLORS[f % LINE_COLORS.length],
          durable: r.durable,
          unstable: isUnstable(r),
          na: hasFigures(r) ? null : r.reason ?? 'no figures',
          ops: hasFigures(r) ? intervalOf(r.estimates?.opsPerSec, r.opsPerSec) : null,
          rounds: hasFigures(r) ? r.estimates?.opsPerSec.rounds ?? [] : [],
        });
      });
    }
    const charts = single
      ? singleFileCharts(files[0].doc, perCase.map((c) => c[0] as BenchResult), chartCount)
      : compareCharts(files, perCase, chartCount);
    chartCount += charts.length;
    const { title, short } = sectionTitle(first);
    return {
      id: `s${index}`, title, short, mode: first.mode, size: first.size, writesPerSync: first.writesPerSync,
      intervals: { id: `ci-${index}`, title: `ops/s with 95% intervals: ${title}`, rows },
      charts,
    };
  });
}

/** Every CDF chart of the report, in page order (see {@link sectionsOf}). */
export function chartsOf(files: { name: string; doc: BenchFile }[]): Chart[] {
  return sectionsOf(files).flatMap((s) => s.charts);
}
