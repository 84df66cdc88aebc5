'use strict';
// The faulty LogIo variants the tests inject into DurableLog (lib/patterns/log/io.ts) through
// openLogWithIo, which the package does not export: the log's own options cannot reach them.
// Plain CommonJS: the power-cut workloads (test/fixtures/powercut/workloads.cjs) run them in
// child processes without TypeScript, and the test files import them as well.
const fs = require('node:fs');
const path = require('node:path');

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const upTo = (ms) => Math.floor(Math.random() * (ms + 1));

/**
 * The seam and its variants, for the built library whose index is `libIndex`
 * (dist/lib/index.js, or HARDSYNC_LIB's).
 * @param {string} libIndex
 */
function logIo(libIndex) {
  const lib = require(libIndex);
  const logDir = path.join(path.dirname(libIndex), 'patterns', 'log');
  const { openLogWithIo } = require(path.join(logDir, 'log.js'));
  const { defaultLogIo } = require(path.join(logDir, 'io.js'));

  /** Each batch's write starts 0 to `ms` ms late (its bytes copied first), so batches reach the filesystem, and finish, out of order, as threads the scheduler runs late would make them. */
  function jitter(ms) {
    return {
      ...defaultLogIo,
      async writeBatch(fd, data, position, options) {
        const bytes = Buffer.from(data);
        await sleep(upTo(ms));
        return lib.writeDurable(fd, bytes, position, options);
      },
    };
  }

  /**
   * The jitter, and each batch reported done as soon as its own write and flush returned,
   * together with every earlier batch still running: the log then acknowledges batches whose
   * bytes may not even be written yet. The negative control that must lose acknowledged records.
   * Linux only: each write goes through its own descriptor of the file (/proc/self/fd), since the
   * log closes (and the process may reuse) the segment's descriptor once it believes every
   * write on it returned.
   */
  function ackEarly(ms) {
    const running = [];
    return {
      ...defaultLogIo,
      async writeBatch(fd, data, position, options) {
        const bytes = Buffer.from(data);
        const own = fs.openSync(`/proc/self/fd/${fd}`, 'r+');
        let entry;
        const reported = new Promise((resolve, reject) => {
          entry = { resolve, reject };
        });
        running.push(entry);
        (async () => {
          try {
            await sleep(upTo(ms));
            await lib.writeDurable(own, bytes, position, options);
          } finally {
            try {
              fs.closeSync(own);
            } catch {
              // after a power cut every call fails; the descriptor is gone either way
            }
          }
        })().then(
          () => {
            for (const done of running.splice(0, running.indexOf(entry) + 1)) done.resolve();
          },
          (error) => {
            const at = running.indexOf(entry);
            if (at >= 0) running.splice(at, 1)[0].reject(error);
          },
        );
        return reported;
      },
    };
  }

  /** truncateBefore as it was: a segment a reader holds stays under its name until released. */
  function deferredUnlink() {
    return {
      ...defaultLogIo,
      async setAside(from) {
        return from;
      },
    };
  }

  return { openLogWithIo, defaultLogIo, jitter, ackEarly, deferredUnlink };
}

module.exports = { logIo };
