/**
 * Latency statistics of one benchmark case: percentiles by the nearest-rank rule (the value
 * of an actual sample, as fio and HdrHistogram report them), mean, population stddev, and a
 * compact CDF for the HTML report.
 * @module
 */

/** Latency summary in microseconds. */
export interface LatencySummary {
  min: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
  stddev: number;
}

/** The probabilities (in percent) at which {@link cdfPoints} samples the distribution. */
export const CDF_PERCENTS: readonly number[] = Object.freeze([
  ...Array.from({ length: 100 }, (_, i) => i),
  99.5, 99.9, 99.95, 99.99, 100,
]);

/**
 * The nearest-rank percentile of an ascending sample: the smallest value with at least
 * `percent`% of the sample at or below it. `percent` 0 gives the minimum.
 * @param sorted Values in ascending order (not empty).
 * @param percent In [0, 100].
 */
export function percentile(sorted: ArrayLike<number>, percent: number): number {
  if (sorted.length === 0) throw new RangeError('percentile of an empty sample');
  if (!(percent >= 0 && percent <= 100)) throw new RangeError(`percent must be in [0, 100], got ${percent}`);
  const rank = Math.ceil((percent / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

/**
 * The median of any values (not necessarily sorted): the middle one, or the mean of the two
 * middle ones. Used for the median of per-round figures.
 * @param values Not empty.
 */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('median of an empty sample');
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/**
 * Sorts a sample in place (numeric order; a Float64Array sorts numerically by default) and
 * returns it.
 */
export function sortSample(sample: Float64Array): Float64Array {
  return sample.sort();
}

/**
 * Summary of an ascending sample of nanosecond latencies, in microseconds.
 * @param sortedNs Ascending latencies in nanoseconds (not empty).
 */
export function summarize(sortedNs: ArrayLike<number>): LatencySummary {
  const n = sortedNs.length;
  if (n === 0) throw new RangeError('summary of an empty sample');
  let sum = 0;
  for (let i = 0; i < n; i++) sum += sortedNs[i];
  const mean = sum / n;
  let squares = 0;
  for (let i = 0; i < n; i++) {
    const d = sortedNs[i] - mean;
    squares += d * d;
  }
  const us = (ns: number): number => ns / 1000;
  return {
    min: us(sortedNs[0]),
    p50: us(percentile(sortedNs, 50)),
    p90: us(percentile(sortedNs, 90)),
    p99: us(percentile(sortedNs, 99)),
    p999: us(percentile(sortedNs, 99.9)),
    max: us(sortedNs[n - 1]),
    mean: us(mean),
    stddev: us(Math.sqrt(squares / n)),
  };
}

/**
 * The CDF as [percent, latency in us] pairs at {@link CDF_PERCENTS}: enough for a chart,
 * small enough for the JSON file.
 */
export function cdfPoints(sortedNs: ArrayLike<number>): [number, number][] {
  return CDF_PERCENTS.map((p) => [p, round3(percentile(sortedNs, p) / 1000)]);
}

/** Rounds to 3 decimals (nanosecond resolution for microsecond figures). */
export function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}

/** Concatenates samples of several rounds into one array. */
export function concatSamples(parts: readonly Float64Array[]): Float64Array {
  let length = 0;
  for (const part of parts) length += part.length;
  const all = new Float64Array(length);
  let at = 0;
  for (const part of parts) {
    all.set(part, at);
    at += part.length;
  }
  return all;
}

/**
 * Latencies (us, sorted) of `ops` operations awaited one after another, each timed alone: the
 * JavaScript-side measurement of bench/core.ts and bench/engines.ts.
 */
export async function sequentialLatencies(ops: number, body: (i: number) => Promise<unknown>): Promise<number[]> {
  const samples = new Array<number>(ops);
  for (let i = 0; i < ops; i++) {
    const start = process.hrtime.bigint();
    await body(i);
    samples[i] = Number(process.hrtime.bigint() - start) / 1000;
  }
  return samples.sort((a, b) => a - b);
}

// ---------------------------------------------------------------------------------------------
// Uncertainty: intervals from rounds, and tests between runs (bench/README.md, "How sure is
// each figure", says why these methods).

/** The confidence level of every interval the benchmark reports. */
export const CONFIDENCE = 0.95;

// Student's t, two-sided 95% (the 97.5% quantile), for 1..30 degrees of freedom.
const T975 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131,
  2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
];
const Z975 = 1.959964;

/**
 * The 97.5% quantile of Student's t distribution (the multiplier of a two-sided 95% interval)
 * for `df` degrees of freedom, which need not be an integer (Welch's df is not). Exact to the
 * table's 3 decimals at integer df up to 30, interpolated in 1/df between them, and from the
 * Cornish-Fisher expansion beyond (error under 0.001).
 */
export function tQuantile975(df: number): number {
  if (!(df >= 1)) throw new RangeError(`degrees of freedom must be at least 1, got ${df}`);
  if (df > 30) {
    const z = Z975;
    return z + (z ** 3 + z) / (4 * df) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * df * df);
  }
  const lo = Math.floor(df);
  if (lo === df || lo === 30) return T975[lo - 1];
  const hi = lo + 1;
  const w = (1 / lo - 1 / df) / (1 / lo - 1 / hi);
  return T975[lo - 1] + w * (T975[hi - 1] - T975[lo - 1]);
}

/** Mean and sample standard deviation (n - 1) of at least two values. */
function meanSd(values: readonly number[]): { mean: number; sd: number } {
  const n = values.length;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const sd = Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1));
  return { mean, sd };
}

/** A figure, its 95% interval and its rounds (the JSON's `Estimate`). */
export interface Interval {
  value: number;
  low: number;
  high: number;
  halfWidthPct: number;
  rounds: number[];
}

/**
 * The 95% confidence interval of a figure measured in rounds, by the method of batch means on
 * a log scale: each round's own figure is one observation; the standard error of the whole
 * run's figure is the rounds' standard deviation of log(figure) over sqrt(rounds), and the
 * interval is `value` times exp(+-t * se) with Student's t at rounds - 1 degrees of freedom,
 * widened to span the typical round (the geometric mean of the rounds) where it differs.
 * Rounds, not single operations, are the unit because successive operations are correlated
 * (queues, writeback, the device's cache), which makes an interval over operations far too
 * narrow; and a log scale because the figures are positive rates and times whose changes are
 * ratios.
 * @param value The point figure (from all rounds pooled); positive.
 * @param rounds The same figure from each round alone; at least two, all positive.
 */
export function roundsInterval(value: number, rounds: readonly number[], measured?: { min: number; max: number }): Interval {
  if (rounds.length < 2) throw new RangeError(`an interval needs at least two rounds, got ${rounds.length}`);
  if (!(value > 0) || rounds.some((r) => !(r > 0))) throw new RangeError('figures must be positive');
  const { mean, sd } = meanSd(rounds.map(Math.log));
  const factor = Math.exp((tQuantile975(rounds.length - 1) * sd) / Math.sqrt(rounds.length));
  // The whole run's figure and the typical round's (the geometric mean of the rounds) agree
  // when the rounds are alike; when one bad round pulls a pooled p99 far from the rest, the
  // interval spans both, each with its margin: wider, as it should be.
  const typical = Math.exp(mean);
  let low = Math.min(value, typical) / factor;
  let high = Math.max(value, typical) * factor;
  // A percentile is the latency of an operation that was measured: it cannot be below the
  // fastest one nor above the slowest, whatever a margin on a log scale says.
  if (measured) {
    low = Math.max(low, Math.min(measured.min, value));
    high = Math.min(high, Math.max(measured.max, value));
  }
  return { value, low, high, halfWidthPct: reachPct(value, low, high), rounds: [...rounds] };
}

/**
 * How far an interval reaches from its figure, on its farther side, as a percentage of the
 * figure: max(high / value, value / low) - 1. This is the `halfWidthPct` of every estimate and
 * what the 10% stability limit is compared with (on a log scale an interval is symmetric as a
 * ratio, so this is its half-width as a ratio).
 */
export function reachPct(value: number, low: number, high: number): number {
  return (Math.max(high / value, value / low) - 1) * 100;
}

/**
 * The fewest operations a round needs for its own `percent`-th percentile to mean anything:
 * below this, even the distribution-free 95% interval of that percentile has no upper end
 * inside the round (the chance that every operation falls below the true percentile is over
 * 2.5%), so the round's "p99" is just one of its slowest operations. 6 for p50, 36 for p90, 368 for
 * p99, 3688 for p99.9.
 */
export function minSamplesFor(percent: number): number {
  if (!(percent > 0 && percent < 100)) throw new RangeError(`percent must be in (0, 100), got ${percent}`);
  return Math.ceil(Math.log((1 - CONFIDENCE) / 2) / Math.log(percent / 100));
}

/**
 * Above this ratio of an interval's high end to its low end, the rounds do not pin a figure
 * down: it is printed in words, not as a figure plus or minus an amount.
 */
export const NOT_PINNED_RATIO = 2;

/**
 * Why the rounds do not pin a figure down, in words, or null when they do: too few operations
 * per round for that percentile (`percent` null: a rate, which any round pins), or an
 * interval spanning more than {@link NOT_PINNED_RATIO} times (rounds that disagree).
 * @param fewestSamples The fewest latency samples in one round (undefined: not recorded).
 * @param what "flushes", "writes", "operations": what one sample is.
 */
export function notPinnedReason(
  e: { low: number; high: number },
  percent: number | null,
  fewestSamples: number | undefined,
  what = 'operations',
): string | null {
  if (percent !== null && fewestSamples !== undefined) {
    const needed = minSamplesFor(percent);
    if (fewestSamples < needed) return `${fewestSamples} ${what} per round, too few for a p${percent} (at least ${needed})`;
  }
  if (e.low > 0 && e.high / e.low > NOT_PINNED_RATIO) return `the rounds disagree: the 95% interval spans ${(e.high / e.low).toFixed(1)}x`;
  return null;
}

/** A ratio of two figures with its 95% interval. */
export interface RatioInterval {
  ratio: number;
  low: number;
  high: number;
}

/**
 * The ratio `b.value / a.value` of two figures measured in rounds, with its 95% interval:
 * Welch's interval for the difference of two means, on the log scale of
 * {@link roundsInterval} (so the log ratio's standard error combines both runs' round-to-round
 * spread, with the Welch-Satterthwaite degrees of freedom).
 */
export function ratioInterval(a: { value: number; rounds: readonly number[] }, b: { value: number; rounds: readonly number[] }): RatioInterval {
  if (a.rounds.length < 2 || b.rounds.length < 2) throw new RangeError('a ratio interval needs at least two rounds on each side');
  const sa = meanSd(a.rounds.map(Math.log)).sd;
  const sb = meanSd(b.rounds.map(Math.log)).sd;
  const va = (sa * sa) / a.rounds.length;
  const vb = (sb * sb) / b.rounds.length;
  const se = Math.sqrt(va + vb);
  const ratio = b.value / a.value;
  // As in roundsInterval: the interval spans the ratio of the whole runs' figures and the
  // ratio of their typical rounds (geometric means), each with its margin.
  const logMean = (x: readonly number[]): number => meanSd(x.map(Math.log)).mean;
  const typical = Math.exp(logMean(b.rounds) - logMean(a.rounds));
  if (se === 0) return { ratio, low: Math.min(ratio, typical), high: Math.max(ratio, typical) };
  const df = (va + vb) ** 2 / ((va * va) / (a.rounds.length - 1) + (vb * vb) / (b.rounds.length - 1));
  const factor = Math.exp(tQuantile975(Math.max(1, df)) * se);
  return { ratio, low: Math.min(ratio, typical) / factor, high: Math.max(ratio, typical) * factor };
}

/** The cumulative standard normal distribution (Abramowitz-Stegun 26.2.17, error < 7.5e-8). */
export function normalCdf(z: number): number {
  const t = 1 / (1 + 0.2316419 * Math.abs(z));
  const d = 0.3989422804014327 * Math.exp((-z * z) / 2);
  const tail = d * t * (0.31938153 + t * (-0.356563782 + t * (1.781477937 + t * (-1.821255978 + t * 1.330274429))));
  return z >= 0 ? 1 - tail : tail;
}

/** Mann-Whitney U test result. */
export interface RankTest {
  /** U of the first sample: pairs (x from a, y from b) with x > y, ties counting one half. */
  u: number;
  /** Two-sided p-value. */
  p: number;
  /** Whether `p` is exact (small samples, no ties) or from the normal approximation. */
  exact: boolean;
  /** The smallest two-sided p-value these sample sizes can give at all. */
  minP: number;
}

// Number of arrangements of m values of a and n of b with U = u, for every u (a DP over the
// largest value's owner); returns the counts for u = 0 .. m * n.
function uDistribution(m: number, n: number): number[] {
  let previous: number[][] = [];
  for (let i = 0; i <= m; i++) {
    const row: number[][] = [];
    for (let j = 0; j <= n; j++) {
      if (i === 0 || j === 0) {
        row.push([1]);
        continue;
      }
      // The largest value is a's (beats all j of b: U += j) or b's (U unchanged).
      const withA = previous[j];
      const withB = row[j - 1];
      const out = new Array(i * j + 1).fill(0);
      withA.forEach((c, u) => (out[u + j] += c));
      withB.forEach((c, u) => (out[u] += c));
      row.push(out);
    }
    previous = row;
  }
  return previous[n];
}

/**
 * The Mann-Whitney U test (Wilcoxon rank-sum), two-sided: do the values of `a` tend to be
 * larger or smaller than those of `b`? Exact for up to 400 pairs without ties; otherwise the
 * normal approximation with the tie correction and a continuity correction.
 */
export function mannWhitney(a: readonly number[], b: readonly number[]): RankTest {
  const m = a.length;
  const n = b.length;
  if (m === 0 || n === 0) throw new RangeError('the rank test needs values on both sides');
  let u = 0;
  for (const x of a) for (const y of b) u += x > y ? 1 : x === y ? 0.5 : 0;
  const all = [...a, ...b].sort((x, y) => x - y);
  let tieTerm = 0;
  for (let i = 0; i < all.length; ) {
    let j = i;
    while (j < all.length && all[j] === all[i]) j++;
    const t = j - i;
    tieTerm += t ** 3 - t;
    i = j;
  }
  const mean = (m * n) / 2;
  if (tieTerm === 0 && m * n <= 400) {
    const counts = uDistribution(m, n);
    const arrangements = counts.reduce((s, c) => s + c, 0);
    const low = Math.min(u, m * n - u);
    let tail = 0;
    for (let k = 0; k <= low; k++) tail += counts[k];
    return { u, p: Math.min(1, (2 * tail) / arrangements), exact: true, minP: (2 * counts[0]) / arrangements };
  }
  const N = m + n;
  const variance = ((m * n) / 12) * (N + 1 - tieTerm / (N * (N - 1)));
  const minZ = (mean - 0.5) / Math.sqrt((m * n * (N + 1)) / 12);
  const minP = 2 * (1 - normalCdf(minZ));
  if (variance === 0) return { u, p: 1, exact: false, minP };
  const z = (Math.abs(u - mean) - 0.5) / Math.sqrt(variance);
  return { u, p: Math.min(1, 2 * (1 - normalCdf(Math.max(0, z)))), exact: false, minP };
}
