/**
 * The plain C loop the speed goals compare against (bench/c/write_fdatasync.c: pwrite +
 * fdatasync of SIZE bytes over SLOTS slots of an existing file, one latency per line), and
 * the preallocated file both it and the Node side overwrite. Its siblings: uring_write_fdatasync.c
 * (the same through io_uring) and thread_write_fdatasync.c (handed to a worker thread). Shared by bench/core.ts and
 * bench/engines.ts.
 * @module
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/** Bytes per write in the comparisons. */
export const WRITE_SIZE = 8192;
/** Slots of WRITE_SIZE in the file, overwritten in a cycle (16 MiB). */
export const FILE_SLOTS = 2048;

/**
 * A file of FILE_SLOTS * WRITE_SIZE real zeros, flushed, so the timed overwrites change no
 * size and convert no unwritten extents: only the data flush is measured, as pg_test_fsync does.
 */
export function preallocatedFile(dir: string, name: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, Buffer.alloc(WRITE_SIZE * FILE_SLOTS));
  const fd = fs.openSync(file, 'r+');
  fs.fsyncSync(fd);
  fs.closeSync(fd);
  return file;
}

/**
 * The C loops the call path is held against, each 8 KiB overwrites of the same file with a
 * data flush: blocking (the floor of any binding), through io_uring as the io_uring engine
 * does it (the floor of that engine), and handed to a worker thread that wakes the waiting
 * thread through an eventfd (the floor of the thread engines and of libuv's threadpool).
 */
export const C_LOOPS = Object.freeze([
  { name: 'c', source: 'write_fdatasync', label: 'C pwrite+fdatasync' },
  { name: 'cUring', source: 'uring_write_fdatasync', label: 'C io_uring loop' },
  { name: 'cThread', source: 'thread_write_fdatasync', label: 'C worker-thread loop' },
] as const);

/**
 * Compiles a C loop (cc -O2) into build/ and returns the binary's path: by default
 * bench/c/write_fdatasync.c; `uring_write_fdatasync` is the same loop through io_uring.
 */
export function buildCReference(name = 'write_fdatasync'): string {
  const source = path.join(__dirname, '..', '..', '..', 'bench', 'c', `${name}.c`);
  const binary = path.join(__dirname, '..', '..', '..', 'build', `bench-${name.replace(/_/g, '-')}`);
  fs.mkdirSync(path.dirname(binary), { recursive: true });
  execFileSync('cc', ['-O2', '-pthread', '-o', binary, source]);
  return binary;
}

/** Runs the C loop: `ops` writes of WRITE_SIZE on `file`; latencies in microseconds, sorted. */
export function runCReference(binary: string, file: string, ops: number): number[] {
  const out = execFileSync(binary, [file, String(ops), String(WRITE_SIZE), String(FILE_SLOTS)], { encoding: 'utf8' });
  return out.trim().split('\n').map(Number).sort((a, b) => a - b);
}
