// hardsync's writeFileAtomic: temporary file, write, flush it, rename it over the target, flush
// the directory; it resolves only after all of that. Every acknowledged version must survive.
//
//   hardsync crashtest --expect files -- node examples/crashtest/hardsync-atomic.mjs
//   hardsync crashtest --expect files --lie -- node examples/crashtest/hardsync-atomic.mjs
// The second is the negative control: the simulated disk ignores every flush, which is this
// same program with its flushes removed; crashtest must catch it.
import path from 'node:path';
import { writeFileAtomic } from 'hardsync';
import { acknowledge, intend } from 'hardsync/crashtest';

const dir = process.env.HARDSYNC_CRASHTEST_DIR;

for (let version = 1; version <= 20; version++) {
  const data = `${JSON.stringify({ version, saved: 'x'.repeat(200) })}\n`;
  await intend('config.json', data);
  await writeFileAtomic(path.join(dir, 'config.json'), data);
  await acknowledge('config.json', data);
}
