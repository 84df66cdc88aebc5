/**
 * The answer first: from a bench run's rows, what one durable write costs on this OS and
 * filesystem against a page-cache write, per write size; which durable method is cheapest and
 * how the others rank; what batching bought; and whether the figures can mean a disk at all
 * (a memory filesystem, or flushes too fast for a device). The same object is the JSON's
 * `summary`, the first lines of the text report and the top of the HTML.
 * @module
 */
import { isMemoryFilesystem } from './env';
import { formatLatency, formatRate, formatSize, formatTimes, latencyInterval, wrapText } from './report';
import type { BenchFile, BenchResult, BenchSummary, Estimate, SummaryBatching, SummaryFigure, SummaryMethod, SummarySize } from './schema';
import { notPinnedReason, ratioInterval } from './stats';

/** The size the headline speaks of when it was measured: a database page, pg_test_fsync's write. */
export const HEADLINE_SIZE = 8192;

/** The page-cache baseline: the method every report measures flushes against. */
export const PAGE_CACHE_METHOD = 'write';

/** The mode the answer prefers: writes in place into a preallocated file, as a WAL does. */
const PREFERRED_MODE = 'overwrite';

function figureOf(e: Estimate | undefined, point: number, percent: number | null, what: string): SummaryFigure {
  if (!e) return { value: point, low: null, high: null, notPinned: null };
  return { value: e.value, low: e.low, high: e.high, notPinned: notPinnedReason(e, percent, e.fewestSamples, what) };
}

/** What one latency sample of a row is, for the words "37 flushes per round". */
export function sampleNoun(r: Pick<BenchResult, 'durable' | 'method' | 'writesPerSync'>): string {
  if (r.method === PAGE_CACHE_METHOD) return 'writes';
  return r.writesPerSync > 1 ? 'operations' : r.durable ? 'flushes' : 'operations';
}

function measured(r: BenchResult): r is BenchResult & { latencyUs: NonNullable<BenchResult['latencyUs']>; opsPerSec: number } {
  return r.supported && r.latencyUs !== null && r.opsPerSec !== null;
}

/** The page-cache write at a mode and size (one write per operation), if measured. */
export function pageCacheRow(results: readonly BenchResult[], mode: string, size: number): BenchResult | null {
  return results.find((r) => r.method === PAGE_CACHE_METHOD && r.mode === mode && r.size === size && r.writesPerSync === 1 && measured(r)) ?? null;
}

/** How many times a row's p50 per write is the page-cache write's p50, with its interval where both have rounds. */
export function timesPageCache(r: BenchResult, base: BenchResult | null): SummaryFigure | null {
  if (!base || !measured(r) || !measured(base) || base.latencyUs.p50 <= 0) return null;
  const w = r.writesPerSync;
  const value = r.latencyUs.p50 / w / base.latencyUs.p50;
  const a = base.estimates?.p50;
  const b = r.estimates?.p50;
  if (!a || !b || a.rounds.length < 2 || b.rounds.length < 2) return { value, low: null, high: null, notPinned: null };
  const i = ratioInterval({ value: a.value, rounds: a.rounds }, { value: b.value / w, rounds: b.rounds.map((x) => x / w) });
  const unpinned = notPinnedReason(i, null, undefined);
  return { value, low: unpinned ? null : i.low, high: unpinned ? null : i.high, notPinned: unpinned };
}

function methodOf(r: BenchResult & { latencyUs: NonNullable<BenchResult['latencyUs']>; opsPerSec: number }, base: BenchResult | null): SummaryMethod {
  const noun = sampleNoun(r);
  return {
    method: r.method,
    label: shortLabel(r.label ?? r.method),
    p50Us: figureOf(r.estimates?.p50, r.latencyUs.p50, 50, noun),
    p99Us: figureOf(r.estimates?.p99, r.latencyUs.p99, 99, noun),
    opsPerSec: figureOf(r.estimates?.opsPerSec, r.opsPerSec, null, noun),
    timesPageCache: timesPageCache(r, base),
    unstable: r.stability?.unstable === true,
  };
}

/** A method's label without what it maps to ("node:fs fdatasyncSync = fdatasync(2)" -> "node:fs fdatasyncSync"). */
export function shortLabel(label: string): string {
  return label.replace(/ = .*$/, '');
}

/** Whether the run's warnings say its durable flushes were faster than a device can be. */
export function implausiblyFast(doc: Pick<BenchFile, 'warnings'>): boolean {
  return (doc.warnings ?? []).some((w) => /implausibly fast/.test(w.message));
}

/**
 * The summary of a bench run. Durable means what the rows say (capabilities() on the OS where
 * it ran), so whatever durable methods a run measured are ranked, without a list of method ids;
 * on a memory filesystem nothing is.
 */
export function summaryOf(doc: Pick<BenchFile, 'results' | 'warnings' | 'env'>): BenchSummary {
  const memory = isMemoryFilesystem(doc.env.filesystem?.type);
  const results = doc.results;
  const sizes = [...new Set(results.map((r) => r.size))].sort((a, b) => (a === HEADLINE_SIZE ? -1 : b === HEADLINE_SIZE ? 1 : a - b));
  const perSize: SummarySize[] = [];
  for (const size of sizes) {
    const single = results.filter((r) => r.size === size && r.writesPerSync === 1 && measured(r));
    if (single.length === 0) continue;
    const modes = [...new Set(single.map((r) => r.mode))];
    const mode = modes.includes(PREFERRED_MODE) ? PREFERRED_MODE : modes[0];
    const base = pageCacheRow(results, mode, size);
    const ranking = memory
      ? []
      : single
        .filter((r) => r.mode === mode && r.durable && r.method !== PAGE_CACHE_METHOD)
        .map((r) => methodOf(r as BenchResult & { latencyUs: NonNullable<BenchResult['latencyUs']>; opsPerSec: number }, base))
        .sort((a, b) => a.p50Us.value - b.p50Us.value);
    perSize.push({
      size,
      mode,
      pageCacheP50Us: base && measured(base) ? figureOf(base.estimates?.p50, base.latencyUs.p50, 50, 'writes') : null,
      cheapest: ranking[0] ?? null,
      ranking,
    });
  }
  const batching: SummaryBatching[] = [];
  if (!memory) {
    for (const r of results) {
      if (r.writesPerSync <= 1 || !r.durable || !measured(r)) continue;
      const one = results.find((x) => x.method === r.method && x.mode === r.mode && x.size === r.size && x.writesPerSync === 1 && measured(x));
      if (!one || !one.latencyUs) continue;
      const usPerWrite = r.latencyUs.p50 / r.writesPerSync;
      batching.push({
        method: r.method, label: shortLabel(r.label ?? r.method), mode: r.mode, size: r.size, writesPerSync: r.writesPerSync,
        usPerWrite, oneWritePerFlushUs: one.latencyUs.p50, gain: one.latencyUs.p50 / usPerWrite,
      });
    }
  }
  const dir = doc.env.directory ?? '.';
  const next = memory
    ? [{ command: 'hardsync bench DIR', why: 'with DIR on the disk you want to judge' }]
    : [
      { command: `hardsync check ${dir}`, why: "etcd's rule: fdatasync p99 under 10 ms" },
      { command: `hardsync pg ${dir}`, why: "PostgreSQL's pg_test_fsync, and the wal_sync_method to choose" },
    ];
  if (!memory && implausiblyFast(doc)) next.unshift({ command: 'hardsync powercheck', why: 'a power-cut test with a witness machine: does the disk keep what it acknowledged?' });
  return { memory, filesystem: doc.env.filesystem?.type ?? null, implausiblyFast: !memory && implausiblyFast(doc), sizes: perSize, batching, next };
}

/**
 * A latency figure in words for the summary: "101 us [96-108]", or "2.10 ms (not pinned
 * down)" (the reason is listed after the table, and in the JSON's `notPinned`).
 */
export function figureWords(f: SummaryFigure): string {
  return f.notPinned ? `${formatLatency(f.value, true)} (not pinned down)` : latencyInterval(f, Infinity, true);
}

function timesWords(t: SummaryFigure | null): string {
  if (!t) return '';
  if (t.notPinned) return `about ${formatTimes(t.value)}`;
  return t.low !== null && t.high !== null && formatTimes(t.low) !== formatTimes(t.high) ? `${formatTimes(t.value)} [${formatTimes(t.low).slice(0, -1)}-${formatTimes(t.high)}]` : formatTimes(t.value);
}

/**
 * The summary as the report's first lines, wrapped to `width`: the answer at 8 KiB (or the
 * first size) in the first sentence, then the other sizes, the ranking, batching, and what to
 * run next.
 */
export function summaryLines(s: BenchSummary, doc: Pick<BenchFile, 'env'>, width = 80): string[] {
  const out: string[] = [];
  const say = (text: string, indent = ''): void => {
    out.push(...wrapText(text, width, indent).split('\n'));
  };
  const where = `${doc.env.directory ?? 'this directory'}`;
  if (s.memory) {
    const pc = s.sizes.find((x) => x.pageCacheP50Us)?.pageCacheP50Us;
    say(`${where} is on ${s.filesystem}, a filesystem in memory: nothing written here survives power loss, flushed or not. No method is durable here, so none is ranked${pc ? `; a page-cache write took ${formatLatency(pc.value, true)} (p50)` : ''}. To judge a disk, run hardsync bench in a directory on it.`);
    return out;
  }
  const head = s.sizes.find((x) => x.cheapest !== null);
  if (!head || !head.cheapest) {
    say('No durable method was measured, so this run cannot say what a durable write costs here.');
  } else {
    const c = head.cheapest;
    const times = c.timesPageCache ? `${timesWords(c.timesPageCache)} a page-cache write` : 'no page-cache write was measured to compare it with';
    const pc = head.pageCacheP50Us ? `; the page-cache write: p50 ${figureWords(head.pageCacheP50Us)}` : '';
    say(`At ${formatSize(head.size)} (${head.mode}), a durable write costs ${times} here. Cheapest durable: ${c.label}, p50 ${figureWords(c.p50Us)}, p99 ${figureWords(c.p99Us)}, ${formatRate(c.opsPerSec.value)} ops/s${c.unstable ? ' (unstable)' : ''}${pc}.`);
    const others = s.sizes.filter((x) => x !== head && x.cheapest);
    if (others.length > 0) {
      say(`Other sizes, cheapest durable p50: ${others.map((x) => `${formatSize(x.size)} ${(x.cheapest as SummaryMethod).label} ${formatLatency((x.cheapest as SummaryMethod).p50Us.value, true)}${(x.cheapest as SummaryMethod).timesPageCache ? ` (${formatTimes(((x.cheapest as SummaryMethod).timesPageCache as SummaryFigure).value)})` : ''}`).join('; ')}.`);
    }
    if (head.ranking.length > 1) {
      say(`Durable at ${formatSize(head.size)}, cheapest first (p50): ${head.ranking.map((m) => `${m.label} ${formatLatency(m.p50Us.value, true)}`).join(', ')}.`);
    }
  }
  for (const b of s.batching) {
    const gain = b.gain >= 1 ? `${formatTimes(b.gain)} less than` : `${formatTimes(1 / b.gain)} more than`;
    say(`${b.writesPerSync} writes per ${b.label.replace(/^write\+/, '')} (${formatSize(b.size)} ${b.mode}): ${formatLatency(b.usPerWrite, true)} per write, ${gain} one write per flush (${formatLatency(b.oneWritePerFlushUs, true)})${b.gain < 1 ? ': batching bought nothing here' : ''}.`);
  }
  if (s.implausiblyFast) {
    say('Caution: these durable writes are faster than a device can make data durable: a volatile cache may be acknowledging them (WARNING below). Only a power cut tells: hardsync powercheck.');
  }
  const next = s.next.filter((n) => !n.command.startsWith('hardsync powercheck'));
  if (next.length > 0) say(`Next: ${next.map((n) => `${n.command} (${n.why})`).join('; ')}.`);
  return out;
}
