// A strict TypeScript project using hardsync: a consumer compiled with `strict` and
// `exactOptionalPropertyTypes` against the built .d.ts (the package as installed: a
// node_modules/hardsync link to this tree), passing `undefined` for every optional property of
// every options type, as the runtime accepts (checked here too).
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import * as hs from '../dist/lib/index.js';
import { spawnAsync } from './helpers/spawn';
import { tempDir } from './helpers/tmp';

const root = path.resolve(__dirname, '..');
const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
let work: string;

beforeAll(() => {
  work = tempDir('hardsync-consumer-');
  fs.mkdirSync(path.join(work, 'node_modules', '@types'), { recursive: true });
  fs.symlinkSync(root, path.join(work, 'node_modules', 'hardsync'));
  fs.symlinkSync(path.join(root, 'node_modules', '@types', 'node'), path.join(work, 'node_modules', '@types', 'node'));
});

/** Every exported `*Options` type must be in CONSUMER below (none is left out). */
const WIRED_ELSEWHERE: string[] = [];

/** Per options type, code that uses it as a strict project would. */
const CONSUMER: Record<string, string> = {
  DurableLogOptions: `
    export function openLog(dir: string, flush?: hs.LogFlush, segmentSize?: number): Promise<hs.DurableLog> {
      const options: hs.DurableLogOptions = {
        flush, segmentSize, verify: undefined, segmentFill: undefined, maxBatchBytes: undefined, maxBatchRecords: undefined, maxDelayMicros: undefined,
      };
      return hs.DurableLog.open(dir, options);
    }`,
  LogRecordsOptions: `
    export async function tail(log: hs.DurableLog, from?: number, follow?: boolean, signal?: AbortSignal): Promise<number[]> {
      const options: hs.LogRecordsOptions = { follow, signal };
      const lsns: number[] = [];
      for await (const record of log.records(from, options)) lsns.push(record.lsn);
      return lsns;
    }`,
  OpenOptions: `
    export function openFor(path: string, write?: boolean, dsync?: boolean): Promise<number> {
      const options: hs.OpenOptions = { read: undefined, write, truncate: undefined, append: undefined, dsync, sync: undefined, direct: undefined, nofollow: undefined };
      return hs.open(path, options);
    }
    export function createFor(path: string, mode?: number, exclusive?: boolean): number {
      const options: hs.OpenOptions = { create: true, write: true, exclusive, mode };
      return hs.openSync(path, options);
    }
    export const notCreating: hs.OpenOptions = { create: undefined, exclusive: undefined, mode: undefined };`,
  WriteDurableOptions: `
    export function put(fd: number, data: Buffer, flush?: hs.FlushMode): Promise<number> {
      const options: hs.WriteDurableOptions = { flush };
      return hs.writeDurable(fd, data, null, options);
    }`,
  LockOptions: `
    export function lock(fd: number, shared?: boolean, wait?: boolean): void {
      const options: hs.LockOptions = { shared, wait };
      hs.lockFileSync(fd, options);
    }`,
  AtomicOptions: `
    export function save(path: string, data: string, mode?: number, signal?: AbortSignal, flush?: 'data' | 'full', encoding?: BufferEncoding, chown?: { uid: number; gid: number }): Promise<void> {
      const options: hs.AtomicOptions = { encoding, mode, chown, flush, signal };
      return hs.writeFileAtomic(path, data, options);
    }
    export function saveSync(path: string, mode?: number): void {
      hs.writeFileAtomicSync(path, 'x', { mode, encoding: undefined, chown: undefined, flush: undefined });
    }`,
  CreateDurableOptions: `
    export function make(path: string, exclusive?: boolean, mode?: number, flush?: 'data' | 'full'): Promise<number> {
      const options: hs.CreateDurableOptions = { mode, exclusive, flush };
      return hs.createDurable(path, options);
    }`,
  MapFileOptions: `
    export async function mapPart(fd: number, offset?: number, length?: number, sync?: boolean): Promise<Buffer> {
      const options: hs.MapFileOptions = { offset, length, sync };
      const map = await hs.mapFile(fd, options);
      return map.length > 0 ? map : hs.mapFileSync(fd, { offset: undefined, length: undefined, sync: undefined });
    }`,
  MsyncOptions: `
    export function persist(view: Buffer, offset?: number, length?: number): Promise<void> {
      const options: hs.MsyncOptions = { offset, length };
      hs.msyncSync(view, { offset: undefined, length: undefined });
      return hs.msync(view, options).then(() => hs.unmapFile(view));
    }`,
  SecretOptions: `
    export function keep(path: string, secret: string, encoding?: BufferEncoding, flush?: 'data' | 'full'): void {
      const options: hs.SecretOptions = { encoding, flush };
      hs.writeFileSecretSync(path, secret, options);
    }`,
};

/** Proves the flag is on: this assignment compiles only without exactOptionalPropertyTypes. */
const CONTROL = `
  interface Plain { value?: number }
  // @ts-expect-error exactOptionalPropertyTypes refuses undefined for a property typed without it
  export const control: Plain = { value: undefined };`;

async function compile(files: Record<string, string>): Promise<{ status: number | null; output: string }> {
  const src = path.join(work, 'src');
  fs.rmSync(src, { recursive: true, force: true });
  fs.mkdirSync(src);
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(src, name), text);
  fs.writeFileSync(
    path.join(work, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        exactOptionalPropertyTypes: true,
        noEmit: true,
        target: 'ES2022',
        module: 'commonjs',
        moduleResolution: 'node',
        types: ['node'],
        skipLibCheck: false,
      },
      include: ['src'],
    }),
  );
  // Asynchronously: tsc takes most of a minute on a loaded machine (see test/helpers/spawn.ts).
  const run = await spawnAsync(process.execPath, [tsc, '-p', work], { timeout: 120_000 });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

describe('types that strict projects accept', () => {
  it('covers every exported options type', () => {
    const declared = new Set<string>();
    const walk = (dir: string): void => {
      for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        const file = path.join(dir, entry.name);
        if (entry.isDirectory()) walk(file);
        else if (entry.name.endsWith('.d.ts')) {
          for (const match of fs.readFileSync(file, 'utf8').matchAll(/export (?:interface|type) (\w+Options)\b/g)) declared.add(match[1]);
        }
      }
    };
    walk(path.join(root, 'dist', 'lib'));
    const exported = [...declared].sort();
    expect(exported.length).toBeGreaterThanOrEqual(7);
    expect(exported.filter((name) => !(name in CONSUMER) && !WIRED_ELSEWHERE.includes(name))).toEqual([]);
  });

  it('a consumer compiles with strict and exactOptionalPropertyTypes, passing undefined everywhere', async () => {
    const body = Object.values(CONSUMER).join('\n');
    const result = await compile({ 'consumer.ts': `import * as hs from 'hardsync';\n${body}\n${CONTROL}\n` });
    expect(result.output).toBe('');
    expect(result.status).toBe(0);
  }, 120_000);

  it('the runtime takes undefined for every option, as the types now say', async () => {
    const dir = tempDir('hardsync-undefined-');
    try {
      const file = path.join(dir, 'file');
      await hs.writeFileAtomic(file, 'a', { encoding: undefined, mode: undefined, chown: undefined, flush: undefined, signal: undefined });
      hs.writeFileSecretSync(path.join(dir, 'secret'), 'b', { encoding: undefined, flush: undefined });
      const created = await hs.createDurable(path.join(dir, 'created'), { mode: undefined, exclusive: undefined, flush: undefined });
      fs.closeSync(created);
      const fd = hs.openSync(file, { read: undefined, write: true, truncate: undefined, append: undefined, dsync: undefined, sync: undefined, direct: undefined, nofollow: undefined, create: undefined, exclusive: undefined, mode: undefined });
      try {
        expect(hs.writeDurableSync(fd, Buffer.from('c'), 0, { flush: undefined })).toBe(1);
        hs.lockFileSync(fd, { shared: undefined, wait: undefined });
        hs.unlockFileSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      expect(fs.readFileSync(file, 'utf8')).toBe('c');
      const mappedFd = fs.openSync(file, 'r+');
      try {
        const map = hs.mapFileSync(mappedFd, { offset: undefined, length: undefined, sync: undefined });
        await hs.msync(map, { offset: undefined, length: undefined });
        hs.unmapFile(map);
      } finally {
        fs.closeSync(mappedFd);
      }
      const log = await hs.DurableLog.open(path.join(dir, 'wal'), {
        flush: undefined, segmentSize: undefined, verify: undefined, segmentFill: undefined, maxBatchBytes: undefined, maxBatchRecords: undefined, maxDelayMicros: undefined,
      });
      expect(await log.append('d')).toEqual({ lsn: 1 });
      const lsns: number[] = [];
      for await (const record of log.records(undefined, { follow: undefined, signal: undefined })) lsns.push(record.lsn);
      expect(lsns).toEqual([1]);
      await log.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
