/**
 * The script of the HTML report that draws its charts in the browser (no library, no network):
 * latency CDFs on a log axis with p50 and p99 and their intervals clipped to the range of
 * operations measured, and the ops/s interval charts.
 * @module
 */


// Runs in the browser: draws every chart as an SVG at the width of its box (so text keeps its
// size on a phone), again when the width changes. Marks <body data-charts-drawn="N"> (CDF
// charts) and data-interval-charts-drawn="M" when done, which the headless-browser test reads.
export const DRAW_SCRIPT = `
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
  // An interval of a percentile never reaches beyond the fastest or slowest operation measured.
  function clip(s, v) { return s.range ? Math.min(s.range[1], Math.max(s.range[0], v)) : v; }
  function drawCdf(chart, host) {
    var W = Math.max(260, Math.floor(host.clientWidth)), narrow = W < 560;
    var H = narrow ? 250 : 300, L = 52, R = 14, T = 10, B = 38;
    var values = [];
    chart.series.forEach(function (s) {
      s.cdf.forEach(function (p) { values.push(p[1]); });
      [s.p50, s.p99].forEach(function (e) { if (e) { values.push(clip(s, e.low), clip(s, e.high)); } });
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
        var lo = clip(s, e.low), hi = clip(s, e.high);
        if (hi > lo) whisker(svg, X(lo), X(hi), y, s.color, 2.5, 'ci ci-' + f[0], { 'data-value-x': X(e.value).toFixed(1), opacity: 0.75 });
        marker(svg, s.marker, X(e.value), y, s.color, s.durable && !s.baseline, 'mark');
        // Each line is numbered at its p50, as in the legend below the chart.
        if (f[0] === 'p50') el('text', { x: X(e.value) + 7, y: y - 5, 'font-size': 11, 'font-weight': 700, fill: s.color, 'class': 'line-label' }, svg, String(i + 1));
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
