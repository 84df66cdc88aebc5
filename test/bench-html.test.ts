import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { chartsOf, renderHtml } from '../dist/bench/engine/html.js';
import { readBenchFile } from '../dist/bench/engine/schema.js';
import { runCli } from './fixtures/bench/run-cli';

const fixtures = path.join(__dirname, 'fixtures', 'bench');
const chromium = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].find((p) => fs.existsSync(p)) ?? null;

function dumpDom(file: string): string {
  // Chromium gets neither the sanitizer's preload nor its options (npm run test:asan).
  const { LD_PRELOAD: _preload, ASAN_OPTIONS: _asan, ...env } = process.env;
  return execFileSync(chromium as string, ['--headless', '--no-sandbox', '--disable-gpu', '--dump-dom', `file://${file}`], {
    encoding: 'utf8', timeout: 60_000, stdio: ['ignore', 'pipe', 'ignore'], env,
  });
}

describe('HTML report', () => {
  const files = ['a.json', 'b.json'].map((name) => ({ name, doc: readBenchFile(path.join(fixtures, name)) }));

  it('has one chart per mode and size, with the page-cache baseline beside the flushes', () => {
    const charts = chartsOf([files[0]]);
    expect(charts).toHaveLength(1);
    expect(charts[0].series.map((s) => s.name)).toEqual(['write only (page cache)', 'write+fdatasync', 'write+fsync']);
    expect(charts[0].series[0].durable).toBe(false);
  });

  it('has one chart per case with a line per file when comparing', () => {
    const charts = chartsOf(files);
    const fdatasync = charts.find((c) => c.title.startsWith('write+fdatasync'));
    expect(fdatasync?.series.map((s) => s.name)).toEqual(['a [linux/ext4]', 'b [darwin/apfs]']);
  });

  it('escapes text from the result file', () => {
    const doc = JSON.parse(JSON.stringify(files[0].doc));
    doc.results[1].label = '<img src=x onerror=alert(1)>';
    doc.env.directory = '</script><script>alert(2)</script>';
    const html = renderHtml([{ name: 'x', doc }]);
    expect(html).not.toContain('<img src=x');
    expect(html).not.toContain('<script>alert(2)');
  });

  describe.skipIf(chromium === null)(`drawn in headless Chromium${chromium === null ? ' (SKIPPED: chromium not installed)' : ''}`, () => {
    it('draws every chart of a compare report', async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hs-html-'));
      const html = path.join(dir, 'compare.html');
      const run = await runCli(['compare', path.join(fixtures, 'a.json'), path.join(fixtures, 'b.json'), '--html', html]);
      expect(run.code).toBe(0);
      const dom = dumpDom(html);
      const expected = chartsOf(files);
      expect(dom).toContain(`data-charts-drawn="${expected.length}"`);
      const lines = dom.match(/<polyline [^>]*class="series"/g) ?? [];
      expect(lines.length).toBe(expected.reduce((n, c) => n + c.series.length, 0));
      // each line has one point per CDF entry, all inside the plot
      const points = /<polyline points="([^"]+)"/.exec(dom)?.[1].split(' ') ?? [];
      expect(points.length).toBe(5);
      for (const p of points) {
        const [x, y] = p.split(',').map(Number);
        expect(x).toBeGreaterThanOrEqual(60);
        expect(x).toBeLessThanOrEqual(900 - 330);
        expect(y).toBeGreaterThanOrEqual(16);
        expect(y).toBeLessThanOrEqual(320 - 40);
      }
      fs.rmSync(dir, { recursive: true });
    });
  });
});
