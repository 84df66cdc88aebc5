// The HTML report as a person sees it, measured in headless Chromium (puppeteer-core driving
// Debian's chromium): at 1400 px the page and its figures table fit without a horizontal
// scroll and no cell's text is cut, with every row's details open too; at 390 px (a phone)
// each row is a card, and nothing is wider than the screen. HARDSYNC_SCREENSHOTS=DIR also
// writes the screenshots bench/README.md shows.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'puppeteer-core';
import { chartsOf, renderHtml } from '../dist/bench/measure/html.js';
import { readBenchFile } from '../dist/bench/measure/schema.js';
import { tempDir } from './helpers/tmp';

const chromium = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].find((p) => fs.existsSync(p)) ?? null;
const fixtures = path.join(__dirname, 'fixtures', 'bench');
const load = (name: string) => ({ name, doc: readBenchFile(path.join(fixtures, name)) });
const shots = process.env.HARDSYNC_SCREENSHOTS;

/** What overflows on the page: the page itself, any table, any cell whose text is cut. */
interface Overflow {
  page: [number, number];
  tables: [number, number][];
  cut: string[];
  rowDisplay: string;
  charts: string | null;
  labels: number;
}

async function measure(page: Page): Promise<Overflow> {
  return page.evaluate(() => {
    const root = document.documentElement;
    const tables = [...document.querySelectorAll('table')].map((t) => [t.scrollWidth, t.clientWidth] as [number, number]);
    // A cell cuts its text when its content is wider than its box and it hides the rest
    // (overflow hidden or clip, or an ellipsis); any element that scrolls sideways counts too.
    const cut = [...document.querySelectorAll('body *')].filter((node) => {
      const el = node as HTMLElement;
      if (el.closest('svg')) return false;
      const style = getComputedStyle(el);
      const hides = style.overflowX === 'hidden' || style.overflowX === 'clip' || style.textOverflow === 'ellipsis';
      const scrolls = style.overflowX === 'auto' || style.overflowX === 'scroll';
      return (hides || scrolls || el.tagName === 'TD' || el.tagName === 'TH') && el.scrollWidth > el.clientWidth + 1;
    }).map((el) => `${el.tagName.toLowerCase()}.${(el as HTMLElement).className}: ${(el.textContent ?? '').slice(0, 60)} (${el.scrollWidth} > ${el.clientWidth})`);
    const row = document.querySelector('table.figs tbody tr');
    return {
      page: [root.scrollWidth, root.clientWidth] as [number, number],
      tables,
      cut,
      rowDisplay: row ? getComputedStyle(row).display : '',
      charts: document.body.getAttribute('data-charts-drawn'),
      labels: document.querySelectorAll('text.line-label').length,
    };
  });
}

describe.skipIf(chromium === null)(`the HTML report's layout in headless Chromium${chromium === null ? ' (SKIPPED: chromium not installed)' : ''}`, () => {
  let browser: Browser;
  const dir = tempDir('hs-html-layout-');
  const profile = tempDir('hs-chromium-profile-');

  beforeAll(async () => {
    const puppeteer = await import('puppeteer-core');
    // Chromium gets neither the sanitizer's preload nor its options (npm run test:asan).
    const { LD_PRELOAD: _preload, ASAN_OPTIONS: _asan, ...env } = process.env;
    browser = await puppeteer.launch({
      executablePath: chromium as string,
      headless: true,
      env: env as Record<string, string>,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', `--user-data-dir=${profile}`],
    });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(profile, { recursive: true, force: true });
  });

  async function open(html: string, width: number, name: string): Promise<Page> {
    const file = path.join(dir, `${name}.html`);
    fs.writeFileSync(file, html);
    const page = await browser.newPage();
    await page.setViewport({ width, height: 900 });
    await page.goto(`file://${file}`);
    await page.waitForSelector('body[data-charts-drawn]', { timeout: 60_000 });
    return page;
  }

  const reports = {
    bench: () => renderHtml([load('v2-ext4-a.json')]),
    compare: () => renderHtml([load('v2-ext4-a.json'), load('v2-ext4-b.json'), load('v2-apfs-quick.json')]),
  };

  for (const [kind, render] of Object.entries(reports)) {
    it(`${kind}: fits 1400 px with no scroll box and no cut text, details open or closed`, async () => {
      const page = await open(render(), 1400, `${kind}-1400`);
      try {
        const closed = await measure(page);
        expect(closed.page[0]).toBeLessThanOrEqual(closed.page[1]);
        for (const [scroll, client] of closed.tables) expect(scroll).toBeLessThanOrEqual(client);
        expect(closed.cut).toEqual([]);
        expect(closed.rowDisplay).toBe('table-row');
        // every line of every latency chart is numbered, as in its legend
        const files = kind === 'bench' ? [load('v2-ext4-a.json')] : [load('v2-ext4-a.json'), load('v2-ext4-b.json'), load('v2-apfs-quick.json')];
        const charts = chartsOf(files);
        expect(closed.charts).toBe(String(charts.length));
        expect(closed.labels).toBe(charts.reduce((n, c) => n + c.series.filter((s) => s.p50).length, 0));
        if (shots && kind === 'compare') {
          await page.evaluate(() => document.getElementById('figures')?.scrollIntoView());
          await page.screenshot({ path: path.join(shots, 'report-1400.png'), clip: { x: 0, y: await page.evaluate(() => window.scrollY), width: 1400, height: 760 } });
        }
        await page.evaluate(() => document.querySelectorAll('details').forEach((d) => d.setAttribute('open', '')));
        const opened = await measure(page);
        expect(opened.page[0]).toBeLessThanOrEqual(opened.page[1]);
        for (const [scroll, client] of opened.tables) expect(scroll).toBeLessThanOrEqual(client);
        expect(opened.cut).toEqual([]);
      } finally {
        await page.close();
      }
    }, 120_000);

    it(`${kind}: at 390 px each row is a card, nothing wider than the screen`, async () => {
      const page = await open(render(), 390, `${kind}-390`);
      try {
        const m = await measure(page);
        expect(m.page[0]).toBeLessThanOrEqual(390);
        for (const [scroll, client] of m.tables) expect(scroll).toBeLessThanOrEqual(client);
        expect(m.cut).toEqual([]);
        expect(m.rowDisplay).toBe('block');
        if (shots && kind === 'bench') {
          await page.evaluate(() => { document.getElementById('figures')?.scrollIntoView(); window.scrollBy(0, 330); });
          await page.screenshot({ path: path.join(shots, 'report-390.png') });
        }
      } finally {
        await page.close();
      }
    }, 120_000);
  }

  it('sees overflow when there is some: a wide cell, a cut cell', async () => {
    const html = reports.bench()
      .replace('<td class="m" data-label="method">', '<td class="m" data-label="method"><div style="width:2200px">wide</div>')
      .replace('data-label="size">', 'data-label="size"><div style="width:30px;overflow:hidden;white-space:nowrap">a label cut short</div>');
    const page = await open(html, 1400, 'control');
    try {
      const m = await measure(page);
      expect(Math.max(m.page[0] - m.page[1], ...m.tables.map(([s, c]) => s - c))).toBeGreaterThan(0);
      expect(m.cut.length).toBeGreaterThan(0);
    } finally {
      await page.close();
    }
  }, 120_000);
});
