/**
 * The figures table of the HTML report: one row per case (and file, when comparing), the
 * figures a reader compares (ops/s, p50, p99 with their 95% intervals, times the page-cache
 * write, durable, stable) in columns that fit a wide screen without a scroll box, everything
 * else (p90, p99.9, max, MB/s, rounds, why unstable, the calls) in a <details> per row. On a
 * phone's width the stylesheet turns each row into a card of labelled lines.
 * @module
 */
import { casesAcross, fileTitle } from './compare';
import { escapeHtml, hasFigures, isUnstable, LINE_COLORS } from './html-charts';
import { formatLatency, formatRate, formatSize, formatTimes, latencyInterval, unstableReasons } from './report';
import type { BenchFile, BenchResult, Estimate } from './schema';
import { notPinnedReason } from './stats';
import { pageCacheRow, sampleNoun, shortLabel, timesPageCache } from './summary';

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

/** A figure and its interval as the table shows it: "412 [398–431]". */
export function formatInterval(e: { value: number; low: number; high: number }, format: (v: number) => string): string {
  return `${format(e.value)} [${format(e.low)}\u2013${format(e.high)}]`;
}

function cell(label: string, html: string, cls = ''): string {
  return `<td${cls ? ` class="${cls}"` : ''} data-label="${escapeHtml(label)}">${html}</td>`;
}

/** ops/s with its interval: "6.81k <span class=ci>[6.65k–6.98k]</span>". */
function opsHtml(e: Estimate | undefined, point: number): string {
  if (!e) return `<span class="v">${escapeHtml(formatRate(point))}</span>`;
  const wide = e.halfWidthPct > 10 ? ' wide' : '';
  return `<span class="v">${escapeHtml(formatRate(e.value))}</span> <span class="ci${wide}">[${escapeHtml(formatRate(e.low))}\u2013${escapeHtml(formatRate(e.high))}]</span>`;
}

/** A latency with its interval in its own unit, or "not pinned down" when the rounds cannot pin it. */
function latencyHtml(r: BenchResult, key: 'p50' | 'p99'): string {
  const l = r.latencyUs as NonNullable<BenchResult['latencyUs']>;
  const e = r.estimates?.[key];
  if (!e) return `<span class="v">${escapeHtml(formatLatency(l[key], true))}</span>`;
  if (notPinnedReason(e, key === 'p50' ? 50 : 99, e.fewestSamples, sampleNoun(r))) {
    return `<span class="v">${escapeHtml(formatLatency(e.value, true))}</span> <span class="ci wide">not pinned down</span>`;
  }
  const text = latencyInterval(e, Infinity, true);
  const at = text.indexOf(' ', text.indexOf(' ') + 1);
  const wide = e.halfWidthPct > 10 ? ' wide' : '';
  const interval = text.slice(at + 1);
  return `<span class="v">${escapeHtml(text.slice(0, at))}</span> <span class="ci${wide}">${escapeHtml(interval.startsWith('[') ? interval.replace('-', '\u2013') : interval.replace('+-', '\u00b1'))}</span>`;
}

const VERDICT_LABEL: Record<string, string> = { faster: 'faster', slower: 'slower', same: 'no significant difference', untested: 'untested' };

function verdictLine(c: { ratio: number; low: number | null; high: number | null; verdict: string } | undefined): string {
  if (!c) return '';
  const interval = c.low !== null && c.high !== null ? ` [${c.low.toFixed(2)}\u2013${c.high.toFixed(2)}]` : '';
  const ratio = c.verdict === 'same' ? `~${interval}` : `${c.ratio.toFixed(2)}\u00d7${interval}`;
  return `<br><span class="vs ${escapeHtml(c.verdict)}">${escapeHtml(ratio)} <b>${escapeHtml(VERDICT_LABEL[c.verdict] ?? c.verdict)}</b></span>`;
}

function durableHtml(r: BenchResult, osName: string): { short: string; long: string } {
  if (!r.durable) {
    return { short: '<span class="tag nd">not durable</span>', long: r.durablePortable === true ? `durable on other OSes; not on ${osName}` : 'not durable on any OS' };
  }
  return { short: 'yes', long: r.durablePortable === false ? `durable on ${osName}, not on every OS` : 'durable' };
}

/** What the <details> of a row holds: the figures the columns leave out, why unstable, the calls. */
function detailsHtml(r: BenchResult, durable: string): string {
  const items: [string, string][] = [];
  if (hasFigures(r) && r.latencyUs) {
    const l = r.latencyUs;
    items.push(['latency', `min ${formatLatency(l.min, true)}, p90 ${formatLatency(l.p90, true)}, p99.9 ${formatLatency(l.p999, true)}, max ${formatLatency(l.max, true)}, mean ${formatLatency(l.mean, true)}`]);
    items.push(['throughput', `${(r.mbPerSec ?? 0).toFixed(1)} MB/s`]);
    const ops = r.estimates?.opsPerSec.rounds;
    if (ops) items.push([`${r.rounds ?? ops.length} rounds, ops/s`, ops.map(formatRate).join(', ')]);
    for (const key of ['p50', 'p99'] as const) {
      const e = r.estimates?.[key];
      const why = e ? notPinnedReason(e, key === 'p50' ? 50 : 99, e.fewestSamples, sampleNoun(r)) : null;
      if (why) items.push([`${key} not pinned down`, why]);
    }
  } else {
    items.push(['n/a', r.reason ?? 'no figures']);
  }
  items.push(['durable', durable]);
  if (r.stability?.unstable) items.push(['unstable', unstableReasons(r).join('; ')]);
  items.push(['calls per operation', r.syscalls.join(', ')]);
  return `<details><summary>more</summary><dl>${items.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`).join('')}</dl></details>`;
}

/** The table's header and rows, for one file (bench) or several (compare, against file 1). */
export function tableRows(files: { name: string; doc: BenchFile }[], comparison: ComparisonView | null): { head: string[]; rows: string[] } {
  const single = files.length === 1;
  const head = ['method', 'mode', 'size', 'w/flush', ...(single ? [] : ['file']), 'ops/s [95%]', 'p50 [95%]', 'p99 [95%]', '\u00d7 page cache', 'durable', 'stable', 'details'];
  const against = new Map<string, ComparisonView['cases'][number]>();
  for (const c of comparison?.cases ?? []) against.set(c.key, c);
  const { order, byKey } = casesAcross(files);
  const rows: string[] = [];
  order.forEach((key, caseIndex) => {
    const perFile = byKey.get(key) as (BenchResult | undefined)[];
    perFile.forEach((r, f) => {
      if (!r) return;
      const doc = files[f].doc;
      const osName = doc.env.os?.type ?? 'this OS';
      const vs = comparison ? against.get(key)?.files[f]?.against ?? null : null;
      const verdictOf = (figure: string): string => verdictLine(vs?.find((c) => c.figure === figure));
      const firstOfCase = perFile.findIndex((x) => x !== undefined) === f;
      const classes = [caseIndex % 2 ? 'odd' : '', isUnstable(r) ? 'unstable' : '', r.durable ? '' : 'nd', hasFigures(r) ? '' : 'na', firstOfCase ? '' : 'more'].filter(Boolean).join(' ');
      const durable = durableHtml(r, osName);
      const cells = [
        cell('method', escapeHtml(shortLabel(r.label ?? r.method)), 'm'),
        cell('mode', escapeHtml(r.mode), 'meta'),
        cell('size', escapeHtml(formatSize(r.size)), 'n meta'),
        cell('writes per flush', escapeHtml(String(r.writesPerSync)), 'n meta'),
      ];
      if (!single) {
        cells.push(cell('file', `<b style="color:${LINE_COLORS[f % LINE_COLORS.length]}" title="${escapeHtml(fileTitle(files[f].name, doc))}">${f + 1}</b>`, 'n file'));
      }
      if (hasFigures(r) && r.latencyUs && r.opsPerSec !== null) {
        const times = r.method === 'write' && r.writesPerSync === 1 ? null : timesPageCache(r, pageCacheRow(doc.results, r.mode, r.size));
        cells.push(
          cell('ops/s [95%]', opsHtml(r.estimates?.opsPerSec, r.opsPerSec) + verdictOf('opsPerSec'), 'n fig'),
          cell('p50 [95%]', latencyHtml(r, 'p50') + verdictOf('p50'), 'n fig'),
          cell('p99 [95%]', latencyHtml(r, 'p99') + verdictOf('p99'), 'n fig'),
          cell('\u00d7 page cache', times ? escapeHtml(formatTimes(times.value)) : r.method === 'write' ? '1x' : '', 'n'),
        );
      } else {
        cells.push(cell('ops/s', 'n/a', 'n fig'), cell('p50', '', 'n fig empty'), cell('p99', '', 'n fig empty'), cell('\u00d7 page cache', '', 'n empty'));
      }
      cells.push(
        cell('durable', durable.short, r.durable ? 'dur' : 'dur no'),
        cell('stable', !hasFigures(r) ? '' : isUnstable(r) ? '<span class="tag un">unstable</span>' : r.stability ? 'stable' : '', 'st'),
        cell('details', detailsHtml(r, durable.long), 'det'),
      );
      rows.push(`<tr class="${classes}">${cells.join('')}</tr>`);
    });
  });
  return { head, rows };
}
