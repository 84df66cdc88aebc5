import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readBenchFile, SCHEMA, UsageError, validateBenchFile, writeBenchFile } from '../dist/bench/engine/schema.js';
import { renderCompare } from '../dist/bench/engine/compare.js';
import { runCli } from './fixtures/bench/run-cli';

const fixtures = path.join(__dirname, 'fixtures', 'bench');

describe('bench JSON schema', () => {
  it('round-trips a result file unchanged', () => {
    const doc = readBenchFile(path.join(fixtures, 'a.json'));
    expect(doc.schema).toBe(SCHEMA);
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'hs-schema-')), 'out.json');
    writeBenchFile(file, doc);
    expect(readBenchFile(file)).toEqual(doc);
    expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toEqual(JSON.parse(fs.readFileSync(path.join(fixtures, 'a.json'), 'utf8')));
    fs.rmSync(path.dirname(file), { recursive: true });
  });

  it('refuses an unknown schema version with a clear error', () => {
    expect(() => readBenchFile(path.join(fixtures, 'future-schema.json'))).toThrow(/unknown schema version "hardsync-bench\/2"/);
    expect(() => readBenchFile(path.join(fixtures, 'no-schema.json'))).toThrow(/unknown schema version none/);
    expect(() => validateBenchFile([], 'x')).toThrow(UsageError);
  });

  it('refuses rows missing required fields', () => {
    const doc = JSON.parse(fs.readFileSync(path.join(fixtures, 'a.json'), 'utf8'));
    delete doc.results[1].latencyUs.p99;
    expect(() => validateBenchFile(doc, 'broken')).toThrow(/results\[1\]\.latencyUs\.p99/);
    const doc2 = JSON.parse(fs.readFileSync(path.join(fixtures, 'a.json'), 'utf8'));
    doc2.results[0].size = '8k';
    expect(() => validateBenchFile(doc2, 'broken')).toThrow(/results\[0\]\.size/);
  });

  it('compare refuses a file of another schema with exit code 2', async () => {
    const run = await runCli(['compare', path.join(fixtures, 'a.json'), path.join(fixtures, 'future-schema.json')]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/future-schema\.json: unknown schema version "hardsync-bench\/2"/);
    expect(run.stdout).toBe('');
  });
});

describe('hardsync compare', () => {
  it('puts fixture files side by side with ratios to the first', () => {
    const files = ['a.json', 'b.json'].map((name) => ({ name, doc: readBenchFile(path.join(fixtures, name)) }));
    const text = renderCompare(files);
    const line = (label: string): string => text.split('\n').find((l) => l.startsWith(label)) as string;
    // b's fdatasync: p50 50 us vs 100 (0.50x), 20000 ops/s vs 10000 (2.00x)
    expect(line('write+fdatasync')).toMatch(/100\.0\s+10000\s+50\.00 \(0\.50x\)\s+20000 \(2\.00x\)/);
    expect(line('write only (page cache)')).toMatch(/1\.000\s+1000000\s+2\.000 \(2\.00x\)\s+500000 \(0\.50x\)/);
    // fsync only in a; fullFsync only in b; direct n/a in a
    expect(line('write+fsync')).toMatch(/200\.0\s+5000\s+-\s+-$/);
    expect(line('write+fullFsync')).toMatch(/-\s+-\s+4000\s+250$/);
    expect(line('O_DIRECT alone')).toMatch(/n\/a\s+n\/a\s+20\.00\s+50000$/);
    expect(text).toMatch(/1: a \[linux\/ext4\]/);
    expect(text).toMatch(/2: b \[darwin\/apfs\]/);
  });

  it('prints the same table from the CLI', async () => {
    const run = await runCli(['compare', path.join(fixtures, 'a.json'), path.join(fixtures, 'b.json')]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/write\+fdatasync.*50\.00 \(0\.50x\)/);
  });
});
