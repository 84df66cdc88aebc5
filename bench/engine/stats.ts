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
