/**
 * spawnSync's result shape, without blocking: a test that waits for a long child with spawnSync
 * stops its vitest worker's event loop for the whole run, and on a loaded machine the worker's
 * RPC to the main process times out ('Timeout calling "onTaskUpdate"') although every test
 * passed. Children that can take more than a few seconds run through this instead.
 * @module
 */
import { spawn, type SpawnOptions } from 'node:child_process';

/** What a child did, as spawnSync reports it. */
export interface ChildResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `command args` to its end and resolves with its exit and output (utf8). `timeout` (ms)
 * kills it with SIGTERM, as spawnSync's does; the result then shows the signal.
 */
export function spawnAsync(command: string, args: string[], options: Omit<SpawnOptions, 'stdio'> & { timeout?: number } = {}): Promise<ChildResult> {
  const { timeout, ...rest } = options;
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...rest, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = timeout === undefined ? undefined : setTimeout(() => child.kill('SIGTERM'), timeout);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, stdout, stderr });
    });
  });
}
