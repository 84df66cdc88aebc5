/** bench/agreement.ts: reading the peers' outputs, the per-pair ratios, and its refusals. */
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { agreement, GOALS, parseFioJson, parsePgOutput, renderAgreements } from '../dist/bench/agreement.js';

const SCRIPT = path.join(__dirname, '..', 'dist', 'bench', 'agreement.js');

const PG_OUTPUT = `1 second per test
O_DIRECT supported on this platform for open_datasync and open_sync.

Compare file sync methods using one 8kB write:
(in wal_sync_method preference order, except fdatasync is Linux's default)
        open_datasync                       214.165 ops/sec    4669 usecs/op
        fdatasync                           544.126 ops/sec    1838 usecs/op
        fsync_writethrough                              n/a

Compare file sync methods using two 8kB writes:
(in wal_sync_method preference order, except fdatasync is Linux's default)
        open_datasync                       222.943 ops/sec    4485 usecs/op

Non-sync'ed 8kB writes:
        write                             11017.579 ops/sec      91 usecs/op
`;

describe('agreement: the peers and the ratios', () => {
  it("reads pg_test_fsync's lines by section, n/a lines left out", () => {
    expect([...parsePgOutput(PG_OUTPUT)]).toEqual([
      ['1/open_datasync', 214.165], ['1/fdatasync', 544.126], ['2/open_datasync', 222.943], ['3/write', 11017.579],
    ]);
  });

  it("reads fio's sync percentiles (ns) and write IOPS", () => {
    const fio = { jobs: [{ sync: { lat_ns: { percentile: { '50.000000': 138240, '99.000000': 228352 } } }, write: { iops: 6445.4 } }] };
    expect(parseFioJson(JSON.stringify(fio))).toEqual({ p50: 138.24, p99: 228.352, opsPerSec: 6445.4 });
  });

  it('judges the median of the per-pair ratios, not the ratio of medians', () => {
    // pairs: 1.05, 1.08, 0.5 (one pair far off), 1.02, 1.09 -> median 1.05: within 10%
    const a = agreement('p50', GOALS.p50, [100, 100, 200, 100, 100], [105, 108, 100, 102, 109]);
    expect(a.ratios).toEqual([1.05, 1.08, 0.5, 1.02, 1.09]);
    expect(a.medianRatio).toBe(1.05);
    expect(a.within).toBe(true);
    expect(agreement('p50', GOALS.p50, [100, 100, 100], [111, 112, 130]).within).toBe(false);
    expect(agreement('p99', GOALS.p99, [100, 100, 100], [80, 76, 124]).within).toBe(true);
    const table = renderAgreements([a]);
    expect(table).toMatch(/\| p50 +\| +100 \| +105 \| +1\.05x \| +0\.50-1\.09 \| +10% yes \|/);
  });

  it('refuses bad options with exit 2 before running anything', () => {
    for (const args of [['--pairs', '0'], ['--only', 'fio'], ['/no/such/dir'], ['--secs', 'x'], ['a', 'b']]) {
      const run = spawnSync(process.execPath, [SCRIPT, ...args], { encoding: 'utf8' });
      expect(run.status, args.join(' ')).toBe(2);
      expect(run.stderr, args.join(' ')).toMatch(/^agreement: /);
    }
  });
});
