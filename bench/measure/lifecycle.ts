/**
 * The process side of the CLI: the scratch directory a run works in, removed on every way
 * out (normal end, error, SIGINT / SIGTERM / SIGHUP), and the handler a long-running command
 * (powercheck listen and run) installs to stop gracefully on the first signal.
 * @module
 */
import fs from 'node:fs';
import path from 'node:path';
import { clearProgress } from './progress';
import { UsageError } from './schema';

let scratchDir: string | null = null;
let interruptHandler: ((signal: NodeJS.Signals) => void) | null = null;

/** Removes the scratch directory, if one exists. */
export function removeScratch(): void {
  if (scratchDir === null) return;
  const dir = scratchDir;
  scratchDir = null;
  // maxRetries: a native loop still running may create a file while the tree is removed.
  fs.rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 20 });
}

/** Sets (or clears, with null) what the first SIGINT / SIGTERM / SIGHUP does. */
export function setInterruptHandler(handler: ((signal: NodeJS.Signals) => void) | null): void {
  interruptHandler = handler;
}

/** Installs the exit and signal handlers (once, from the CLI's entry point). */
export function installCleanup(): void {
  process.on('exit', removeScratch);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      clearProgress();
      if (interruptHandler) {
        // The first signal asks the command to stop; a second one ends the process at once.
        const handler = interruptHandler;
        interruptHandler = null;
        handler(signal);
        return;
      }
      const dir = scratchDir;
      removeScratch();
      process.stderr.write(`hardsync: interrupted (${signal})${dir ? `; removed ${dir}` : ''}\n`);
      process.exit(signal === 'SIGINT' ? 130 : signal === 'SIGTERM' ? 143 : 129);
    });
  }
}

/**
 * Checks that `dir` is a directory in which a file can be created, and makes the scratch
 * directory there. Refuses a block device (hardsync writes files, never raw devices).
 */
export function makeScratch(dir: string): string {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(dir);
  } catch (error) {
    throw new UsageError(`cannot use ${dir}: ${(error as Error).message}`);
  }
  if (stat.isBlockDevice() || stat.isCharacterDevice()) {
    throw new UsageError(`refusing ${dir}: it is a ${stat.isBlockDevice() ? 'block' : 'character'} device. hardsync writes files and never a raw device; give a directory on a filesystem mounted from it`);
  }
  if (!stat.isDirectory()) throw new UsageError(`refusing ${dir}: not a directory`);
  let scratch: string;
  try {
    scratch = fs.mkdtempSync(path.join(dir, '.hardsync-bench-'));
  } catch (error) {
    throw new UsageError(`refusing ${dir}: cannot create a file there: ${(error as Error).message}`);
  }
  scratchDir = scratch;
  try {
    fs.closeSync(fs.openSync(path.join(scratch, 'probe'), 'wx', 0o600));
    fs.unlinkSync(path.join(scratch, 'probe'));
  } catch (error) {
    removeScratch();
    throw new UsageError(`refusing ${dir}: cannot create a file there: ${(error as Error).message}`);
  }
  return scratch;
}
