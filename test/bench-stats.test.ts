import { describe, expect, it } from 'vitest';
import { cdfPoints, concatSamples, median, percentile, summarize } from '../dist/bench/engine/stats.js';
import { formatSize, parseSize } from '../dist/bench/engine/report.js';

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
