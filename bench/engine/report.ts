/**
 * The human table on the terminal, and the size notation the CLI reads and prints.
 * @module
 */
import type { BenchFile, BenchResult } from './schema';

/** "512", "4k", "1m" style: what --sizes takes and the tables print. */
export function formatSize(bytes: number): string {
  if (bytes >= 1 << 20 && bytes % (1 << 20) === 0) return `${bytes / (1 << 20)}m`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024}k`;
  return String(bytes);
}

/** Parses a size like "512", "4k", "8K", "1m", "2300" into bytes; NaN when it is not one. */
export function parseSize(text: string): number {
  const match = /^(\d+)([kKmM]?)[bB]?$/.exec(text.trim());
  if (!match) return NaN;
  const unit = match[2].toLowerCase() === 'k' ? 1024 : match[2].toLowerCase() === 'm' ? 1 << 20 : 1;
  return Number(match[1]) * unit;
}

/** A number with at most 3 significant decimals, for latencies. */
export function formatUs(us: number): string {
  if (us >= 1000) return us.toFixed(0);
  if (us >= 100) return us.toFixed(1);
  if (us >= 10) return us.toFixed(2);
  return us.toFixed(3);
}

/** Pads cells into aligned columns: text left, numbers right. */
export function renderTable(header: string[], rows: string[][], rightAligned: boolean[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells.map((cell, i) => (rightAligned[i] ? cell.padStart(widths[i]) : cell.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

function resultRow(r: BenchResult): string[] {
  const head = [r.label, r.mode, formatSize(r.size), String(r.writesPerSync)];
  if (!r.supported || !r.latencyUs) return [...head, 'n/a', '', '', '', '', '', ''];
  const l = r.latencyUs;
  return [
    ...head,
    (r.opsPerSec ?? 0).toFixed(0),
    formatUs(r.usPerOp ?? 0),
    formatUs(l.p50),
    formatUs(l.p99),
    formatUs(l.p999),
    formatUs(l.max),
    (r.mbPerSec ?? 0).toFixed(1),
  ];
}

/** The terminal report of a bench run: environment, table, n/a reasons, syscalls, warnings. */
export function renderBenchReport(doc: BenchFile): string {
  const env = doc.env;
  const out: string[] = [];
  const fsLine = [env.filesystem.type ?? 'unknown fs', env.filesystem.mountPoint ? `on ${env.filesystem.mountPoint}` : '', env.filesystem.source ? `(${env.filesystem.source})` : '']
    .filter(Boolean).join(' ');
  out.push(`hardsync bench: ${env.directory}`);
  out.push(`  ${env.os.type} ${env.os.release} ${env.os.arch}, ${env.cpu.model} x${env.cpu.cores}, Node ${env.node}`);
  out.push(`  ${fsLine}${env.filesystem.mountOptions ? `, mount options ${env.filesystem.mountOptions}` : ''}`);
  if (env.device.name) {
    out.push(`  device ${env.device.name}${env.device.model ? ` (${env.device.model})` : ''}: write cache ${env.device.writeCache ?? '?'}, FUA ${fmtFlag(env.device.fua)}, rotational ${fmtFlag(env.device.rotational)}, logical block ${env.device.logicalBlockSize ?? '?'} B`);
  }
  if (env.dioAlignment) out.push(`  direct I/O alignment: memory ${env.dioAlignment.memory} B, offset ${env.dioAlignment.offset} B (${env.dioAlignment.source})`);
  const runner = doc.results.some((r) => r.runner === 'native') ? 'native loop on a worker thread' : 'JavaScript loop (--js)';
  out.push(`  ${runner}; latencies in microseconds; ops/s and us/op as pg_test_fsync computes them`);
  out.push('');
  const header = ['method', 'mode', 'size', 'w/sync', 'ops/s', 'us/op', 'p50', 'p99', 'p99.9', 'max', 'MB/s'];
  out.push(renderTable(header, doc.results.map(resultRow), [false, false, true, true, true, true, true, true, true, true, true]));
  const na = doc.results.filter((r) => !r.supported);
  if (na.length > 0) {
    out.push('');
    out.push('n/a:');
    const seen = new Set<string>();
    for (const r of na) {
      const line = `  ${r.label}${r.reason?.includes('size') ? ` ${formatSize(r.size)}` : ''}: ${r.reason}`;
      if (!seen.has(line)) out.push(line);
      seen.add(line);
    }
  }
  out.push('');
  out.push('calls per operation:');
  const shown = new Set<string>();
  for (const r of doc.results) {
    if (shown.has(r.method)) continue;
    shown.add(r.method);
    out.push(`  ${r.label}: ${r.syscalls.join(', ')}`);
  }
  for (const w of doc.warnings) {
    out.push('');
    out.push(`WARNING: ${w.message}`);
  }
  return `${out.join('\n')}\n`;
}

function fmtFlag(value: boolean | null): string {
  return value === null ? '?' : value ? 'yes' : 'no';
}
