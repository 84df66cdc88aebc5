/**
 * `hardsync compare`: several result files (other machines, OSes, filesystems, or the same
 * disk twice) against the first, the baseline. For each case in both, each figure's ratio
 * with its 95% interval and a verdict: faster, slower, or no significant difference. A
 * difference is called only when a rank test on the rounds says it is unlikely to be chance,
 * the ratio's interval excludes 1, and the ratio is beyond the noise threshold and beyond
 * either file's own round-to-round spread; anything else is shown as noise, not as a ratio to
 * believe.
 * @module
 */
import path from 'node:path';
import { formatRate, formatSize, latencyInterval, renderTable } from './report';
import { CAUSE_LIMITS as CONDITION_LIMITS } from './conditions';
import { SCHEMA, SCHEMA_V1, type BenchFile, type BenchResult, type Estimate, type RunConditions } from './schema';
import { mannWhitney, ratioInterval } from './stats';

/** The key that matches a case across files. */
export function caseKey(r: Pick<BenchResult, 'method' | 'mode' | 'size' | 'writesPerSync'>): string {
  return `${r.method}|${r.mode}|${r.size}|${r.writesPerSync}`;
}

/** A short name for a file's column: its base name, and where it was measured. */
export function fileTitle(file: string, doc: BenchFile): string {
  const where = [doc.env.os?.platform, doc.env.filesystem?.type].filter(Boolean).join('/');
  const emulated = doc.env.emulation ? ` EMULATED by ${doc.env.emulation.by}` : '';
  return `${path.basename(file, '.json')}${where ? ` [${where}]` : ''}${emulated}`;
}

/** The compare report's JSON schema identifier. */
export const COMPARE_SCHEMA = 'hardsync-compare/1';

/** The rank test's significance level. */
export const ALPHA = 0.05;
/** Default noise threshold: a ratio within 1 +- this (as a fraction) is never called a difference. */
export const DEFAULT_NOISE = 0.1;

/** The figures compared, and which direction is better. */
export const FIGURES = Object.freeze([
  { key: 'opsPerSec', name: 'ops/s', higherIsBetter: true },
  { key: 'p50', name: 'p50', higherIsBetter: false },
  { key: 'p99', name: 'p99', higherIsBetter: false },
] as const);

/** A figure's key. */
export type FigureKey = (typeof FIGURES)[number]['key'];

/**
 * - `faster` / `slower`: a significant difference beyond the noise threshold (for latencies,
 *   faster = lower).
 * - `same`: no significant difference (the ratio is noise).
 * - `untested`: no rounds to test (a `hardsync-bench/1` file): the ratio is a point figure only.
 */
export type Verdict = 'faster' | 'slower' | 'same' | 'untested';

/** One figure of one case in one file, against the baseline. */
export interface FigureComparison {
  figure: FigureKey;
  base: number;
  value: number;
  /** value / base. */
  ratio: number;
  /** The ratio's 95% interval (null: untested). */
  low: number | null;
  high: number | null;
  /** The rank test's two-sided p-value (null: untested). */
  p: number | null;
  /**
   * The larger of the two runs' own spread of this figure (highest round / lowest round; null:
   * untested): a difference no larger than this is what the machine did within one run.
   */
  spread: number | null;
  verdict: Verdict;
}

/** One case across the files: per file (index 0 is the baseline) its figures, or null when absent. */
export interface CaseComparison {
  key: string;
  method: string;
  label: string;
  mode: string;
  size: number;
  writesPerSync: number;
  durable: boolean;
  files: ({ supported: boolean; estimates: Record<FigureKey, { value: number; low: number | null; high: number | null }> | null; against: FigureComparison[] | null } | null)[];
}

/** The whole comparison (`hardsync compare --json`). */
export interface CompareReport {
  schema: typeof COMPARE_SCHEMA;
  alpha: number;
  noiseThreshold: number;
  files: { name: string; title: string; schema: string }[];
  /** Differences in the files' settings that change the figures, and other caveats. */
  warnings: string[];
  cases: CaseComparison[];
  /** Per file after the first: how many figures were called faster, slower, same, untested. */
  summary: Record<Verdict, number>[];
}

function estimateOf(r: BenchResult, key: FigureKey): { value: number; low: number | null; high: number | null; rounds: number[] | null } | null {
  if (!r.supported || !r.latencyUs || r.opsPerSec === null) return null;
  const e: Estimate | undefined = r.estimates?.[key];
  if (e) return { value: e.value, low: e.low, high: e.high, rounds: e.rounds };
  const value = key === 'opsPerSec' ? r.opsPerSec : r.latencyUs[key];
  return { value, low: null, high: null, rounds: null };
}

/** Compares one figure of a case against the baseline's. */
export function compareFigure(
  figure: (typeof FIGURES)[number],
  base: { value: number; rounds: number[] | null },
  other: { value: number; rounds: number[] | null },
  noise: number,
): FigureComparison {
  const ratio = other.value / base.value;
  const out: FigureComparison = { figure: figure.key, base: base.value, value: other.value, ratio, low: null, high: null, p: null, spread: null, verdict: 'untested' };
  if (!base.rounds || !other.rounds || base.rounds.length < 2 || other.rounds.length < 2) return out;
  const interval = ratioInterval({ value: base.value, rounds: base.rounds }, { value: other.value, rounds: other.rounds });
  const test = mannWhitney(other.rounds, base.rounds);
  const spreadOf = (rounds: readonly number[]): number => Math.max(...rounds) / Math.min(...rounds);
  out.low = interval.low;
  out.high = interval.high;
  out.p = test.p;
  out.spread = Math.max(spreadOf(base.rounds), spreadOf(other.rounds));
  // Four conditions, each a kind of noise the others miss: chance (the rank test), the
  // interval, the noise threshold, and the machine itself: a disk whose speed moves between
  // runs as much as it moves within one (A/A runs can: bench/README.md, "The benchmark of the
  // benchmark") is never reported as two disks that differ by less than that.
  const beyond = Math.abs(Math.log(ratio));
  const significant = test.p < ALPHA && (interval.low > 1 || interval.high < 1) && beyond > Math.log(1 + noise) && beyond > Math.log(out.spread);
  if (!significant) {
    out.verdict = 'same';
  } else {
    const higher = ratio > 1;
    out.verdict = higher === figure.higherIsBetter ? 'faster' : 'slower';
  }
  return out;
}

/** The settings of a file that change its figures, as words ("--quick", "3 rounds", ...). */
function settingsOf(doc: BenchFile): Record<string, string> {
  const s = doc.settings;
  const out: Record<string, string> = { schema: doc.schema, engine: doc.env.engine?.name ?? 'unknown' };
  if (s) {
    out.quick = s.quick ? '--quick' : 'default length';
    out['seconds per case'] = String(s.secondsPerCase);
    out.rounds = String(s.rounds);
    out.threads = String(s.threads);
    out.runner = s.js ? '--js' : 'native';
    out['until stable'] = s.untilStable ? '--until-stable' : 'no';
  } else {
    // A hardsync-bench/1 file has its command line only.
    const command = doc.env.command ?? '';
    const option = (name: string): string | null => new RegExp(`--${name}[ =](\\S+)`).exec(command)?.[1] ?? null;
    out.quick = /--quick\b/.test(command) ? '--quick' : 'default length';
    out['seconds per case'] = option('duration') ?? (/--quick\b/.test(command) ? '0.25' : '1');
    out.rounds = option('rounds') ?? (/--quick\b/.test(command) ? '1' : '2');
    out.threads = option('threads') ?? '1';
    out.runner = /--js\b/.test(command) ? '--js' : 'native';
  }
  return out;
}

/**
 * The cases of several files, matched by {@link caseKey}: the keys in first-seen order, and per
 * key each file's row (undefined where that file did not measure the case).
 */
export function casesAcross(files: readonly { doc: BenchFile }[]): { order: string[]; byKey: Map<string, (BenchResult | undefined)[]> } {
  const order: string[] = [];
  const byKey = new Map<string, (BenchResult | undefined)[]>();
  files.forEach(({ doc }, f) => {
    for (const r of doc.results) {
      const key = caseKey(r);
      if (!byKey.has(key)) {
        byKey.set(key, new Array(files.length).fill(undefined));
        order.push(key);
      }
      (byKey.get(key) as (BenchResult | undefined)[])[f] = r;
    }
  });
  return { order, byKey };
}

/** Compares result files: the first is the baseline. */
export function compareFiles(files: { name: string; doc: BenchFile }[], noise = DEFAULT_NOISE): CompareReport {
  const { order, byKey } = casesAcross(files);
  const summary = files.slice(1).map(() => ({ faster: 0, slower: 0, same: 0, untested: 0 }));
  const cases: CaseComparison[] = order.map((key) => {
    const rows = byKey.get(key) as (BenchResult | undefined)[];
    const any = rows.find((r) => r !== undefined) as BenchResult;
    const base = rows[0];
    return {
      key, method: any.method, label: any.label ?? any.method, mode: any.mode, size: any.size, writesPerSync: any.writesPerSync, durable: any.durable,
      files: rows.map((r, f) => {
        if (!r) return null;
        const figures = FIGURES.map((fig) => estimateOf(r, fig.key));
        if (figures.some((e) => e === null)) return { supported: false, estimates: null, against: null };
        const estimates = Object.fromEntries(FIGURES.map((fig, i) => [fig.key, { value: figures[i]!.value, low: figures[i]!.low, high: figures[i]!.high }])) as Record<FigureKey, { value: number; low: number | null; high: number | null }>;
        let against: FigureComparison[] | null = null;
        if (f > 0 && base) {
          const baseFigures = FIGURES.map((fig) => estimateOf(base, fig.key));
          if (baseFigures.every((e) => e !== null)) {
            against = FIGURES.map((fig, i) => compareFigure(fig, baseFigures[i]!, figures[i]!, noise));
            for (const c of against) summary[f - 1][c.verdict]++;
          }
        }
        return { supported: true, estimates, against };
      }),
    };
  });
  return {
    schema: COMPARE_SCHEMA,
    alpha: ALPHA,
    noiseThreshold: noise,
    files: files.map(({ name, doc }) => ({ name, title: fileTitle(name, doc), schema: doc.schema })),
    warnings: settingWarnings(files, cases),
    cases,
    summary,
  };
}

function settingWarnings(files: { name: string; doc: BenchFile }[], cases: CaseComparison[]): string[] {
  const warnings: string[] = [];
  const base = settingsOf(files[0].doc);
  files.slice(1).forEach(({ doc }, i) => {
    const other = settingsOf(doc);
    const differ = Object.keys(base).filter((k) => other[k] !== undefined && other[k] !== base[k]).map((k) => `${k} ${base[k]} vs ${other[k]}`);
    if (differ.length > 0) warnings.push(`file ${i + 2} differs from file 1 in settings that change the figures: ${differ.join('; ')}.`);
  });
  if (files.some(({ doc }) => doc.schema === SCHEMA_V1)) {
    warnings.push(`a ${SCHEMA_V1} file has no rounds: its ratios are point figures, untested for significance (rerun with this version for ${SCHEMA}).`);
  }
  files.forEach(({ doc }, f) => {
    const rounds = doc.settings?.rounds;
    if (rounds !== undefined && rounds < 4) warnings.push(`file ${f + 1} has ${rounds} rounds per case: with so few, no difference can be significant; run without --quick.`);
  });
  // Figures measured while the machine did very different things are not comparable as
  // they stand: say so, with what was measured.
  const base0 = files[0].doc.stability?.conditions;
  files.slice(1).forEach(({ doc }, i) => {
    const other = doc.stability?.conditions;
    if (!base0 || !other) return;
    const differences: string[] = [];
    if (base0.otherCpuPct !== null && other.otherCpuPct !== null && Math.abs(base0.otherCpuPct - other.otherCpuPct) > CONDITION_LIMITS.otherCpuPct) {
      differences.push(`other processes used ${base0.otherCpuPct.toFixed(0)}% of the CPU during file 1 and ${other.otherCpuPct.toFixed(0)}% during file ${i + 2}`);
    }
    const load = (c: RunConditions): number | null => (c.loadAverage ? Math.max(...c.loadAverage) / c.cpus : null);
    const la = load(base0);
    const lb = load(other);
    if (la !== null && lb !== null && Math.max(la, lb) > 1 && Math.max(la, lb) > 2 * Math.min(la, lb)) {
      differences.push(`the load average per CPU was ${la.toFixed(1)} during file 1 and ${lb.toFixed(1)} during file ${i + 2}`);
    }
    const io = (c: RunConditions): number | null => (c.device && c.seconds > 0 ? (c.device.otherWriteBytes + c.device.readBytes) / c.seconds : null);
    const ia = io(base0);
    const ib = io(other);
    if (ia !== null && ib !== null && Math.max(ia, ib) > CONDITION_LIMITS.otherIoBytesPerSecond && Math.max(ia, ib) > 2 * Math.min(ia, ib)) {
      differences.push(`other I/O on the device ran at ${(ia / 1e6).toFixed(1)} MB/s during file 1 and ${(ib / 1e6).toFixed(1)} MB/s during file ${i + 2}`);
    }
    if (differences.length > 0) warnings.push(`the machine was busy differently: ${differences.join('; ')}. A difference called here may be the machine's state, not the disk's.`);
  });
  const missing = files.slice(1).map((_, i) => cases.filter((c) => (c.files[0] === null) !== (c.files[i + 1] === null)).length);
  missing.forEach((n, i) => {
    if (n > 0) warnings.push(`${n} case${n === 1 ? '' : 's'} measured in only one of files 1 and ${i + 2} (other sizes, methods, modes or writes per sync): not compared.`);
  });
  return warnings;
}

const VERDICT_TEXT: Record<Verdict, string> = { faster: 'FASTER', slower: 'SLOWER', same: '~same', untested: 'untested' };

function ratioText(c: FigureComparison): string {
  if (c.verdict === 'untested') return `${c.ratio.toFixed(2)}x untested`;
  const interval = `[${(c.low as number).toFixed(2)}-${(c.high as number).toFixed(2)}]`;
  if (c.verdict !== 'same') return `${c.ratio.toFixed(2)}x ${interval} ${VERDICT_TEXT[c.verdict]}`;
  // The interval excludes 1 but another condition did not agree: say which.
  const excludes = (c.low as number) > 1 || (c.high as number) < 1;
  if (!excludes) return `~ ${interval}`;
  if ((c.p as number) >= ALPHA) return `~ ${interval} p=${(c.p as number).toFixed(2)}`;
  return `~ ${interval} ${Math.abs(Math.log(c.ratio)) <= Math.log(c.spread as number) ? `<spread ${(c.spread as number).toFixed(1)}x` : 'in noise'}`;
}

/** A figure as bench prints it: ops/s in 3 significant digits, latencies in their own unit, each with its interval. */
function figureText(key: FigureKey, e: { value: number; low: number | null; high: number | null }): string {
  if (key !== 'opsPerSec') return latencyInterval(e);
  return e.low === null || e.high === null ? formatRate(e.value) : `${formatRate(e.value)} [${formatRate(e.low)}-${formatRate(e.high)}]`;
}

/**
 * The comparison as text: per case, the baseline's figures with their intervals, then per
 * other file each figure's ratio, its interval and the verdict ("~" = no significant
 * difference: the ratio is noise and is not printed as if it were a finding).
 */
export function renderCompare(files: { name: string; doc: BenchFile }[], noise = DEFAULT_NOISE): string {
  const report = compareFiles(files, noise);
  const header = ['method', 'mode', 'size', 'w/sync', 'file'];
  for (const fig of FIGURES) header.push(fig.name);
  const rows: string[][] = [];
  for (const c of report.cases) {
    const head = [c.durable ? c.label : `${c.label} *`, c.mode, formatSize(c.size), String(c.writesPerSync)];
    c.files.forEach((entry, f) => {
      const cells = [...(f === 0 ? head : ['', '', '', '']), String(f + 1)];
      if (!entry) cells.push('-', '-', '-');
      else if (!entry.supported || !entry.estimates) cells.push('n/a', 'n/a', 'n/a');
      else if (f === 0 || !entry.against) cells.push(...FIGURES.map((fig) => figureText(fig.key, entry.estimates![fig.key])));
      else cells.push(...entry.against.map(ratioText));
      rows.push(cells);
    });
  }
  const legend = files.map(({ name, doc }, f) => {
    const e = doc.env;
    const device = e.device?.name ? `, ${e.device.name} cache ${e.device.writeCache ?? '?'}` : '';
    return `  ${f + 1}: ${fileTitle(name, doc)}: ${e.os?.type ?? '?'} ${e.os?.release ?? ''} ${e.os?.arch ?? ''}, ${e.filesystem?.type ?? '?'}${device}, ${e.hostname ?? '?'}, ${e.startedAt ?? ''}${doc.schema === SCHEMA_V1 ? ` (${SCHEMA_V1})` : ''}`;
  });
  const out = [
    'files (1 is the baseline):',
    ...legend,
    '',
    `File 1: each figure with its 95% interval [low-high] (latencies in their own unit, as bench prints them). Other files: the ratio to file 1`,
    `with its 95% interval, and a verdict:`,
    `FASTER or SLOWER when a rank test on the rounds gives p < ${ALPHA}, the interval excludes 1, the ratio is beyond +-${(noise * 100).toFixed(0)}%`,
    `and beyond each file's own spread (its highest round over its lowest): a machine is not called different from itself.`,
    `"~" when the difference is within the noise (no ratio to believe). For p50 and p99, lower is faster. "*": not durable; "-": not measured there.`,
    '',
    renderTable(header, rows, header.map((_, i) => i === 2 || i === 3 || i >= 5)),
    '',
  ];
  report.summary.forEach((s, i) => {
    out.push(`file ${i + 2} against file 1: ${s.faster} figures faster, ${s.slower} slower, ${s.same} with no significant difference${s.untested ? `, ${s.untested} untested` : ''}.`);
  });
  for (const w of report.warnings) out.push(`WARNING: ${w}`);
  return `${out.join('\n')}\n`;
}
