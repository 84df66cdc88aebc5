/**
 * The HTML report of `hardsync bench --html` and `hardsync compare --html`: one self-contained
 * file (no network, no external script). The answer first (the summary: what a durable write
 * costs here against a page-cache write, the cheapest durable method, the ranking), then how
 * sure the figures are, the figures table (html-table.ts: it fits a wide screen, and becomes
 * cards on a phone), and one section per mode / size / writes per flush with its charts
 * (html-charts.ts builds them, html-draw.ts draws them in the browser at the page's width).
 * @module
 */
import { compareFiles, fileTitle } from './compare';
import { DRAW_SCRIPT } from './html-draw';
import { escapeHtml, LINE_COLORS, sectionsOf, type Chart, type Series } from './html-charts';
import { tableRows, type ComparisonView } from './html-table';
import { formatSize } from './report';
import type { BenchFile } from './schema';
import { summaryLines, summaryOf } from './summary';

export { BASELINE_COLOR, BASELINE_DASH, chartsOf, LINE_COLORS, MAX_LINES, NOT_DURABLE_DASH, sectionsOf } from './html-charts';
export type { Chart, IntervalChart, IntervalRow, Section, Series } from './html-charts';
export { formatInterval, type ComparisonView } from './html-table';

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

/** Text with a break opportunity after each comma (mount options are one long word otherwise). */
function breakable(text: string): string {
  return escapeHtml(text).replace(/,/g, ',<wbr>');
}

function envHtml(name: string, doc: BenchFile, index: number, several: boolean): string {
  const e = doc.env;
  const fsText = `${e.filesystem.type ?? '?'} on ${e.filesystem.mountPoint ?? '?'}${e.filesystem.mountOptions ? ` (mount options: ${e.filesystem.mountOptions})` : ''}`;
  const device = e.device.name ? `device ${e.device.name}${e.device.model ? ` (${e.device.model})` : ''}: write cache ${e.device.writeCache ?? '?'}, FUA ${e.device.fua ?? '?'}, rotational ${e.device.rotational ?? '?'}` : 'device unknown';
  const emulated = e.emulation ? `<br><b>EMULATED</b> by ${escapeHtml(`${e.emulation.by} ${e.emulation.version}: ${e.emulation.note}`)}` : '';
  const tag = several ? `<b style="color:${LINE_COLORS[index % LINE_COLORS.length]}">${index + 1}</b> ` : '';
  return `<li>${tag}<b>${escapeHtml(fileTitle(name, doc))}</b>: ${breakable(`${e.os.type} ${e.os.release} ${e.os.arch}, ${e.cpu.model} x${e.cpu.cores}, Node ${e.node}; ${fsText}; ${device}; ${e.startedAt}, ${e.seconds} s`)}<br><span class="note">${escapeHtml(settingsText(doc))}</span>${emulated}</li>`;
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
  return `<ul class="legend">${chart.series.map((s, i) => {
    const osName = files[s.file]?.doc.env.os?.type ?? 'this OS';
    const notes: string[] = [];
    if (!s.durable && !s.baseline) notes.push('<span class="tag nd">not durable</span>');
    if (s.durable && s.durablePortable === false) notes.push(`<span class="fine">durable on ${escapeHtml(osName)}, not on every OS</span>`);
    if (s.unstable) notes.push('<span class="tag un">unstable</span>');
    return `<li><b class="num" style="color:${s.color}">${i + 1}</b> ${swatch(s)} ${escapeHtml(s.name)}${notes.length ? ` ${notes.join(' ')}` : ''}</li>`;
  }).join('')}</ul>`;
}


/** The answer first: the summary's sentences, per file when comparing. */
function summaryHtml(files: { name: string; doc: BenchFile }[]): string {
  const several = files.length > 1;
  return files.filter(({ doc }) => doc.kind === 'bench').map(({ name, doc }, f) => {
    const s = doc.summary ?? summaryOf(doc);
    // One sentence a line: the text report's sentences, unwrapped.
    const sentences = summaryLines(s, doc, Number.MAX_SAFE_INTEGER);
    const cls = s.memory || s.implausiblyFast ? 'warn' : 'answer';
    const who = several ? `<b style="color:${LINE_COLORS[f % LINE_COLORS.length]}">${f + 1}</b> <b>${escapeHtml(fileTitle(name, doc))}</b>: ` : '';
    return `<div class="${cls}">${sentences.map((t, i) => `<p>${i === 0 ? who : ''}${escapeHtml(t)}</p>`).join('')}</div>`;
  }).join('\n');
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
    '<a href="#answer">answer</a>', '<a href="#summary">how sure</a>', '<a href="#figures"><b>figures table</b></a>',
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
    : 'Each figure with its 95% interval [low\u2013high], in its own unit, from the spread of the rounds\' own figures; a percentile\'s interval never reaches beyond the fastest or slowest operation measured. "not pinned down": the rounds cannot pin that figure down (why: the row\'s details).';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)}</title>
<style>${STYLE}</style></head>
<body>
<nav class="toc" aria-label="contents"><div>${nav.join('\n')}</div></nav>
<main>
<h1>${escapeHtml(title)}</h1>
<section id="answer">
${summaryHtml(files)}
</section>
<ul class="env">${files.map(({ name, doc }, i) => envHtml(name, doc, i, several)).join('\n')}</ul>
<section id="summary">
<h2>How sure are these figures</h2>
${files.map(({ name, doc }) => stabilityHtml(fileTitle(name, doc), doc, several)).join('\n')}
${warnings.join('\n')}
</section>
<section id="figures">
<h2>Figures</h2>
<p class="note">${readHow} \u00d7 page cache: p50 per write over the page-cache write's p50 at the same size and mode. <span class="tag nd">not durable</span>: the method does not make data durable on the OS where it ran (dashed in the charts); the page-cache write (dotted grey) is the baseline. <span class="tag un">unstable</span>: do not trust the figure without rerunning. More per row: its details.</p>
<table class="figs"><thead><tr>${head.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead>
<tbody>
${rows.join('\n')}
</tbody></table>
</section>
${sectionHtml.join('\n')}
</main>
<script type="application/json" id="hardsync-data">${payload}</script>
<script>${DRAW_SCRIPT}</script>
</body></html>
`;
}

// The page fits its width: the figures table has no scroll box of its own (long labels and
// details wrap), and below 700 px each row is a card of labelled lines.
const STYLE = `
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%;scroll-padding-top:48px}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#222;background:#fff;overflow-wrap:break-word}
main{max-width:1320px;margin:0 auto;padding:0 16px 48px}
nav.toc{position:sticky;top:0;z-index:5;background:rgba(255,255,255,.96);border-bottom:1px solid #ddd;font-size:13px}
nav.toc div{max-width:1320px;margin:0 auto;padding:7px 16px;display:flex;flex-wrap:wrap;gap:4px 16px}
nav.toc a{color:#0b5394;text-decoration:none}nav.toc a:hover{text-decoration:underline}
h1{font-size:20px;margin:16px 0 6px}h2{font-size:16px;margin:30px 0 8px;border-top:1px solid #e5e5e5;padding-top:14px}
h2 a.up{font-size:12px;font-weight:normal;margin-left:10px;color:#0b5394}
.note{color:#555}.fine{color:#666;font-size:12px}
.answer{background:#eef5fb;padding:8px 12px;border-left:4px solid #0b5394;margin:8px 0}.answer p,.warn p{margin:4px 0}
.answer p:first-child{font-size:15px;font-weight:600}
.warn{background:#fff3cd;padding:8px 10px;border-left:4px solid #e0a800;margin:8px 0}
.ok{background:#e8f5e9;padding:8px 10px;border-left:4px solid #2e7d32;margin:8px 0}
ul.env{padding-left:18px}ul.env li{margin-bottom:6px}
.tag{display:inline-block;font-size:11px;padding:0 5px;border-radius:3px;line-height:16px;white-space:nowrap}
.tag.nd{background:#eee;color:#333;border:1px dashed #777}.tag.un{background:#b00020;color:#fff}
table.figs{border-collapse:collapse;font-size:12.5px;width:100%}
table.figs th,table.figs td{padding:3px 5px;border-bottom:1px solid #eee;text-align:left;vertical-align:top}
table.figs th{background:#f6f6f6;font-weight:600}
table.figs tr.odd td{background:#fafafa}
td.n{text-align:right;font-variant-numeric:tabular-nums}td.fig{white-space:nowrap}td .ci{color:#666}td .ci.wide{color:#b00020;font-weight:600}
tr.unstable td.m{box-shadow:inset 4px 0 #b00020}tr.nd td.m{font-style:italic}tr.more td.m{color:#777}
tr.na td{color:#888}td.det{min-width:60px}td.det dl{margin:4px 0;width:200px;font-size:12px}td.det dt{font-weight:600}td.det dd{margin:0 0 4px 0;overflow-wrap:anywhere}
summary{cursor:pointer;color:#0b5394}
.vs{font-size:11px;color:#555;white-space:normal}.vs.faster b{color:#1b7f3b}.vs.slower b{color:#b00020}.vs.same b{color:#666;font-weight:normal}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(100%,540px),1fr));gap:18px 24px}
figure.chart{margin:0;min-width:0}figcaption{font-weight:600;font-size:13px;margin-bottom:2px}
.host{width:100%;min-width:0}.host svg{display:block;width:100%;height:auto}
.intervals-box{margin-bottom:14px}
ul.legend{list-style:none;padding:0;margin:4px 0 0;display:flex;flex-wrap:wrap;gap:2px 16px;font-size:12px}
ul.legend li{overflow-wrap:normal}svg.sw{vertical-align:middle;margin-right:3px}b.num{font-size:11px}
@media (max-width:700px){
 table.figs,table.figs tbody,table.figs tr,table.figs td{display:block;width:100%}
 table.figs thead{display:none}
 table.figs tr{border:1px solid #ddd;border-radius:6px;margin:0 0 10px;padding:6px 10px;background:#fff}
 table.figs tr.odd td{background:none}
 table.figs td{border:0;padding:1px 0;text-align:left;white-space:normal}
 table.figs td.empty{display:none}
 table.figs td[data-label]::before{content:attr(data-label) ": ";color:#666;font-size:12px}
 table.figs td.m{font-weight:600;font-size:14px}table.figs td.m::before,table.figs td.det::before{content:none}
 tr.unstable td.m{box-shadow:none;color:#b00020}
 td.det dl{width:auto}
 table.figs td.meta,table.figs td.file{display:inline-block;width:auto;margin-right:14px}
}
`;
