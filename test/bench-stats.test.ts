import { describe, expect, it } from 'vitest';
import { cdfPoints, concatSamples, mannWhitney, median, normalCdf, percentile, ratioInterval, roundsInterval, summarize, tQuantile975 } from '../dist/bench/measure/stats.js';
import { rng } from './helpers/seeded.cjs';
import { formatSize, parseSize } from '../dist/bench/measure/report.js';

describe('bench statistics', () => {
  it('median of per-round figures: middle value, or mean of the two middle ones, unsorted input', () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([7])).toBe(7);
    expect(() => median([])).toThrow(RangeError);
  });

  // 1..100 (in ns): nearest rank makes p50 the 50th value, p99 the 99th, p99.9 the 100th.
  const hundred = Float64Array.from({ length: 100 }, (_, i) => (i + 1) * 1000);

  it('computes nearest-rank percentiles of a known sample', () => {
    expect(percentile(hundred, 0)).toBe(1000);
    expect(percentile(hundred, 50)).toBe(50_000);
    expect(percentile(hundred, 90)).toBe(90_000);
    expect(percentile(hundred, 99)).toBe(99_000);
    expect(percentile(hundred, 99.9)).toBe(100_000);
    expect(percentile(hundred, 100)).toBe(100_000);
    expect(percentile([5], 50)).toBe(5);
    // 10 values: p90 is the 9th, p91 already the 10th.
    const ten = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    expect(percentile(ten, 90)).toBe(9);
    expect(percentile(ten, 91)).toBe(10);
    expect(percentile(ten, 10)).toBe(1);
    expect(percentile(ten, 11)).toBe(2);
  });

  it('refuses an empty sample and a percent outside [0, 100]', () => {
    expect(() => percentile([], 50)).toThrow(RangeError);
    expect(() => percentile([1], 101)).toThrow(RangeError);
    expect(() => percentile([1], Number.NaN)).toThrow(RangeError);
  });

  it('summarizes in microseconds with mean and population stddev', () => {
    const s = summarize(hundred);
    expect(s).toMatchObject({ min: 1, p50: 50, p90: 90, p99: 99, p999: 100, max: 100, mean: 50.5 });
    // population stddev of 1..100 = sqrt((100^2 - 1) / 12)
    expect(s.stddev).toBeCloseTo(Math.sqrt((100 * 100 - 1) / 12), 9);
    const constant = summarize(new Float64Array([2000, 2000, 2000]));
    expect(constant.stddev).toBe(0);
    expect(constant.p99).toBe(2);
  });

  it('gives a monotone CDF ending at the maximum', () => {
    const points = cdfPoints(hundred);
    expect(points[0]).toEqual([0, 1]);
    expect(points[points.length - 1]).toEqual([100, 100]);
    for (let i = 1; i < points.length; i++) {
      expect(points[i][0]).toBeGreaterThan(points[i - 1][0]);
      expect(points[i][1]).toBeGreaterThanOrEqual(points[i - 1][1]);
    }
  });

  it('sorts a Float64Array numerically and concatenates rounds', () => {
    const merged = concatSamples([new Float64Array([10, 9]), new Float64Array([100, 1])]).sort();
    expect(Array.from(merged)).toEqual([1, 9, 10, 100]);
  });

  it('reads and prints sizes like --sizes takes them', () => {
    expect(['512', '4k', '8K', '64k', '1m', '2300', '4kb'].map(parseSize)).toEqual([512, 4096, 8192, 65536, 1048576, 2300, 4096]);
    expect(parseSize('4x')).toBeNaN();
    expect(parseSize('')).toBeNaN();
    expect([512, 4096, 65536, 1048576, 2300].map(formatSize)).toEqual(['512', '4k', '64k', '1m', '2300']);
  });
});

// ---------------------------------------------------------------------------------------------
// Intervals and tests, on synthetic draws with known answers (seeded: the same draws every run).

function lognormalRounds(random: () => number, rounds: number, perRound: number, mu: number, sigma: number): Float64Array[] {
  const normal = (): number => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  return Array.from({ length: rounds }, () => {
    const a = new Float64Array(perRound);
    for (let j = 0; j < perRound; j++) a[j] = Math.exp(mu + sigma * normal());
    return a.sort();
  });
}

const mean = (a: ArrayLike<number>): number => Array.prototype.reduce.call(a, (x: number, y: number) => x + y, 0) as number / a.length;

describe('intervals from rounds', () => {
  it("Student's t quantiles match the table and the large-df limit", () => {
    expect(tQuantile975(1)).toBe(12.706);
    expect(tQuantile975(7)).toBe(2.365);
    expect(tQuantile975(30)).toBe(2.042);
    expect(tQuantile975(7.5)).toBeGreaterThan(2.306);
    expect(tQuantile975(7.5)).toBeLessThan(2.365);
    expect(tQuantile975(60)).toBeCloseTo(2.0003, 3);
    expect(tQuantile975(1e6)).toBeCloseTo(1.96, 3);
    expect(() => tQuantile975(0.5)).toThrow(RangeError);
  });

  it('a hand-computed interval: five rounds, log-scale sd, t with 4 df', () => {
    const rounds = [90, 100, 110, 105, 95];
    const logs = rounds.map(Math.log);
    const m = logs.reduce((a, b) => a + b) / 5;
    const sd = Math.sqrt(logs.reduce((a, v) => a + (v - m) ** 2, 0) / 4);
    const factor = Math.exp((2.776 * sd) / Math.sqrt(5));
    // the typical round (geometric mean 99.80) is below the whole run's 100: the interval spans both
    const typical = Math.exp(m);
    const e = roundsInterval(100, rounds);
    expect(e.low).toBeCloseTo(typical / factor, 9);
    expect(e.high).toBeCloseTo(100 * factor, 9);
    expect(e.halfWidthPct).toBeCloseTo((Math.max(factor, 100 / (typical / factor)) - 1) * 100, 9);
    expect(e.rounds).toEqual(rounds);
    // one bad round pulls a pooled figure away from the typical round: the interval covers both
    const skewed = roundsInterval(400, [100, 101, 99, 100, 100, 102, 98, 100]);
    expect(skewed.low).toBeLessThan(100);
    expect(skewed.high).toBeGreaterThan(400);
    expect(() => roundsInterval(100, [100])).toThrow(RangeError);
    expect(() => roundsInterval(100, [100, 0])).toThrow(RangeError);
  });

  // 400 simulated runs of 8 rounds x 500 lognormal latencies: the 95% intervals of the pooled
  // p50, p99 and mean must contain the true value in 90-99% of the runs (the binomial sd of
  // the coverage at 400 runs is 1.1%).
  it('95% intervals cover the true p50, p99 and mean in about 95% of simulated runs', () => {
    const random = rng(20261202);
    const mu = Math.log(250);
    const sigma = 0.5;
    const truth = { p50: Math.exp(mu), p99: Math.exp(mu + sigma * 2.326348), mean: Math.exp(mu + (sigma * sigma) / 2) };
    const hits = { p50: 0, p99: 0, mean: 0 };
    const trials = 400;
    for (let t = 0; t < trials; t++) {
      const rounds = lognormalRounds(random, 8, 500, mu, sigma);
      const all = concatSamples(rounds).sort();
      const intervals = {
        p50: roundsInterval(percentile(all, 50), rounds.map((r) => percentile(r, 50))),
        p99: roundsInterval(percentile(all, 99), rounds.map((r) => percentile(r, 99))),
        mean: roundsInterval(mean(all), rounds.map(mean)),
      };
      for (const key of ['p50', 'p99', 'mean'] as const) {
        if (intervals[key].low <= truth[key] && truth[key] <= intervals[key].high) hits[key]++;
      }
    }
    for (const key of ['p50', 'p99', 'mean'] as const) {
      expect(hits[key] / trials, key).toBeGreaterThanOrEqual(0.9);
      expect(hits[key] / trials, key).toBeLessThanOrEqual(0.99);
    }
  });

  it('an interval narrows as rounds are added (same spread, more rounds)', () => {
    const few = roundsInterval(100, [90, 110, 95, 105]);
    const many = roundsInterval(100, [90, 110, 95, 105, 90, 110, 95, 105, 90, 110, 95, 105]);
    expect(many.halfWidthPct).toBeLessThan(few.halfWidthPct / 2);
  });
});

describe('the Mann-Whitney U test', () => {
  it('matches hand-computed exact p-values', () => {
    // Complete separation, 3 vs 3: 2 of the C(6,3) = 20 arrangements are as extreme.
    expect(mannWhitney([1, 2, 3], [4, 5, 6])).toMatchObject({ u: 0, p: 0.1, exact: true, minP: 0.1 });
    // 5 vs 5: 2 / C(10,5) = 2 / 252.
    expect(mannWhitney([6, 7, 8, 9, 10], [1, 2, 3, 4, 5]).p).toBeCloseTo(2 / 252, 12);
    expect(mannWhitney([6, 7, 8, 9, 10], [1, 2, 3, 4, 5]).u).toBe(25);
    // 3 vs 3 with U = 1 (only 4 > 3): arrangements with U <= 1 are 2 of 20 on each side: p = 4 / 20.
    expect(mannWhitney([1, 2, 4], [3, 5, 6]).u).toBe(1);
    expect(mannWhitney([1, 2, 4], [3, 5, 6]).p).toBeCloseTo(0.2, 12);
    // U = 2: counts of U = 0, 1, 2 are 1, 1, 2: p = 2 * 4 / 20.
    expect(mannWhitney([1, 3, 5], [2, 6, 7]).p).toBeCloseTo(0.4, 12);
    // Interleaved equally: p = 1.
    expect(mannWhitney([1, 4, 5, 8], [2, 3, 6, 7]).p).toBe(1);
  });

  it('uses the tie-corrected normal approximation with ties (hand-computed)', () => {
    // U = 2 (2 vs 2 ties count 1/2 each), mean 8, variance 16/12 * (9 - 24/56) = 11.4286,
    // z = (6 - 0.5) / 3.3806 = 1.6269, p = 2 * (1 - Phi(z)) = 0.1038.
    const t = mannWhitney([1, 2, 2, 3], [2, 4, 5, 6]);
    expect(t.u).toBe(2);
    expect(t.exact).toBe(false);
    expect(t.p).toBeCloseTo(0.1038, 3);
    expect(normalCdf(1.959964)).toBeCloseTo(0.975, 6);
    expect(normalCdf(-1)).toBeCloseTo(0.158655, 5);
  });

  it('false alarms at about the nominal rate on equal distributions, and finds a 1.5x shift', () => {
    const random = rng(7);
    let alarms = 0;
    let found = 0;
    const trials = 400;
    for (let t = 0; t < trials; t++) {
      const draw = (scale: number): number[] => lognormalRounds(random, 8, 1, Math.log(100 * scale), 0.2).map((r) => r[0]);
      if (mannWhitney(draw(1), draw(1)).p < 0.05) alarms++;
      if (mannWhitney(draw(1), draw(1.5)).p < 0.05) found++;
    }
    expect(alarms / trials).toBeLessThanOrEqual(0.08);
    expect(found / trials).toBeGreaterThanOrEqual(0.9);
  });
});

describe('ratio intervals', () => {
  it('contain the true ratio about 95% of the time (Welch on the log scale)', () => {
    const random = rng(99);
    let hits = 0;
    const trials = 400;
    for (let t = 0; t < trials; t++) {
      const a = lognormalRounds(random, 8, 1, Math.log(100), 0.15).map((r) => r[0]);
      const b = lognormalRounds(random, 6, 1, Math.log(130), 0.3).map((r) => r[0]);
      // The figure of a run is the geometric mean of its rounds here: a known truth (1.3).
      const gm = (x: number[]): number => Math.exp(mean(x.map(Math.log)));
      const r = ratioInterval({ value: gm(a), rounds: a }, { value: gm(b), rounds: b });
      if (r.low <= 1.3 && 1.3 <= r.high) hits++;
    }
    expect(hits / trials).toBeGreaterThanOrEqual(0.9);
    expect(hits / trials).toBeLessThanOrEqual(0.99);
  });
});
