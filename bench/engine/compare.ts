/**
 * `hardsync compare`: several result files (other machines, OSes, filesystems) side by side,
 * each figure with its ratio to the first file's.
 * @module
 */
import path from 'node:path';
import { formatSize, formatUs, renderTable } from './report';
import type { BenchFile, BenchResult } from './schema';

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

function ratio(value: number, base: number | null | undefined): string {
  if (base === null || base === undefined || base === 0) return '';
  return ` (${(value / base).toFixed(2)}x)`;
}

/**
 * The comparison table: one row per case found in any file, in first-seen order; per file
 * the p50 latency (us) and ops/s, each with its ratio to the first file's figure.
 */
export function renderCompare(files: { name: string; doc: BenchFile }[]): string {
  const order: string[] = [];
  const rowsByKey = new Map<string, (BenchResult | undefined)[]>();
  files.forEach(({ doc }, f) => {
    for (const r of doc.results) {
      const key = caseKey(r);
      if (!rowsByKey.has(key)) {
        rowsByKey.set(key, new Array(files.length).fill(undefined));
        order.push(key);
      }
      (rowsByKey.get(key) as (BenchResult | undefined)[])[f] = r;
    }
  });
  const header = ['method', 'mode', 'size', 'w/sync'];
  files.forEach(({ name }, f) => header.push(`${f + 1}: p50 us`, `${f + 1}: ops/s`));
  const rows = order.map((key) => {
    const cells = rowsByKey.get(key) as (BenchResult | undefined)[];
    const any = cells.find((c) => c !== undefined) as BenchResult;
    const first = cells[0];
    const row = [any.label ?? any.method, any.mode, formatSize(any.size), String(any.writesPerSync)];
    cells.forEach((c, f) => {
      if (!c) {
        row.push('-', '-');
      } else if (!c.supported || !c.latencyUs || c.opsPerSec === null) {
        row.push('n/a', 'n/a');
      } else {
        const isFirst = f === 0;
        row.push(
          `${formatUs(c.latencyUs.p50)}${isFirst ? '' : ratio(c.latencyUs.p50, first?.latencyUs?.p50)}`,
          `${c.opsPerSec.toFixed(0)}${isFirst ? '' : ratio(c.opsPerSec, first?.opsPerSec)}`,
        );
      }
    });
    return row;
  });
  const legend = files.map(({ name, doc }, f) => {
    const e = doc.env;
    const device = e.device?.name ? `, ${e.device.name} cache ${e.device.writeCache ?? '?'}` : '';
    return `  ${f + 1}: ${fileTitle(name, doc)}: ${e.os?.type ?? '?'} ${e.os?.release ?? ''} ${e.os?.arch ?? ''}, ${e.filesystem?.type ?? '?'}${device}, ${e.hostname ?? '?'}, ${e.startedAt ?? ''}`;
  });
  const right = header.map((_, i) => i >= 2);
  return `${['files (ratios are to file 1; "-": not measured there):', ...legend].join('\n')}\n\n${renderTable(header, rows, right)}\n`;
}
