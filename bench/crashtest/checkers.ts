/**
 * crashtest's built-in checkers (`--expect files`, `--expect durable-log`): after a power cut
 * and the reboot, is everything the workload acknowledged (lib/crashtest.ts) still there?
 * Each returns the problems it found, one sentence each; none means the run passed.
 * @module
 */
import fs from 'node:fs';
import path from 'node:path';
import { matchesAcknowledgement, type Acknowledgement } from '../../lib/crashtest';
import { DurableLog } from '../../lib/index';

/** What `--expect` names. */
export type Expectation = { kind: 'files' } | { kind: 'durable-log'; dir: string };

/** The names `--expect` takes. */
export const EXPECTATIONS = ['files', 'durable-log'] as const;

/** Parses `--expect`'s value: `files`, `durable-log` or `durable-log=SUBDIR`; null if it is none of them. */
export function parseExpectation(text: string): Expectation | null {
  if (text === 'files') return { kind: 'files' };
  const m = /^durable-log(?:=(.+))?$/.exec(text);
  if (!m) return null;
  const dir = m[1] ?? '.';
  if (path.isAbsolute(dir) || path.normalize(dir).split(path.sep)[0] === '..') return null;
  return { kind: 'durable-log', dir };
}

/** Runs the built-in check `expectation` on `dir` against `acks`. */
export function runExpectation(expectation: Expectation, dir: string, acks: Acknowledgement[]): Promise<string[]> {
  return expectation.kind === 'files' ? checkFiles(dir, acks) : checkDurableLog(path.join(dir, expectation.dir), acks);
}

/** Up to 40 characters of `bytes`, quoted, when they are printable text; for a message. */
function preview(bytes: Buffer): string {
  if (bytes.length === 0) return ' (empty)';
  const text = bytes.subarray(0, 41).toString('utf8').replace(/\n/g, '\\n');
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0008\u000b-\u001f\ufffd]/.test(text)) return '';
  return ` '${text.length > 40 ? `${text.slice(0, 40)}...` : text}'`;
}

function describeAck(ack: Acknowledgement): string {
  if (ack.deleted) return 'gone';
  if (ack.sha256 === undefined) return 'existing';
  return `${ack.size} bytes${ack.value ? preview(ack.value) : ` (sha256 ${ack.sha256.slice(0, 12)})`}`;
}

/** The file's bytes; null if there is none; an empty buffer for a directory (it exists, holds no value). */
function readKey(file: string): { content: Buffer | null; isDirectory: boolean } {
  try {
    return { content: fs.readFileSync(file), isDirectory: false };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return { content: null, isDirectory: false };
    if (code === 'EISDIR') return { content: Buffer.alloc(0), isDirectory: true };
    throw error;
  }
}

/**
 * `--expect files`: each acknowledged key is a file path under `dir`, and after the cut it holds
 * what its last acknowledgement promised (exactly its value, or it is gone, or it exists), or a
 * value announced for it with intend() after that acknowledgement. Keys never acknowledged are
 * not checked.
 */
export async function checkFiles(dir: string, acks: Acknowledgement[]): Promise<string[]> {
  const problems: string[] = [];
  const byKey = new Map<string, { last?: Acknowledgement; later: Acknowledgement[]; acked: Acknowledgement[] }>();
  for (const ack of acks) {
    const normal = path.normalize(ack.key);
    if (path.isAbsolute(ack.key) || normal.split(path.sep)[0] === '..') {
      problems.push(`line ${ack.line}: key ${JSON.stringify(ack.key)} is not a path inside the directory`);
      continue;
    }
    const entry = byKey.get(normal) ?? { later: [], acked: [] };
    byKey.set(normal, entry);
    if (ack.op === 'ack') {
      entry.last = ack;
      entry.later = [];
      entry.acked.push(ack);
    } else {
      entry.later.push(ack);
    }
  }
  for (const [key, { last, later, acked }] of byKey) {
    if (!last) continue;
    const { content, isDirectory } = readKey(path.join(dir, key));
    const fileContent = isDirectory && last.sha256 !== undefined ? null : content;
    if (matchesAcknowledgement(last, fileContent) || later.some((i) => matchesAcknowledgement(i, fileContent))) continue;
    const found = content === null ? 'it is missing' : isDirectory ? 'it is a directory' : `it holds ${content.length} bytes${preview(content)}`;
    const older = content === null ? undefined : acked.slice(0, -1).reverse().find((a) => a.sha256 !== undefined && matchesAcknowledgement(a, content));
    const hint = older ? `: the value acknowledged earlier, at line ${older.line}` : content !== null && later.length > 0 ? ', none of the values announced after it' : content !== null ? ' (a value written after that acknowledgement is allowed only if announced first with intend())' : '';
    problems.push(`${key}: acknowledged as ${describeAck(last)} (line ${last.line}), but ${found}${hint}`);
  }
  return problems;
}

/**
 * `--expect durable-log`: `dir` holds a DurableLog; each acknowledged key is an LSN (a decimal
 * integer) whose record must be there after recovery, with the acknowledged value when one was
 * given. Opened with the public API (verify 'all': every record's checksum, the LSNs without a
 * gap), and the most batches in flight the log allows, so that the torn batches of any
 * configuration are read as a torn tail and not as damage.
 */
export async function checkDurableLog(dir: string, acks: Acknowledgement[]): Promise<string[]> {
  const problems: string[] = [];
  const wanted = new Map<number, Acknowledgement>();
  for (const ack of acks) {
    if (ack.op !== 'ack') continue;
    if (!/^[1-9][0-9]{0,15}$/.test(ack.key)) {
      problems.push(`line ${ack.line}: key ${JSON.stringify(ack.key)} is not an LSN (a positive integer)`);
      continue;
    }
    wanted.set(Number(ack.key), ack);
  }
  if (!fs.existsSync(dir)) {
    if (wanted.size > 0) problems.push(`the log directory ${dir} is missing, with ${wanted.size} acknowledged records`);
    return problems;
  }
  let log: DurableLog;
  try {
    log = await DurableLog.open(dir, { verify: 'all', maxInFlight: 64 });
  } catch (error) {
    return [...problems, `the log does not open after the cut: ${(error as Error).message}`];
  }
  try {
    const { recovery } = log;
    if (recovery.corruption) {
      const c = recovery.corruption;
      problems.push(`recovery found damage in ${c.segment} at offset ${c.offset}: ${c.reason}`);
    }
    const lost: number[] = [];
    const differ: number[] = [];
    const seen = new Set<number>();
    let expected = log.firstLsn;
    try {
      for await (const { lsn, data } of log.records()) {
        if (lsn !== expected) problems.push(`record LSN ${lsn} follows LSN ${expected - 1}`);
        expected = lsn + 1;
        const ack = wanted.get(lsn);
        if (!ack) continue;
        seen.add(lsn);
        if (!matchesAcknowledgement(ack, data)) differ.push(lsn);
      }
    } catch (error) {
      problems.push(`reading the recovered log failed: ${(error as Error).message}`);
    }
    for (const lsn of wanted.keys()) if (!seen.has(lsn)) lost.push(lsn);
    const list = (lsns: number[]) => `${lsns.slice(0, 5).join(', ')}${lsns.length > 5 ? ` and ${lsns.length - 5} more` : ''}`;
    const holds = log.lastLsn < log.firstLsn ? 'the log holds no record' : `the log holds LSN ${log.firstLsn} to ${log.lastLsn}`;
    if (lost.length > 0) problems.push(`acknowledged records lost: LSN ${list(lost.sort((a, b) => a - b))} (${holds})`);
    if (differ.length > 0) problems.push(`acknowledged records changed: LSN ${list(differ)}`);
  } finally {
    await log.close();
  }
  return problems;
}
