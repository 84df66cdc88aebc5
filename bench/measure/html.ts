/**
 * The HTML report of `hardsync bench --html` and `hardsync compare --html`: one
 * self-contained file (no network, no external script). A sticky contents bar links to the
 * run's stability summary, the figures table (ops/s, p50 and p99 each with its 95% interval)
 * and one section per mode / size / writes per flush. Each section has an interval chart
 * (ops/s of every method: the point figure, its interval as a whisker, each round as a dot)
 * and latency CDF charts of at most {@link MAX_LINES} lines, methods grouped so lines can be
 * told apart, each chart with the page-cache baseline. The charts are drawn as SVG by an
 * inline script at the width of the page, so they stay legible on a phone.
 * @module
 */
import { caseKey, casesAcross, compareFiles, fileTitle } from './compare';
import { formatSize, formatUs } from './report';
import type { BenchFile, BenchResult, Estimate } from './schema';

/** The most lines a CDF chart has (the baseline included), so that each can be told apart. */
export const MAX_LINES = 6;

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
interface Interval {
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

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

function bucketKey(r: Pick<BenchResult, 'mode' | 'size' | 'writesPerSync'>): string {
  return `${r.mode}|${r.size}|${r.writesPerSync}`;
}

function perFlush(w: number): string {
  return `${w} write${w === 1 ? '' : 's'} per flush`;
}

function sectionTitle(r: BenchResult): { title: string; short: string } {
  const size = formatSize(r.size);
  return {
    title: `${r.mode}, ${size} writes${r.writesPerSync > 1 ? `, ${perFlush(r.writesPerSync)}` : ''}`,
    short: `${size} ${r.mode}${r.writesPerSync > 1 ? ` x${r.writesPerSync}` : ''}`,
  };
}

function hasFigures(r: BenchResult): boolean {
  return r.supported && r.latencyUs !== null && r.opsPerSec !== null;
}

function intervalOf(e: Estimate | undefined, point: number | null | undefined): Interval | null {
  if (e) return { value: e.value, low: e.low, high: e.high };
  if (point === null || point === undefined) return null;
  return { value: point, low: point, high: point };
}

function isUnstable(r: BenchResult): boolean {
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

/**
 * The figures compare's HTML shows against the first file: the structural part of
 * compare.ts's CompareReport that the report reads.
 */
export interface ComparisonView {
  noiseThreshold: number;
  alpha: number;
  warnings: string[];
  cases: {
    key: string;
    files: ({ against: { figure: string; ratio: number; low: number | null; high: number | null; verdict: 'faster' | 'slower' | 'same' | 'untested' }[] | null } | null)[];
  }[];
}

// Runs in the browser: draws every chart as an SVG at the width of its box (so text keeps its
// size on a phone), again when the width changes. Marks <body data-charts-drawn="N"> (CDF
// charts) and data-interval-charts-drawn="M" when done, which the headless-browser test reads.
const DRAW_SCRIPT = `
(function () {
  var data = JSON.parse(document.getElementById('hardsync-data').textContent);
  var NS = 'http://www.w3.org/2000/svg';
  function el(name, attrs, parent, text) {
    var node = document.createElementNS(NS, name);
    for (var k in attrs) node.setAttribute(k, attrs[k]);
    if (text !== undefined) node.textContent = text;
    if (parent) parent.appendChild(node);
    return node;
  }
  function num(v) {
    if (v >= 1e6) return +(v / 1e6).toPrecision(3) + 'M';
    if (v >= 1e4) return +(v / 1e3).toPrecision(3) + 'k';
    if (v >= 1) return String(+v.toPrecision(3));
    return String(+v.toPrecision(2));
  }
  function range(values) {
    var lo = Infinity, hi = 0;
    values.forEach(function (v) { if (v > 0 && isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); } });
    if (!(lo < Infinity)) return null;
    var d0 = Math.floor(Math.log10(lo)), d1 = Math.ceil(Math.log10(hi));
    if (d1 === d0) d1 = d0 + 1;
    var ticks = [], steps = d1 - d0 <= 2 ? [1, 2, 5] : [1];
    for (var d = d0; d <= d1; d++) steps.forEach(function (s) { var t = s * Math.pow(10, d); if (t <= Math.pow(10, d1) * 1.0001) ticks.push(t); });
    return { d0: d0, d1: d1, ticks: ticks };
  }
  function marker(svg, shape, x, y, color, filled, cls) {
    var r = 4, f = filled ? color : '#fff', a = { stroke: color, 'stroke-width': 1.5, fill: f, 'class': cls };
    var p;
    if (shape === 'circle') { a.cx = x; a.cy = y; a.r = r; return el('circle', a, svg); }
    if (shape === 'square') p = 'M' + (x - r) + ',' + (y - r) + 'h' + 2 * r + 'v' + 2 * r + 'h' + -2 * r + 'z';
    else if (shape === 'triangle') p = 'M' + x + ',' + (y - r - 1) + 'L' + (x + r + 1) + ',' + (y + r) + 'L' + (x - r - 1) + ',' + (y + r) + 'z';
    else if (shape === 'down') p = 'M' + x + ',' + (y + r + 1) + 'L' + (x + r + 1) + ',' + (y - r) + 'L' + (x - r - 1) + ',' + (y - r) + 'z';
    else if (shape === 'diamond') p = 'M' + x + ',' + (y - r - 1) + 'L' + (x + r + 1) + ',' + y + 'L' + x + ',' + (y + r + 1) + 'L' + (x - r - 1) + ',' + y + 'z';
    else if (shape === 'cross') { p = 'M' + (x - r) + ',' + (y - r) + 'L' + (x + r) + ',' + (y + r) + 'M' + (x - r) + ',' + (y + r) + 'L' + (x + r) + ',' + (y - r); a['stroke-width'] = 2.5; }
    else { p = 'M' + (x - r - 1) + ',' + y + 'H' + (x + r + 1) + 'M' + x + ',' + (y - r - 1) + 'V' + (y + r + 1); a['stroke-width'] = 2.5; }
    a.d = p;
    return el('path', a, svg);
  }
  function whisker(svg, x1, x2, y, color, width, cls, attrs) {
    var a = { x1: x1.toFixed(1), x2: x2.toFixed(1), y1: y, y2: y, stroke: color, 'stroke-width': width, 'class': cls };
    for (var k in attrs) a[k] = attrs[k];
    el('line', a, svg);
    el('line', { x1: x1.toFixed(1), x2: x1.toFixed(1), y1: y - 4, y2: y + 4, stroke: color, 'stroke-width': 1.5 }, svg);
    el('line', { x1: x2.toFixed(1), x2: x2.toFixed(1), y1: y - 4, y2: y + 4, stroke: color, 'stroke-width': 1.5 }, svg);
  }
  function svgIn(host, W, H, cls, label) {
    host.textContent = '';
    return el('svg', { viewBox: '0 0 ' + W + ' ' + H, width: '100%', 'class': cls, role: 'img', 'aria-label': label }, host);
  }
  function drawCdf(chart, host) {
    var W = Math.max(260, Math.floor(host.clientWidth)), narrow = W < 560;
    var H = narrow ? 250 : 300, L = 52, R = 14, T = 10, B = 38;
    var values = [];
    chart.series.forEach(function (s) {
      s.cdf.forEach(function (p) { values.push(p[1]); });
      [s.p50, s.p99].forEach(function (e) { if (e) { values.push(e.low, e.high); } });
    });
    var rg = range(values);
    if (!rg) return false;
    var svg = svgIn(host, W, H, 'cdf', chart.title);
    function X(us) { return L + (Math.log10(Math.max(us, Math.pow(10, rg.d0))) - rg.d0) / (rg.d1 - rg.d0) * (W - L - R); }
    // Percentile axis: equal room for 0-50, 50-90, 90-99, 99-99.9 and 99.9-99.99 (linear inside
    // each band), half a band for the rest up to the maximum.
    var BANDS = [0, 50, 90, 99, 99.9, 99.99, 100];
    function Y(p) {
      var q = BANDS.length - 1.5;
      for (var b = 0; b < BANDS.length - 1; b++) {
        if (p <= BANDS[b + 1]) { q = b + (p - BANDS[b]) / (BANDS[b + 1] - BANDS[b]) * (b === BANDS.length - 2 ? 0.5 : 1); break; }
      }
      return T + (1 - q / (BANDS.length - 1.5)) * (H - T - B);
    }
    rg.ticks.forEach(function (t) {
      var decade = Math.abs(Math.log10(t) - Math.round(Math.log10(t))) < 1e-9;
      el('line', { x1: X(t), x2: X(t), y1: T, y2: H - B, stroke: decade ? '#d4d4d4' : '#eee' }, svg);
      if (decade || !narrow) el('text', { x: Math.min(W - 14, X(t)), y: H - B + 15, 'text-anchor': 'middle', 'font-size': 11, fill: '#444' }, svg, num(t));
    });
    [0, 50, 90, 99, 99.9, 99.99].forEach(function (p) {
      el('line', { x1: L, x2: W - R, y1: Y(p), y2: Y(p), stroke: p === 50 || p === 99 ? '#ddd' : '#f0f0f0' }, svg);
      el('text', { x: L - 6, y: Y(p) + 4, 'text-anchor': 'end', 'font-size': 11, fill: '#444' }, svg, p + '%');
    });
    el('text', { x: (L + W - R) / 2, y: H - 6, 'text-anchor': 'middle', 'font-size': 11.5, fill: '#333' }, svg, 'latency per operation, \\u00b5s (log scale); top = max');
    var n = chart.series.length;
    chart.series.forEach(function (s, i) {
      var points = s.cdf.map(function (p) { return X(p[1]).toFixed(1) + ',' + Y(p[0]).toFixed(1); });
      el('polyline', { points: points.join(' '), fill: 'none', stroke: s.color, 'stroke-width': s.baseline ? 2 : 2.2,
        'stroke-dasharray': s.dash, 'class': 'series', 'data-baseline': s.baseline ? '1' : '0', 'data-method': s.method }, svg);
    });
    // p50 and p99 with their 95% intervals, a little apart per line so they do not hide each other.
    chart.series.forEach(function (s, i) {
      var dy = (i - (n - 1) / 2) * 3.5;
      [['p50', 50], ['p99', 99]].forEach(function (f) {
        var e = s[f[0]];
        if (!e) return;
        var y = Y(f[1]) + dy;
        if (e.high > e.low) whisker(svg, X(e.low), X(e.high), y, s.color, 2.5, 'ci ci-' + f[0], { 'data-value-x': X(e.value).toFixed(1), opacity: 0.75 });
        marker(svg, s.marker, X(e.value), y, s.color, s.durable && !s.baseline, 'mark');
      });
    });
    return true;
  }
  function drawIntervals(chart, host) {
    var W = Math.max(260, Math.floor(host.clientWidth)), narrow = W < 640;
    var LW = narrow ? 30 : Math.min(300, Math.round(W * 0.34)), R = 18, T = 6, axisH = 36;
    var compare = chart.rows.some(function (r) { return r.tag !== ''; });
    if (narrow && !compare) LW = 8;
    var values = [];
    chart.rows.forEach(function (r) { if (r.ops) values.push(r.ops.low, r.ops.high, r.ops.value); r.rounds.forEach(function (v) { values.push(v); }); });
    var rg = range(values);
    if (!rg) return false;
    var layout = [], y = T;
    chart.rows.forEach(function (r) {
      if (narrow && r.label !== '') { layout.push({ label: r.label, y: y + 12 }); y += 16; }
      else if (compare && r.label !== '') y += 4;
      layout.push({ row: r, y: y + 11 });
      y += narrow ? 22 : 22;
    });
    var H = y + axisH;
    var svg = svgIn(host, W, H, 'intervals', chart.title);
    function X(v) { return LW + (Math.log10(Math.max(v, Math.pow(10, rg.d0))) - rg.d0) / (rg.d1 - rg.d0) * (W - LW - R); }
    rg.ticks.forEach(function (t) {
      var decade = Math.abs(Math.log10(t) - Math.round(Math.log10(t))) < 1e-9;
      el('line', { x1: X(t), x2: X(t), y1: T, y2: H - axisH + 4, stroke: decade ? '#d4d4d4' : '#eee' }, svg);
      if (decade || !narrow) el('text', { x: Math.max(LW + 10, Math.min(W - 16, X(t))), y: H - axisH + 18, 'text-anchor': 'middle', 'font-size': 11, fill: '#444' }, svg, num(t));
    });
    el('text', { x: (LW + W - R) / 2, y: H - 5, 'text-anchor': 'middle', 'font-size': 11.5, fill: '#333' }, svg, 'operations per second (log scale)');
    layout.forEach(function (item) {
      if (item.label !== undefined) { el('text', { x: 2, y: item.y, 'font-size': 12, fill: '#222', 'font-weight': 600 }, svg, item.label); return; }
      var r = item.row, cy = item.y;
      var color = r.unstable ? '#b00020' : r.color;
      if (!narrow && r.label !== '') {
        el('text', { x: compare ? LW - 26 : LW - 10, y: cy + 4, 'text-anchor': 'end', 'font-size': 12, fill: '#222' }, svg, r.label);
      }
      if (compare) el('text', { x: LW - 8, y: cy + 4, 'text-anchor': 'end', 'font-size': 11, 'font-weight': 700, fill: r.color }, svg, r.tag);
      if (!r.ops) {
        el('text', { x: LW + 4, y: cy + 4, 'font-size': 11, fill: '#777', 'class': 'na' }, svg, 'n/a: ' + (r.na || ''));
        return;
      }
      if (r.ops.high > r.ops.low) whisker(svg, X(r.ops.low), X(r.ops.high), cy, color, 2, 'ci ci-ops', { 'data-value-x': X(r.ops.value).toFixed(1) });
      r.rounds.forEach(function (v) { el('circle', { cx: X(v).toFixed(1), cy: cy - 6, r: 2.2, fill: color, opacity: 0.55, 'class': 'round' }, svg); });
      var dot = marker(svg, 'circle', X(r.ops.value), cy, color, r.durable, 'point');
      dot.setAttribute('data-durable', r.durable ? '1' : '0');
      var notes = [num(r.ops.value)];
      if (!r.durable) notes.push('not durable');
      if (r.unstable) notes.push('unstable');
      var right = X(r.ops.high) + 8, anchor = 'start', text = notes.join(', ');
      if (right + text.length * 5.6 > W) { right = X(r.ops.low) - 8; anchor = 'end'; }
      el('text', { x: right, y: cy + 4, 'text-anchor': anchor, 'font-size': 10.5, fill: r.unstable ? '#b00020' : '#555', 'class': 'row-note' }, svg, text);
    });
    return true;
  }
  var lastWidth = -1;
  function drawAll() {
    var width = document.documentElement.clientWidth;
    if (width === lastWidth) return;
    lastWidth = width;
    var cdfs = 0, intervals = 0;
    data.charts.forEach(function (chart) { if (drawCdf(chart, document.getElementById(chart.id))) cdfs++; });
    data.intervals.forEach(function (chart) { if (drawIntervals(chart, document.getElementById(chart.id))) intervals++; });
    document.body.setAttribute('data-charts-drawn', String(cdfs));
    document.body.setAttribute('data-interval-charts-drawn', String(intervals));
  }
  drawAll();
  var pending = null;
  window.addEventListener('resize', function () { clearTimeout(pending); pending = setTimeout(drawAll, 100); });
})();
`;

const OPS_DIGITS = 3;

/** ops/s to three significant digits (k above 10000): the interval makes more digits noise. */
function formatOps(v: number): string {
  if (v >= 1e6) return `${Number((v / 1e6).toPrecision(OPS_DIGITS))}M`;
  if (v >= 1e4) return `${Number((v / 1e3).toPrecision(OPS_DIGITS))}k`;
  if (v >= 100) return v.toFixed(0);
  return String(Number(v.toPrecision(OPS_DIGITS)));
}

/** A figure and its interval as the table shows it: "412 [398–431]". */
export function formatInterval(e: { value: number; low: number; high: number }, format: (v: number) => string): string {
  return `${format(e.value)} [${format(e.low)}\u2013${format(e.high)}]`;
}

function figureCell(e: Estimate | undefined, point: number | null | undefined, format: (v: number) => string, cls = ''): string {
  if (point === null || point === undefined) return `<td class="n${cls}"></td>`;
  if (!e) return `<td class="n${cls}">${escapeHtml(format(point))}</td>`;
  const wide = e.halfWidthPct > 10 ? ' wide' : '';
  return `<td class="n${cls}${wide}"><span class="v">${escapeHtml(format(e.value))}</span> <span class="ci">[${escapeHtml(format(e.low))}\u2013${escapeHtml(format(e.high))}]</span></td>`;
}

/** A small bar of the ops/s interval's half-width, its 10% limit marked (what makes a case unstable). */
function spreadCell(e: Estimate | undefined, limitPct: number): string {
  if (!e) return '<td class="n"></td>';
  const full = 40;
  const scale = 30 / (2 * limitPct);
  const w = Math.min(full, Math.max(1, e.halfWidthPct * scale));
  const over = e.halfWidthPct > limitPct;
  return `<td class="n spread"><svg class="bar" viewBox="0 0 ${full} 10" width="${full}" height="10" aria-hidden="true"><rect x="0" y="2" width="${w.toFixed(1)}" height="6" fill="${over ? '#b00020' : '#0072B2'}"/><line x1="${(limitPct * scale).toFixed(1)}" x2="${(limitPct * scale).toFixed(1)}" y1="0" y2="10" stroke="#333"/></svg> \u00b1${e.halfWidthPct.toFixed(e.halfWidthPct < 10 ? 1 : 0)}%</td>`;
}

function durableCell(r: BenchResult, osName: string): string {
  const portable = r.durablePortable;
  if (!r.durable) {
    const extra = portable === true ? ` (durable on other OSes; not on ${osName})` : '';
    return `<td class="dur no"><span class="tag nd">not durable</span>${escapeHtml(extra)}</td>`;
  }
  if (portable === false) return `<td class="dur">yes on ${escapeHtml(osName)}<span class="fine">, not on every OS</span></td>`;
  return '<td class="dur">yes</td>';
}

function stabilityCell(r: BenchResult): string {
  if (!hasFigures(r)) return `<td class="why">n/a: ${escapeHtml(r.reason ?? 'no figures')}</td>`;
  if (!r.stability) return '<td class="why"></td>';
  if (!r.stability.unstable) return '<td class="why">stable</td>';
  return `<td class="why"><span class="tag un">unstable</span> ${escapeHtml(r.stability.reasons.join('; '))}</td>`;
}

const VERDICT_LABEL: Record<string, string> = { faster: 'faster', slower: 'slower', same: 'no significant difference', untested: 'untested' };

function verdictLine(c: { ratio: number; low: number | null; high: number | null; verdict: string } | undefined): string {
  if (!c) return '';
  const interval = c.low !== null && c.high !== null ? ` [${c.low.toFixed(2)}\u2013${c.high.toFixed(2)}]` : '';
  const ratio = c.verdict === 'same' ? `~${interval}` : `${c.ratio.toFixed(2)}\u00d7${interval}`;
  return `<br><span class="vs ${escapeHtml(c.verdict)}">${escapeHtml(ratio)} <b>${escapeHtml(VERDICT_LABEL[c.verdict] ?? c.verdict)}</b></span>`;
}

function tableRows(files: { name: string; doc: BenchFile }[], comparison: ComparisonView | null): { head: string[]; rows: string[] } {
  const single = files.length === 1;
  const limitPct = files[0].doc.stability?.limitPct ?? 10;
  const head = [
    'method', 'mode', 'size', 'w/flush', ...(single ? [] : ['file']), 'ops/s [95% interval]', 'ops/s \u00b1', 'p50 \u00b5s [95%]', 'p99 \u00b5s [95%]',
    'durable', 'stability', 'p99.9 \u00b5s', 'max \u00b5s', 'MB/s', 'rounds',
  ];
  const against = new Map<string, ComparisonView['cases'][number]>();
  for (const c of comparison?.cases ?? []) against.set(c.key, c);
  const { order, byKey } = casesAcross(files);
  const rows: string[] = [];
  order.forEach((key, caseIndex) => {
    const perFile = byKey.get(key) as (BenchResult | undefined)[];
    perFile.forEach((r, f) => {
      if (!r) return;
      const osName = files[f].doc.env.os?.type ?? 'this OS';
      const vs = comparison ? against.get(key)?.files[f]?.against ?? null : null;
      const verdictOf = (figure: string): string => verdictLine(vs?.find((c) => c.figure === figure));
      const l = r.latencyUs;
      const classes = [caseIndex % 2 ? 'odd' : '', isUnstable(r) ? 'unstable' : '', r.durable ? '' : 'nd', hasFigures(r) ? '' : 'na'].filter(Boolean).join(' ');
      // With several files the case's cells span its rows, one row per file.
      const span = perFile.filter((x) => x !== undefined).length;
      const firstOfCase = perFile.findIndex((x) => x !== undefined) === f;
      const rowspan = span > 1 ? ` rowspan="${span}"` : '';
      const cells = firstOfCase ? [
        `<td class="m"${rowspan}>${escapeHtml(r.label ?? r.method)}</td>`,
        `<td${rowspan}>${escapeHtml(r.mode)}</td>`,
        `<td class="n"${rowspan}>${escapeHtml(formatSize(r.size))}</td>`,
        `<td class="n"${rowspan}>${escapeHtml(String(r.writesPerSync))}</td>`,
      ] : [];
      if (!single) cells.push(`<td class="file"><b style="color:${LINE_COLORS[f % LINE_COLORS.length]}">${f + 1}</b> ${escapeHtml(fileTitle(files[f].name, files[f].doc))}</td>`);
      if (hasFigures(r) && l) {
        cells.push(
          figureCell(r.estimates?.opsPerSec, r.opsPerSec, formatOps).replace(/<\/td>$/, `${verdictOf('opsPerSec')}</td>`),
          spreadCell(r.estimates?.opsPerSec, limitPct),
          figureCell(r.estimates?.p50, l.p50, formatUs).replace(/<\/td>$/, `${verdictOf('p50')}</td>`),
          figureCell(r.estimates?.p99, l.p99, formatUs).replace(/<\/td>$/, `${verdictOf('p99')}</td>`),
          durableCell(r, osName), stabilityCell(r),
          `<td class="n">${escapeHtml(formatUs(l.p999))}</td>`,
          `<td class="n">${escapeHtml(formatUs(l.max))}</td>`,
          `<td class="n">${escapeHtml((r.mbPerSec ?? 0).toFixed(1))}</td>`,
          `<td class="n">${r.estimates ? escapeHtml(String(r.rounds ?? r.estimates.opsPerSec.rounds.length)) : ''}</td>`,
        );
      } else {
        cells.push('<td class="n">n/a</td>', ...new Array(3).fill('<td></td>'), durableCell(r, osName), stabilityCell(r), ...new Array(4).fill('<td></td>'));
      }
      rows.push(`<tr class="${classes}">${cells.join('')}</tr>`);
    });
  });
  return { head, rows };
}

function fmtPct(v: number | null | undefined): string {
  return v === null || v === undefined ? '?' : `${v.toFixed(1)}%`;
}

function stabilityHtml(name: string, doc: BenchFile, several: boolean): string {
  const s = doc.stability;
  const who = several ? `<b>${escapeHtml(name)}</b>: ` : '';
  if (!s) return `<p>${who}no stability figures (a ${escapeHtml(doc.schema)} file: one figure per case, no intervals).</p>`;
  const head = `${who}<b>${s.unstableCases} of ${s.cases}</b> case${s.cases === 1 ? '' : 's'} unstable (a 95% interval wider than \u00b1${s.limitPct}% of its figure, or rounds whose ops/s differ more than ${s.roundsRatioLimit}\u00d7).`;
  const parts = [`<p class="${s.unstableCases > 0 ? 'warn' : 'ok'}">${head}</p>`];
  if (s.causes.length > 0) parts.push(`<p>Likely causes measured during the run:</p><ul>${s.causes.map((c) => `<li>${escapeHtml(c)}</li>`).join('')}</ul>`);
  const c = s.conditions;
  if (c) {
    const facts = [
      c.loadAverage ? `load average ${c.loadAverage[0]} \u2192 ${c.loadAverage[1]} on ${c.cpus} CPUs` : null,
      c.otherCpuPct !== null ? `other processes' CPU ${fmtPct(c.otherCpuPct)}` : null,
      c.stealPct !== null ? `CPU steal ${fmtPct(c.stealPct)}` : null,
      c.device ? `other writes on ${c.device.name}: ${(c.device.otherWriteBytes / 1e6).toFixed(1)} MB` : null,
    ].filter((x): x is string => x !== null);
    if (facts.length > 0) parts.push(`<p class="note">During the run: ${escapeHtml(facts.join('; '))}.</p>`);
  }
  if (s.untilStable) {
    const u = s.untilStable;
    parts.push(`<p>--until-stable added ${u.addedRounds} round${u.addedRounds === 1 ? '' : 's'}${u.budgetSpent ? ' and spent its time budget' : ''}; ${u.stillUnstable.length === 0 ? 'every case ended stable.' : `still unstable: ${escapeHtml(u.stillUnstable.join(', '))}.`}</p>`);
  }
  return parts.join('\n');
}

function settingsText(doc: BenchFile): string {
  const s = doc.settings;
  if (!s) return `${doc.schema}: ${doc.env.command}`;
  const choice = [s.methods ? `methods ${s.methods.join(',')}` : '', s.sizes ? `sizes ${s.sizes.map(formatSize).join(',')}` : '', s.modes ? `modes ${s.modes.join(',')}` : '',
    s.writesPerSync ? `writes per flush ${s.writesPerSync.join(',')}` : ''].filter(Boolean).join(', ');
  return `${s.quick ? '--quick, ' : ''}${s.rounds} rounds per case, ${s.secondsPerCase} s per case, ${s.threads} thread${s.threads === 1 ? '' : 's'}, ${s.js ? 'JavaScript loop (--js)' : 'native loop'}, ${choice || 'the default suite'}${s.untilStable ? `, --until-stable${s.maxDurationSeconds !== null ? ` (--max-duration ${s.maxDurationSeconds} s)` : ''}` : ''}`;
}

function envHtml(name: string, doc: BenchFile, index: number, several: boolean): string {
  const e = doc.env;
  const fsText = `${e.filesystem.type ?? '?'} on ${e.filesystem.mountPoint ?? '?'}${e.filesystem.mountOptions ? ` (mount options: ${e.filesystem.mountOptions})` : ''}`;
  const device = e.device.name ? `device ${e.device.name}${e.device.model ? ` (${e.device.model})` : ''}: write cache ${e.device.writeCache ?? '?'}, FUA ${e.device.fua ?? '?'}, rotational ${e.device.rotational ?? '?'}` : 'device unknown';
  const emulated = e.emulation ? `<br><b>EMULATED</b> by ${escapeHtml(`${e.emulation.by} ${e.emulation.version}: ${e.emulation.note}`)}` : '';
  const tag = several ? `<b style="color:${LINE_COLORS[index % LINE_COLORS.length]}">${index + 1}</b> ` : '';
  return `<li>${tag}<b>${escapeHtml(fileTitle(name, doc))}</b>: ${escapeHtml(`${e.os.type} ${e.os.release} ${e.os.arch}, ${e.cpu.model} x${e.cpu.cores}, Node ${e.node}; ${fsText}; ${device}; ${e.startedAt}, ${e.seconds} s`)}<br><span class="note">${escapeHtml(settingsText(doc))}</span>${emulated}</li>`;
}

function swatch(s: Series): string {
  const shape: Record<string, string> = {
    circle: '<circle cx="17" cy="6" r="3.5"', square: '<rect x="13.5" y="2.5" width="7" height="7"', triangle: '<path d="M17,1.5L21.5,10H12.5z"',
    down: '<path d="M17,10.5L21.5,2H12.5z"', diamond: '<path d="M17,1.5L21.5,6L17,10.5L12.5,6z"', cross: '<path d="M13.5,2.5L20.5,9.5M13.5,9.5L20.5,2.5" stroke-width="2.2"',
    plus: '<path d="M12.5,6H21.5M17,1.5V10.5" stroke-width="2.2"',
  };
  const fill = s.durable && !s.baseline ? s.color : '#fff';
  return `<svg class="sw" viewBox="0 0 34 12" width="34" height="12" aria-hidden="true"><line x1="0" x2="34" y1="6" y2="6" stroke="${s.color}" stroke-width="2.2" stroke-dasharray="${s.dash}"/>${shape[s.marker]} fill="${fill}" stroke="${s.color}" stroke-width="1.5"/></svg>`;
}

function legendHtml(chart: Chart, files: { name: string; doc: BenchFile }[]): string {
  return `<ul class="legend">${chart.series.map((s) => {
    const osName = files[s.file]?.doc.env.os?.type ?? 'this OS';
    const notes: string[] = [];
    if (!s.durable && !s.baseline) notes.push('<span class="tag nd">not durable</span>');
    if (s.durable && s.durablePortable === false) notes.push(`<span class="fine">durable on ${escapeHtml(osName)}, not on every OS</span>`);
    if (s.unstable) notes.push('<span class="tag un">unstable</span>');
    return `<li>${swatch(s)} ${escapeHtml(s.name)}${notes.length ? ` ${notes.join(' ')}` : ''}</li>`;
  }).join('')}</ul>`;
}

/**
 * Renders the self-contained HTML report of one result file (bench) or several (compare: the
 * first is the baseline). With several, the table shows compare's verdict per figure (ratio to
 * file 1, its interval, faster / slower / no significant difference): from `comparison` when
 * given (null: none), else from compareFiles() with its default noise threshold.
 */
export function renderHtml(files: { name: string; doc: BenchFile }[], comparison?: ComparisonView | null): string {
  if (comparison === undefined) comparison = files.length > 1 ? compareFiles(files) : null;
  const sections = sectionsOf(files);
  const charts = sections.flatMap((s) => s.charts);
  const payload = JSON.stringify({ charts, intervals: sections.map((s) => s.intervals) }).replace(/</g, '\\u003c');
  const several = files.length > 1;
  const env = files[0].doc.env;
  const title = several ? `hardsync compare: ${files.length} runs` : `hardsync bench: ${env.directory}`;
  const warnings = [
    ...(comparison?.warnings ?? []),
    ...files.flatMap(({ doc }, f) => (doc.warnings ?? []).map((w) => `${several ? `file ${f + 1}: ` : ''}${w.message}`)),
  ].map((w) => `<p class="warn">${escapeHtml(w)}</p>`);
  const { head, rows } = tableRows(files, comparison);
  const nav = [
    '<a href="#summary">summary</a>', '<a href="#figures"><b>figures table</b></a>',
    ...sections.map((s) => `<a href="#${s.id}">${escapeHtml(s.short)}</a>`),
  ];
  const sectionHtml = sections.map((s) => `<section id="${s.id}">
<h2>${escapeHtml(s.title)} <a class="up" href="#figures">table \u2191</a></h2>
<figure class="chart intervals-box"><figcaption>ops/s of each method: <span class="fine">dot = the figure (hollow: not durable), bar = its 95% interval, small dots above = each round's figure; red = unstable${several ? '; numbers = files' : ''}</span></figcaption><div id="${s.intervals.id}" class="host"></div></figure>
<div class="grid">
${s.charts.map((c) => `<figure class="chart"><figcaption>${escapeHtml(several ? c.title : `${s.title}: ${c.title}`)}</figcaption><div id="${c.id}" class="host"></div>${legendHtml(c, files)}</figure>`).join('\n')}
</div>
</section>`);
  const readHow = several
    ? `Ratios are to file 1. A verdict is given per figure: <b>faster</b> or <b>slower</b> only when the difference is significant${comparison ? ` (rank test at ${comparison.alpha}, the ratio's 95% interval excluding 1, and beyond the ${Math.round(comparison.noiseThreshold * 100)}% noise threshold)` : ''}; otherwise "~" and the interval of the ratio: noise, not a difference.`
    : 'Each figure is shown with its 95% interval [low\u2013high]; "\u00b1" is the interval\'s half-width as a share of the figure, the tick on its bar the limit above which a case is unstable.';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)}</title>
<style>
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%;scroll-padding-top:48px}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#222;background:#fff;overflow-wrap:anywhere}
main{max-width:1240px;margin:0 auto;padding:0 16px 48px}
nav.toc{position:sticky;top:0;z-index:5;background:rgba(255,255,255,.96);border-bottom:1px solid #ddd;font-size:13px}
nav.toc div{max-width:1240px;margin:0 auto;padding:7px 16px;display:flex;gap:4px 16px;overflow-x:auto;white-space:nowrap}
nav.toc a{color:#0b5394;text-decoration:none}nav.toc a:hover{text-decoration:underline}
h1{font-size:20px;margin:16px 0 6px}h2{font-size:16px;margin:30px 0 8px;border-top:1px solid #e5e5e5;padding-top:14px}
h2 a.up{font-size:12px;font-weight:normal;margin-left:10px;color:#0b5394}
.note{color:#555}.fine{color:#666;font-size:12px}
.warn{background:#fff3cd;padding:8px 10px;border-left:4px solid #e0a800;margin:8px 0}
.ok{background:#e8f5e9;padding:8px 10px;border-left:4px solid #2e7d32;margin:8px 0}
ul.env{padding-left:18px}ul.env li{margin-bottom:6px}
.tag{display:inline-block;font-size:11px;padding:0 5px;border-radius:3px;line-height:16px;white-space:nowrap}
.tag.nd{background:#eee;color:#333;border:1px dashed #777}.tag.un{background:#b00020;color:#fff}
.scroll{overflow-x:auto;max-width:100%;border:1px solid #e3e3e3;max-height:80vh;overflow-y:auto}
table{border-collapse:separate;border-spacing:0;font-size:12.5px}
th,td{padding:3px 8px;border-bottom:1px solid #eee;text-align:left;white-space:nowrap;background:#fff;vertical-align:top}
th{position:sticky;top:0;background:#f6f6f6;z-index:2;font-weight:600}
tr.odd td{background:#fafafa}
td.m,th:first-child{position:sticky;left:0;z-index:1}th:first-child{z-index:3}
td.file{font-size:11.5px}
td.n{text-align:right;font-variant-numeric:tabular-nums}td .ci{color:#666}td.wide .ci{color:#b00020;font-weight:600}
tr.unstable td:first-child{box-shadow:inset 4px 0 #b00020}tr.nd td.m{font-style:italic}
tr.na td{color:#888}td.why{white-space:normal;min-width:480px;max-width:720px;font-size:12px}
td.dur.no{color:#555}svg.bar{vertical-align:middle}
.vs{font-size:11px;color:#555}.vs.faster b{color:#1b7f3b}.vs.slower b{color:#b00020}.vs.same b{color:#666;font-weight:normal}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(100%,540px),1fr));gap:18px 24px}
figure.chart{margin:0;min-width:0}figcaption{font-weight:600;font-size:13px;margin-bottom:2px}
.host{width:100%;min-width:0}.host svg{display:block;width:100%;height:auto}
.intervals-box{margin-bottom:14px}
ul.legend{list-style:none;padding:0;margin:4px 0 0;display:flex;flex-wrap:wrap;gap:2px 16px;font-size:12px}
ul.legend li{overflow-wrap:normal}svg.sw{vertical-align:middle;margin-right:3px}
</style></head>
<body>
<nav class="toc" aria-label="contents"><div>${nav.join('\n')}</div></nav>
<main>
<h1>${escapeHtml(title)}</h1>
<ul class="env">${files.map(({ name, doc }, i) => envHtml(name, doc, i, several)).join('\n')}</ul>
<section id="summary">
<h2>How sure are these figures</h2>
${files.map(({ name, doc }) => stabilityHtml(fileTitle(name, doc), doc, several)).join('\n')}
${warnings.join('\n')}
</section>
<section id="figures">
<h2>Figures</h2>
<p class="note">${readHow} Latencies in \u00b5s. <span class="tag nd">not durable</span>: the method does not make data durable on the OS where it ran (dashed in the charts); the page-cache write (dotted grey) is the baseline a flush is measured against. <span class="tag un">unstable</span>: do not trust the figure without rerunning.</p>
<div class="scroll"><table><thead><tr>${head.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead>
<tbody>
${rows.join('\n')}
</tbody></table></div>
</section>
${sectionHtml.join('\n')}
</main>
<script type="application/json" id="hardsync-data">${payload}</script>
<script>${DRAW_SCRIPT}</script>
</body></html>
`;
}
