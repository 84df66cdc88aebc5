/**
 * The HTML report: one self-contained file (no network, no external script) with a latency
 * CDF per mode and size, every method's line (the page-cache baseline among them) drawn as
 * SVG by an inline script, and the figures as a table.
 * @module
 */
import { caseKey, fileTitle } from './compare';
import { formatSize, formatUs } from './report';
import type { BenchFile } from './schema';

interface Series {
  name: string;
  durable: boolean;
  cdf: [number, number][];
}

interface Chart {
  title: string;
  series: Series[];
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

/** The charts: with one file, one per mode/size/writes-per-sync with a line per method; with several, one per case with a line per file. */
export function chartsOf(files: { name: string; doc: BenchFile }[]): Chart[] {
  const charts = new Map<string, Chart>();
  const single = files.length === 1;
  for (const { name, doc } of files) {
    for (const r of doc.results) {
      if (!r.supported || !r.cdf || r.cdf.length === 0) continue;
      const key = single ? `${r.mode}|${r.size}|${r.writesPerSync}` : caseKey(r);
      const title = single
        ? `${r.mode}, ${formatSize(r.size)} writes${r.writesPerSync > 1 ? `, ${r.writesPerSync} per flush` : ''}`
        : `${r.label}, ${r.mode}, ${formatSize(r.size)}${r.writesPerSync > 1 ? ` x${r.writesPerSync}` : ''}`;
      if (!charts.has(key)) charts.set(key, { title, series: [] });
      (charts.get(key) as Chart).series.push({ name: single ? r.label : fileTitle(name, doc), durable: r.durable, cdf: r.cdf });
    }
  }
  return [...charts.values()];
}

// Runs in the browser: draws each chart as an SVG with a logarithmic latency axis. It marks
// <body data-charts-drawn="N"> when done, which the headless-browser test reads.
const DRAW_SCRIPT = `
(function () {
  var data = JSON.parse(document.getElementById('hardsync-data').textContent);
  var NS = 'http://www.w3.org/2000/svg';
  var colors = ['#1f77b4','#d62728','#2ca02c','#ff7f0e','#9467bd','#8c564b','#e377c2','#7f7f7f','#bcbd22','#17becf','#393b79','#ad494a','#637939','#8c6d31','#7b4173','#3182bd','#e6550d'];
  function el(name, attrs, parent) {
    var node = document.createElementNS(NS, name);
    for (var k in attrs) node.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(node);
    return node;
  }
  var drawn = 0;
  data.charts.forEach(function (chart, index) {
    var W = 900, H = 320, L = 60, R = 330, T = 16, B = 40;
    var host = document.getElementById('chart-' + index);
    var svg = el('svg', { width: W, height: H, viewBox: '0 0 ' + W + ' ' + H, 'class': 'cdf', role: 'img' }, host);
    var lo = Infinity, hi = 0;
    chart.series.forEach(function (s) { s.cdf.forEach(function (p) { if (p[1] > 0) { lo = Math.min(lo, p[1]); hi = Math.max(hi, p[1]); } }); });
    if (!(lo < Infinity)) return;
    var x0 = Math.floor(Math.log10(lo)), x1 = Math.ceil(Math.log10(hi));
    if (x1 === x0) x1 = x0 + 1;
    function X(us) { return L + (Math.log10(Math.max(us, Math.pow(10, x0))) - x0) / (x1 - x0) * (W - L - R); }
    // Percentile axis: equal room for 0-90, 90-99, 99-99.9 and 99.9-99.99, where tails show.
    var TOP = 4.3;
    function Y(p) {
      var q = p >= 100 ? TOP : Math.min(TOP, -Math.log10(1 - p / 100));
      return T + (1 - q / TOP) * (H - T - B);
    }
    for (var d = x0; d <= x1; d++) {
      el('line', { x1: X(Math.pow(10, d)), x2: X(Math.pow(10, d)), y1: T, y2: H - B, stroke: '#ddd' }, svg);
      var label = el('text', { x: X(Math.pow(10, d)), y: H - B + 16, 'text-anchor': 'middle', 'font-size': 11 }, svg);
      label.textContent = Math.pow(10, d) >= 1 ? String(Math.pow(10, d)) : Math.pow(10, d).toPrecision(1);
    }
    [0, 50, 90, 99, 99.9, 99.99].forEach(function (p) {
      el('line', { x1: L, x2: W - R, y1: Y(p), y2: Y(p), stroke: '#eee' }, svg);
      var t = el('text', { x: L - 6, y: Y(p) + 4, 'text-anchor': 'end', 'font-size': 11 }, svg);
      t.textContent = p + '%';
    });
    var axis = el('text', { x: (L + W - R) / 2, y: H - 6, 'text-anchor': 'middle', 'font-size': 12 }, svg);
    axis.textContent = 'latency per operation (microseconds, log scale); top = max';
    chart.series.forEach(function (s, i) {
      var color = colors[i % colors.length];
      var points = s.cdf.map(function (p) { return X(p[1]).toFixed(1) + ',' + Y(p[0]).toFixed(1); });
      el('polyline', { points: points.join(' '), fill: 'none', stroke: color, 'stroke-width': 2,
        'stroke-dasharray': s.durable ? '' : '5,3', 'class': 'series' }, svg);
      el('rect', { x: W - R + 12, y: T + i * 16, width: 12, height: 3, fill: color }, svg);
      var name = el('text', { x: W - R + 30, y: T + i * 16 + 5, 'font-size': 11 }, svg);
      name.textContent = s.name + (s.durable ? '' : ' (not durable)');
    });
    drawn++;
  });
  document.body.setAttribute('data-charts-drawn', String(drawn));
})();
`;

/** Renders the self-contained HTML report of one or more result files. */
export function renderHtml(files: { name: string; doc: BenchFile }[]): string {
  const charts = chartsOf(files);
  const payload = JSON.stringify({ charts }).replace(/</g, '\\u003c');
  const first = files[0].doc;
  const env = first.env;
  const title = files.length === 1 ? `hardsync bench: ${env.directory}` : `hardsync compare: ${files.length} runs`;
  const envLines = files.map(({ name, doc }) => {
    const e = doc.env;
    return `<li><b>${escapeHtml(fileTitle(name, doc))}</b>: ${escapeHtml(`${e.os.type} ${e.os.release} ${e.os.arch}, ${e.cpu.model} x${e.cpu.cores}, Node ${e.node}, ${e.filesystem.type ?? '?'} on ${e.filesystem.mountPoint ?? '?'} (${e.filesystem.mountOptions ?? '?'}), device ${e.device.name ?? '?'} cache ${e.device.writeCache ?? '?'} FUA ${e.device.fua ?? '?'} rotational ${e.device.rotational ?? '?'}`)}</li>`;
  });
  const tableRows = files.flatMap(({ name, doc }) =>
    doc.results.map((r) => {
      const l = r.latencyUs;
      const cells = [files.length > 1 ? fileTitle(name, doc) : null, r.label, r.mode, formatSize(r.size), String(r.writesPerSync)]
        .filter((c) => c !== null) as string[];
      const figures = r.supported && l
        ? [String((r.opsPerSec ?? 0).toFixed(0)), formatUs(r.usPerOp ?? 0), formatUs(l.p50), formatUs(l.p99), formatUs(l.p999), formatUs(l.max), (r.mbPerSec ?? 0).toFixed(1)]
        : ['n/a', '', '', '', '', '', ''];
      return `<tr>${cells.map((c) => `<td>${escapeHtml(c)}</td>`).join('')}${figures.map((c) => `<td class="n">${c}</td>`).join('')}</tr>`;
    }),
  );
  const headCells = [...(files.length > 1 ? ['run'] : []), 'method', 'mode', 'size', 'w/sync', 'ops/s', 'us/op', 'p50', 'p99', 'p99.9', 'max', 'MB/s'];
  const warnings = files.flatMap(({ doc }) => doc.warnings ?? []).map((w) => `<p class="warn">${escapeHtml(w.message)}</p>`);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>
body{font:14px system-ui,sans-serif;margin:24px;max-width:1100px;color:#222}
h2{font-size:16px;margin:28px 0 4px}
table{border-collapse:collapse;font-size:12px}td,th{padding:2px 8px;border-bottom:1px solid #eee;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}.warn{background:#fff3cd;padding:8px;border-left:4px solid #e0a800}
.note{color:#666}
</style></head>
<body>
<h1>${escapeHtml(title)}</h1>
<ul>${envLines.join('\n')}</ul>
<p class="note">Latency distribution (CDF) of each operation. Dashed lines are not durable: the page-cache write is the baseline a flush is measured against.</p>
${warnings.join('\n')}
${charts.map((c, i) => `<h2>${escapeHtml(c.title)}</h2>\n<div id="chart-${i}"></div>`).join('\n')}
<h2>Figures</h2>
<table><tr>${headCells.map((h) => `<th>${h}</th>`).join('')}</tr>
${tableRows.join('\n')}
</table>
<script type="application/json" id="hardsync-data">${payload}</script>
<script>${DRAW_SCRIPT}</script>
</body></html>
`;
}
