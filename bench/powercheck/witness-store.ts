/**
 * The witness's durable state: what it knows of every test and every block, kept so that it
 * survives the witness's own crash. bench/powercheck/witness.ts serves it over TCP.
 *
 * It is kept with hardsync itself: every record goes through a DurableLog (group commit,
 * checksummed frames, torn-tail recovery) and is applied to memory at once; `durable()`
 * resolves once every record made so far is durable, which is when the server may reply. The
 * log is compacted now and then into a snapshot written with writeFileAtomic, after which
 * older log segments are dropped. Nothing outside the state directory is written.
 *
 * Records are one line of text each (the same text in the log and in `apply`):
 *
 *   B <test> <blockSize> <blocks> <method> <host> <path> <at> <owner>
 *                                                 a test begun (BEGIN's fields; owner: the
 *                                                 SHA-256 of its run key, absent in a state
 *                                                 written by protocol 1)
 *   R <test> <at>                                                its file is durable (READY)
 *   P <test> <seq> <block> <at>                                  write seq to block announced
 *   D <test> <seq> <block> <at>                                  write seq acknowledged durable
 *   E <test> <at>                                                the test ended cleanly
 *
 * `at` is the witness's clock (ms since the epoch).
 *
 * The state is bounded: `stateBytes` is an upper bound of its snapshot's size (each test and each
 * block the witness tracks costs a fixed amount, plus the test's host and path), which the
 * server checks before it records anything that would grow it.
 * @module
 */
import fs from 'node:fs';
import path from 'node:path';
import { DurableLog, writeFileAtomic } from '../../lib/index';
import { formatTestParams, parseTestParams, ProtocolError, quote, type TestParams } from './protocol';

/** What the witness knows of one block of one test. */
export interface BlockState {
  /** The last write acknowledged durable (0: none) and when (witness clock, ms). */
  durableSeq: number;
  durableAt: number;
  /** The last write announced (>= durableSeq; equal when it was acknowledged) and when. */
  pendingSeq: number;
  pendingAt: number;
}

/** What the witness knows of one test. */
export interface TestState extends TestParams {
  /** SHA-256 (hex) of the run key of the run that began it; '' for a test recorded by protocol 1 (no run may continue it). */
  owner: string;
  /** Order in which the witness first heard of the test (1, 2, ...). */
  number: number;
  began: number;
  /** The machine said the file and its header are durable (READY). */
  ready: boolean;
  readyAt: number;
  /** The machine stopped the test cleanly (END). */
  ended: boolean;
  /** The last record of this test (witness clock): the latest moment the machine was known up. */
  last: number;
  lastSeq: number;
  lastBlock: number;
  announced: number;
  durable: number;
  blockStates: Map<number, BlockState>;
}

export type RecordKind = 'begin' | 'ready' | 'pre' | 'post' | 'end';

/** A record that is durable, as `onRecord` is told of it. */
export interface DurableRecord {
  kind: RecordKind;
  test: string;
  seq?: number;
  block?: number;
}

export interface WitnessStoreOptions {
  /** Where the state lives (created if missing). Nothing else is written. */
  stateDir: string;
  /** Compact the log into a snapshot after this many records. Default 200 000. */
  snapshotEvery?: number;
  /** Size of each log segment (default 8 MiB); small ones make compaction testable. */
  segmentSize?: number;
  /** Where to say that the state can no longer be written. */
  log?: (line: string) => void;
  /** Called once a record is durable (for tests and progress displays). */
  onRecord?: (record: DurableRecord) => void;
}

const SNAPSHOT = 'snapshot.json';

/**
 * What one block costs in the snapshot at most: `[block,durableSeq,durableAt,pendingSeq,pendingAt],`
 * with every number at its largest.
 */
export const BLOCK_STATE_COST = 80;

/** What a test costs in the snapshot at most: its fixed fields, its host and its path. */
export function testStateCost(params: Pick<TestParams, 'host' | 'path'>): number {
  return 512 + Buffer.byteLength(JSON.stringify(params.host)) + Buffer.byteLength(JSON.stringify(params.path));
}
const SNAPSHOT_FORMAT = 'hardsync-powercheck-witness/1';

interface SnapshotTest extends Omit<TestState, 'blockStates'> {
  blockStates: [number, number, number, number, number][];
}

/** The witness's state: `await WitnessStore.open(options)`, then `close()`. */
export class WitnessStore {
  readonly tests = new Map<string, TestState>();
  readonly stateDir: string;
  /** Resolves once every record appended so far is durable. */
  private barrier: Promise<void> = Promise.resolve();
  /** LSN of the last record applied to memory (durable or on its way). */
  private appliedLsn = 0;
  private snapshotLsn = 0;
  private recordsSinceSnapshot = 0;
  /** The compaction under way, if any. */
  private snapshotting: Promise<void> | undefined;
  private failed: Error | undefined;
  private bytes = 0;
  private readonly failureListeners: ((error: Error) => void)[] = [];

  private constructor(
    private readonly options: WitnessStoreOptions,
    private readonly log: DurableLog,
  ) {
    this.stateDir = options.stateDir;
  }

  /** Opens (or creates) the state in `options.stateDir` and replays it into memory. */
  static async open(options: WitnessStoreOptions): Promise<WitnessStore> {
    const stateDir = path.resolve(options.stateDir);
    fs.mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    const log = await DurableLog.open(path.join(stateDir, 'log'), { flush: 'full', segmentSize: options.segmentSize ?? 8 << 20 });
    const store = new WitnessStore({ ...options, stateDir }, log);
    try {
      await store.load();
    } catch (error) {
      await log.close();
      throw error;
    }
    return store;
  }

  /** The error that stopped the state from being written, if one did (no record is accepted after it). */
  get failure(): Error | undefined {
    return this.failed;
  }

  /** Calls `listener` if the state can no longer be written. */
  onFailure(listener: (error: Error) => void): void {
    this.failureListeners.push(listener);
  }

  /** An upper bound of the snapshot's size, in bytes (see {@link testStateCost} and {@link BLOCK_STATE_COST}). */
  get stateBytes(): number {
    return this.bytes;
  }

  /** Resolves once every record made so far is durable (or the state has failed: see `failure`). */
  durable(): Promise<void> {
    return this.barrier;
  }

  /** The test `id`, or a ProtocolError 'unknown-test'. */
  mustTest(id: string): TestState {
    const t = this.tests.get(id);
    if (!t) throw new ProtocolError('unknown-test', `no test ${id} is known to this witness`);
    return t;
  }

  /** Records a new test (BEGIN) begun by the run whose key hashes to `owner`; the caller has checked that it is new. */
  begin(params: TestParams, owner: string): void {
    this.record(`B ${formatTestParams(params)} ${Date.now()} ${owner}`, 'begin', params.test);
  }

  /** Records that the test's file is durable (READY). */
  ready(t: TestState): void {
    this.record(`R ${t.test} ${Date.now()}`, 'ready', t.test);
  }

  /** Records that write `seq` to `block` is about to be made (PRE). */
  pre(t: TestState, seq: number, block: number): void {
    this.record(`P ${t.test} ${seq} ${block} ${Date.now()}`, 'pre', t.test, seq, block);
  }

  /** Records that write `seq` to `block` is durable (POST). */
  post(t: TestState, seq: number, block: number): void {
    this.record(`D ${t.test} ${seq} ${block} ${Date.now()}`, 'post', t.test, seq, block);
  }

  /** Records that the test ended cleanly (END). */
  end(t: TestState): void {
    this.record(`E ${t.test} ${Date.now()}`, 'end', t.test);
  }

  /** Waits for every record and any compaction under way, then closes the log. */
  async close(): Promise<void> {
    await this.barrier;
    await this.snapshotting;
    await this.log.close();
  }

  // -------------------------------------------------------------------------------------------
  // Snapshot + log replay

  private async load(): Promise<void> {
    const file = path.join(this.stateDir, SNAPSHOT);
    let text: string | undefined;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    if (text !== undefined) this.loadSnapshot(text, file);
    const lastLsn = this.log.lastLsn;
    const firstRetained = lastLsn - this.log.recovery.records + 1;
    if (lastLsn < this.snapshotLsn) {
      throw new Error(`witness state ${this.stateDir} is inconsistent: the snapshot covers record ${this.snapshotLsn} but the log ends at ${lastLsn}`);
    }
    if (lastLsn > this.snapshotLsn) {
      if (firstRetained > this.snapshotLsn + 1) {
        throw new Error(`witness state ${this.stateDir} is inconsistent: records ${this.snapshotLsn + 1} to ${firstRetained - 1} are in neither the snapshot nor the log`);
      }
      for await (const { lsn, data } of this.log.records(this.snapshotLsn + 1)) {
        try {
          this.apply(data.toString('latin1'));
        } catch (error) {
          throw new Error(`witness state ${this.stateDir}: log record ${lsn} cannot be applied: ${(error as Error).message}`);
        }
        this.recordsSinceSnapshot++;
      }
    }
    this.appliedLsn = lastLsn;
  }

  private loadSnapshot(text: string, file: string): void {
    let doc: { format?: unknown; lsn?: unknown; tests?: unknown };
    try {
      doc = JSON.parse(text);
    } catch (error) {
      throw new Error(`${file} is not JSON: ${(error as Error).message}`);
    }
    if (doc.format !== SNAPSHOT_FORMAT || !Number.isSafeInteger(doc.lsn) || !Array.isArray(doc.tests)) {
      throw new Error(`${file} is not a ${SNAPSHOT_FORMAT} snapshot`);
    }
    for (const t of doc.tests as SnapshotTest[]) {
      const blockStates = new Map<number, BlockState>();
      for (const [block, durableSeq, durableAt, pendingSeq, pendingAt] of t.blockStates) blockStates.set(block, { durableSeq, durableAt, pendingSeq, pendingAt });
      this.tests.set(t.test, { ...t, owner: t.owner ?? '', blockStates });
      this.bytes += testStateCost(t) + blockStates.size * BLOCK_STATE_COST;
    }
    this.snapshotLsn = doc.lsn as number;
  }

  private snapshotText(): string {
    const tests: SnapshotTest[] = [...this.tests.values()].map((t) => ({
      ...t,
      blockStates: [...t.blockStates].map(([block, s]) => [block, s.durableSeq, s.durableAt, s.pendingSeq, s.pendingAt]),
    }));
    return JSON.stringify({ format: SNAPSHOT_FORMAT, lsn: this.appliedLsn, tests });
  }

  /**
   * Compacts: the state as of the record just applied is serialized now; once that record is
   * durable in the log, the snapshot is written atomically, and then the log segments it
   * covers are dropped. A crash at any point leaves a snapshot and a log that together hold
   * every record.
   */
  private maybeSnapshot(): void {
    if (this.snapshotting || this.recordsSinceSnapshot < (this.options.snapshotEvery ?? 200_000)) return;
    const lsn = this.appliedLsn;
    const text = this.snapshotText();
    this.recordsSinceSnapshot = 0;
    const durable = this.barrier;
    this.snapshotting = (async () => {
      await durable;
      if (this.failed) return;
      await writeFileAtomic(path.join(this.stateDir, SNAPSHOT), text, { mode: 0o600 });
      this.snapshotLsn = lsn;
      await this.log.truncateBefore(lsn + 1);
    })()
      .catch((error) => this.fail(error as Error))
      .finally(() => {
        this.snapshotting = undefined;
      });
  }

  /** Appends a record durably, applying it to memory at once. */
  private record(text: string, kind: RecordKind, test: string, seq?: number, block?: number): void {
    this.apply(text);
    this.appliedLsn++;
    this.recordsSinceSnapshot++;
    const onRecord = this.options.onRecord;
    this.barrier = this.log.append(text).then(
      () => onRecord?.({ kind, test, seq, block }),
      (error) => this.fail(error as Error),
    );
    this.maybeSnapshot();
  }

  private fail(error: Error): void {
    if (this.failed) return;
    this.failed = error;
    this.options.log?.(`cannot write the witness state: ${(error as NodeJS.ErrnoException).code ?? ''} ${error.message}; no more records are accepted`);
    for (const listener of this.failureListeners) listener(error);
  }

  /**
   * Applies one record (the same text that goes into the log) to memory. Records are checked
   * before they are made, so a failure here means a damaged state.
   */
  private apply(text: string): void {
    const [kind, ...f] = text.split(' ');
    switch (kind) {
      case 'B': {
        const params = parseTestParams(f.slice(0, 6));
        const at = Number(f[6]);
        this.bytes += testStateCost(params);
        this.tests.set(params.test, {
          ...params,
          owner: f[7] ?? '',
          number: this.tests.size + 1,
          began: at,
          ready: false,
          readyAt: 0,
          ended: false,
          last: at,
          lastSeq: 0,
          lastBlock: 0,
          announced: 0,
          durable: 0,
          blockStates: new Map(),
        });
        return;
      }
      case 'R': {
        const t = this.mustTest(f[0]);
        t.ready = true;
        t.readyAt = t.last = Number(f[1]);
        return;
      }
      case 'E': {
        const t = this.mustTest(f[0]);
        t.ended = true;
        t.last = Number(f[1]);
        return;
      }
      case 'P': {
        const t = this.mustTest(f[0]);
        const seq = Number(f[1]);
        const block = Number(f[2]);
        const at = Number(f[3]);
        let s = t.blockStates.get(block);
        if (!s) {
          s = { durableSeq: 0, durableAt: 0, pendingSeq: 0, pendingAt: 0 };
          this.bytes += BLOCK_STATE_COST;
        }
        s.pendingSeq = seq;
        s.pendingAt = at;
        t.blockStates.set(block, s);
        t.lastSeq = seq;
        t.lastBlock = block;
        t.announced++;
        t.last = at;
        return;
      }
      case 'D': {
        const t = this.mustTest(f[0]);
        const s = t.blockStates.get(Number(f[2]));
        if (!s) throw new Error(`durable write ${f[1]} of block ${f[2]} was never announced`);
        s.durableSeq = Number(f[1]);
        s.durableAt = t.last = Number(f[3]);
        t.durable++;
        return;
      }
      default:
        throw new Error(`unknown record ${quote(kind)}`);
    }
  }
}
