/**
 * `hardsync powercheck verify`: after the machine under test is back, reads every block the
 * witness knows of and compares it with what the witness was told was durable.
 *
 * For each block the witness knows the last write acknowledged durable (D) and the last one
 * announced (P >= D). The disk may hold D, or P if P > D (an unacknowledged write that landed
 * anyway), or a torn mix if P > D (a write cut half-way). Anything else where D exists (an
 * older write, zeros, damage) means an acknowledged write was lost: the disk, or some layer
 * between it and the program, lied.
 * @module
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { WitnessClient, WitnessRefusal, WitnessUnreachable } from './client';
import { decodeToken, HEADER_MAGIC, parseBlock, parseHeader, type FileHeader, type Method, type TestParams } from './protocol';

export type Verdict = 'honest' | 'lied' | 'could-not-check';

/** Exit code of each verdict. */
export const VERDICT_EXIT: Record<Verdict, number> = { honest: 0, lied: 1, 'could-not-check': 2 };

/** What the witness says of a test (the TEST line). */
export interface WitnessTest extends TestParams {
  ready: boolean;
  ended: boolean;
  began: number;
  readyAt: number;
  last: number;
  announced: number;
  durable: number;
  lastSeq: number;
  number: number;
}

export interface WitnessBlock {
  block: number;
  durableSeq: number;
  durableAt: number;
  pendingSeq: number;
  pendingAt: number;
}

/** A block that held something other than an acknowledged or announced write. */
export interface BlockFinding {
  block: number;
  acknowledgedSeq: number;
  /** When the witness recorded the acknowledgement (ISO time, witness clock). */
  acknowledgedAt: string | null;
  /** How long before the last message of the machine under test (its last sign of life before the cut). */
  beforeLastContactMs: number | null;
  announcedSeq: number;
  /** What the block holds instead. */
  found: string;
}

export interface VerifyReport {
  schema: 'hardsync-powercheck/1';
  kind: 'verify';
  verdict: Verdict;
  /** One sentence: why this verdict. */
  reason: string;
  witness: string;
  file: string;
  test: string | null;
  /** How the test was identified: its file's header, --test, or the witness's last unfinished test of this host and path. */
  testFrom: 'header' | 'option' | 'witness' | null;
  /**
   * When the header is gone and the witness could not say which test wrote the file: the tests
   * it knows for this path (the ones that could have, or the latest ones), for --test.
   */
  candidates: { test: string; host: string; began: string; last: string; ready: boolean; ended: boolean }[];
  testInfo: WitnessTest | null;
  /**
   * A later test of the same host and path, begun after this test's last message, whose own
   * file was acknowledged durable (READY), although the file still holds this test's header:
   * the disk lost the newer file and kept the older one.
   */
  replacedBy: string | null;
  /** The file's header (block 0), made durable before the first write. */
  header: 'intact' | 'missing' | 'damaged' | 'no-file' | 'not-read';
  counts: {
    /** Blocks the witness knows of. */
    blocks: number;
    /** Blocks with a write acknowledged durable. */
    acknowledged: number;
    /** Holding their last acknowledged write. */
    intact: number;
    /** Holding a later write that was announced but not acknowledged (it landed anyway: fine). */
    newer: number;
    /** Torn by an announced, unacknowledged write (a real disk may tear a write cut half-way). */
    torn: number;
    /** Acknowledged durable, and now older, zero, or damaged: the lie. */
    lost: number;
    /** A write the witness never heard of: the witness state or the file is not this test's. */
    unexpected: number;
    /** Could not be read (I/O error). */
    unreadable: number;
  };
  lost: BlockFinding[];
  torn: BlockFinding[];
  unexpected: BlockFinding[];
  /** Findings beyond the ones listed (the lists hold at most 1000 each). */
  omitted: number;
}

export interface VerifyOptions {
  witness: { host: string; port: number };
  /** The witness's secret. */
  secret: string;
  file: string;
  /** The test to check when the file's header cannot tell (default: the witness says which, see {@link chooseTest}). */
  test?: string;
  /** The host name the run used (default os.hostname()), to find the test at the witness. */
  host?: string;
  timeoutMs?: number;
}

const LIST_LIMIT = 1000;

/** The tests named in a "could not check", at most. */
const CANDIDATES_SHOWN = 10;

/**
 * Which test wrote `file` on `host`, when the file's header is gone: of the witness's tests of
 * that host and path, the ones that did not end cleanly and were not followed by another test
 * of the same path begun after their last record (that run replaced the file). Exactly one:
 * that test. None: the latest test of the path ended cleanly (a file removed after a clean
 * stop says nothing of the disk), or the witness knows no test of it. More than one: runs that
 * overlapped in time (two machines with the same host name, say); the caller must choose.
 */
export function chooseTest(tests: readonly WitnessTest[], host: string, file: string): { test: WitnessTest } | { test: null; why: string; candidates: WitnessTest[] } {
  const mine = tests.filter((t) => t.host === host && t.path === file).sort((a, b) => a.number - b.number);
  if (mine.length === 0) {
    const others = tests.filter((t) => t.path === file);
    return {
      test: null,
      why: `the witness knows no test of ${host} for that path${others.length > 0 ? ` (it knows ${others.length} of other hosts: ${[...new Set(others.map((t) => t.host))].slice(0, CANDIDATES_SHOWN).join(', ')})` : ''}`,
      candidates: others.slice(-CANDIDATES_SHOWN),
    };
  }
  const unfinished = mine.filter((t) => !t.ended && !mine.some((u) => u !== t && u.began > t.last));
  if (unfinished.length === 1) return { test: unfinished[0] };
  if (unfinished.length === 0) {
    const latest = mine[mine.length - 1];
    return {
      test: null,
      why: `the witness's latest test of ${host} for that path, ${latest.test}, ended cleanly (it was stopped, not cut): a file removed after that proves nothing about the disk`,
      candidates: [latest],
    };
  }
  return {
    test: null,
    why: `${unfinished.length} unfinished tests of ${host} for that path overlapped in time (${unfinished.slice(0, CANDIDATES_SHOWN).map((t) => t.test).join(', ')}): the witness cannot tell which one wrote it`,
    candidates: unfinished.slice(0, CANDIDATES_SHOWN),
  };
}

/** The latest test that replaced `t`'s file with its own, durably (see {@link VerifyReport.replacedBy}). */
export function replacementOf(tests: readonly WitnessTest[], t: WitnessTest): WitnessTest | undefined {
  const later = tests.filter((u) => u.host === t.host && u.path === t.path && u.number > t.number && u.began > t.last && u.ready);
  return later.length > 0 ? later.reduce((a, b) => (b.number > a.number ? b : a)) : undefined;
}

function candidateOf(t: WitnessTest): VerifyReport['candidates'][number] {
  return { test: t.test, host: t.host, began: new Date(t.began).toISOString(), last: new Date(t.last).toISOString(), ready: t.ready, ended: t.ended };
}

function parseTestLine(line: string): WitnessTest {
  const f = line.split(' ');
  if (f[0] !== 'TEST' || f.length < 7) throw new WitnessUnreachable(`the witness sent a malformed TEST line: ${JSON.stringify(line.slice(0, 80))}`, 'EPROTO');
  const kv = new Map<string, string>();
  for (const item of f.slice(7)) {
    const eq = item.indexOf('=');
    if (eq > 0) kv.set(item.slice(0, eq), item.slice(eq + 1));
  }
  const num = (key: string) => Number(kv.get(key) ?? NaN);
  return {
    test: f[1],
    blockSize: Number(f[2]),
    blocks: Number(f[3]),
    method: f[4] as Method,
    host: decodeToken(f[5], 'host', 255),
    path: decodeToken(f[6], 'path', 4096),
    ready: kv.get('ready') === '1',
    ended: kv.get('ended') === '1',
    began: num('began'),
    readyAt: num('ready-at'),
    last: num('last'),
    announced: num('announced'),
    durable: num('durable'),
    lastSeq: num('last-seq'),
    number: num('number'),
  };
}

function parseBlockLine(line: string): WitnessBlock {
  const f = line.split(' ');
  const n = f.slice(1).map(Number);
  if (f[0] !== 'BLOCK' || n.length !== 5 || n.some((x) => !Number.isSafeInteger(x) || x < 0)) {
    throw new WitnessUnreachable(`the witness sent a malformed BLOCK line: ${JSON.stringify(line.slice(0, 80))}`, 'EPROTO');
  }
  return { block: n[0], durableSeq: n[1], durableAt: n[2], pendingSeq: n[3], pendingAt: n[4] };
}

/** Reads `length` bytes at `position`; bytes past the end of the file read as zeros. */
function readAt(fd: number, length: number, position: number): Buffer {
  const buf = Buffer.alloc(length);
  let got = 0;
  while (got < length) {
    const n = fs.readSync(fd, buf, got, length - got, position + got);
    if (n === 0) break;
    got += n;
  }
  return buf;
}

/** Checks the file against the witness. Never throws for the machine's or the witness's failures: those are verdicts. */
export async function verifyPowercheck(options: VerifyOptions): Promise<VerifyReport> {
  const file = path.resolve(options.file);
  const witnessName = options.witness.host.includes(':') ? `[${options.witness.host}]:${options.witness.port}` : `${options.witness.host}:${options.witness.port}`;
  const report: VerifyReport = {
    schema: 'hardsync-powercheck/1',
    kind: 'verify',
    verdict: 'could-not-check',
    reason: '',
    witness: witnessName,
    file,
    test: null,
    testFrom: null,
    candidates: [],
    testInfo: null,
    replacedBy: null,
    header: 'not-read',
    counts: { blocks: 0, acknowledged: 0, intact: 0, newer: 0, torn: 0, lost: 0, unexpected: 0, unreadable: 0 },
    lost: [],
    torn: [],
    unexpected: [],
    omitted: 0,
  };
  const cannot = (reason: string): VerifyReport => Object.assign(report, { verdict: 'could-not-check' as const, reason });

  // The file and its header first: they say which test to ask the witness about.
  let fd = -1;
  let header: FileHeader | undefined;
  try {
    fd = fs.openSync(file, 'r');
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    if (e.code !== 'ENOENT') return cannot(`cannot open ${file}: ${e.message}`);
    report.header = 'no-file';
  }
  try {
    if (fd >= 0) {
      let head: Buffer;
      try {
        head = readAt(fd, 512, 0);
        const size = head.readUInt32LE(16);
        header = parseHeader(size >= 512 && size <= 1 << 20 && (size & (size - 1)) === 0 ? readAt(fd, size, 0) : head);
      } catch (error) {
        return cannot(`cannot read the header of ${file}: ${(error as Error).message}`);
      }
      report.header = header ? 'intact' : head.subarray(0, 8).equals(HEADER_MAGIC) ? 'damaged' : 'missing';
    }

    let client: WitnessClient;
    try {
      client = await WitnessClient.connect(options.witness.host, options.witness.port, options.secret, options.timeoutMs ?? 30_000);
    } catch (error) {
      return cannot((error as Error).message);
    }
    let info: WitnessTest;
    let blocks: WitnessBlock[];
    let tests: WitnessTest[];
    try {
      tests = (await client.request('LIST')).filter((l) => l.startsWith('TEST ')).map(parseTestLine);
      if (header) {
        if (options.test !== undefined && options.test !== header.test) {
          return cannot(`${file} belongs to test ${header.test}, not to test ${options.test} given by --test`);
        }
        report.test = header.test;
        report.testFrom = 'header';
      } else if (options.test !== undefined) {
        report.test = options.test;
        report.testFrom = 'option';
      } else {
        const host = options.host ?? os.hostname();
        const chosen = chooseTest(tests, host, file);
        if (chosen.test === null) {
          report.candidates = chosen.candidates.map(candidateOf);
          const named = chosen.candidates.length > 0 ? `; give --test ID to check one of: ${chosen.candidates.map((t) => t.test).join(', ')}` : '';
          return cannot(`${file} ${report.header === 'no-file' ? 'does not exist' : 'has no powercheck header'}, and ${chosen.why}${named}`);
        }
        report.test = chosen.test.test;
        report.testFrom = 'witness';
      }
      const lines = await client.request(`STATE ${report.test}`);
      info = parseTestLine(lines[0]);
      blocks = lines.slice(1, -1).map(parseBlockLine);
    } catch (error) {
      if (error instanceof WitnessRefusal && error.errCode === 'unknown-test') return cannot(`the witness knows no test ${report.test}`);
      return cannot((error as Error).message);
    } finally {
      client.close();
    }
    report.testInfo = info;
    if (header) report.replacedBy = replacementOf(tests, info)?.test ?? null;
    report.counts.blocks = blocks.length;
    report.counts.acknowledged = blocks.filter((b) => b.durableSeq > 0).length;
    if (header && (header.blockSize !== info.blockSize || header.blocks !== info.blocks)) {
      return cannot(`the header of ${file} (${header.blocks} blocks of ${header.blockSize} B) does not match the witness's test (${info.blocks} of ${info.blockSize})`);
    }
    if (!info.ready) {
      return cannot(`test ${info.test} stopped before its file was durable: nothing was acknowledged`);
    }

    const ackAt = (b: WitnessBlock) => ({
      acknowledgedAt: b.durableAt > 0 ? new Date(b.durableAt).toISOString() : null,
      beforeLastContactMs: b.durableAt > 0 ? info.last - b.durableAt : null,
    });
    const note = (list: BlockFinding[], b: WitnessBlock, found: string) => {
      if (list.length < LIST_LIMIT) list.push({ block: b.block, acknowledgedSeq: b.durableSeq, ...ackAt(b), announcedSeq: b.pendingSeq, found });
      else report.omitted++;
    };
    if (fd >= 0) {
      const buf = Buffer.alloc(info.blockSize);
      for (const b of blocks) {
        let content;
        try {
          content = parseBlock(readBlock(fd, buf, b.block * info.blockSize), info.test, b.block);
        } catch {
          report.counts.unreadable++;
          continue;
        }
        const landedLater = b.pendingSeq > b.durableSeq;
        if (content.kind === 'write') {
          if (content.seq === b.durableSeq && b.durableSeq > 0) report.counts.intact++;
          else if (landedLater && content.seq === b.pendingSeq) report.counts.newer++;
          else if (b.durableSeq > 0 && content.seq < b.durableSeq) {
            report.counts.lost++;
            note(report.lost, b, `write ${content.seq}, older than the acknowledged ${b.durableSeq}`);
          } else {
            report.counts.unexpected++;
            note(report.unexpected, b, `write ${content.seq}, which the witness never heard of`);
          }
        } else if (b.durableSeq === 0) {
          // Only announced, never acknowledged: whatever it holds, nothing was promised.
        } else if (content.kind === 'garbage' && landedLater) {
          report.counts.torn++;
          note(report.torn, b, `a torn block (sectors of writes ${content.seqs.join(', ') || 'unknown'})`);
        } else {
          report.counts.lost++;
          const found =
            content.kind === 'zeros'
              ? 'zeros (never written)'
              : content.kind === 'foreign'
                ? `a block of ${content.test === info.test ? `position ${content.block}` : `test ${content.test}`} (write ${content.seq})`
                : `a damaged block (sectors of writes ${content.seqs.join(', ') || 'unknown'})`;
          note(report.lost, b, found);
        }
      }
    }

    const c = report.counts;
    const lostSummary = () => {
      const ages = report.lost.map((l) => l.beforeLastContactMs).filter((x): x is number => x !== null);
      return ages.length > 0 ? `; acknowledged ${Math.min(...ages)} to ${Math.max(...ages)} ms before the last message from the machine` : '';
    };
    if (report.header === 'no-file') {
      report.verdict = 'lied';
      report.reason = `${file} is gone, though its creation was acknowledged durable (file and directory flushed) before the first write`;
    } else if (report.header !== 'intact') {
      report.verdict = 'lied';
      report.reason = `the file's header (block 0), flushed before the first write, is ${report.header}` + (c.lost > 0 ? `; and ${c.lost} of ${c.acknowledged} acknowledged blocks lost their write${lostSummary()}` : '');
    } else if (report.replacedBy !== null) {
      const newer = tests.find((u) => u.test === report.replacedBy)!;
      report.verdict = 'lied';
      report.reason =
        `${file} holds test ${info.test}, but test ${newer.test} of the same host and path, begun ${new Date(newer.began).toISOString()} after it, ` +
        `had replaced it with its own file, acknowledged durable: the disk lost the newer file and kept the older one`;
    } else if (c.lost > 0) {
      report.verdict = 'lied';
      report.reason = `${c.lost} of ${c.acknowledged} blocks acknowledged durable do not hold their acknowledged write${lostSummary()}`;
    } else if (c.unreadable > 0) {
      report.reason = `${c.unreadable} blocks could not be read`;
    } else if (c.unexpected > 0) {
      report.reason = `${c.unexpected} blocks hold writes the witness never heard of: the witness state or the file is not this test's`;
    } else {
      report.verdict = 'honest';
      report.reason =
        c.acknowledged > 0
          ? `every one of the ${c.acknowledged} blocks acknowledged durable holds its acknowledged write (or a later announced one)`
          : 'the file and its header, acknowledged durable, are intact (no block write was acknowledged)';
      if (info.ended) report.reason += '; but the run was stopped cleanly, so no power cut was tested';
    }
    return report;
  } finally {
    if (fd >= 0) fs.closeSync(fd);
  }
}

function readBlock(fd: number, buf: Buffer, position: number): Buffer {
  buf.fill(0);
  let got = 0;
  while (got < buf.length) {
    const n = fs.readSync(fd, buf, got, buf.length - got, position + got);
    if (n === 0) break;
    got += n;
  }
  return buf;
}

/** The human report. */
export function renderVerify(r: VerifyReport): string {
  const out: string[] = [];
  const t = r.testInfo;
  out.push(`hardsync powercheck verify: ${r.file}`);
  out.push(`witness ${r.witness}${r.test ? `, test ${r.test}${r.testFrom === 'header' ? '' : r.testFrom === 'option' ? ' (from --test)' : ' (the header is gone: the last unfinished test of this host and path)'}` : ''}`);
  if (t) {
    out.push(`run on ${t.host}: ${t.blocks} blocks of ${t.blockSize} B, method ${t.method}; began ${new Date(t.began).toISOString()}, last message ${new Date(t.last).toISOString()}${t.ended ? ' (stopped cleanly: there was no power cut)' : ''}`);
    out.push(`writes announced ${t.announced}, acknowledged durable ${t.durable}; file header: ${r.header}`);
    const c = r.counts;
    out.push('');
    out.push(`blocks known to the witness     ${c.blocks}`);
    out.push(`  acknowledged durable          ${c.acknowledged}`);
    out.push(`  intact                        ${c.intact}`);
    out.push(`  newer (unacknowledged write landed)  ${c.newer}`);
    out.push(`  torn by an unacknowledged write      ${c.torn}`);
    out.push(`  LOST                          ${c.lost}`);
    if (c.unexpected) out.push(`  unexpected                    ${c.unexpected}`);
    if (c.unreadable) out.push(`  unreadable                    ${c.unreadable}`);
    for (const l of r.lost.slice(0, 20)) {
      out.push(`    block ${l.block}: write ${l.acknowledgedSeq} acknowledged ${l.acknowledgedAt ?? '?'} (${l.beforeLastContactMs ?? '?'} ms before the last message); holds ${l.found}`);
    }
    if (r.lost.length > 20 || r.omitted > 0) out.push(`    ... and ${r.counts.lost - Math.min(20, r.lost.length)} more (--json FILE lists up to 1000)`);
  }
  if (r.candidates.length > 0) {
    out.push('tests of this path known to the witness:');
    for (const c of r.candidates) out.push(`  ${c.test}  host ${c.host}, began ${c.began}, last message ${c.last}${c.ended ? ', ended cleanly' : c.ready ? ', not ended (cut?)' : ', cut before its file was durable'}`);
  }
  out.push('');
  const word = r.verdict === 'honest' ? 'HONEST' : r.verdict === 'lied' ? 'LIED' : 'COULD NOT CHECK';
  out.push(`verdict: ${word}: ${r.reason}`);
  return `${out.join('\n')}\n`;
}
