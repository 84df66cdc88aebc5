/**
 * The progress line: drawn on standard error only when it is a terminal, never on a pipe or
 * in a file; cleared before any other message is written (and on Ctrl-C), so no message ever
 * lands in the middle of it.
 * @module
 */
import type { Progress } from './run';

let drawn = false;

/** Clears the progress line if one is shown. Call before writing anything else. */
export function clearProgress(): void {
  if (!drawn) return;
  process.stderr.write('\r\x1b[2K');
  drawn = false;
}

function duration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

/** A progress callback for runSuite, or undefined when standard error is not a terminal. */
export function progressBar(): ((p: Progress) => void) | undefined {
  if (!process.stderr.isTTY) return undefined;
  return (p) => {
    const columns = process.stderr.columns || 80;
    if (p.done >= p.total) {
      clearProgress();
      return;
    }
    const width = 20;
    const filled = Math.round((p.done / p.total) * width);
    const eta = p.etaSeconds === null ? '' : `, ${duration(p.etaSeconds)} left`;
    const extra = p.extraRounds > 0 ? `, ${p.extraRounds} extra rounds` : '';
    const line = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${p.done}/${p.total} ${duration(p.elapsedSeconds)}${eta}${extra}: ${p.what}`;
    process.stderr.write(`\r\x1b[2K${line.slice(0, columns - 1)}`);
    drawn = true;
  };
}
