/**
 * The power-cut simulator (powercut/, driven by bench/crashtest/simulator.ts) mounted as a slow
 * filesystem: every flush sleeps `delayMs` in the filesystem, so io_uring meets the slowness as
 * the threads do. Shared by bench/engines.ts and bench/callpath.ts (the starvation figure).
 * @module
 */
import { PowercutFs, powercutUnavailable } from '../crashtest/simulator';

/**
 * The simulator mounted with every flush delayed, or a string saying why it cannot be.
 * @param _root Unused: the simulator is found or built from the package (kept for the callers).
 * @param delayMs How long each flush sleeps.
 */
export async function slowFilesystem(_root: string, delayMs: number): Promise<{ mountpoint: string; stop: () => void } | string> {
  const why = powercutUnavailable();
  if (why) return why;
  let pfs: PowercutFs;
  try {
    pfs = await PowercutFs.mount({ delayMs });
  } catch (error) {
    return `the power-cut simulator did not mount (it needs cc, pkg-config, libfuse3-dev): ${(error as Error).message.split('\n')[0]}`;
  }
  return { mountpoint: pfs.mountpoint, stop: () => pfs.unmountNow() };
}
