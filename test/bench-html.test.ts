import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BASELINE_DASH, chartsOf, NOT_DURABLE_DASH, renderHtml, sectionsOf } from '../dist/bench/measure/html.js';
import { readBenchFile } from '../dist/bench/measure/schema.js';
import { runCli } from './fixtures/bench/run-cli';
import { tempDir } from './helpers/tmp';

const fixtures = path.join(__dirname, 'fixtures', 'bench');
// A chart stays readable with at most this many lines, so that each can be told apart.
const READABLE_LINES = 4;
const chromium = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].find((p) => fs.existsSync(p)) ?? null;

function load(name: string): { name: string; doc: ReturnType<typeof readBenchFile> } {
  return { name, doc: readBenchFile(path.join(fixtures, name)) };
}

const execFileAsync = promisify(execFile);

// Asynchronous: a synchronous wait of several seconds starves vitest's worker of its event loop.
async function dumpDom(file: string, width = 1400): Promise<string> {
  // Chromium gets neither the sanitizer's preload nor its options (npm run test:asan).
  const { LD_PRELOAD: _preload, ASAN_OPTIONS: _asan, ...env } = process.env;
  const profile = tempDir('hs-chromium-');
  try {
    const { stdout } = await execFileAsync(chromium as string, [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', `--user-data-dir=${profile}`, `--window-size=${width},1000`, '--dump-dom', `file://${file}`,
    ], { encoding: 'utf8', timeout: 60_000, env, maxBuffer: 64 << 20 });
    return stdout;
  } finally {
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

/**
 * Headless Chromium's window is at least 500 px wide, so the report is laid out at a phone's
 * width inside an iframe of that width; the outer page writes what the report measured.
 */
async function phoneWidthOf(html: string, dir: string, width = 390): Promise<{ innerWidth: number; scrollWidth: number; drawn: string | null }> {
  const srcdoc = html.replace(/&/g, '&amp;').replace(/"/g, '&quot;');
  const page = path.join(dir, 'phone.html');
  fs.writeFileSync(page, `<!doctype html><html><body style="margin:0"><iframe id="f" style="width:${width}px;height:900px;border:0" srcdoc="${srcdoc}"></iframe>
<script>window.addEventListener('load', function () {
  var w = document.getElementById('f').contentWindow;
  document.body.setAttribute('data-measured', JSON.stringify({ innerWidth: w.innerWidth, scrollWidth: w.document.documentElement.scrollWidth,
    drawn: w.document.body.getAttribute('data-charts-drawn') }));
});</script></body></html>`);
  const dom = await dumpDom(page, 500);
  const measured = /data-measured="([^"]+)"/.exec(dom)?.[1];
  expect(measured).toBeDefined();
  return JSON.parse((measured as string).replace(/&quot;/g, '"'));
}

function attr(tag: string, name: string): string | null {
  return new RegExp(`\\s${name}="([^"]*)"`).exec(tag)?.[1] ?? null;
}

describe('HTML report', () => {
  const v1 = [load('a.json'), load('b.json')];
  const a = load('v2-ext4-a.json');
  const b = load('v2-ext4-b.json');
  const mac = load('v2-apfs-quick.json');

  it('has one chart for a mode and size with few methods, the page-cache baseline beside the flushes', () => {
    const charts = chartsOf([v1[0]]);
    expect(charts).toHaveLength(1);
    expect(charts[0].series.map((s) => s.name)).toEqual(['baseline: write only (page cache)', 'write+fdatasync', 'write+fsync']);
    expect(charts[0].series.map((s) => s.baseline)).toEqual([true, false, false]);
    expect(charts[0].series[0].durable).toBe(false);
  });

  it('has one chart per case with a line per file, and file 1\'s baseline, when comparing', () => {
    const charts = chartsOf(v1);
    const fdatasync = charts.find((c) => c.title.startsWith('write+fdatasync'));
    expect(fdatasync?.series.map((s) => s.name)).toEqual(['baseline: write only (page cache) (file 1)', 'a [linux/ext4]', 'b [darwin/apfs]']);
    // each file keeps its colour in every chart
    const write = charts.find((c) => c.title.startsWith('write only'));
    expect(write?.series.map((s) => s.color)).toEqual(fdatasync?.series.slice(1).map((s) => s.color));
  });

  it('groups a big mode/size into charts of at most 4 distinguishable lines, each with the baseline, no method lost', () => {
    const sections = sectionsOf([a]);
    expect(sections.map((s) => s.short)).toEqual(['8k overwrite', '8k new', '512 overwrite', '4k overwrite', '64k overwrite', '1m overwrite', '8k append', '8k overwrite x8']);
    const eightK = sections[0];
    expect(eightK.charts.length).toBeGreaterThan(1);
    for (const section of sections) {
      const drawn = new Set<string>();
      for (const chart of section.charts) {
        expect(chart.series.length).toBeLessThanOrEqual(READABLE_LINES);
        const baselines = chart.series.filter((s) => s.baseline);
        expect(baselines).toHaveLength(1);
        const base = a.doc.results.find((r) => r.method === 'write' && r.mode === section.mode && r.size === section.size && r.writesPerSync === 1);
        expect(baselines[0].cdf).toBe(base?.cdf);
        expect(baselines[0].dash).toBe(BASELINE_DASH);
        // distinguishable: no two lines share a colour, or a marker
        expect(new Set(chart.series.map((s) => s.color)).size).toBe(chart.series.length);
        expect(new Set(chart.series.filter((s) => !s.baseline).map((s) => s.marker)).size).toBe(chart.series.length - 1);
        for (const s of chart.series.filter((x) => !x.baseline)) expect(s.dash).toBe(s.durable ? '' : NOT_DURABLE_DASH);
        chart.series.forEach((s) => drawn.add(s.method));
      }
      const inSection = a.doc.results.filter((r) => r.supported && r.mode === section.mode && r.size === section.size && r.writesPerSync === section.writesPerSync);
      for (const r of inSection) expect(drawn, `${r.method} ${section.short}`).toContain(r.method);
    }
    // the flush calls are drawn together, apart from the synchronous opens and the hints
    const flushCharts = eightK.charts.filter((c) => c.series.some((s) => ['fdatasync', 'fsync', 'fullFsync', 'barrierFsync', 'syncfs'].includes(s.method)) && c.title === 'flush calls after a write');
    expect(flushCharts.length).toBeGreaterThan(1);
    for (const c of flushCharts) expect(c.series.some((s) => s.method === 'dsync' || s.method === 'sfr-write')).toBe(false);
    // barrierFsync is durable on Linux, not portably: drawn solid, legend says so
    const barrier = flushCharts.flatMap((c) => c.series).find((s) => s.method === 'barrierFsync');
    expect(barrier?.durable).toBe(true);
    expect(barrier?.durablePortable).toBe(false);
  });

  it('puts every case in its section\'s interval chart with the ops/s interval and the rounds', () => {
    for (const files of [[a], [a, b, mac]]) {
      const rows = sectionsOf(files).flatMap((s) => s.intervals.rows);
      const all = files.flatMap(({ doc }) => doc.results);
      expect(rows).toHaveLength(all.length);
      const syncfs = rows.find((r) => r.method === 'syncfs' && r.file === 0);
      expect(syncfs?.ops).toEqual({ value: 6274, low: 3879, high: 10150 });
      expect(syncfs?.rounds).toEqual([5844, 6591, 11630, 4085, 5313]);
      expect(syncfs?.unstable).toBe(true);
    }
    const na = sectionsOf([a]).flatMap((s) => s.intervals.rows).find((r) => r.method === 'direct-dsync' && r.na !== null);
    expect(na?.na).toContain('not a multiple of the direct-I/O alignment');
    expect(na?.ops).toBeNull();
  });

  it('shows ops/s, p50 and p99 each with its interval in the table, and marks unstable and not-durable rows', () => {
    const html = renderHtml([a]);
    // in each figure's own unit, rounded as the text report rounds: p50 133.9 us [131.7-136.1] is "134 us +-2"
    expect(html).toContain('<span class="v">6813</span> <span class="ci">[6652\u20136978]</span>');
    expect(html).toContain('<span class="v">134 us</span> <span class="ci">\u00b12</span>');
    expect(html).toContain('<span class="v">237 us</span> <span class="ci">\u00b17</span>');
    expect(html).toContain('<span class="v">885k</span> <span class="ci">[871k\u2013900k]</span>');
    const rows = html.match(/<tr class="[^"]*">/g) ?? [];
    expect(rows).toHaveLength(a.doc.results.length);
    expect(rows.filter((r) => / unstable|"unstable/.test(r))).toHaveLength(a.doc.stability?.unstableCases as number);
    expect(rows.filter((r) => /\bnd\b/.test(r))).toHaveLength(a.doc.results.filter((r) => !r.durable).length);
    expect(html).toMatch(/rounds disagree: ops\/s from \d+ to \d+ \(2\.8x\)/);
    expect(html).toContain('<dt>durable</dt><dd>durable on Linux, not on every OS</dd>');
    // the run's stability summary and its causes
    expect(html).toContain('<b>5 of 44</b> cases unstable');
    for (const cause of a.doc.stability?.causes ?? []) expect(html).toContain(cause.replace(/'/g, '&#39;'));
    // the table is reachable from the sticky contents bar and from every section
    expect(html).toMatch(/<nav class="toc"[^>]*><div><a href="#answer">answer<\/a>\n<a href="#summary">how sure<\/a>\n<a href="#figures">/);
    expect(html.match(/<a class="up" href="#figures">/g)).toHaveLength(sectionsOf([a]).length);
  });

  it('shows compare\'s verdict per figure against file 1: only the cases made slower are called different', () => {
    const html = renderHtml([a, b]);
    const verdicts = html.match(/class="vs [a-z]+"/g) ?? [];
    // every figure of every case measured in both files (direct-dsync 512 is n/a in both)
    expect(verdicts).toHaveLength(3 * 44);
    // b's fixture has fsync 8k, fsync 4k and node:fs fsyncSync ~1.3x slower, nothing else
    expect(verdicts.filter((v) => v.includes('slower'))).toHaveLength(9);
    expect(verdicts.filter((v) => v.includes('faster'))).toHaveLength(0);
    const fsyncRow = html.split('<tr ').find((r) => r.includes('v2-ext4-b') && r.includes('5213'));
    expect(fsyncRow).toContain('0.75\u00d7 [0.72\u20130.77] <b>slower</b>');
    expect(html).toContain('~ [0.98\u20131.03] <b>no significant difference</b>');
    expect(renderHtml([a, b], null)).not.toContain('class="vs ');
  });

  it('shows not durable on the OS where it ran with the portable meaning beside it', () => {
    const html = renderHtml([mac]);
    const fsyncRow = html.split('<tr ').find((r) => r.includes('>write+fsync<') && r.includes('>8k<') && r.includes('overwrite'));
    expect(fsyncRow).toContain('not durable');
    expect(fsyncRow).toContain('durable on other OSes; not on Darwin');
  });

  it('escapes text from the result file', () => {
    const doc = JSON.parse(JSON.stringify(a.doc));
    doc.results[1].label = '<img src=x onerror=alert(1)>';
    doc.results[4].stability.reasons = ['<b>bold</b>'];
    doc.stability.causes = ['<iframe src=x>'];
    doc.env.directory = '</script><script>alert(2)</script>';
    doc.env.filesystem.mountOptions = '"><svg onload=alert(3)>';
    const html = renderHtml([{ name: 'x', doc }, { name: '<u>y</u>', doc: b.doc }]);
    expect(html).not.toContain('<img src=x');
    expect(html).not.toContain('<script>alert(2)');
    expect(html).not.toContain('<b>bold</b>');
    expect(html).not.toContain('<iframe src=x>');
    expect(html).not.toContain('<svg onload');
    expect(html).not.toContain('<u>y</u>');
  });

  describe.skipIf(chromium === null)(`drawn in headless Chromium${chromium === null ? ' (SKIPPED: chromium not installed)' : ''}`, () => {
    it('draws every chart of a compare report written by the CLI', async () => {
      const dir = tempDir('hs-html-');
      const html = path.join(dir, 'compare.html');
      const run = await runCli(['compare', path.join(fixtures, 'a.json'), path.join(fixtures, 'b.json'), '--html', html]);
      expect(run.code).toBe(0);
      const dom = await dumpDom(html);
      const expected = chartsOf(v1);
      expect(dom).toContain(`data-charts-drawn="${expected.length}"`);
      const lines = dom.match(/<polyline [^>]*class="series"[^>]*>/g) ?? [];
      expect(lines.length).toBe(expected.reduce((n, c) => n + c.series.length, 0));
      // each line has one point per CDF entry, all inside its chart
      const svg = /<svg [^>]*class="cdf"[^>]*>/.exec(dom)?.[0] as string;
      const [, , width, height] = (attr(svg, 'viewBox') as string).split(' ').map(Number);
      const points = (attr(lines[0], 'points') as string).split(' ');
      expect(points.length).toBe(5);
      for (const p of points) {
        const [x, y] = p.split(',').map(Number);
        expect(x).toBeGreaterThanOrEqual(0);
        expect(x).toBeLessThanOrEqual(width);
        expect(y).toBeGreaterThanOrEqual(0);
        expect(y).toBeLessThanOrEqual(height);
      }
      fs.rmSync(dir, { recursive: true });
    });

    it('draws at most 4 lines per chart, the baseline in each, and every interval and round', async () => {
      const dir = tempDir('hs-html-');
      const file = path.join(dir, 'bench.html');
      fs.writeFileSync(file, renderHtml([a]));
      const dom = await dumpDom(file);
      const sections = sectionsOf([a]);
      const charts = sections.flatMap((s) => s.charts);
      expect(dom).toContain(`data-charts-drawn="${charts.length}"`);
      expect(dom).toContain(`data-interval-charts-drawn="${sections.length}"`);
      const cdfSvgs = dom.split(/<svg /).filter((part) => part.startsWith('viewBox') && /^[^>]*class="cdf"/.test(part));
      expect(cdfSvgs).toHaveLength(charts.length);
      for (const svg of cdfSvgs) {
        const lines = svg.match(/<polyline [^>]*>/g) ?? [];
        expect(lines.length).toBeGreaterThan(1);
        expect(lines.length).toBeLessThanOrEqual(READABLE_LINES);
        expect(lines.filter((l) => attr(l, 'data-baseline') === '1')).toHaveLength(1);
        const baseline = lines.find((l) => attr(l, 'data-baseline') === '1') as string;
        expect(attr(baseline, 'data-method')).toBe('write');
        // distinct colours
        expect(new Set(lines.map((l) => attr(l, 'stroke'))).size).toBe(lines.length);
      }
      // the ops/s interval of every case with one, as a whisker around its figure
      const supported = a.doc.results.filter((r) => r.supported);
      const whiskers = dom.match(/<line [^>]*class="ci ci-ops"[^>]*>/g) ?? [];
      expect(whiskers).toHaveLength(supported.filter((r) => (r.estimates?.opsPerSec.high ?? 0) > (r.estimates?.opsPerSec.low ?? 0)).length);
      for (const w of whiskers) {
        const [x1, x2, at] = ['x1', 'x2', 'data-value-x'].map((k) => Number(attr(w, k)));
        expect(x1).toBeLessThanOrEqual(at);
        expect(at).toBeLessThanOrEqual(x2);
      }
      // the wide interval of an unstable case is wide on the page too
      const widths = whiskers.map((w) => Number(attr(w, 'x2')) - Number(attr(w, 'x1')));
      expect(Math.max(...widths)).toBeGreaterThan(50);
      // every round's figure as a dot
      expect((dom.match(/class="round"/g) ?? []).length).toBe(supported.reduce((n, r) => n + (r.estimates?.opsPerSec.rounds.length ?? 0), 0));
      // p50 and p99 intervals on the CDF lines
      const lineCount = charts.reduce((n, c) => n + c.series.length, 0);
      expect((dom.match(/class="ci ci-p50"/g) ?? []).length).toBe(lineCount);
      expect((dom.match(/class="ci ci-p99"/g) ?? []).length).toBe(lineCount);
      // n/a cases say why in the chart
      expect(dom).toContain('n/a: size 512 is not a multiple of the direct-I/O alignment (4096 B)');
      fs.rmSync(dir, { recursive: true });
    }, 120_000);

    it('has no page-wide horizontal scroll at a phone\'s width (390 px), bench and compare', async () => {
      const dir = tempDir('hs-html-');
      for (const files of [[a], [a, b, mac]]) {
        const measured = await phoneWidthOf(renderHtml(files), dir);
        expect(measured.innerWidth).toBe(390);
        expect(measured.drawn).toBe(String(chartsOf(files).length));
        expect(measured.scrollWidth).toBeLessThanOrEqual(390);
      }
      // the measurement sees overflow when there is some: a 600 px wide element
      const wide = await phoneWidthOf(renderHtml([a]).replace('<main>', '<main><div style="width:600px">x</div>'), dir);
      expect(wide.scrollWidth).toBeGreaterThan(390);
      fs.rmSync(dir, { recursive: true });
    }, 240_000);
  });
});
